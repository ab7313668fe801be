"""The tagging step on a temporary lake: reads catalog, writes item_tags and the report."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from feature_store.lake import has_partition, read_meta, read_partition, write_partition
from recsys.errors import PartitionMissingError
from recsys.settings import load_settings
from tagging.engine import ITEM_TAGS_SCHEMA
from tagging.errors import TaxonomyError
from tagging.taxonomy import DEFAULT_DEFINITIONS
from tasks.context import RunContext
from tasks.ingest.catalog import CATALOG_SCHEMA
from tasks.tag import report_path, tag_catalog

DAY = date(2026, 11, 2)


def write_catalog(root: Path, rows: list[dict[str, object]]) -> None:
    table = pa.Table.from_pylist(rows, schema=CATALOG_SCHEMA)
    write_partition(root, "catalog", DAY, table)


def context(root: Path) -> RunContext:
    return RunContext(DAY, load_settings(lake_root=root))


ROWS: list[dict[str, object]] = [
    {
        "item_id": "p1",
        "title": "Sony WH-1000XM5 Wireless Noise Cancelling Headphones",
        "description": "Up to 30 hours of battery",
        "brand": "Sony",
        "category": "headphones",
        "price": 399.0,
        "currency": "USD",
        "available": True,
        "listed_date": date(2026, 10, 30),
    },
    {
        "item_id": "p2",
        "title": 'Sony 65" BRAVIA XR A80L 4K OLED',
        "description": None,
        "brand": "Sony",
        "category": "tvs",
        "price": 2199.0,
        "currency": "USD",
        "available": True,
        "listed_date": None,
    },
    {
        "item_id": "p3",
        "title": "Gift card",
        "description": "",
        "brand": None,
        "category": "other",
        "price": None,
        "currency": "USD",
        "available": False,
        "listed_date": None,
    },
]


def test_tag_catalog_writes_item_tags_and_a_report(tmp_path: Path) -> None:
    write_catalog(tmp_path, ROWS)
    meta = tag_catalog(context(tmp_path))
    table = read_partition(tmp_path, "item_tags", DAY)
    assert table.schema.equals(ITEM_TAGS_SCHEMA)
    tags = table.to_pandas()
    assert meta["rows"] == len(tags) and meta["items"] == 3 and meta["untagged"] == 1
    assert meta["coverage_any"] == pytest.approx(2 / 3, abs=1e-6)
    assert set(meta["coverage_by_dimension"]) >= {"price_positioning", "brand_series"}
    assert {"BR003", "AU001", "AU002", "MP001"} <= set(tags.loc[tags.item_id == "p1", "tag"])
    assert {"BR005", "TV001", "TV003", "TV004"} <= set(tags.loc[tags.item_id == "p2", "tag"])
    assert list(zip(tags.item_id, tags.tag, strict=True)) == sorted(zip(tags.item_id, tags.tag, strict=True))
    assert meta["partition_path"] == str(tmp_path / "item_tags" / f"dt={DAY}")
    assert read_meta(tmp_path, "item_tags", DAY)["taxonomy_version"]
    report = Path(meta["report_path"])
    assert (
        report
        == report_path(tmp_path, DAY.isoformat())
        == tmp_path / "reports" / "tagging" / "dt=2026-11-02.html"
    )
    html = report.read_text()
    assert "<svg" in html and "p3" in html
    json.dumps(meta)  # small, XCom-able metadata


def test_rerun_replaces_the_partition(tmp_path: Path) -> None:
    write_catalog(tmp_path, ROWS)
    first = tag_catalog(context(tmp_path))
    write_catalog(tmp_path, ROWS[:1])
    second = tag_catalog(context(tmp_path))
    assert second["items"] == 1 and second["rows"] < first["rows"]
    assert set(read_partition(tmp_path, "item_tags", DAY).column("item_id").to_pylist()) == {"p1"}


def test_empty_catalog_gives_an_empty_valid_partition(tmp_path: Path) -> None:
    write_catalog(tmp_path, [])
    meta = tag_catalog(context(tmp_path))
    table = read_partition(tmp_path, "item_tags", DAY)
    assert table.num_rows == 0 and table.schema.equals(ITEM_TAGS_SCHEMA)
    assert meta["rows"] == 0 and meta["items"] == 0


def test_broken_definitions_write_nothing(tmp_path: Path) -> None:
    write_catalog(tmp_path, ROWS)
    doc = json.loads(DEFAULT_DEFINITIONS.read_text())
    doc["tags"][1]["rules"][0]["min"] = "abc"
    bad = tmp_path / "defs.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(
        TaxonomyError, match=r"tag BA002 \(index 1\): rules\[0\]\.min: 'abc' is not of type 'number'"
    ):
        tag_catalog(context(tmp_path), definitions=bad)
    assert not has_partition(tmp_path, "item_tags", DAY)
    assert not (tmp_path / "item_tags").exists() and not (tmp_path / "reports").exists()


def test_missing_catalog_partition_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(PartitionMissingError, match="catalog/dt=2026-11-02"):
        tag_catalog(context(tmp_path))
    assert not (tmp_path / "item_tags").exists()


def test_frame_and_lake_paths_agree(tmp_path: Path) -> None:
    from tagging.engine import TagEngine
    from tagging.taxonomy import load_taxonomy

    write_catalog(tmp_path, ROWS)
    tag_catalog(context(tmp_path))
    lake = read_partition(tmp_path, "item_tags", DAY).to_pandas()
    direct = TagEngine(load_taxonomy()).tag(pd.DataFrame(ROWS), as_of=DAY)
    assert lake.astype(str).equals(direct.astype(str))
