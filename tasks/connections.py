"""Redis for a step: Airflow's ``redis_default`` connection when one is defined, else settings."""

from __future__ import annotations

import logging

import redis

from recsys.redis_conn import sync_client
from recsys.settings import Settings

log = logging.getLogger(__name__)


def redis_client(settings: Settings, conn_id: str = "redis_default") -> redis.Redis:
    """A client for the online store.

    Inside Airflow the connection ``conn_id`` (e.g. from ``AIRFLOW_CONN_REDIS_DEFAULT``) wins,
    so operators manage credentials in one place; outside Airflow, or when it is not
    defined, ``RECSYS_REDIS_URL`` with ``RECSYS_REDIS_PASSWORD`` and the TLS settings is used
    (recsys/redis_conn.py).
    """
    try:
        from airflow.providers.redis.hooks.redis import RedisHook

        client: redis.Redis = RedisHook(redis_conn_id=conn_id).get_conn()  # type: ignore[no-untyped-call]
        log.info("redis: using Airflow connection %s", conn_id)
        return client
    except Exception as exc:  # not in Airflow, or no such connection: both mean "use settings"
        log.info(
            "redis: no Airflow connection %s (%s); using the RECSYS_REDIS_* settings",
            conn_id,
            type(exc).__name__,
        )
        return sync_client(settings)
