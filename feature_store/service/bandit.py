"""The cold-start bandit: which segment list a user without a published list gets.

Arms (strategies): ``global`` (popular), ``trending``, ``context`` (popular in the request's
``category:``/``tag:``/``persona:`` context; only offered with one) and ``new_arrivals``. A
pull is an impression reported for a cold-start answer; its reward is what followed
(click 0.2, cart 0.3, purchase 0.5, so a shown list that led to a purchase scores about 1).

Statistics live in Redis, one hash per bucket (``bandit:cold_start:all`` for UCB1, and
``bandit:cold_start:ctx:<context|none>`` for contextual epsilon-greedy; feedback updates
both, so switching the policy starts warm). Fields ``<arm>:n``, ``<arm>:r`` and ``_t``, the
time of the last update. One Lua script decays the whole hash to now (half-life
``service_bandit_half_life_hours``) and adds the new pull or reward, atomically, so any number
of workers can update it. Workers read a bucket at most every ``service_bandit_refresh_s``
(piggybacked on a request's one round trip) and choose from that copy. An admin reset
(``RESET_LUA``, ``POST /v1/admin/bandit/reset``) leaves a bucket holding ``_t`` alone.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

STRATEGIES = ("global", "trending", "context", "new_arrivals")
KEY_PREFIX = "bandit:cold_start:"
# (pulls, reward) added per feedback event of a cold-start answer.
EVENT_UPDATES = {"impression": (1.0, 0.0), "click": (0.0, 0.2), "cart": (0.0, 0.3), "purchase": (0.0, 0.5)}
Policy = Literal["ucb1", "epsilon_greedy"]
_CACHE_LIMIT = 10_000  # buckets cached per worker (contexts are validated, so this is never reached)

# KEYS[1] the bucket's hash; ARGV: now (unix s), half-life (s), arm, pulls to add, reward to add.
RECORD_LUA = """
local now = tonumber(ARGV[1])
local half_life = tonumber(ARGV[2])
local t = tonumber(redis.call('HGET', KEYS[1], '_t') or ARGV[1])
if now > t then
  local factor = math.pow(0.5, (now - t) / half_life)
  local fields = redis.call('HGETALL', KEYS[1])
  for i = 1, #fields, 2 do
    if fields[i] ~= '_t' then
      redis.call('HSET', KEYS[1], fields[i], tostring(tonumber(fields[i + 1]) * factor))
    end
  end
end
if tonumber(ARGV[4]) ~= 0 then redis.call('HINCRBYFLOAT', KEYS[1], ARGV[3] .. ':n', ARGV[4]) end
if tonumber(ARGV[5]) ~= 0 then redis.call('HINCRBYFLOAT', KEYS[1], ARGV[3] .. ':r', ARGV[5]) end
-- A worker whose clock is behind never moves the decay time back.
if now >= t then redis.call('HSET', KEYS[1], '_t', ARGV[1]) end
return 1
"""

# KEYS: bucket hashes; ARGV[1]: now (unix s). Each becomes a hash of ``_t`` alone: no statistics
# (every arm untried), yet present, so the hourly restore (tasks/feedback.py), which rebuilds
# only absent buckets from the lake's feedback, does not bring back what was reset. Returns how
# many of them held statistics.
RESET_LUA = """
local held = 0
for i = 1, #KEYS do
  if redis.call('HLEN', KEYS[i]) > 1 then held = held + 1 end
  redis.call('DEL', KEYS[i])
  redis.call('HSET', KEYS[i], '_t', ARGV[1])
end
return held
"""


@dataclass(frozen=True)
class ArmStats:
    pulls: float
    reward: float

    @property
    def mean(self) -> float:
        return self.reward / self.pulls if self.pulls > 0 else 0.0


Stats = Mapping[str, ArmStats]


def stats_key(bucket: str) -> str:
    """``bandit:cold_start:<bucket>``."""
    return KEY_PREFIX + bucket


def context_bucket(context: str | None) -> str:
    """The epsilon-greedy bucket of a request's context."""
    return f"ctx:{context or 'none'}"


def parse_stats(raw: Mapping[bytes, bytes], now: float, half_life_s: float) -> dict[str, ArmStats]:
    """A bucket's hash as read from Redis, decayed to ``now``."""
    fields = {k.decode(): float(v) for k, v in raw.items()}
    updated = fields.pop("_t", now)
    factor = 0.5 ** (max(now - updated, 0.0) / half_life_s)
    arms = {name.rsplit(":", 1)[0] for name in fields}
    return {
        arm: ArmStats(fields.get(f"{arm}:n", 0.0) * factor, fields.get(f"{arm}:r", 0.0) * factor)
        for arm in arms
    }


def _untried(arms: Sequence[str], stats: Stats) -> list[str]:
    return [a for a in arms if a not in stats or stats[a].pulls <= 1e-9]


def ucb1(arms: Sequence[str], stats: Stats, rng: random.Random) -> str:
    """UCB1: the arm maximising mean + sqrt(2 ln N / n); untried arms first, ties at random.

    Random tie-breaking matters: workers share statistics refreshed once a second, and a
    deterministic pick would send every cold start of that second to the same arm.
    """
    untried = _untried(arms, stats)
    if untried:
        return rng.choice(untried)
    total = max(sum(stats[a].pulls for a in arms), 1.0)  # decayed counts may sum below 1
    scores = {a: stats[a].mean + math.sqrt(2.0 * math.log(total) / stats[a].pulls) for a in arms}
    best = max(scores.values())
    return rng.choice([a for a in arms if scores[a] >= best - 1e-12])


def epsilon_greedy(arms: Sequence[str], stats: Stats, epsilon: float, rng: random.Random) -> str:
    """With probability epsilon a random arm, else the best mean (untried arms first)."""
    if rng.random() < epsilon:
        return rng.choice(list(arms))
    untried = _untried(arms, stats)
    if untried:
        return rng.choice(untried)
    best = max(stats[a].mean for a in arms)
    return rng.choice([a for a in arms if stats[a].mean >= best - 1e-12])


class ColdStartBandit:
    """Chooses cold-start strategies from cached statistics and queues updates into pipelines."""

    def __init__(
        self,
        policy: Policy,
        epsilon: float,
        half_life_s: float,
        refresh_s: float,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy
        self.epsilon = epsilon
        self.half_life_s = half_life_s
        self.refresh_s = refresh_s
        self._clock = clock  # wall time: decay is shared by every worker and survives restarts
        self._rng = rng or random.Random()
        self._cache: dict[str, tuple[float, Mapping[bytes, bytes]]] = {}

    def bucket(self, context: str | None) -> str:
        return "all" if self.policy == "ucb1" else context_bucket(context)

    def stale(self, bucket: str) -> bool:
        cached = self._cache.get(bucket)
        return cached is None or self._clock() - cached[0] >= self.refresh_s

    def absorb(self, bucket: str, raw: Mapping[bytes, bytes]) -> None:
        """Keep a bucket's hash as read from Redis (the pipeline queued ``HGETALL stats_key``)."""
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[bucket] = (self._clock(), raw)

    def forget(self) -> None:
        """Drop every cached bucket: the next request reads Redis (after an admin reset)."""
        self._cache.clear()

    def stats(self, bucket: str) -> dict[str, ArmStats]:
        cached = self._cache.get(bucket)
        return parse_stats(cached[1] if cached else {}, self._clock(), self.half_life_s)

    def choose(self, arms: Sequence[str], context: str | None) -> str:
        """The strategy for a cold-start request among ``arms`` (those with items to offer)."""
        if not arms:
            raise ValueError("no arm to choose from")
        stats = self.stats(self.bucket(context))
        if self.policy == "ucb1":
            return ucb1(arms, stats, self._rng)
        return epsilon_greedy(arms, stats, self.epsilon, self._rng)

    def queue_update(self, pipe: Any, arm: str, context: str | None, event: str) -> int:
        """Queue the atomic update of both buckets for one feedback event of a cold-start answer.

        EVAL, not EVALSHA: a restarted Redis has lost its script cache, and the script is short.
        Returns the number of commands queued.
        """
        pulls, reward = EVENT_UPDATES[event]
        now = repr(self._clock())
        buckets = ("all", context_bucket(context))
        for bucket in buckets:
            pipe.eval(RECORD_LUA, 1, stats_key(bucket), now, repr(self.half_life_s), arm, pulls, reward)
        return len(buckets)
