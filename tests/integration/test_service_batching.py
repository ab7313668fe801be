"""Coalesced reads (feature_store/service/batching.py) against a real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from bench.redis_server import free_port
from feature_store.service.batching import ReadBatcher
from feature_store.service.breaker import BreakerState, CircuitBreaker
from feature_store.service.store import OnlineStore, StoreUnavailableError, connect
from recsys.settings import load_settings


def mget_calls(client: redis.Redis) -> int:
    stats: dict[str, Any] = client.info("commandstats")
    return int(stats.get("cmdstat_mget", {}).get("calls", 0))


def run(
    redis_url: str, scenario: Callable[[ReadBatcher, OnlineStore], Awaitable[Any]], max_requests: int = 8
) -> tuple[Any, list[int], OnlineStore]:
    """``scenario(batcher, store)`` in a fresh event loop; its result and the batch sizes seen."""
    sizes: list[int] = []

    async def main() -> tuple[Any, OnlineStore]:
        client = connect(load_settings(redis_url=redis_url, service_redis_timeout_s=0.5))
        store = OnlineStore(client, CircuitBreaker(3, 30.0), 60.0, 0.5)
        try:
            return await scenario(ReadBatcher(store, max_requests, on_batch=sizes.append), store), store
        finally:
            await client.aclose()

    result, store = asyncio.run(main())
    return result, sizes, store


@pytest.fixture
def values(redis_url: str) -> redis.Redis:
    client = redis.Redis.from_url(redis_url)
    client.mset({f"k{i}": f"v{i}".encode() for i in range(40)})
    return client


def test_requests_that_arrive_together_share_one_mget_and_each_gets_its_own_values(
    redis_url: str, values: redis.Redis
) -> None:
    before = mget_calls(values)

    async def scenario(batcher: ReadBatcher, store: OnlineStore) -> list[Any]:
        # 20 requests of one loop turn, with 1, 2 or 3 keys each, one of them missing.
        keys = [[f"k{i}"] + ["missing"] * (i % 2) + [f"k{i + 20}"] * (i % 3 == 0) for i in range(20)]
        return list(await asyncio.gather(*(batcher.read(k) for k in keys)))

    answers, sizes, _ = run(redis_url, scenario)
    for i, answer in enumerate(answers):
        expected = [f"v{i}".encode()] + [None] * (i % 2) + [f"v{i + 20}".encode()] * (i % 3 == 0)
        assert answer == expected
    assert sizes == [8, 8, 4]  # at most max_requests per MGET
    assert mget_calls(values) - before == 3  # three round trips for twenty requests


def test_a_request_alone_is_sent_at_once_in_a_batch_of_one(redis_url: str, values: redis.Redis) -> None:
    async def scenario(batcher: ReadBatcher, store: OnlineStore) -> list[Any]:
        return [await batcher.read([f"k{i}"]) for i in range(3)]  # one after another

    answers, sizes, _ = run(redis_url, scenario)
    assert answers == [[b"v0"], [b"v1"], [b"v2"]] and sizes == [1, 1, 1]


def test_unbatched_reads_use_the_store_directly(redis_url: str, values: redis.Redis) -> None:
    stats_before: dict[str, Any] = values.info("commandstats")

    async def scenario(batcher: ReadBatcher, store: OnlineStore) -> list[Any]:
        return list(await asyncio.gather(batcher.read(["k1"]), batcher.read(["k2", "k3"])))

    answers, sizes, _ = run(redis_url, scenario, max_requests=1)
    stats: dict[str, Any] = values.info("commandstats")
    assert answers == [[b"v1"], [b"v2", b"v3"]] and sizes == []  # no batches
    gets = stats["cmdstat_get"]["calls"] - stats_before.get("cmdstat_get", {}).get("calls", 0)
    mgets = stats["cmdstat_mget"]["calls"] - stats_before.get("cmdstat_mget", {}).get("calls", 0)
    assert (gets, mgets) == (1, 1)  # a plain GET for one key, as before batching


def test_a_request_cancelled_while_it_waits_leaves_the_others_their_answers(
    redis_url: str, values: redis.Redis
) -> None:
    async def scenario(batcher: ReadBatcher, store: OnlineStore) -> tuple[list[Any], bool]:
        tasks = [asyncio.create_task(batcher.read([f"k{i}"])) for i in range(3)]
        await asyncio.sleep(0)  # every task has joined the batch; its MGET is not answered yet
        tasks[1].cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        return [d for i, d in enumerate(done) if i != 1], isinstance(done[1], asyncio.CancelledError)

    (answers, cancelled), sizes, store = run(redis_url, scenario)
    assert answers == [[b"v0"], [b"v2"]] and cancelled and sizes == [3]
    assert store.breaker.state is BreakerState.CLOSED


def test_a_failed_batch_fails_each_request_with_its_own_error_and_counts_once() -> None:
    unreachable = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there

    async def scenario(batcher: ReadBatcher, store: OnlineStore) -> tuple[list[Any], int]:
        done = await asyncio.gather(*(batcher.read([f"k{i}"]) for i in range(5)), return_exceptions=True)
        return list(done), store.breaker.consecutive_failures

    (errors, failures), sizes, _ = run(unreachable, scenario)
    assert all(isinstance(e, StoreUnavailableError) and e.reason == "redis_error" for e in errors)
    assert len({id(e) for e in errors}) == 5  # not one exception object raised in five requests
    assert sizes == [5] and failures == 1  # one call failed, not five


def test_an_open_breaker_answers_every_waiting_request_at_once() -> None:
    unreachable = f"redis://127.0.0.1:{free_port()}/0"

    async def scenario(batcher: ReadBatcher, store: OnlineStore) -> list[Any]:
        for _ in range(3):  # the breaker's threshold
            await asyncio.gather(batcher.read(["k"]), return_exceptions=True)
        assert store.breaker.state is BreakerState.OPEN
        return list(await asyncio.gather(batcher.read(["a"]), batcher.read(["b"]), return_exceptions=True))

    errors, _, _ = run(unreachable, scenario)
    assert [getattr(e, "reason", e) for e in errors] == ["breaker_open", "breaker_open"]


def test_an_error_reply_reaches_every_request_of_the_batch(redis_url: str, values: redis.Redis) -> None:
    """Redis answers, with an error: each request raises it (a 500, as its own GET would have)
    and the breaker, which counts only an unreachable Redis, stays closed."""
    values.acl_setuser("reader", enabled=True, passwords=["+secret"], keys=["k1"], commands=["+mget", "+get"])
    limited = redis_url.replace("redis://", "redis://reader:secret@")

    async def scenario(batcher: ReadBatcher, store: OnlineStore) -> list[Any]:
        client = aioredis.Redis.from_url(limited)
        store.client = client
        try:
            return list(
                await asyncio.gather(batcher.read(["k1"]), batcher.read(["k2"]), return_exceptions=True)
            )
        finally:
            await client.aclose()

    try:
        errors, sizes, store = run(redis_url, scenario)
    finally:
        values.acl_deluser("reader")
    assert sizes == [2]
    assert all(isinstance(e, redis.exceptions.NoPermissionError) for e in errors)
    assert store.breaker.state is BreakerState.CLOSED
