"""Redis AUTH and TLS against a real redis-server serving TLS only, on certificates the tests
make (tests/redis_tls.py): the pipeline's client and the lookup service connect with the
settings alone; a wrong password, plain TCP, an untrusted certificate, a certificate for
another host and a missing client certificate are each refused with a clear error.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import airflow.providers.redis.hooks.redis  # noqa: F401  (Airflow sets up logging on import: before caplog)
import pandas as pd
import pytest
import redis

from feature_store.recommendations import publish_recommendations
from feature_store.service.app import create_app
from feature_store.service.store import connect
from recsys.redis_conn import sync_client
from recsys.settings import Settings, load_settings
from tasks.connections import redis_client
from tests.redis_tls import TestCertificates, TLSRedisServer

with warnings.catch_warnings():  # starlette 1.x asks for httpx2 in TestClient; httpx still works
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration

ITEMS = [f"P{n}" for n in range(10)]


def settings_for(server: TLSRedisServer, *, client_certificate: bool = True, **overrides: object) -> Settings:
    """Settings that reach ``server`` (overrides win: a wrong password, no CA, ...)."""
    env = {
        k.removeprefix("RECSYS_").lower(): v
        for k, v in server.env(client_certificate=client_certificate).items()
    }
    return load_settings(**(env | overrides))


async def _async_ping(settings: Settings) -> bool:
    """PING with the lookup service's own client (feature_store/service/store.py)."""
    client = connect(settings)
    try:
        return bool(await client.ping())
    finally:
        await client.aclose()


@pytest.fixture(scope="module")
def mutual_tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSRedisServer]:
    """A TLS server that insists on a client certificate (``--tls-auth-clients yes``)."""
    with TLSRedisServer(tmp_path_factory.mktemp("redis-mtls"), client_auth="yes") as server:
        yield server


# -- connecting with the settings ---------------------------------------------------------


def test_the_pipeline_client_uses_tls_and_auth_from_the_settings(
    tls_redis: TLSRedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = redis_client(settings_for(tls_redis))  # no Airflow connection here: the settings path
    assert client.connection_pool.connection_class is redis.SSLConnection
    assert client.ping() is True
    assert client.set("security:probe", b"v1") is True
    assert client.get("security:probe") == b"v1"
    described = f"127.0.0.1:{tls_redis.port} db 0, tls on, client certificate, auth on as default"
    assert any(described in message for message in caplog.messages), caplog.messages
    assert not any(tls_redis.password in message for message in caplog.messages)


def test_the_lookup_service_answers_over_tls_with_auth(tls_redis: TLSRedisServer) -> None:
    settings = settings_for(tls_redis, service_pointer_ttl_s=60.0)
    # Published through the pipeline's client: TLS leaves the raw-socket writer to redis-py.
    users = pd.DataFrame(
        {
            "variant": "champion",
            "user_id": "U1",
            "rank": range(1, 6),
            "item_id": ITEMS[:5],
            "score": [5.0, 4.0, 3.0, 2.0, 1.0],
            "channel": "faiss",
            "stage": "fine",
        }
    )
    lists = pd.DataFrame(
        {
            "kind": "segment",
            "key": "global",
            "rank": range(1, 11),
            "item_id": ITEMS,
            "score": range(10, 0, -1),
        }
    )
    report = publish_recommendations(
        redis_client(settings), "2026-11-05", users, lists, None, keep=2, batch_size=100, verify_sample=5
    )
    assert asyncio.run(_async_ping(settings)) is True
    with TestClient(create_app(settings)) as api:
        assert api.get("/readyz").status_code == 200
        body = api.get("/v1/users/U1/recommendations", params={"k": 3}).json()
    assert [item["item_id"] for item in body["items"]] == ITEMS[:3]
    assert (body["version"], body["source"], body["fallback"]) == (report.version, "personal", False)


# -- refusals ---------------------------------------------------------------------------


def test_a_wrong_or_missing_password_is_refused_clearly(tls_redis: TLSRedisServer) -> None:
    wrong = "not-the-redis-password"
    with pytest.raises(redis.AuthenticationError, match="invalid username-password pair") as raised:
        redis_client(settings_for(tls_redis, redis_password=wrong)).ping()
    assert wrong not in str(raised.value)
    with pytest.raises(redis.AuthenticationError, match="authenticated"):  # HELLO (RESP3) without AUTH
        sync_client(settings_for(tls_redis, redis_password=None)).ping()
    with pytest.raises(redis.AuthenticationError, match="invalid username-password pair"):
        asyncio.run(_async_ping(settings_for(tls_redis, redis_password=wrong)))


def test_plain_tcp_to_the_tls_port_fails(tls_redis: TLSRedisServer) -> None:
    settings = settings_for(
        tls_redis,
        redis_url=f"redis://127.0.0.1:{tls_redis.port}/0",
        redis_tls_ca_file=None,
        redis_tls_cert_file=None,
        redis_tls_key_file=None,
    )
    with pytest.raises(redis.ConnectionError):
        sync_client(settings, socket_timeout=5.0).ping()


def test_without_the_ca_the_server_certificate_is_not_trusted(tls_redis: TLSRedisServer) -> None:
    # No RECSYS_REDIS_TLS_CA_FILE: the system's CAs, which never signed the test CA's server.
    settings = settings_for(tls_redis, redis_tls_ca_file=None)
    with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        sync_client(settings).ping()
    with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        asyncio.run(_async_ping(settings))


def test_a_certificate_for_another_host_is_refused(tmp_path: Path) -> None:
    # Signed by the trusted CA, but for redis.internal only: the hostname check refuses it.
    certificates = TestCertificates.generate(tmp_path / "tls", server_names=("redis.internal",))
    with TLSRedisServer(tmp_path, certificates=certificates) as server:
        with pytest.raises(redis.ConnectionError, match=r"CERTIFICATE_VERIFY_FAILED.*mismatch.*127\.0\.0\.1"):
            sync_client(settings_for(server)).ping()
        with server.client(ssl_check_hostname=False) as unchecked:  # the server is fine otherwise
            assert unchecked.ping() is True


def test_mutual_tls_needs_the_client_certificate(mutual_tls_redis: TLSRedisServer) -> None:
    with_certificate = settings_for(mutual_tls_redis)
    assert redis_client(with_certificate).ping() is True
    assert asyncio.run(_async_ping(with_certificate)) is True
    without = settings_for(mutual_tls_redis, client_certificate=False)
    with pytest.raises(redis.ConnectionError):
        sync_client(without, socket_timeout=5.0).ping()
    with pytest.raises(redis.ConnectionError):
        asyncio.run(_async_ping(without.model_copy(update={"service_redis_timeout_s": 5.0})))
