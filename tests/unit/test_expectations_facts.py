"""The facts computed beside a partition, the quarantine listing, and the typed rows frame."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from expectations import facts
from expectations.datasets import validation_frame
from expectations.quarantine import listing, read_quarantine
from feature_store import lake
from recsys.cli import main
from recsys.errors import PartitionMissingError
from tasks.ingest.reasons import QUARANTINE_SCHEMA

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)


def _write(root: Path, dataset: str, day: date, rows: int) -> None:
    lake.write_partition(root, dataset, day, pa.table({"x": pa.array(np.arange(rows))}))


def _mark(root: Path, dataset: str, day: date, success: bool) -> None:
    folder = facts.docs_dir(root, dataset, day)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / facts.RESULT_FILE).write_text(json.dumps({"success": success}))


def test_arrow_types_name_each_column_or_missing() -> None:
    schema = pa.schema([("a", pa.string()), ("t", pa.timestamp("us", tz="UTC")), ("n", pa.int32())])
    assert facts.arrow_types(schema, ["a", "t", "n", "gone"]) == {
        "type_of_a": "string",
        "type_of_t": "timestamp[us, tz=UTC]",
        "type_of_n": "int32",
        "type_of_gone": "missing",
    }


def test_volume_without_an_earlier_partition_has_no_ratio(tmp_path: Path) -> None:
    volume = facts.volume(tmp_path, "events", D1, 500)
    assert volume.ratio is None and "no earlier partition" in volume.note


def test_volume_compares_with_the_latest_earlier_partition(tmp_path: Path) -> None:
    _write(tmp_path, "events", D1, 1000)
    _write(tmp_path, "events", D2, 2000)
    _write(tmp_path, "events", D3, 10)  # a later day is never the yardstick
    volume = facts.volume(tmp_path, "events", D3 + timedelta(days=1), 500)
    assert volume.previous_dt == D3 and volume.ratio == 50.0
    volume = facts.volume(tmp_path, "events", D3, 500)
    assert (volume.previous_dt, volume.previous_rows, volume.ratio) == (D2, 2000, 0.25)
    assert volume.note == "500 rows against 2,000 in dt=2026-11-02"


def test_a_day_whose_gate_failed_is_not_the_yardstick(tmp_path: Path) -> None:
    _write(tmp_path, "events", D1, 1000)
    _write(tmp_path, "events", D2, 3)
    _mark(tmp_path, "events", D1, True)
    _mark(tmp_path, "events", D2, False)
    assert facts.validation_status(tmp_path, "events", D2) is False
    assert facts.validation_status(tmp_path, "events", D3) is None
    assert facts.previous_good_partition(tmp_path, "events", D3) == D1
    assert facts.volume(tmp_path, "events", D3, 900).ratio == 0.9


def test_volume_after_an_empty_day(tmp_path: Path) -> None:
    _write(tmp_path, "events", D1, 0)
    assert facts.volume(tmp_path, "events", D2, 10).ratio == math.inf
    assert facts.volume(tmp_path, "events", D2, 0).ratio is None


def test_freshness_is_hours_from_the_last_time_to_the_end() -> None:
    end = datetime(2026, 11, 3, tzinfo=UTC)
    times = pa.array(
        [end - timedelta(hours=5), end - timedelta(hours=2, minutes=30)], pa.timestamp("us", "UTC")
    )
    assert facts.hours_before(times, end) == 2.5
    assert facts.hours_before(pa.array([], pa.timestamp("us", "UTC")), end) is None
    assert facts.hours_before(pa.array(["2026-11-02"]), end) is None


def test_share_and_distinct_counts() -> None:
    types = pa.chunked_array([["view", "purchase"], ["view", "view"]])
    assert facts.share_equal(types, "purchase") == 0.25
    assert facts.share_equal(pa.array([], pa.string()), "purchase") is None
    assert facts.distinct_count(pa.array(["u1", "u2", "u1", None])) == 2


def test_missing_references_count_rows_and_show_examples() -> None:
    refs = facts.missing_references(pa.array(["P1", "P9", "P9", None, "P2"]), pa.array(["P1", "P2"]))
    assert (refs.rows, refs.distinct) == (3, 2)
    assert set(refs.examples) == {"P9", "None"}
    assert "3 rows (2 distinct item_ids) not in catalog" in refs.note("item_id", "catalog")
    assert facts.missing_references(pa.array(["P1"]), pa.array(["P1"])).rows == 0


def test_coverage_is_the_share_of_the_population_present() -> None:
    covered = facts.coverage(pa.array(["P1", "P1", "P3", "P7"]), pa.array(["P1", "P2", "P3", "P4"]))
    assert (covered.covered, covered.population, covered.share) == (2, 4, 0.5)
    assert facts.coverage(pa.array(["P1"]), pa.array([], pa.string())).share is None


def _quarantine(root: Path, rows: list[tuple[str, int, str, str]]) -> None:
    table = pa.Table.from_pylist(
        [{"source_file": f, "line": n, "reason": r, "detail": d, "raw": "{}"} for f, n, r, d in rows],
        schema=QUARANTINE_SCHEMA,
    )
    lake.write_partition(root, "quarantine/events", D2, table)


def test_quarantine_share_and_reasons(tmp_path: Path) -> None:
    _quarantine(
        tmp_path,
        [
            ("/l/events-01.jsonl", 3, "bad_price", "price -1.0 ..."),
            ("/l/events-02.jsonl", 9, "bad_price", "x"),
            ("/l/events-02.jsonl", 11, "unknown_event_type", "event_type 'purchse' ..."),
        ],
    )
    held = read_quarantine(tmp_path, "events", D2, kept=97)
    assert (held.quarantined, held.rows_read, held.share) == (3, 100, 0.03)
    assert held.by_reason == {"bad_price": 2, "unknown_event_type": 1}
    assert "recsys quarantine --dataset events --date 2026-11-02" in held.note
    assert read_quarantine(tmp_path, "catalog", D2, kept=5).share == 0.0


def test_listing_counts_reasons_then_shows_file_line_reason_detail(tmp_path: Path) -> None:
    _quarantine(
        tmp_path,
        [("/l/events-01.jsonl", 3, "bad_price", "price -1.0 is not a positive finite number")]
        + [("/l/events-02.jsonl", n, "malformed_record", "invalid JSON") for n in range(5, 9)],
    )
    lake.write_partition(tmp_path, "events", D2, pa.table({"x": pa.array(np.arange(95))}))
    text = listing(tmp_path, "events", D2, limit=2)
    assert "quarantine/events/dt=2026-11-02: 5 rows of 100 read (5.00%); 95 kept" in text
    assert "malformed_record          4" in text and "bad_price                 1" in text
    assert "events-01.jsonl:3  bad_price  price -1.0 is not a positive finite number" in text
    assert "… 3 more" in text
    with pytest.raises(PartitionMissingError, match="quarantine/events"):
        listing(tmp_path, "events", D3)


def test_cli_lists_the_quarantine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECSYS_LAKE_ROOT", str(tmp_path))
    _quarantine(tmp_path, [("/l/events-01.jsonl", 3, "bad_price", "price -1.0")])
    assert main(["quarantine", "--dataset", "events", "--date", "2026-11-02", "--limit", "5"]) == 0
    assert "events-01.jsonl:3  bad_price  price -1.0" in capsys.readouterr().out
    assert main(["quarantine", "--dataset", "events", "--date", "2026-11-09"]) == 1
    assert "quarantine/events/dt=2026-11-09 is missing" in capsys.readouterr().err


def test_validation_frame_keeps_gx_range_checks_vectorised() -> None:
    table = pa.table(
        {
            "position": pa.array([1, None, 3], pa.int32()),
            "count": pa.array([1, 2, 3], pa.int32()),
            "confidence": pa.array([0.5, 0.25, 1.0], pa.float32()),
            "listed_date": pa.array([date(2026, 10, 1), None, date(2026, 11, 2)], pa.date32()),
            "item_id": pa.array(["a", "b", None]),
        }
    )
    frame = validation_frame(table)
    assert str(frame["position"].dtype) == "float64" and str(frame["count"].dtype) == "int64"
    assert str(frame["confidence"].dtype) == "float64"
    assert str(frame["listed_date"].dtype).startswith("datetime64")
    assert frame["item_id"].tolist()[:2] == ["a", "b"]


def test_gx_still_has_the_batch_fingerprint_threshold_the_runner_lowers() -> None:
    from great_expectations.execution_engine import pandas_execution_engine as engine

    from expectations.runner import _no_batch_fingerprint

    before = engine.HASH_THRESHOLD
    with _no_batch_fingerprint():
        assert engine.HASH_THRESHOLD == 0
    assert engine.HASH_THRESHOLD == before > 0
