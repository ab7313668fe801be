"""Each rule kind of the engine on small hand-made catalogs."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest

from tagging.engine import ITEM_TAGS_SCHEMA, TagEngine
from tagging.errors import CatalogFormatError
from tagging.taxonomy import load_taxonomy

ENGINE = TagEngine(load_taxonomy(), workers=2, chunk_rows=3)  # tiny chunks: the threaded path runs


def catalog(*items: dict[str, Any]) -> pd.DataFrame:
    """Items with defaults: id i0, i1, ...; a mid-range accessory at 100 USD."""
    rows = []
    for i, item in enumerate(items):
        row = {
            "item_id": f"i{i}",
            "title": "",
            "description": "",
            "brand": "Acme",
            "category": "accessories",
            "price": 100.0,
            "currency": "USD",
        }
        row.update(item)
        rows.append(row)
    return pd.DataFrame(rows)


def tag(*items: dict[str, Any], as_of: date | None = None) -> pd.DataFrame:
    return ENGINE.tag(catalog(*items), as_of=as_of)


def tags_of(out: pd.DataFrame, item: str = "i0") -> set[str]:
    return set(out.loc[out["item_id"] == item, "tag"])


def row(out: pd.DataFrame, tag_code: str, item: str = "i0") -> dict[str, Any]:
    found = out[(out["item_id"] == item) & (out["tag"] == tag_code)]
    assert len(found) == 1, f"{item} has no {tag_code}: {sorted(tags_of(out, item))}"
    return dict(found.iloc[0])


# ---- price rules


def test_absolute_price_threshold_gives_luxury_and_high_end() -> None:
    out = tag({"title": "Big TV", "price": 5499.0}, {"title": "cable"}, {"title": "mouse"})
    for code in ("PP003", "BA003"):
        r = row(out, code)
        assert r["rule_id"] == "PP003-over-5000"
        assert r["evidence"] == "price 5499.00 USD > 5000"


def test_under_20_usd_is_budget_and_entry_even_at_the_top_of_its_category() -> None:
    out = tag({"price": 19.0, "category": "cables"}, {"price": 5.0, "category": "cables"})
    assert row(out, "PP001")["rule_id"] == "PP001-under-20"
    assert row(out, "BA001")["rule_id"] == "BA001-under-20"


def test_absolute_thresholds_apply_only_to_their_currency() -> None:
    out = tag({"price": 380920.0, "currency": "JPY", "category": "lenses"})
    assert row(out, "PP002")["rule_id"] == "PP002-pct"  # a lone item sits at the 0.5 percentile


def test_category_relative_price_bands() -> None:
    prices = [100.0 * k for k in range(1, 11)]
    out = tag(*({"price": p, "category": "headphones"} for p in prices))
    bands = {f"i{k}": sorted(tags_of(out, f"i{k}") & {"PP001", "PP002", "PP003"}) for k in range(10)}
    assert bands["i0"] == bands["i1"] == bands["i2"] == ["PP001"]
    assert all(bands[f"i{k}"] == ["PP002"] for k in range(3, 9))
    assert bands["i9"] == ["PP003"]
    assert row(out, "PP003", "i9")["evidence"] == (
        "price 1000.00 USD at percentile 0.950 of category 'headphones' (10 items)"
    )
    assert row(out, "BA003", "i9")["rule_id"] == "BA003-pct"


def test_small_categories_fall_back_to_the_whole_partition() -> None:
    out = tag({"price": 10_000.0 / 3, "category": "tvs"}, {"price": 50.0, "category": "cables"})
    assert row(out, "PP002")["evidence"] == "price 3333.33 USD at percentile 0.750 of all USD items (2 items)"


def test_exactly_one_price_position_and_tier_per_priced_item() -> None:
    out = tag(
        {
            "price": 5499.0,
            "title": "Sony FX3 professional cinema camera",
            "brand": "Sony",
            "category": "cameras",
        },
        {"price": 12.0},
        {"price": 300.0},
        {"price": float("nan")},
    )
    for item in ("i0", "i1", "i2"):
        assert len(tags_of(out, item) & {"PP001", "PP002", "PP003"}) == 1
        assert len(tags_of(out, item) & {"BA001", "BA002", "BA003", "BA004"}) == 1
    assert not tags_of(out, "i3") & {"PP001", "PP002", "PP003", "BA001", "BA002", "BA003"}


# ---- keyword rules: variants, boundaries, negation


@pytest.mark.parametrize(
    "text",
    [
        "Noise-Cancelling headphones",
        "noise cancelling",
        "noise canceling earbuds",
        "Noise Cancellation",
        "ANC on",
    ],
)
def test_noise_cancelling_in_any_spelling(text: str) -> None:
    r = row(tag({"title": text, "category": "headphones"}), "AU001")
    assert r["rule_id"] == "AU001-kw" and r["evidence"].startswith("matched '")


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        ("Studio headphones, not wireless", "AU002"),
        ("without noise cancelling", "AU001"),
        ("no ANC, wired only", "AU001"),
        ("non-wireless model", "AU002"),
        ("It does not offer noise cancellation.", "AU001"),
        ("There is no active noise cancelling (ANC) on this model.", "AU001"),
        ("It uses an LCD panel rather than OLED.", "TV003"),
    ],
)
def test_negated_features_are_not_tagged(text: str, absent: str) -> None:
    assert absent not in tags_of(tag({"title": text}))


def test_a_negated_mention_does_not_hide_a_positive_one() -> None:
    r = row(tag({"title": "Speaker, not wireless charging but Bluetooth 5.3"}), "AU002")
    assert r["evidence"] == "matched 'Bluetooth' in title"


def test_keywords_match_whole_words_only() -> None:
    assert not tags_of(tag({"title": "Ancient pancake 4KB wirelessly"})) & {"AU001", "AU002", "TV001"}


def test_title_evidence_wins_over_description() -> None:
    r = row(tag({"title": "Wireless earbuds", "description": "Bluetooth"}), "AU002")
    assert r["evidence"] == "matched 'Wireless' in title"
    r = row(tag({"title": "Earbuds", "description": "Pairs over Bluetooth"}), "AU002")
    assert r["evidence"] == "matched 'Bluetooth' in description"


def test_exclusions_reject_look_alike_phrases() -> None:
    assert "BA004" not in tags_of(tag({"title": "HP Pavilion laptop - Windows 11 Professional"}))
    assert "BA004" in tags_of(tag({"title": "Professional studio monitor headphones"}))
    assert "TV002" not in tags_of(tag({"title": 'HP 14" OLED 2.8K laptop'}))


def test_an_exclusion_counts_even_when_another_rules_hit_swallows_its_start() -> None:
    # "GM 2" (Sony's G Master II series) is a hit of its own, and leaves "8K" of "2.8K" behind.
    out = tag(
        {"title": "GM 2.8K", "brand": "Sony", "category": "cameras"},
        {"title": "GM 2.8K lens, 8k video", "brand": "Sony", "category": "cameras"},
    )
    assert "TV002" not in tags_of(out, "i0")
    assert row(out, "TV002", "i1")["evidence"] == "matched '8k' in title"


# ---- series regexes, brand and category rules


@pytest.mark.parametrize(
    "title", ["Sony WH-1000XM5 Wireless Headphones", "Sony WH1000XM4", "Sony WF-1000XM5 earbuds"]
)
def test_1000x_series_gives_the_series_and_noise_cancelling(title: str) -> None:
    out = tag({"title": title, "brand": "Sony", "category": "headphones"})
    assert row(out, "BR003")["rule_id"] == "BR003-1000x"
    assert row(out, "AU001")["rule_id"] == "BR003-1000x"
    assert "1000X" in row(out, "BR003")["evidence"]


@pytest.mark.parametrize(
    "title", ["Sony Alpha 7 IV Body", "Sony α7 IV", "Sony ILCE-7M4 mirrorless", "Sony a7R V"]
)
def test_alpha_series_gives_the_series_and_mirrorless(title: str) -> None:
    out = tag({"title": title, "brand": "Sony", "category": "cameras"})
    assert {"BR001", "CA003"} <= tags_of(out)
    assert row(out, "BR001")["rule_id"].startswith("BR001-")


def test_alpha_needs_a_sony_camera() -> None:
    out = tag({"title": 'LG 65" OLED TV with α9 AI Processor', "brand": "LG", "category": "tvs"})
    assert "BR001" not in tags_of(out)


def test_brand_and_category_rule_and_trademark_signs() -> None:
    out = tag(
        {"title": '65" X80K TV', "brand": "Sony®", "category": "TVs"},
        {"title": "TV", "brand": "Samsung", "category": "tvs"},
    )
    r = row(out, "BR005")
    assert r["rule_id"] == "BR005-sony-tv" and r["evidence"] == "brand 'sony', category 'tvs'"
    assert "BR005" not in tags_of(out, "i1")
    assert row(out, "US001", "i1")["evidence"] == "category 'tvs'"


def test_playstation_series_implies_gamer() -> None:
    out = tag({"title": "Sony PlayStation 5 Slim Console", "brand": "Sony", "category": "game_consoles"})
    assert row(out, "BR004")["evidence"] == "matched 'PlayStation' in title"
    r = row(out, "TA003")
    assert r["rule_id"] == "TA003-implied" and r["evidence"] == "implied by BR004"
    assert r["confidence"] == pytest.approx(0.9 * 0.95, abs=1e-3)


def test_implied_tag_needing_two_sources() -> None:
    out = tag({"title": 'Sony 98" BRAVIA TV', "brand": "Sony", "category": "tvs", "price": 7999.99})
    assert row(out, "MP002")["evidence"] == "implied by PP003 + BR005"
    assert "MP002" not in tags_of(
        tag({"title": 'Sony 55" BRAVIA TV', "brand": "Sony", "category": "tvs", "price": 599.0})
    )


def test_professional_grade_outranks_the_price_tier() -> None:
    out = tag(
        {"title": "Sony FX6 Cinema Line camera", "brand": "Sony", "category": "cameras", "price": 5999.0}
    )
    assert row(out, "BA004")["rule_id"] in {"BA004-kw", "BA004-implied"}
    assert "BA003" not in tags_of(out)
    assert row(out, "PP003")["rule_id"] == "PP003-over-5000"


# ---- spec parsing


@pytest.mark.parametrize(
    "title", ['Sony 65" BRAVIA', "Sony 65-inch BRAVIA", "TCL 65 in Q6", "LG 65″ C3", "77 inches OLED"]
)
def test_screen_sizes_in_every_notation(title: str) -> None:
    r = row(tag({"title": title, "category": "tvs"}), "TV004")
    assert r["rule_id"] == "TV004-size" and "screen size" in r["evidence"] and ">= 65" in r["evidence"]


def test_screen_size_needs_a_large_tv() -> None:
    assert "TV004" not in tags_of(tag({"title": 'Sony 55" BRAVIA', "category": "tvs"}))
    assert "TV004" not in tags_of(tag({"title": 'Mount for 32"-70" TVs', "category": "accessories"}))


def test_8k_wins_over_4k_and_4k_alone() -> None:
    out = tag({"title": "Samsung 8K Neo QLED with 4K upscaling"}, {"title": "LG 4K UHD TV"})
    assert tags_of(out, "i0") & {"TV001", "TV002"} == {"TV002"}
    assert tags_of(out, "i1") & {"TV001", "TV002"} == {"TV001"}


@pytest.mark.parametrize(
    ("text", "tagged"), [("33MP full frame", True), ("61-megapixel sensor", True), ("24.2 MP", False)]
)
def test_megapixels(text: str, tagged: bool) -> None:
    out = tag({"title": text, "category": "cameras"})
    assert ("CA004" in tags_of(out)) is tagged
    if tagged:
        assert "sensor" in row(out, "CA004")["evidence"]


@pytest.mark.parametrize(
    ("text", "tagged"), [("5000 mAh battery", True), ("5,000mAh", True), ("3000 mAh", False)]
)
def test_battery_capacity(text: str, tagged: bool) -> None:
    out = tag({"title": "Phone", "description": text, "category": "phones"})
    assert ("AU007" in tags_of(out)) is tagged


def test_refresh_rate_and_battery_hours() -> None:
    out = tag({"title": "Monitor 144Hz", "description": "Up to 30 hours of battery life"})
    assert row(out, "AU006")["evidence"] == "matched '144Hz' in title: refresh rate 144 Hz >= 100"
    assert row(out, "AU007")["rule_id"] == "AU007-hours"


# ---- listing date


def test_new_arrivals_are_listed_within_30_days_of_the_partition() -> None:
    out = tag(
        {"listed_date": date(2026, 10, 30)},
        {"listed_date": date(2026, 9, 1)},
        {"listed_date": date(2026, 11, 5)},
        as_of=date(2026, 11, 2),
    )
    assert row(out, "MP001")["evidence"] == "listed 2026-10-30, 3 days before 2026-11-02 (within 30)"
    assert "MP001" not in tags_of(out, "i1") | tags_of(out, "i2")


# ---- output shape and input checks


def test_output_columns_order_and_types() -> None:
    out = tag({"item_id": "b", "title": "Wireless 4K"}, {"item_id": "a", "title": "Bluetooth"})
    assert list(out.columns) == ITEM_TAGS_SCHEMA.names
    assert list(out.itertuples(index=False, name=None)) == sorted(out.itertuples(index=False, name=None))
    assert out["confidence"].between(0, 1).all()
    assert str(out["confidence"].dtype) == "float32"


def test_empty_catalog_gives_empty_output() -> None:
    out = ENGINE.tag(catalog().reindex(columns=["item_id", "title", "price"]))
    assert out.empty and list(out.columns) == ITEM_TAGS_SCHEMA.names


def test_missing_values_are_tolerated() -> None:
    out = ENGINE.tag(
        pd.DataFrame(
            {
                "item_id": ["x"],
                "title": ["Wireless speaker"],
                "description": [None],
                "brand": [None],
                "price": [None],
            }
        )
    )
    assert tags_of(out, "x") == {"AU002"}


def test_bad_catalogs_are_refused() -> None:
    with pytest.raises(CatalogFormatError, match="title"):
        ENGINE.tag(pd.DataFrame({"item_id": ["a"]}))
    with pytest.raises(CatalogFormatError, match="'a' occurs more than once"):
        ENGINE.tag(pd.DataFrame({"item_id": ["a", "a"], "title": ["x", "y"]}))
