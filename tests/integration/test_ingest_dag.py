"""A real Airflow run: ``dag.test()`` of recsys_ingest for two consecutive days, tiny shop."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pendulum
import pyarrow.compute as pc
import pytest

from feature_store import lake
from tests.support import load_dag_module

pytestmark = pytest.mark.integration
DAY1, DAY2 = date(2026, 11, 1), date(2026, 11, 2)


def test_two_consecutive_days_land_in_their_partitions(airflow_db: Path, shop_env: Path) -> None:
    dag = load_dag_module("recsys_ingest").ingest_dag
    # Day 1 names its partition explicitly (as a UI trigger would); day 2 relies on the
    # data interval Airflow infers for a manual run at logical date DAY2 + 1 day.
    run1 = dag.test(
        logical_date=pendulum.datetime(2026, 11, 5, tz="UTC"), run_conf={"partition_date": "2026-11-01"}
    )
    run2 = dag.test(logical_date=pendulum.datetime(2026, 11, 3, tz="UTC"))
    assert run1.state == "success" and run2.state == "success"

    lake_root = shop_env / "lake"
    assert lake.list_partitions(lake_root, "events") == [DAY1, DAY2]
    assert lake.list_partitions(lake_root, "catalog") == [DAY1, DAY2]
    ids: list[set[str]] = []
    for day in (DAY1, DAY2):
        events = lake.read_partition(lake_root, "events", day)
        catalog = lake.read_partition(lake_root, "catalog", day)
        assert events.num_rows > 1000 and catalog.num_rows > 50
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        assert pc.min(events.column("event_time")).as_py() >= start
        assert (pc.max(events.column("event_time")).as_py() - start).total_seconds() < 86400
        assert set(pc.unique(events.column("event_type")).to_pylist()) == {
            "impression", "click", "view", "cart", "purchase"
        }  # fmt: skip
        assert set(pc.unique(events.column("item_id")).to_pylist()) <= set(
            catalog.column("item_id").to_pylist()
        )
        assert lake.read_partition(lake_root, "quarantine/events", day).num_rows == 0
        meta = lake.read_meta(lake_root, "events", day)
        assert meta["events"] == events.num_rows and meta["quarantined"] == 0
        ids.append(set(events.column("event_id").to_pylist()))
    assert not ids[0] & ids[1]
    new_items = set(lake.read_partition(lake_root, "catalog", DAY2).column("item_id").to_pylist()) - set(
        lake.read_partition(lake_root, "catalog", DAY1).column("item_id").to_pylist()
    )
    assert new_items, "the shop lists new items every day"


def test_a_missing_export_fails_the_run_and_writes_nothing(
    airflow_db: Path, shop_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECSYS_SOURCE", "landing")
    dag = load_dag_module("recsys_ingest").ingest_dag
    run = dag.test(logical_date=pendulum.datetime(2026, 11, 4, tz="UTC"))
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["land_shop_export"] == "failed"
    assert states["ingest_events"] in {"upstream_failed", None}
    assert lake.list_partitions(shop_env / "lake", "events") == []
