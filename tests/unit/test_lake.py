"""The offline lake: atomic replacement, recovery from a crashed write, listing."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from feature_store import lake
from recsys.errors import PartitionMissingError

DAY = date(2026, 11, 2)


def test_write_then_read_round_trips_with_meta(tmp_path: Path) -> None:
    table = pa.table({"x": [1, 2, 3]})
    path = lake.write_partition(tmp_path, "events", DAY, table, {"source": "test"})
    assert path == tmp_path / "events" / "dt=2026-11-02"
    assert lake.read_partition(tmp_path, "events", DAY).equals(table)
    assert lake.read_meta(tmp_path, "events", DAY) == {
        "dataset": "events",
        "dt": "2026-11-02",
        "rows": 3,
        "source": "test",
    }


def test_rewrite_replaces_whole_and_leaves_no_debris(tmp_path: Path) -> None:
    lake.write_partition(tmp_path, "events", DAY, pa.table({"x": [1, 2, 3]}))
    lake.write_partition(tmp_path, "events", DAY, pa.table({"x": [9]}))
    assert lake.read_partition(tmp_path, "events", DAY).column("x").to_pylist() == [9]
    assert sorted(p.name for p in (tmp_path / "events").iterdir()) == ["dt=2026-11-02"]


def test_empty_table_is_a_valid_partition(tmp_path: Path) -> None:
    schema = pa.schema([("x", pa.int64())])
    lake.write_partition(tmp_path, "events", DAY, schema.empty_table())
    assert lake.read_partition(tmp_path, "events", DAY).schema == schema
    assert lake.has_partition(tmp_path, "events", DAY)


def test_a_failed_write_keeps_the_previous_partition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lake.write_partition(tmp_path, "events", DAY, pa.table({"x": [1]}))

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(lake.pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        lake.write_partition(tmp_path, "events", DAY, pa.table({"x": [2]}))
    monkeypatch.undo()
    assert lake.read_partition(tmp_path, "events", DAY).column("x").to_pylist() == [1]
    assert sorted(p.name for p in (tmp_path / "events").iterdir()) == ["dt=2026-11-02"]


def test_crash_between_the_two_renames_is_recovered(tmp_path: Path) -> None:
    lake.write_partition(tmp_path, "events", DAY, pa.table({"x": [1]}))
    final = lake.partition_dir(tmp_path, "events", DAY)
    os.rename(final, final.parent / ".old-dt=2026-11-02-abc")  # the state a crash would leave
    (final.parent / ".tmp-dt=2026-11-02-def").mkdir()
    lake.write_partition(tmp_path, "events", date(2026, 11, 3), pa.table({"x": [5]}))  # other day: untouched
    lake.write_partition(tmp_path, "events", DAY, pa.table({"x": [2]}))
    assert lake.read_partition(tmp_path, "events", DAY).column("x").to_pylist() == [2]
    assert sorted(p.name for p in final.parent.iterdir()) == ["dt=2026-11-02", "dt=2026-11-03"]


def test_missing_partition_error_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(PartitionMissingError, match=r"events/dt=2026-11-02 is missing at .*part-00000"):
        lake.read_partition(tmp_path, "events", DAY)


def test_list_partitions_ignores_incomplete_ones(tmp_path: Path) -> None:
    lake.write_partition(tmp_path, "events", date(2026, 11, 3), pa.table({"x": [1]}))
    lake.write_partition(tmp_path, "events", DAY, pa.table({"x": [1]}))
    (tmp_path / "events" / "dt=2026-11-04").mkdir()
    assert lake.list_partitions(tmp_path, "events") == [DAY, date(2026, 11, 3)]
    assert lake.list_partitions(tmp_path, "nothing") == []
