"""Redis AUTH and TLS settings: what is refused (and that the refusal repeats no secret), and the
keywords every platform client gets from them (recsys/redis_conn.py). No server needed: the
clients are built, not connected; tests/integration/test_redis_security.py connects them."""

from __future__ import annotations

import asyncio
import re
import ssl
import traceback
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from recsys.errors import SettingsError
from recsys.redis_conn import async_client, describe, security_kwargs, sync_client
from recsys.settings import Settings, load_settings

PASSWORD = "pw-0f3a9c-never-shown"


@pytest.fixture
def tls_files(tmp_path: Path) -> dict[str, Path]:
    """Files standing in for a CA, a client certificate and its key (only their existence is checked)."""
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    for path in files.values():
        path.write_text("-----BEGIN CERTIFICATE-----\n")
    return files


def _whole_error(exc: BaseException) -> str:
    """The message with its whole chain, as a traceback in a log would show it."""
    return "".join(traceback.format_exception(exc))


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{PASSWORD}@cache:6379/0",
        f"rediss://recsys:{PASSWORD}@cache:6380/0",
        f"redis://cache:6379/0?password={PASSWORD}",
        f"unix://:{PASSWORD}@/run/redis.sock",
        "redis://recsys@cache:6379/0",
    ],
)
def test_credentials_in_the_url_are_refused_without_repeating_them(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("RECSYS_REDIS_URL", url)
    with pytest.raises(SettingsError, match="RECSYS_REDIS_URL carries credentials") as raised:
        load_settings()
    assert "RECSYS_REDIS_PASSWORD" in str(raised.value)
    assert PASSWORD not in _whole_error(raised.value)


@pytest.mark.parametrize("query", ["ssl_cert_reqs=none", "ssl_check_hostname=false", "ssl_ca_certs=/x"])
def test_tls_options_in_the_url_are_refused(query: str) -> None:
    # redis-py would let them override the verification the settings ask for.
    with pytest.raises(SettingsError, match=f"RECSYS_REDIS_URL sets {query.split('=')[0]}"):
        load_settings(redis_url=f"rediss://cache:6380/0?{query}")


def test_a_bad_scheme_is_still_refused_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"RECSYS_REDIS_URL: .*must start with redis://"):
        load_settings(redis_url="http://cache:6379")


def test_the_password_is_a_secret_in_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSYS_REDIS_PASSWORD", PASSWORD)
    settings = load_settings()
    assert settings.redis_password is not None
    assert settings.redis_password.get_secret_value() == PASSWORD
    assert PASSWORD not in repr(settings) and PASSWORD not in settings.model_dump_json()


def test_an_empty_password_is_refused() -> None:
    with pytest.raises(SettingsError, match="RECSYS_REDIS_PASSWORD is empty"):
        load_settings(redis_password="")


def test_a_username_needs_a_password() -> None:
    with pytest.raises(SettingsError, match="RECSYS_REDIS_USERNAME is set without RECSYS_REDIS_PASSWORD"):
        load_settings(redis_username="recsys")
    assert load_settings(redis_username="recsys", redis_password=PASSWORD).redis_username == "recsys"


def test_production_requires_a_redis_password() -> None:
    with pytest.raises(SettingsError, match="RECSYS_REDIS_PASSWORD must be set in production"):
        load_settings(environment="production", registry_hmac_key="k")
    assert load_settings(environment="production", registry_hmac_key="k", redis_password=PASSWORD)


def test_tls_files_need_a_rediss_url(tls_files: dict[str, Path]) -> None:
    with pytest.raises(SettingsError, match="RECSYS_REDIS_TLS_CA_FILE set, but RECSYS_REDIS_URL does not"):
        load_settings(redis_url="redis://cache:6379/0", redis_tls_ca_file=tls_files["ca"])


@pytest.mark.parametrize("given", ["redis_tls_cert_file", "redis_tls_key_file"])
def test_the_client_certificate_and_its_key_go_together(tls_files: dict[str, Path], given: str) -> None:
    path = tls_files["cert" if given == "redis_tls_cert_file" else "key"]
    with pytest.raises(SettingsError, match="RECSYS_REDIS_TLS_CERT_FILE and RECSYS_REDIS_TLS_KEY_FILE go"):
        load_settings(redis_url="rediss://cache:6380/0", **{given: path})


@pytest.mark.parametrize("name", ["redis_tls_ca_file", "redis_tls_cert_file", "redis_tls_key_file"])
def test_a_missing_tls_file_is_named(
    monkeypatch: pytest.MonkeyPatch, tls_files: dict[str, Path], tmp_path: Path, name: str
) -> None:
    monkeypatch.setenv("RECSYS_REDIS_URL", "rediss://cache:6380/0")
    for setting, path in zip(
        ("redis_tls_ca_file", "redis_tls_cert_file", "redis_tls_key_file"), tls_files.values(), strict=True
    ):
        monkeypatch.setenv(f"RECSYS_{setting.upper()}", str(path))
    missing = tmp_path / "nowhere" / "file.pem"
    monkeypatch.setenv(f"RECSYS_{name.upper()}", str(missing))
    with pytest.raises(SettingsError, match=re.escape(f"RECSYS_{name.upper()}: no such file {missing}")):
        load_settings()


def _tls_settings(tls_files: dict[str, Path], **more: object) -> Settings:
    return load_settings(
        redis_url="rediss://cache.internal:6380/2",
        redis_password=PASSWORD,
        redis_tls_ca_file=tls_files["ca"],
        redis_tls_cert_file=tls_files["cert"],
        redis_tls_key_file=tls_files["key"],
        **more,
    )


def test_rediss_gets_verified_tls_and_auth(tls_files: dict[str, Path]) -> None:
    kwargs = security_kwargs(_tls_settings(tls_files, redis_username="recsys"))
    assert kwargs == {
        "username": "recsys",
        "password": PASSWORD,
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
        "ssl_min_version": ssl.TLSVersion.TLSv1_2,
        "ssl_ca_certs": str(tls_files["ca"]),
        "ssl_certfile": str(tls_files["cert"]),
        "ssl_keyfile": str(tls_files["key"]),
    }


def test_rediss_without_a_ca_file_still_verifies_against_the_system_cas() -> None:
    kwargs = security_kwargs(load_settings(redis_url="rediss://cache:6380/0"))
    assert (kwargs["ssl_cert_reqs"], kwargs["ssl_check_hostname"], kwargs["ssl_ca_certs"]) == (
        "required",
        True,
        None,
    )


def test_plain_redis_gets_auth_and_no_tls_keywords() -> None:
    assert security_kwargs(load_settings(redis_password=PASSWORD)) == {"password": PASSWORD}
    assert security_kwargs(load_settings()) == {}


def test_the_sync_and_the_asyncio_client_carry_the_same_security(tls_files: dict[str, Path]) -> None:
    settings = _tls_settings(tls_files)
    sync = sync_client(settings)
    assert sync.connection_pool.connection_class is redis.SSLConnection
    aio = async_client(settings, socket_timeout=0.5)
    assert aio.connection_pool.connection_class is aioredis.SSLConnection
    expected = security_kwargs(settings)
    for client in (sync, aio):
        kwargs = client.connection_pool.connection_kwargs
        assert {k: kwargs[k] for k in expected} == expected
        assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("cache.internal", 6380, 2)
    assert aio.connection_pool.connection_kwargs["socket_timeout"] == 0.5
    sync.close()
    asyncio.run(aio.aclose())


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "127.0.0.1:6379 db 0, tls off, auth off"),
        (
            {"redis_url": "redis://cache", "redis_password": PASSWORD},
            "cache:6379 db 0, tls off, auth on as default",
        ),
        ({"redis_url": "unix:///run/redis.sock?db=3"}, "unix:/run/redis.sock db 3, tls off, auth off"),
    ],
)
def test_the_log_description_names_the_server_and_no_secret(overrides: dict[str, str], expected: str) -> None:
    assert describe(load_settings(**overrides)) == expected


def test_the_log_description_of_tls(tls_files: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    settings = _tls_settings(tls_files, redis_username="recsys")
    assert describe(settings) == "cache.internal:6380 db 2, tls on, client certificate, auth on as recsys"
    caplog.set_level("DEBUG")
    sync_client(settings).close()
    assert caplog.messages and not any(PASSWORD in message for message in caplog.messages)
