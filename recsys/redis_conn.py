"""The one place the platform's Redis clients are made, so the pipeline's sync client and the
lookup service's asyncio client carry the same AUTH and TLS settings (docs/security.md).

Credentials never travel in ``RECSYS_REDIS_URL`` (the settings refuse that) and are never
logged: ``describe`` names host, port, database and whether TLS and AUTH are on, nothing more.
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis
import redis.asyncio as aioredis

from recsys.settings import Settings

log = logging.getLogger(__name__)


def _path(path: Path | None) -> str | None:
    return None if path is None else str(path)


def security_kwargs(settings: Settings) -> dict[str, Any]:
    """redis-py keywords for AUTH and TLS, the same for the sync and the asyncio client.

    With a ``rediss://`` URL the server's certificate is always verified, against
    ``RECSYS_REDIS_TLS_CA_FILE`` or else the system's CAs, and must name the URL's host.
    """
    kwargs: dict[str, Any] = {}
    if settings.redis_username is not None:
        kwargs["username"] = settings.redis_username
    if settings.redis_password is not None:
        kwargs["password"] = settings.redis_password.get_secret_value()
    if settings.redis_url.startswith("rediss://"):
        # Spelt out, not left to redis-py's defaults: they have changed between releases.
        kwargs.update(
            ssl_cert_reqs="required",
            ssl_check_hostname=True,
            ssl_min_version=ssl.TLSVersion.TLSv1_2,
            ssl_ca_certs=_path(settings.redis_tls_ca_file),
            ssl_certfile=_path(settings.redis_tls_cert_file),
            ssl_keyfile=_path(settings.redis_tls_key_file),
        )
    return kwargs


def describe(settings: Settings) -> str:
    """Where a client goes, for logs: ``127.0.0.1:6380 db 0, tls on, auth on``; never a secret."""
    url = urlsplit(settings.redis_url)
    db = "0"
    if "db" in (query := parse_qs(url.query)):
        db = query["db"][0]
    elif url.scheme != "unix" and url.path.strip("/"):
        db = url.path.strip("/")
    where = f"unix:{url.path}" if url.scheme == "unix" else f"{url.hostname}:{url.port or 6379}"
    tls = "off"
    if url.scheme == "rediss":
        tls = "on, client certificate" if settings.redis_tls_cert_file is not None else "on"
    auth = "off" if settings.redis_password is None else f"on as {settings.redis_username or 'default'}"
    return f"{where} db {db}, tls {tls}, auth {auth}"


def sync_client(settings: Settings, **options: Any) -> redis.Redis:
    """A client for the pipeline's steps and the CLI; ``options`` are further redis-py keywords
    (timeouts), never security ones: those come from settings alone."""
    log.info("redis: connecting to %s", describe(settings))
    client: redis.Redis = redis.Redis.from_url(settings.redis_url, **options, **security_kwargs(settings))
    return client


def async_client(settings: Settings, **options: Any) -> aioredis.Redis:
    """An asyncio client for the lookup service, with the same security keywords as ``sync_client``."""
    log.info("redis: connecting to %s (asyncio)", describe(settings))
    client: aioredis.Redis = aioredis.Redis.from_url(
        settings.redis_url, **options, **security_kwargs(settings)
    )
    return client
