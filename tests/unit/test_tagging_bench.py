"""The benchmark's pieces: adapters for messy exports, the per-row baseline, the speed run."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.adapters import UnknownCatalogFormatError, load_catalog
from bench.adapters.clean import canonical_category, clean_text, parse_price
from bench.tagging import expected_series, run_real, run_speed
from bench.tagging_rowwise import RowwiseTagger
from bench.tagging_synthetic import synthetic_catalog
from tagging.engine import TagEngine
from tagging.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()


def test_clean_text_decodes_entities_and_drops_trademarks() -> None:
    assert clean_text("Apple&#174; iPad&amp;#174; Pro\n 12.9&quot;") == 'Apple iPad Pro 12.9"'
    assert clean_text("POWER BOOST™ Ingredients   Long\nLasting") == "POWER BOOST Ingredients Long Lasting"
    assert clean_text(None) == "" and clean_text(float("nan")) == ""


@pytest.mark.parametrize(
    ("raw", "price"),
    [
        ("$20.99 ", 20.99),
        ("$1,149.99through-$1,499.99", 1149.99),
        ("380920", 380920.0),
        ("1.234,56 €", 1234.56),
        (49.99, 49.99),
    ],
)
def test_parse_price(raw: object, price: float) -> None:
    assert parse_price(raw) == pytest.approx(price)


@pytest.mark.parametrize("raw", ["", None, "free", "$0.00", -5])
def test_unparseable_prices_are_nan(raw: object) -> None:
    assert math.isnan(parse_price(raw))


def test_categories_map_onto_the_shop_categories() -> None:
    assert canonical_category("Flat-Panel TVs") == "tvs"
    assert canonical_category("TV Mounts") == "accessories"
    assert canonical_category("Movies & TV Shows") == "movies"
    assert canonical_category("Headphones & Earbuds") == "headphones"
    assert canonical_category("Home Security Systems & Cameras") == "home_security"
    assert canonical_category("Musical Instruments") == "musical_instruments"


def test_raw_catalog_csv_with_a_multiline_field(tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text(
        "item_id,title,description,brand,category,price,currency,available,listed_date\n"
        'x1,Sony WH-1000XM5,"Industry-leading\nnoise cancelling",Sony,headphones,399.00,USD,true,2026-10-01\n'
        "x2,Plain cable,,,accessories,9.5,,0,\n"
    )
    frame = load_catalog(path)
    assert list(frame["item_id"]) == ["x1", "x2"]
    assert frame.loc[0, "description"] == "Industry-leading noise cancelling"
    assert frame.loc[1, "currency"] == "USD" and not frame.loc[1, "available"]
    result = run_real(TAXONOMY, [path], None, 0, 1)
    assert result["items"] == 2 and result["coverage_any"] == 1.0
    assert set(result) >= {
        "coverage_price_position",
        "coverage_basic_tier",
        "coverage_by_dimension",
        "untagged",
    }
    assert result["catalogs"]["catalog.csv"]["sony_series"] == {"expected": 1, "tagged": 1, "missing": []}


def test_unknown_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(UnknownCatalogFormatError):
        load_catalog(path)


def test_series_oracle() -> None:
    assert expected_series("Sony WH1000XM5 Headphones", "Sony", "headphones") == {"BR003"}
    assert expected_series('Sony 65" Class X80K', "Sony", "tvs") == {"BR005"}
    assert expected_series("Killzone - PlayStation 4", "Sony", "ps4_games") == {"BR004"}
    assert expected_series('LG 65" OLED', "LG", "tvs") == set()


def test_rowwise_baseline_gives_the_same_tags_as_the_engine() -> None:
    frame = synthetic_catalog(1500, seed=11)
    fast = TagEngine(TAXONOMY, chunk_rows=400).tag(frame)
    slow = RowwiseTagger(TAXONOMY).tag(frame)
    assert len(fast) == len(slow) > 1500
    assert fast.astype(str).equals(slow.astype({"confidence": "float32"}).astype(str))


def test_speed_run_reports_the_figures() -> None:
    result = run_speed(TAXONOMY, 3000, 300, 1, 2)
    assert set(result) >= {"items_per_s", "baseline_items_per_s", "speedup_vs_rowwise"}
    assert result["items"] == 3000 and result["baseline_items"] == 300
    assert result["same_tags_as_baseline"] is True
    assert result["items_per_s"] > result["baseline_items_per_s"]
