"""End-to-end acceptance on the tiny shop: four days ingested → retrain → publish → the service
answers from the new version → a corrupted fifth day fails its gate, and the service goes on
answering from the fourth day's version (the retrain needs three days of history and a day
to judge on, so the issue's three days are four here).

Every DAG runs for real (``dag.test()``), against a private redis-server that serves TLS only and
requires a password (tests/redis_tls.py); only the scheduler's asset triggering is replaced by
running the next DAG by hand. Every secret is set to a value made for this run, and at the end
no log the run produced holds one of them (docs/security.md).
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import airflow  # noqa: F401  (Airflow sets up logging when imported: before the capture starts)
import pendulum
import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from feature_store import lake
from feature_store.recommendations import RecommendationReader
from feature_store.service.app import create_app
from feature_store.versioned import VersionedKeyspace
from recsys.redis_conn import sync_client
from recsys.settings import Settings, load_settings
from recsys.shop_sim.export import write_export
from tasks import publish
from tests.redis_tls import TLSRedisServer
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
def run_secrets(tls_redis: TLSRedisServer) -> dict[str, str]:
    """Every secret setting, each a value made for this run (so any trace of it is a leak)."""
    return {
        "RECSYS_REDIS_PASSWORD": tls_redis.password,
        "RECSYS_REGISTRY_HMAC_KEY": f"registry-hmac-{secrets.token_hex(16)}",
        "RECSYS_REGISTRY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "RECSYS_SERVICE_USER_HASH_KEY": f"user-hash-{secrets.token_hex(16)}",
        "RECSYS_SERVICE_ADMIN_API_KEY": f"admin-api-{secrets.token_hex(16)}",
    }


@pytest.fixture
def shop(
    tmp_path: Path, tls_redis: TLSRedisServer, run_secrets: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """A fresh tiny shop whose exports arrive in the landing zone, as a real shop's would; the
    online store is reached over TLS with a client certificate and AUTH."""
    for name, value in {
        "RECSYS_LAKE_ROOT": str(tmp_path / "lake"),
        "RECSYS_LANDING_ROOT": str(tmp_path / "landing"),
        "RECSYS_REGISTRY_ROOT": str(tmp_path / "registry"),
        "RECSYS_SOURCE": "landing",
        "RECSYS_SIM_SCALE": "tiny",
        "RECSYS_SIM_SEED": str(SEED),
        **tls_redis.env(),
        **run_secrets,
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


def _needles(run_secrets: dict[str, str], tls_redis: TLSRedisServer) -> dict[str, bytes]:
    """Each secret as it could be written: as is, base64 (both alphabets) and hex; the Fernet key
    also decoded; the client certificate's private key as PEM lines and as its private value."""
    needles: dict[str, bytes] = {}
    for name, value in run_secrets.items():
        raw = value.encode()
        forms = {"": raw, " (base64)": base64.b64encode(raw), " (hex)": raw.hex().encode()}
        forms[" (base64url)"] = base64.urlsafe_b64encode(raw)
        if name == "RECSYS_REGISTRY_ENCRYPTION_KEY":
            key = base64.urlsafe_b64decode(raw)
            forms |= {" (key, hex)": key.hex().encode(), " (key, base64)": base64.b64encode(key)}
        needles |= {f"{name}{label}": form.rstrip(b"=") for label, form in forms.items()}
    key_pem = tls_redis.certificates.client_key_file.read_bytes()
    body = [line for line in key_pem.splitlines() if line and not line.startswith(b"-----")]
    needles |= {f"RECSYS_REDIS_TLS_KEY_FILE (PEM line {n})": line for n, line in enumerate(body, 1)}
    client_key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(client_key, ec.EllipticCurvePrivateKey)
    private_value = f"{client_key.private_numbers().private_value:064x}".encode()
    needles["RECSYS_REDIS_TLS_KEY_FILE (private value, hex)"] = private_value
    return needles


def _leaks(texts: dict[str, bytes], needles: dict[str, bytes]) -> list[str]:
    """Where a needle occurs: the place and the text around it, every secret in it masked."""
    found = []
    for where, text in texts.items():
        for name, needle in needles.items():
            at = text.find(needle)
            if at >= 0:
                around = text[max(0, at - 80) : at + len(needle) + 80]
                for other, secret in needles.items():
                    around = around.replace(secret, f"<{other}>".encode())
                found.append(f"{name} in {where}: ...{around.decode(errors='replace')}...")
    return found


def test_four_days_to_a_served_version_and_a_bad_fifth_day_changes_nothing(
    airflow_db: Path,
    shop: Settings,
    tls_redis: TLSRedisServer,
    run_secrets: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    settings = shop
    caplog.set_level(logging.DEBUG)  # the root logger at DEBUG: every record of every logger that propagates
    unpropagated = [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    for logger in unpropagated:
        logger.addHandler(caplog.handler)
    for day in DAYS:
        write_export(day, seed=SEED, scale="tiny", landing_root=settings.landing_root)
        assert _run("recsys_ingest", day, {"partition_date": day.isoformat()})["run"] == "success", day
    assert _run("recsys_retrain", DAYS[-1], RETRAIN)["run"] == "success"
    assert _run("recsys_publish", DAYS[-1], {"partition_date": DAYS[-1].isoformat()})["run"] == "success"

    client = sync_client(settings)
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

    # No secret in any log of the run: the records of every logger, stdout and stderr, every file
    # under AIRFLOW_HOME (task logs, metadata database), the registry's files and Redis's own log.
    for logger in unpropagated:
        logger.removeHandler(caplog.handler)
    # The capture saw the steps' and the service's own records, so the search below is not vacuous.
    assert {"tasks.connections", "feature_store.service.access"} <= {r.name for r in caplog.records}
    described = f"127.0.0.1:{tls_redis.port} db 0, tls on, client certificate, auth on as default"
    assert any(described in r.getMessage() for r in caplog.records if r.name == "recsys.redis_conn")
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    stdout, stderr = capfd.readouterr()
    texts = {
        "log records": "\n".join(f"{formatter.format(r)} {vars(r)}" for r in caplog.records).encode(),
        "captured stdout": stdout.encode(),
        "captured stderr": stderr.encode(),
    }
    roots = [Path(os.environ["AIRFLOW_HOME"]), settings.registry_root]
    files = [path for root in roots for path in root.rglob("*") if path.is_file()] + [tls_redis.log_file]
    texts |= {str(path): path.read_bytes() for path in files}
    leaks = _leaks(texts, _needles(run_secrets, tls_redis))
    assert not leaks, "secrets found in the run's logs:\n" + "\n".join(leaks)
