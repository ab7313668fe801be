"""The service's Redis access: every call goes through the circuit breaker, the pointer is cached.

``current()`` answers the serving snapshot, reading ``rec:current`` at most every
``pointer_ttl_s`` and loading a new snapshot when the pointer moves. ``get(key)`` sends one
GET, ``mget(keys)`` one MGET and ``execute(pipe)`` one pipeline: each one round trip (plain
reads need no pipeline, whose bookkeeping costs more than the command). All raise
``StoreUnavailableError`` with a reason when Redis cannot answer; the caller then answers
from ``store.snapshot``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, cast

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from feature_store.recommendations import ALIASES_FIELD, NAMESPACE
from feature_store.service.breaker import CircuitBreaker
from feature_store.service.deadlines import Deadlines
from feature_store.service.snapshot import Snapshot, build_snapshot, snapshot_keys
from feature_store.versioned import current_key, meta_key, parse_version
from recsys.redis_conn import async_client
from recsys.settings import Settings

log = logging.getLogger(__name__)

# Connection trouble is what the breaker counts; a Redis that answers with an error is up.
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, OSError)


class StoreUnavailableError(Exception):
    """Redis gave no usable answer; ``reason`` labels the fallback in responses and metrics."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotPublishedError(Exception):
    """Nothing was ever published (``rec:current`` unset) and no snapshot exists."""


def connect(settings: Settings) -> aioredis.Redis:
    """An asyncio client that fails fast: the breaker, not the client, decides about retries.

    AUTH and TLS come from the settings, exactly as for the pipeline's client (recsys/redis_conn.py).
    """
    timeout_s = settings.service_redis_timeout_s
    return async_client(
        settings,
        # No socket_timeout: OnlineStore times each call itself (deadlines.py). redis-py would
        # wrap every send in asyncio.wait_for, a task per command: 17 µs, a tenth of a request.
        socket_timeout=None,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),  # redis-py's default retries 10 times with backoff: seconds
        decode_responses=False,  # values are binary
    )


class OnlineStore:
    def __init__(
        self,
        client: aioredis.Redis,
        breaker: CircuitBreaker,
        pointer_ttl_s: float,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
        on_snapshot: Callable[[Snapshot], None] | None = None,
    ) -> None:
        self.client = client
        self.breaker = breaker
        self.pointer_ttl_s = pointer_ttl_s
        self.deadlines = Deadlines(timeout_s)
        self.snapshot: Snapshot | None = None
        self._clock = clock
        self._checked_at = -float("inf")
        self._refreshing = False
        self._on_snapshot = on_snapshot

    # Each call: the breaker allows it, or StoreUnavailableError("breaker_open"); it gets
    # ``timeout_s`` to answer (deadlines.py; its DeadlineExceededError is an OSError:
    # UNAVAILABLE); its outcome is reported to the breaker (``_failed`` for an exception).
    # Written out in each, not wrapped: a coroutine more per request is a measurable share of it.

    async def execute(self, pipe: Any) -> list[Any]:
        """Send a pipeline through the breaker."""
        if not self.breaker.allow():
            raise StoreUnavailableError("breaker_open")
        task = self.deadlines.enter()
        try:
            replies: list[Any] = await pipe.execute()
        except BaseException as exc:
            self._failed(self.deadlines.reason(task, exc))
            raise
        finally:
            self.deadlines.leave(task)
        self.breaker.success()
        return replies

    async def get(self, key: str) -> bytes | None:
        """One GET through the breaker: a plain command, cheaper than a pipeline of one."""
        if not self.breaker.allow():
            raise StoreUnavailableError("breaker_open")
        task = self.deadlines.enter()
        try:
            value = cast("bytes | None", await self.client.get(key))  # decode_responses=False
        except BaseException as exc:
            self._failed(self.deadlines.reason(task, exc))
            raise
        finally:
            self.deadlines.leave(task)
        self.breaker.success()
        return value

    async def mget(self, keys: list[str]) -> list[bytes | None]:
        """One MGET through the breaker: several keys in one command."""
        if not self.breaker.allow():
            raise StoreUnavailableError("breaker_open")
        task = self.deadlines.enter()
        try:
            values = cast("list[bytes | None]", await self.client.mget(keys))
        except BaseException as exc:
            self._failed(self.deadlines.reason(task, exc))
            raise
        finally:
            self.deadlines.leave(task)
        self.breaker.success()
        return values

    def _failed(self, exc: BaseException) -> None:
        """Report a call's exception to the breaker; Redis being unreachable raises StoreUnavailableError."""
        if isinstance(exc, UNAVAILABLE):
            self.breaker.failure()
            log.warning("redis: %s: %s (breaker %s)", type(exc).__name__, exc, self.breaker.state.name)
            raise StoreUnavailableError("redis_error") from exc
        if isinstance(exc, redis.RedisError):
            self.breaker.success()  # Redis answered, with an error: it is up
        else:
            self.breaker.abandon()  # cancelled before it knew

    def fresh(self) -> Snapshot | None:
        """The snapshot when ``current()`` would answer it without reading Redis, else None."""
        snapshot = self.snapshot
        if snapshot is not None and (
            self._refreshing or self._clock() - self._checked_at < self.pointer_ttl_s
        ):
            return snapshot
        return None

    async def current(self) -> Snapshot:
        """The snapshot of the serving version, the pointer re-read when ``pointer_ttl_s`` is up.

        Raises:
            StoreUnavailableError: Redis is unreachable, or the pointer vanished (a flushed Redis).
            NotPublishedError: nothing was ever published and there is no snapshot.
        """
        snapshot = self.fresh()
        if snapshot is not None:
            return snapshot  # concurrent requests do not each re-read the pointer
        self._refreshing = True
        try:
            return await self._refresh(self.snapshot)
        finally:
            self._refreshing = False

    async def _refresh(self, snapshot: Snapshot | None) -> Snapshot:
        pointer = await self.get(current_key(NAMESPACE))
        version = parse_version(pointer)
        if version is None:
            if snapshot is None:
                raise NotPublishedError("nothing is published yet: rec:current is unset")
            raise StoreUnavailableError("unpublished")
        if snapshot is None or snapshot.version != version:
            pipe = self.client.pipeline(transaction=False)
            for key in snapshot_keys(version):
                pipe.get(key)
            pipe.hget(meta_key(NAMESPACE, version), ALIASES_FIELD)
            *values, aliases = await self.execute(pipe)
            snapshot = build_snapshot(version, values, aliases)
            log.info("rec: serving v%d (%d items in its dictionary)", version, len(snapshot.items))
            self.snapshot = snapshot
            if self._on_snapshot is not None:
                self._on_snapshot(snapshot)
        self._checked_at = self._clock()
        return snapshot

    async def ping(self) -> int | None:
        """Readiness: PING Redis and read the version ``rec:current`` names (raises when unreachable)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.ping()
        pipe.get(current_key(NAMESPACE))
        _, pointer = await self.execute(pipe)
        return parse_version(pointer)
