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


TINY_LAKE_DAYS = 8  # 2026-11-01 .. 2026-11-08: a week of history and an evaluation day


@pytest.fixture(scope="session")
def tiny_shop_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake of eight ingested, tagged and featurised days of the tiny shop (seed 7), built once.

    Tests that write into it use their own dataset or registry paths; the days stay as built.
    """
    from datetime import date, timedelta

    from recsys.settings import load_settings
    from tasks.context import RunContext
    from tasks.pipeline import ingest_day

    root = tmp_path_factory.mktemp("tiny-shop")
    settings = load_settings(
        lake_root=root / "lake", landing_root=root / "landing", sim_scale="tiny", sim_seed=7
    )
    for offset in range(TINY_LAKE_DAYS):
        ingest_day(RunContext(date(2026, 11, 1) + timedelta(days=offset), settings))
    return root


# --- Redis with TLS and AUTH (tests/redis_tls.py) -----------------------------------------------

from tests.redis_tls import TLSRedisServer  # noqa: E402  (kept with its fixtures)


@pytest.fixture(scope="session")
def tls_redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSRedisServer]:
    """A private redis-server serving TLS only, requiring a password; client certificates optional."""
    server = TLSRedisServer(tmp_path_factory.mktemp("redis-tls"))
    yield server
    server.stop()


@pytest.fixture
def tls_redis(tls_redis_server: TLSRedisServer) -> Iterator[TLSRedisServer]:
    """The TLS server, with an empty database for each test."""
    with tls_redis_server.client() as client:
        client.flushall()
    yield tls_redis_server
    with tls_redis_server.client() as client:
        client.flushall()


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary directory decrypted model versions go to, private to this test."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder
