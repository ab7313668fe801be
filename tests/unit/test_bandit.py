"""The cold-start bandit: UCB1 and epsilon-greedy choices, decay, and atomic updates in a real Redis."""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from collections.abc import Sequence

import pytest
import redis
import redis.asyncio as aioredis

from feature_store.service.bandit import (
    STRATEGIES,
    ArmStats,
    ColdStartBandit,
    epsilon_greedy,
    parse_stats,
    stats_key,
    ucb1,
)

HOUR = 3600.0


def test_ucb1_tries_every_arm_before_exploiting() -> None:
    rng = random.Random(1)
    stats = {"global": ArmStats(10, 5), "trending": ArmStats(10, 1)}
    assert ucb1(list(STRATEGIES), stats, rng) in {"context", "new_arrivals"}


def test_ucb1_prefers_the_better_mean_among_equally_tried_arms() -> None:
    stats = {"global": ArmStats(100, 10), "trending": ArmStats(100, 30)}
    assert ucb1(["global", "trending"], stats, random.Random(0)) == "trending"


def test_ucb1_explores_an_arm_tried_much_less_often() -> None:
    # Means 0.10 vs 0.12, but the second was tried 5 times against 10,000: its bound is far higher.
    stats = {"global": ArmStats(10_000, 1_200), "trending": ArmStats(5, 0.5)}
    assert ucb1(["global", "trending"], stats, random.Random(0)) == "trending"


def test_ucb1_finds_the_best_strategy_in_a_simulated_shop() -> None:
    rng, shop = random.Random(7), random.Random(8)
    reward_rate = {"global": 0.2, "trending": 0.3, "context": 0.6, "new_arrivals": 0.25}
    pulls, rewards = Counter[str](), Counter[str]()
    for _ in range(3000):
        stats = {a: ArmStats(pulls[a], rewards[a]) for a in pulls}
        arm = ucb1(list(STRATEGIES), stats, rng)
        pulls[arm] += 1
        rewards[arm] += shop.random() < reward_rate[arm]
    assert pulls.most_common(1)[0][0] == "context"
    assert pulls["context"] > 0.6 * 3000


def test_epsilon_greedy_exploits_at_zero_and_explores_uniformly_at_one() -> None:
    stats = {a: ArmStats(100, 10) for a in STRATEGIES} | {"new_arrivals": ArmStats(100, 40)}
    rng = random.Random(3)
    assert {epsilon_greedy(list(STRATEGIES), stats, 0.0, rng) for _ in range(50)} == {"new_arrivals"}
    counts = Counter(epsilon_greedy(list(STRATEGIES), stats, 1.0, rng) for _ in range(4000))
    assert all(850 < counts[a] < 1150 for a in STRATEGIES), counts


def test_contextual_epsilon_greedy_keeps_one_bucket_per_context() -> None:
    bandit = ColdStartBandit(
        "epsilon_greedy", 0.0, 24 * HOUR, 60.0, clock=lambda: 1000.0, rng=random.Random(0)
    )
    assert bandit.bucket("category:phones") == "ctx:category:phones"
    assert bandit.bucket(None) == "ctx:none"
    arms = ["global", "context"]
    bandit.absorb(
        "ctx:category:phones",
        {b"global:n": b"10", b"global:r": b"1", b"context:n": b"10", b"context:r": b"5"},
    )
    bandit.absorb(
        "ctx:tag:CA001", {b"global:n": b"10", b"global:r": b"5", b"context:n": b"10", b"context:r": b"1"}
    )
    assert bandit.choose(arms, "category:phones") == "context"
    assert bandit.choose(arms, "tag:CA001") == "global"
    assert ColdStartBandit("ucb1", 0.1, HOUR, 1.0).bucket("category:phones") == "all"


def test_read_statistics_decay_with_their_age() -> None:
    raw = {b"global:n": b"8", b"global:r": b"2", b"_t": b"1000"}
    assert parse_stats(raw, 1000.0, HOUR) == {"global": ArmStats(8.0, 2.0)}
    assert parse_stats(raw, 1000.0 + 2 * HOUR, HOUR) == {"global": ArmStats(2.0, 0.5)}
    assert parse_stats({}, 1.0, HOUR) == {}


def test_cached_statistics_are_refreshed_after_refresh_s() -> None:
    now = [0.0]
    bandit = ColdStartBandit("ucb1", 0.1, HOUR, 1.0, clock=lambda: now[0])
    assert bandit.stale("all")
    bandit.absorb("all", {})
    now[0] = 0.5
    assert not bandit.stale("all")
    now[0] = 1.0
    assert bandit.stale("all")


# -- the Lua update against a real redis-server ------------------------------------------


async def _record(url: str, bandit: ColdStartBandit, events: Sequence[tuple[str, str | None, str]]) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        pipe = client.pipeline(transaction=False)
        for arm, context, event in events:
            bandit.queue_update(pipe, arm, context, event)
        await pipe.execute()
    finally:
        await client.aclose()


def _hash(url: str, bucket: str) -> dict[bytes, bytes]:
    raw: dict[bytes, bytes] = redis.Redis.from_url(url).hgetall(stats_key(bucket))  # type: ignore[assignment]
    return raw


@pytest.mark.integration
def test_feedback_updates_both_buckets_and_decays_old_rewards(redis_url: str) -> None:
    now = [10_000.0]
    bandit = ColdStartBandit("ucb1", 0.1, HOUR, 1.0, clock=lambda: now[0])
    events = [("trending", "category:phones", "impression")] * 4 + [("trending", "category:phones", "click")]
    asyncio.run(_record(redis_url, bandit, events))
    for bucket in ("all", "ctx:category:phones"):
        assert parse_stats(_hash(redis_url, bucket), now[0], HOUR) == {"trending": ArmStats(4.0, 0.2)}
    now[0] += HOUR  # a half-life later, one more impression: the old ones count half
    asyncio.run(_record(redis_url, bandit, [("trending", "category:phones", "impression")]))
    raw = _hash(redis_url, "all")
    assert float(raw[b"_t"]) == now[0]
    stats = parse_stats(raw, now[0], HOUR)["trending"]
    assert stats.pulls == pytest.approx(3.0) and stats.reward == pytest.approx(0.1)


@pytest.mark.integration
def test_a_worker_with_a_clock_behind_neither_decays_nor_moves_the_decay_time_back(redis_url: str) -> None:
    ahead = ColdStartBandit("ucb1", 0.1, HOUR, 1.0, clock=lambda: 20_000.0)
    behind = ColdStartBandit("ucb1", 0.1, HOUR, 1.0, clock=lambda: 19_000.0)
    asyncio.run(_record(redis_url, ahead, [("global", None, "impression")]))
    asyncio.run(_record(redis_url, behind, [("global", None, "impression")]))
    raw = _hash(redis_url, "all")
    assert raw[b"_t"] == b"20000.0" and float(raw[b"global:n"]) == 2.0


@pytest.mark.integration
def test_concurrent_workers_lose_no_update(redis_url: str) -> None:
    # Eight "workers" (threads, each its own event loop and connection) record 200 events each;
    # a read-modify-write outside Redis would lose some. A fixed clock keeps the sums exact.
    bandit = ColdStartBandit("ucb1", 0.1, HOUR, 1.0, clock=lambda: 5_000.0)
    per_worker = [
        ("global", None, "impression"),
        ("new_arrivals", None, "impression"),
        ("global", None, "purchase"),
    ]

    def worker() -> None:
        for _ in range(50):
            asyncio.run(_record(redis_url, bandit, per_worker * 4))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = parse_stats(_hash(redis_url, "all"), 5_000.0, HOUR)
    assert stats["global"].pulls == 8 * 50 * 4
    assert stats["new_arrivals"].pulls == 8 * 50 * 4
    assert stats["global"].reward == pytest.approx(8 * 50 * 4 * 0.5)
