"""A real Airflow run: ``dag.test()`` of recsys_ingest for two consecutive days, tiny shop."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pendulum
import pyarrow.compute as pc
import pytest
import redis

from feature_store import lake
from feature_store.online import OnlineFeatureStore
from tests.support import load_dag_module

pytestmark = pytest.mark.integration
DAY1, DAY2 = date(2026, 11, 1), date(2026, 11, 2)
# Airflow 3.3 merges a run's conf into the DAG's Param objects in place, so in one process
# (dag.test) a conf value outlives its run; every test run therefore sets the param. A real
# deployment runs each task in its own process and does not see this.
NO_PARTITION = {"partition_date": ""}


def test_two_consecutive_days_land_in_their_partitions(
    airflow_db: Path, shop_env: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECSYS_REDIS_URL", redis_url)
    dag = load_dag_module("recsys_ingest").ingest_dag
    # Day 1 names its partition explicitly (as a UI trigger would); day 2 relies on the
    # data interval Airflow infers for a manual run at logical date DAY2 + 1 day.
    run1 = dag.test(
        logical_date=pendulum.datetime(2026, 11, 5, tz="UTC"), run_conf={"partition_date": "2026-11-01"}
    )
    run2 = dag.test(logical_date=pendulum.datetime(2026, 11, 3, tz="UTC"), run_conf=NO_PARTITION)
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
        assert lake.read_partition(lake_root, "item_tags", day).num_rows > catalog.num_rows
        users = lake.read_partition(lake_root, "features/user", day)
        assert set(users.column("user_id").to_pylist()) >= set(events.column("user_id").to_pylist())
    assert not ids[0] & ids[1]
    # Day 2's 3-day window reaches day 1 through its stored partials.
    users2 = lake.read_partition(lake_root, "features/user", DAY2).to_pandas()
    assert (users2["impressions_3d"] >= users2["impressions_1d"]).all()
    assert (users2["impressions_3d"] > users2["impressions_1d"]).any()
    # The online store serves day 2's user features from the private redis-server.
    store = OnlineFeatureStore(redis.Redis.from_url(redis_url))
    some_user = users2.iloc[0]
    online = store.user(str(some_user["user_id"]))
    assert online is not None and online["impressions_3d"] == some_user["impressions_3d"]
    assert store.versions.info(store.versions.current() or 0).dt == DAY2.isoformat()  # type: ignore[union-attr]
    new_items = set(lake.read_partition(lake_root, "catalog", DAY2).column("item_id").to_pylist()) - set(
        lake.read_partition(lake_root, "catalog", DAY1).column("item_id").to_pylist()
    )
    assert new_items, "the shop lists new items every day"


def test_a_missing_export_fails_the_task_for_a_retry_naming_path_and_date(
    airflow_db: Path, shop_env: Path
) -> None:
    # `airflow tasks test` runs the one task as Airflow would, without waiting out the
    # retries dag.test() would honour (3 x 10 minutes).
    env = {**os.environ, "RECSYS_SOURCE": "landing", "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"}
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run(
        [str(airflow), "tasks", "test", "recsys_ingest", "land_shop_export", "2026-11-04"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert "new_state=up_for_retry" in output  # failed, and Airflow will try again later
    assert "LandingMissingError" in output
    assert "no catalog export for 2026-11-03" in output and "landing/catalog/dt=2026-11-03" in output
    assert lake.list_partitions(shop_env / "lake", "events") == []
