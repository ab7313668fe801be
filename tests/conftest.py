"""Shared fixtures. Airflow gets a private home and database; Redis a private server."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import DAGS_FOLDER, RedisServer

# Before anything imports Airflow: a private AIRFLOW_HOME (sqlite), our DAGs, no examples.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="recsys-test-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
# Tests start from the documented defaults, whatever the calling shell exported.
for _key in [k for k in os.environ if k.startswith("RECSYS_")]:
    del os.environ[_key]


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """An initialised Airflow metadata database (sqlite) for ``dag.test()`` runs."""
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private real redis-server for the whole session, stopped afterwards."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The private server's URL, with an empty database for each test."""
    client = redis_server.client()
    client.flushall()
    yield redis_server.url
    client.flushall()


@pytest.fixture
def shop_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """RECSYS_* variables for a tiny simulated shop in a fresh lake and landing zone."""
    monkeypatch.setenv("RECSYS_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("RECSYS_LANDING_ROOT", str(tmp_path / "landing"))
    monkeypatch.setenv("RECSYS_SIM_SCALE", "tiny")
    monkeypatch.setenv("RECSYS_SIM_SEED", "7")
    return tmp_path
