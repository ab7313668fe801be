"""recsys_publish with a champion changed after registration: the run fails, nothing is published.

The champion's bytes need not be a real model: the registry refuses it before any loader
reads it. The DAG run is the real one (dag.test), with retries off so a failure is final.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pendulum
import pytest

from feature_store.versioned import VersionedKeyspace
from models.registry import ModelRegistry
from recsys.errors import TamperedArtifactError
from recsys.settings import Settings, load_settings
from tasks import publish
from tasks.context import RunContext
from tasks.retrain import RANKER
from tests.support import RedisServer, load_dag_module

pytestmark = pytest.mark.integration
DAY = date(2026, 11, 8)
DAYS = (date(2026, 11, 1), date(2026, 11, 7))


@pytest.fixture
def tampered_env(
    tiny_shop_lake: Path, tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """The tiny shop's lake and a registry whose champion ranker had a byte flipped after signing."""
    variables = {
        "RECSYS_LAKE_ROOT": str(tiny_shop_lake / "lake"),
        "RECSYS_LANDING_ROOT": str(tiny_shop_lake / "landing"),
        "RECSYS_SIM_SCALE": "tiny",
        "RECSYS_SIM_SEED": "7",
        "RECSYS_REGISTRY_ROOT": str(tmp_path / "registry"),
        "RECSYS_REDIS_URL": redis_url,
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    staging = tmp_path / "staging"
    staging.mkdir()
    for name in ("model.keras", "encoder.json", "ranker.json"):
        (staging / name).write_bytes(b"x" * 2048)
    registry = ModelRegistry.from_settings(settings)
    version = registry.register(RANKER, staging, metrics={"auc": 0.7}, data_range=DAYS, params={})
    registry.promote(RANKER, version.version, "test champion")
    target = version.path / "model.keras"
    data = bytearray(target.read_bytes())
    data[1000] ^= 0x01
    target.write_bytes(bytes(data))
    yield settings


def _serving_files(settings: Settings) -> dict[str, float]:
    """Every file the publish writes to the lake, with its modification time."""
    found = {}
    for top in ("serving", "recommendations"):
        for path in (settings.lake_root / top).rglob("*"):
            if path.is_file():
                found[str(path)] = path.stat().st_mtime
    return found


def test_prepare_publish_refuses_the_tampered_champion_and_writes_nothing(tampered_env: Settings) -> None:
    settings = tampered_env
    before = _serving_files(settings)
    with pytest.raises(
        TamperedArtifactError, match=rf"{RANKER} v1 .*differ from what was signed: model.keras"
    ):
        publish.prepare_publish(RunContext(DAY, settings))
    assert _serving_files(settings) == before


def test_the_publish_dag_fails_and_publishes_nothing(
    airflow_db: Path, tampered_env: Settings, redis_server: RedisServer
) -> None:
    dag = load_dag_module("recsys_publish").publish_dag
    for task in dag.tasks:
        task.retries = 0  # the DAG retries twice, 5 minutes apart: make the first failure final
    run = dag.test(
        logical_date=pendulum.datetime(2026, 11, 9, 4, tz="UTC"), run_conf={"partition_date": DAY.isoformat()}
    )
    assert str(run.state) == "failed"
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["prepare"] == "failed"
    assert states["publish"] == "upstream_failed"
    assert VersionedKeyspace(redis_server.client(), "rec").current() is None  # nothing to serve
