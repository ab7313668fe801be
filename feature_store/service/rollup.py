"""Per-hour counts of every worker's recommendation requests, summed in Redis for the alert rules.

Each worker's Prometheus registry only knows its own requests; the hourly ``recsys_feedback``
DAG needs the whole service's p99 latency and fallback share for an hour. So each worker
counts its recommendation requests per UTC hour (a latency histogram, fallbacks, cold starts)
and adds the counts into the hash ``service:hourly:<YYYY-MM-DDTHH>`` every
``service_rollup_flush_s``, in one pipelined ``HINCRBY`` round trip off the request path.
Counts a flush could not send stay in the worker and go with the next one; the hash expires
after ``ROLLUP_TTL_S``.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

ROLLUP_PREFIX = "service:hourly:"
ROLLUP_TTL_S = 15 * 86400  # two weeks and a day: the CTR rule looks a week back
# Upper bounds of the latency buckets (ms); the last bucket is everything slower.
BOUNDS_MS = (0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 25.0, 50.0, 100.0, 250.0, 1000.0)


def hour_label(unix_s: float) -> str:
    """``YYYY-MM-DDTHH`` of a UNIX time, in UTC."""
    return datetime.fromtimestamp(unix_s, UTC).strftime("%Y-%m-%dT%H")


def rollup_key(hour: str) -> str:
    return ROLLUP_PREFIX + hour


def bucket_field(index: int) -> str:
    """``le:<bound>`` for a latency bucket, ``le:inf`` for the last."""
    return f"le:{BOUNDS_MS[index]:g}" if index < len(BOUNDS_MS) else "le:inf"


# Each bucket's field, made once: formatting the bound per request costs a microsecond.
_FIELDS = tuple(bucket_field(i) for i in range(len(BOUNDS_MS) + 1))


class HourlyRollup:
    """A worker's not-yet-sent counts, per hour."""

    def __init__(self) -> None:
        # Keyed by the hour's number since the epoch: no date formatting per request.
        self._pending: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def record(self, unix_s: float, latency_s: float, source: str) -> None:
        """One recommendation request answered at ``unix_s`` after ``latency_s`` from ``source``."""
        counts = self._pending[int(unix_s // 3600)]
        counts["requests"] += 1
        counts[_FIELDS[bisect.bisect_left(BOUNDS_MS, latency_s * 1000.0)]] += 1
        if source in ("fallback", "cold_start"):
            counts[source] += 1

    def queue(self, pipe: Any) -> dict[int, dict[str, int]]:
        """Queue the pending counts into ``pipe`` and hand them over (``restore`` them if it fails)."""
        taken, self._pending = self._pending, defaultdict(lambda: defaultdict(int))
        for hour, counts in taken.items():
            key = rollup_key(hour_label(hour * 3600))
            for name, n in counts.items():
                pipe.hincrby(key, name, n)
            pipe.expire(key, ROLLUP_TTL_S)
        return taken

    def restore(self, taken: Mapping[int, Mapping[str, int]]) -> None:
        """Put counts a failed flush took back, to go with the next one."""
        for hour, counts in taken.items():
            for name, n in counts.items():
                self._pending[hour][name] += n


def p99_ms(counts: Mapping[str, float], quantile: float = 0.99) -> float | None:
    """The latency quantile from an hour's bucket counts: the upper bound of its bucket (ms).

    A bucket's upper bound, not an interpolation: the alert compares it with a threshold, and
    the bound never understates. ``inf`` when the quantile falls beyond the last bound; None
    without requests.
    """
    per_bucket = [float(counts.get(bucket_field(i), 0)) for i in range(len(BOUNDS_MS) + 1)]
    total = sum(per_bucket)
    if total <= 0:
        return None
    running = 0.0
    for i, n in enumerate(per_bucket):
        running += n
        if running >= quantile * total:
            return BOUNDS_MS[i] if i < len(BOUNDS_MS) else float("inf")
    return float("inf")
