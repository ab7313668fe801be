"""The gate task body: ``validate_partition`` on hand-made lake partitions.

What a person reads when a gate fails is tested here word for word: each failing
expectation with its observed value, the quarantined share and how to list it, and the
data docs page; the same text goes to the task log.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from expectations import datasets, suites
from expectations.errors import ValidationError, ValidationFailedError
from expectations.runner import Frames
from feature_store import lake
from recsys.settings import load_settings
from tasks.context import RunContext
from tasks.ingest.catalog import CATALOG_SCHEMA
from tasks.ingest.events import EVENTS_SCHEMA
from tasks.ingest.reasons import QUARANTINE_SCHEMA
from tasks.validate import validate_partition

D1, D2 = date(2026, 11, 1), date(2026, 11, 2)
ITEMS = [f"P{i:03d}" for i in range(20)]


def _catalog(items: list[str] = ITEMS) -> pa.Table:
    n = len(items)
    return pa.table(
        {
            "item_id": items,
            "title": [f"Lens {i}" for i in items],
            "description": [""] * n,
            "brand": ["Sony"] * n,
            "category": ["lenses"] * n,
            "price": [99.0 + i for i in range(n)],
            "currency": ["USD"] * n,
            "available": [True] * n,
            "listed_date": [date(2026, 10, 1)] * n,
        },
        schema=CATALOG_SCHEMA,
    )


def _events(day: date, rows: int, items: list[str] = ITEMS) -> pa.Table:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    step = (86_400 - 3_600) / rows
    kinds = ["purchase" if i % 50 == 7 else "click" if i % 10 == 3 else "impression" for i in range(rows)]
    return pa.table(
        {
            "event_id": [f"E{day:%m%d}-{i:05d}" for i in range(rows)],
            "event_time": [start + timedelta(seconds=i * step) for i in range(rows)],
            "user_id": [f"U{i % 13}" for i in range(rows)],
            "session_id": [f"S{i % 29}" for i in range(rows)],
            "item_id": [items[i % len(items)] for i in range(rows)],
            "event_type": kinds,
            "price": [10.0 + i % 7 for i in range(rows)],
            "device": ["mobile"] * rows,
            "placement": ["home"] * rows,
            "position": pa.array([i % 5 for i in range(rows)], pa.int32()),
        },
        schema=EVENTS_SCHEMA,
    )


def _quarantine(rows: int, reason: str = "bad_price") -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "source_file": "/landing/events-07.jsonl",
                "line": i + 1,
                "reason": reason,
                "detail": "x",
                "raw": "",
            }
            for i in range(rows)
        ],
        schema=QUARANTINE_SCHEMA,
    )


def _day(
    root: Path, day: date, events: pa.Table, quarantined: int = 0, catalog: pa.Table | None = None
) -> None:
    lake.write_partition(root, "catalog", day, _catalog() if catalog is None else catalog)
    lake.write_partition(root, "quarantine/catalog", day, _quarantine(0))
    lake.write_partition(root, "events", day, events)
    lake.write_partition(root, "quarantine/events", day, _quarantine(quarantined))


def _ctx(root: Path, day: date = D2) -> RunContext:
    return RunContext(day, load_settings(lake_root=root))


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and "docs" not in p.parts
    }


def test_a_good_day_passes_and_returns_small_metadata(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _day(tmp_path, D1, _events(D1, 400))
    _day(tmp_path, D2, _events(D2, 420))
    caplog.set_level(logging.INFO, logger="tasks.validate")
    out = validate_partition(_ctx(tmp_path), "events")
    docs = tmp_path / "docs" / "validation" / "events" / "dt=2026-11-02"
    assert out == {
        "dataset": "events",
        "dt": "2026-11-02",
        "success": True,
        "expectations": 32,
        "docs_path": str(docs / "index.html"),
        "docs_paths": {"events": str(docs / "index.html")},
        "seconds": out["seconds"],
    }
    assert (docs / "index.html").exists()
    result = json.loads((docs / "result.json").read_text())
    assert result["success"] is True and result["facts"]["volume_ratio"] == 420 / 400
    assert set(result["gx_results"]) == {"rows", "facts"}
    assert "validation events dt=2026-11-02 passed: 32 expectations" in caplog.text
    assert validate_partition(_ctx(tmp_path), "catalog")["expectations"] == 24


def test_too_many_quarantined_rows_fail_the_gate_with_the_share_and_how_to_list_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _day(tmp_path, D2, _events(D2, 380), quarantined=20)
    before = _digests(tmp_path)
    with pytest.raises(ValidationFailedError) as failed:
        validate_partition(_ctx(tmp_path), "events")
    message = str(failed.value)
    assert message.startswith("validation gate failed for events dt=2026-11-02: 1 of 32 expectations failed")
    assert (
        "expect_column_values_to_be_between on quarantined_share (facts): observed 0.05; "
        "expected >= 0 and <= 0.01 — 20 of 400 rows read quarantined (bad_price 20)"
    ) in message
    assert "recsys quarantine --dataset events --date 2026-11-02" in message
    docs = tmp_path / "docs" / "validation" / "events" / "dt=2026-11-02"
    assert f"data docs: {docs / 'index.html'}" in message and (docs / "index.html").exists()
    assert json.loads((docs / "result.json").read_text())["success"] is False
    assert message in caplog.text  # the task log says the same
    assert _digests(tmp_path) == before  # the gate only reads


def test_row_level_failures_name_the_expectation_and_the_observed_rows(tmp_path: Path) -> None:
    events = _events(D2, 300)
    ids = events.column("event_id").to_pylist()
    ids[7] = ids[3]
    prices = events.column("price").to_pylist()
    prices[9] = -4.0
    events = events.set_column(0, "event_id", pa.array(ids)).set_column(6, "price", pa.array(prices))
    _day(tmp_path, D2, events)
    with pytest.raises(ValidationFailedError) as failed:
        validate_partition(_ctx(tmp_path), "events")
    message = str(failed.value)
    assert "2 of 32 expectations failed" in message
    assert (
        "expect_column_values_to_be_unique on event_id (rows): observed 2 of 300 rows unexpected "
        "(0.667%), e.g. 'E1102-00003', 'E1102-00003'; expected no repeated value"
    ) in message
    assert "expect_column_values_to_be_between on price (rows): observed 1 of 300 rows unexpected" in message
    assert "e.g. -4; expected > 0 and <= 1e+06" in message


def test_a_volume_drop_names_the_previous_partition(tmp_path: Path) -> None:
    _day(tmp_path, D1, _events(D1, 1000))
    _day(tmp_path, D2, _events(D2, 200))
    with pytest.raises(ValidationFailedError) as failed:
        validate_partition(_ctx(tmp_path), "events")
    assert (
        "expect_column_values_to_be_between on volume_ratio (facts): observed 0.2; "
        "expected >= 0.5 and <= 3 — 200 rows against 1,000 in dt=2026-11-01"
    ) in str(failed.value)


def test_the_volume_baseline_skips_a_day_whose_gate_failed(tmp_path: Path) -> None:
    _day(tmp_path, D1, _events(D1, 400))
    day_bad, day3 = D2, D2 + timedelta(days=1)
    _day(tmp_path, day_bad, _events(day_bad, 40))
    with pytest.raises(ValidationFailedError, match="volume_ratio"):
        validate_partition(_ctx(tmp_path, day_bad), "events")
    _day(tmp_path, day3, _events(day3, 390))
    assert validate_partition(_ctx(tmp_path, day3), "events")["success"]  # against D1, not the bad day


def test_events_of_an_item_missing_from_the_catalog_fail_the_referential_check(tmp_path: Path) -> None:
    _day(tmp_path, D2, _events(D2, 200), catalog=_catalog(ITEMS[1:]))
    with pytest.raises(ValidationFailedError) as failed:
        validate_partition(_ctx(tmp_path), "events")
    assert (
        "expect_column_values_to_be_between on events_with_unknown_item (facts): observed 10; "
        "expected >= 0 and <= 0 — 10 rows (1 distinct item_ids) not in catalog/dt=2026-11-02, e.g. P000"
    ) in str(failed.value)


def test_a_wrong_arrow_type_fails_the_schema_check(tmp_path: Path) -> None:
    events = _events(D2, 100)
    events = events.set_column(6, "price", events.column("price").cast(pa.string()))
    _day(tmp_path, D2, events)
    with pytest.raises(ValidationFailedError) as failed:
        validate_partition(_ctx(tmp_path), "events")
    assert "on type_of_price (facts): observed 'string'; expected all in {'double'}" in str(failed.value)


def test_item_tags_gate_checks_coverage_and_references(tmp_path: Path) -> None:
    from tagging.taxonomy import DEFAULT_DEFINITIONS

    first_tag = json.loads(DEFAULT_DEFINITIONS.read_text())["tags"][0]
    lake.write_partition(tmp_path, "catalog", D2, _catalog())
    tagged = [*ITEMS[:18], "P999"]
    n = len(tagged)
    tags = pa.table(
        {
            "item_id": tagged,
            "tag": [first_tag["code"]] * n,
            "dimension": [first_tag["dimension"]] * n,
            "confidence": pa.array([0.8] * n, pa.float32()),
            "rule_id": ["r"] * n,
            "evidence": ["price"] * n,
        }
    )
    lake.write_partition(tmp_path, "item_tags", D2, tags)
    with pytest.raises(ValidationFailedError) as failed:
        validate_partition(_ctx(tmp_path), "item_tags")
    message = str(failed.value)
    assert "on tag_coverage (facts): observed 0.9; expected >= 0.95 and <= 1 — 2 of 20 items" in message
    assert "on tagged_items_not_in_catalog (facts): observed 1; expected >= 0 and <= 0" in message
    assert "e.g. P999" in message


def test_an_unknown_dataset_names_the_gated_ones(tmp_path: Path) -> None:
    with pytest.raises(
        ValidationError, match="no validation gate for dataset 'bogus'; gated datasets: catalog"
    ):
        validate_partition(_ctx(tmp_path), "bogus")


def test_a_dataset_with_parts_validates_every_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite_dir = tmp_path / "suites"
    suite_dir.mkdir()
    suite = {
        "name": "parts_suite",
        "expectations": [
            {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "user_id"}},
        ],
    }
    (suite_dir / "parts_suite.json").write_text(json.dumps(suite))
    monkeypatch.setattr(suites, "SUITES_DIR", suite_dir)
    for entity in ("user", "item"):
        lake.write_partition(tmp_path, f"shards/{entity}", D2, pa.table({"user_id": ["U1", "U2"]}))

    def check(entity: str) -> datasets.DatasetCheck:
        def frames(settings: object, dt: date) -> Frames:
            table = lake.read_partition(tmp_path, f"shards/{entity}", dt)
            return Frames(datasets.validation_frame(table), pd.DataFrame(), {})

        return datasets.DatasetCheck(f"shards/{entity}", "parts_suite", frames)

    for entity in ("user", "item"):
        monkeypatch.setitem(datasets.DATASETS, f"shards/{entity}", check(entity))
    out = validate_partition(_ctx(tmp_path), "shards")
    assert set(out["docs_paths"]) == {"shards/item", "shards/user"} and out["expectations"] == 4
    lake.write_partition(tmp_path, "shards/item", D2, pa.table({"user_id": pa.array([None], pa.string())}))
    with pytest.raises(ValidationFailedError, match="gate failed for shards/item") as failed:
        validate_partition(_ctx(tmp_path), "shards")
    assert "shards/user" not in str(failed.value)
    assert "on user_id (rows): observed 1 of 1 rows unexpected (100%); expected no nulls" in str(failed.value)
