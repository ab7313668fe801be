"""End-to-end acceptance on the tiny shop: four days ingested → retrain → publish → the service
answers from the new version → a corrupted fifth day fails its gate, and the service goes on
answering from the fourth day's version (the retrain needs three days of history and a day
to judge on, so the issue's three days are four here).

Every DAG runs for real (``dag.test()``), against a private redis-server; only the scheduler's
asset triggering is replaced by running the next DAG by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pendulum
import pytest
import redis
from fastapi.testclient import TestClient

from feature_store import lake
from feature_store.recommendations import RecommendationReader
from feature_store.service.app import create_app
from feature_store.versioned import VersionedKeyspace
from recsys.settings import Settings, load_settings
from recsys.shop_sim.export import write_export
from tasks import publish
from tests.support import load_dag_module

pytestmark = pytest.mark.integration

DAYS = [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)]
BAD_DAY = date(2026, 11, 5)
SEED = 7
RETRAIN = {
    "partition_date": DAYS[-1].isoformat(),
    "epochs": 2,
    "history_days": 3,
    "variants": ["baseline", "tags"],
    "negative_share": 1.0,
    "held_out_user_share": 1.0,
    "recall_epochs": 3,
    "sequence_days": 3,
    "fine_epochs": 3,
    "fine_max_minutes": 1.0,
}
SIZES = {
    "RECSYS_CANDIDATES_RECALL_SIZE": "40",
    "RECSYS_CANDIDATES_COARSE_SIZE": "20",
    "RECSYS_CANDIDATES_TOP_N": "10",
    "RECSYS_CANDIDATES_MAX_PER_CATEGORY": "4",
    "RECSYS_CANDIDATES_SHARDS": "2",
}


@pytest.fixture
def shop(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A fresh tiny shop whose exports arrive in the landing zone, as a real shop's would."""
    for name, value in {
        "RECSYS_LAKE_ROOT": str(tmp_path / "lake"),
        "RECSYS_LANDING_ROOT": str(tmp_path / "landing"),
        "RECSYS_REGISTRY_ROOT": str(tmp_path / "registry"),
        "RECSYS_SOURCE": "landing",
        "RECSYS_SIM_SCALE": "tiny",
        "RECSYS_SIM_SEED": str(SEED),
        "RECSYS_REDIS_URL": redis_url,
        **SIZES,
    }.items():
        monkeypatch.setenv(name, value)
    yield load_settings()


def _run(name: str, day: date, conf: dict[str, object], *, retries: bool = True) -> dict[str, str]:
    """One real run of DAG ``name`` for ``day``; every task's state. Without ``retries`` a failed
    task fails the run at once (dag.test() would otherwise wait out each retry delay)."""
    dag = getattr(load_dag_module(name), f"{name.removeprefix('recsys_')}_dag")
    if not retries:
        for task in dag.tasks:
            task.retries = 0
    when = pendulum.datetime(day.year, day.month, day.day, tz="UTC") + timedelta(days=1, hours=4)
    run = dag.test(logical_date=when, run_conf=conf)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    return {"run": str(run.state), **states}


def _answer(settings: Settings, user: str) -> dict[str, object]:
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200
        body: dict[str, object] = client.get(f"/v1/users/{user}/recommendations", params={"k": 5}).json()
        return body


def test_four_days_to_a_served_version_and_a_bad_fifth_day_changes_nothing(
    airflow_db: Path, shop: Settings
) -> None:
    settings = shop
    for day in DAYS:
        write_export(day, seed=SEED, scale="tiny", landing_root=settings.landing_root)
        assert _run("recsys_ingest", day, {"partition_date": day.isoformat()})["run"] == "success", day
    assert _run("recsys_retrain", DAYS[-1], RETRAIN)["run"] == "success"
    assert _run("recsys_publish", DAYS[-1], {"partition_date": DAYS[-1].isoformat()})["run"] == "success"

    client = redis.Redis.from_url(settings.redis_url)
    serving = VersionedKeyspace(client, "rec").serving()
    assert serving is not None and (serving.version, serving.dt) == (1, DAYS[-1].isoformat())
    user = str(publish.active_users(settings, DAYS[-1]).iloc[0])
    expected = RecommendationReader(client, pointer_ttl_s=0.0).user(publish.VARIANT, user)
    assert expected is not None
    answer = _answer(settings, user)
    assert (answer["version"], answer["source"], answer["fallback"]) == (1, "personal", False)
    assert len(answer["items"]) == 5  # type: ignore[arg-type]

    # Day 5's export stops at 17:00: the events gate fails, so nothing downstream runs.
    write_export(BAD_DAY, seed=SEED, scale="tiny", landing_root=settings.landing_root)
    events = settings.landing_root / "events" / f"dt={BAD_DAY.isoformat()}"
    for path in sorted(events.glob("*.jsonl")):
        if int(path.stem.split("-")[1]) >= 17:
            path.unlink()
    states = _run("recsys_ingest", BAD_DAY, {"partition_date": BAD_DAY.isoformat()}, retries=False)
    assert (states["run"], states["validate_events"]) == ("failed", "failed")
    assert states["publish_online_features"] in {"upstream_failed", "None"}
    assert not lake.has_partition(settings.lake_root, "features/user", BAD_DAY)
    # Publishing the bad day by hand fails too (its features are missing) and switches nothing.
    states = _run("recsys_publish", BAD_DAY, {"partition_date": BAD_DAY.isoformat()}, retries=False)
    assert states["run"] == "failed" and states["prepare"] == "failed"

    assert VersionedKeyspace(client, "rec").current() == 1
    again = _answer(settings, user)
    assert (again["version"], again["source"], again["fallback"]) == (1, "personal", False)
    assert again["items"] == answer["items"]
