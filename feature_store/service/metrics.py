"""Prometheus metrics of the lookup service (names in docs/service.md).

Each app gets its own registry, so tests can build several apps in one process. With
several uvicorn workers, ``PROMETHEUS_MULTIPROC_DIR`` must be set before prometheus_client is
imported (``python -m feature_store.service`` does it); metric values then go to files there
and ``/metrics`` aggregates every worker's.
"""

from __future__ import annotations

import os
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.multiprocess import MultiProcessCollector

# Sub-millisecond resolution at the bottom: a warm lookup takes about a millisecond.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


M = TypeVar("M", bound=MetricWrapperBase)


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Children(Generic[M]):
    """A metric's children by label values, each made once: ``labels()`` costs a lock and a few
    dict and tuple operations per call, a measurable share of a request that takes 100 µs.

    Label values are bounded sets (route templates, statuses, variants, reasons), and the metric
    holds every child anyway, so the cache holds no more than the metric does.
    """

    def __init__(self, metric: M) -> None:
        self._metric = metric
        self._made: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._made.get(values)
        if child is None:
            child = self._made[values] = self._metric.labels(*values)
        return child


class ServiceMetrics:
    """The service's metrics, registered in one registry of their own."""

    def __init__(self) -> None:
        # In multiprocess mode nothing is registered here: /metrics reads every worker's files.
        self.registry = CollectorRegistry()
        registry = None if multiprocess() else self.registry
        self.latency = Histogram(
            "recsys_service_request_seconds",
            "Time to answer a request, by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.requests = Counter(
            "recsys_service_requests",
            "Requests answered, by route and status.",
            ["route", "status"],
            registry=registry,
        )
        self.served = Counter(
            "recsys_service_recommendations",
            "Recommendation responses, by experiment variant and source (personal, cold_start, fallback).",
            ["experiment", "variant", "source"],
            registry=registry,
        )
        self.fallbacks = Counter(
            "recsys_service_fallbacks",
            "Answers from the in-process snapshot, by route and reason.",
            ["route", "reason"],
            registry=registry,
        )
        self.variant_fallbacks = Counter(
            "recsys_service_variant_fallbacks",
            "Requests whose variant had no published list, so champion's was read.",
            ["reads"],
            registry=registry,
        )
        self.cold_starts = Counter(
            "recsys_service_cold_starts",
            "Users without a published list, by the strategy the bandit chose.",
            ["strategy"],
            registry=registry,
        )
        self.impressions = Counter(
            "recsys_service_impressions",
            "Impression events reported, by experiment variant.",
            ["experiment", "variant"],
            registry=registry,
        )
        self.clicks = Counter(
            "recsys_service_clicks",
            "Click events reported, by experiment variant.",
            ["experiment", "variant"],
            registry=registry,
        )
        self.feedback = Counter(
            "recsys_service_feedback",
            "Feedback events, by type and outcome (written, queued while Redis was away, dropped).",
            ["event", "outcome"],
            registry=registry,
        )
        self.read_batches = Histogram(
            "recsys_service_read_batch_requests",
            "Requests per batched Redis read: the reads of requests that arrived together (batching.py).",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024),
            registry=registry,
        )
        self.breaker_state = Gauge(
            "recsys_service_breaker_state",
            "Circuit breaker around Redis: 0 closed, 1 half-open, 2 open.",
            registry=registry,
            multiprocess_mode="liveall",
        )
        self.breaker_transitions = Counter(
            "recsys_service_breaker_transitions",
            "Circuit breaker state changes, by the state entered.",
            ["state"],
            registry=registry,
        )
        self.version = Gauge(
            "recsys_service_version",
            "The recommendation version (rec:v<N>) the worker serves.",
            registry=registry,
            multiprocess_mode="liveall",
        )
        self.admin_actions = Counter(
            "recsys_service_admin_actions",
            "Admin endpoint calls, by action and outcome (ok, disabled, unauthorized, forbidden, "
            "invalid, conflict, unavailable).",
            ["action", "outcome"],
            registry=registry,
        )
        self.experiments_version = Gauge(
            "recsys_service_experiments_version",
            "The stored experiments config version (service:experiments) the worker applied; 0: none.",
            registry=registry,
            multiprocess_mode="liveall",
        )
        # The per-request children, cached (see Children).
        self.latency_of = Children(self.latency)
        self.requests_of = Children(self.requests)
        self.served_of = Children(self.served)
        self.fallbacks_of = Children(self.fallbacks)
        self.variant_fallbacks_of = Children(self.variant_fallbacks)
        self.cold_starts_of = Children(self.cold_starts)

    def exposition(self) -> bytes:
        """The text format of every metric (all workers' in multiprocess mode)."""
        if multiprocess():
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
