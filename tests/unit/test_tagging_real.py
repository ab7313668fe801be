"""The coverage targets on the real catalogs in ../shared/datasets (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.adapters import load_catalog
from bench.tagging import sony_series_check
from tagging.analytics import summarize
from tagging.engine import TagEngine
from tagging.taxonomy import load_taxonomy

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
CATALOGS = ["retail-electronics-643.csv", "bestbuy-408.json", "sony-lenses-46.json"]
ENGINE = TagEngine(load_taxonomy())


@pytest.mark.parametrize("name", CATALOGS)
def test_real_catalog_meets_the_coverage_targets(name: str) -> None:
    path = DATASETS / "catalogs" / name
    if not path.exists():
        pytest.skip(f"real catalog {path} is absent (it lives in ../shared/datasets, outside the repo)")
    catalog = load_catalog(path)
    tags = ENGINE.tag(catalog)
    summary = summarize(tags, catalog["item_id"], load_taxonomy())
    assert summary.items == len(catalog) > 0
    assert summary.coverage_any >= 0.95
    assert summary.coverage_price_position >= 0.90
    assert summary.coverage_basic_tier >= 0.90
    series = sony_series_check(catalog, tags)
    assert series["expected"] > 0 and series["missing"] == []
