"""The lookup service's logic, free of HTTP: recommendations, similar items, feedback, readiness.

A recommendation request costs one Redis round trip: a read of the user's list of the
variant's published list (its ``reads`` name resolved through the version's aliases, so
``tags`` reads ``champion`` when the champion ranker is the tags variant), with champion's
list when the variant reads another one and the context's segment when the request names
one; at most once a second, a pipeline that also reads the bandit's statistics. Requests
that arrive together share one MGET (batching.py). Item names, popular lists and new
arrivals come from the worker's snapshot of the version. The version pointer is re-read
every ``service_pointer_ttl_s``.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any, NamedTuple

from feature_store.recommendations import (
    RecommendationFormatError,
    decode_item_list,
    segment_key,
    similar_key,
    user_key,
)
from feature_store.service.bandit import STRATEGIES, ColdStartBandit, stats_key
from feature_store.service.batching import ReadBatcher
from feature_store.service.codec import (
    CHANNEL_OF,
    STAGE_OF,
    EncodedItems,
    encode_items,
    item_ids,
    user_list_head,
)
from feature_store.service.errors import InvalidRequestError, ServiceUnavailableError, UnknownItemError
from feature_store.service.experiments import CHAMPION, Assignment, Experiments
from feature_store.service.feedback import FeedbackSink, feedback_entry, parse_request_id, request_id
from feature_store.service.metrics import ServiceMetrics
from feature_store.service.privacy import AuditLog, UserHasher
from feature_store.service.rollup import HourlyRollup
from feature_store.service.schemas import (
    FeedbackIn,
    FeedbackOut,
    ItemDict,
    Ready,
    RecommendationsDict,
    SimilarDict,
    Source,
)
from feature_store.service.snapshot import Scored, Snapshot, top_up
from feature_store.service.store import NotPublishedError, OnlineStore, StoreUnavailableError

log = logging.getLogger(__name__)


def _items(scored: list[Scored]) -> list[ItemDict]:
    return [{"item_id": s.item_id, "score": s.score, "channel": s.channel, "stage": s.stage} for s in scored]


class _Served(NamedTuple):  # not a frozen dataclass: its __init__ costs three times as much
    source: Source
    items: list[ItemDict] | EncodedItems
    reads: str | None = None
    variant_fallback: bool = False
    strategy: str | None = None
    fallback_reason: str | None = None


class LookupService:
    """Everything a request needs, wired once per worker by ``create_app``."""

    def __init__(
        self,
        store: OnlineStore,
        experiments: Experiments,
        bandit: ColdStartBandit,
        sink: FeedbackSink,
        metrics: ServiceMetrics,
        hasher: UserHasher,
        audit: AuditLog,
        rollup: HourlyRollup | None = None,
        reads: ReadBatcher | None = None,
    ) -> None:
        self.store = store
        self.reads = reads or ReadBatcher(store, 1)
        self.rollup = rollup or HourlyRollup()
        self.experiments = experiments
        self.bandit = bandit
        self.sink = sink
        self.metrics = metrics
        self.hasher = hasher
        self.audit = audit
        self._rng = random.Random()

    # -- recommendations --------------------------------------------------------------

    async def recommend(self, user_id: str, k: int, context: str | None) -> RecommendationsDict:
        """A user's top ``k``: published list, else cold start, else (Redis away) the snapshot.

        The answer is the ``Recommendations`` model's dict (codec.answer_json encodes it): no model
        of it and its items is built, which would cost more than the rest of the request.
        """
        started = time.perf_counter()
        assignment = self.experiments.assign(user_id)
        nonce = self._rng.getrandbits(64)
        try:
            snapshot = self.store.fresh() or await self._current()
            served = await self._read(snapshot, assignment, user_id, k, context)
        except StoreUnavailableError as exc:
            snapshot = self._snapshot_or_unavailable(exc.reason)
            served = self._fallback(snapshot, k, exc.reason, "recommendations")
        except RecommendationFormatError as exc:
            # A corrupt value is a publishing bug: answer, but loudly (no raw user id in the log).
            log.error(
                "rec: bad value for user %s: %s", self.hasher(user_id), str(exc).replace(user_id, "<user>")
            )
            snapshot = self._snapshot_or_unavailable("bad_value")
            served = self._fallback(snapshot, k, "bad_value", "recommendations")
        # The request id carries what feedback needs: the strategy of a cold start, else the source.
        source = (served.strategy or "global") if served.source == "cold_start" else served.source
        for name, variant in assignment.experiments.items():
            self.metrics.served_of(name, variant, served.source).inc()
        answer: RecommendationsDict = {
            "request_id": request_id(nonce, snapshot.version, source, context),
            "user_id": user_id,
            "experiment": assignment.experiment,
            "variant": assignment.variant,
            "experiments": assignment.experiments,
            "reads": served.reads,
            "variant_fallback": served.variant_fallback,
            "source": served.source,
            "strategy": served.strategy,
            "context": context,
            "fallback": served.source == "fallback",
            "fallback_reason": served.fallback_reason,
            "version": snapshot.version,
            "items": served.items,
        }
        if self.audit.sampled(nonce):
            self._audit(nonce, answer, started)
        # For recsys_feedback's alert rules: every worker's hour, summed in Redis (rollup.py).
        self.rollup.record(time.time(), time.perf_counter() - started, served.source)
        return answer

    async def _current(self) -> Snapshot:
        try:
            return await self.store.current()
        except NotPublishedError as exc:
            raise ServiceUnavailableError(f"{exc}; publish recommendations first (recsys_publish)") from exc

    def _snapshot_or_unavailable(self, reason: str) -> Snapshot:
        if self.store.snapshot is None:
            raise ServiceUnavailableError(
                f"Redis cannot answer ({reason}) and no snapshot was loaded since this worker started"
            )
        return self.store.snapshot

    def _fallback(self, snapshot: Snapshot, k: int, reason: str, route: str) -> _Served:
        return _Served("fallback", self._popular(snapshot, k, reason, route), fallback_reason=reason)

    def _popular(
        self, snapshot: Snapshot, k: int, reason: str, route: str, exclude: str = ""
    ) -> list[ItemDict]:
        self.metrics.fallbacks_of(route, reason).inc()
        return _items(snapshot.popular(k, exclude=(exclude,) if exclude else ()))

    async def _read(
        self, snapshot: Snapshot, assignment: Assignment, user_id: str, k: int, context: str | None
    ) -> _Served:
        version = snapshot.version
        reads = snapshot.list_name(assignment.reads)
        keys = [user_key(version, reads, user_id)]
        also_champion = reads != CHAMPION
        if also_champion:
            keys.append(user_key(version, CHAMPION, user_id))
        if context:
            keys.append(segment_key(version, context))
        bucket = self.bandit.bucket(context)
        values: list[Any]
        if self.bandit.stale(bucket):  # at most once a second: the statistics ride along
            pipe = self.store.client.pipeline(transaction=False)
            pipe.mget(keys)
            pipe.hgetall(stats_key(bucket))
            values, stats = await self.store.execute(pipe)
            self.bandit.absorb(bucket, stats)
        else:  # with other requests' keys, in one MGET (batching.py)
            values = await self.reads.read(keys)
        replies = iter(values)
        own = next(replies)
        champion = next(replies) if also_champion else None
        context_value = next(replies) if context else None
        if context and context.startswith("category:") and context_value is None:
            raise InvalidRequestError(
                "context",
                f"unknown category {context[9:]!r}: the serving version v{version} has none",
                context,
            )
        if own is not None:
            return _Served("personal", self._personal(snapshot, own, k, reads), reads)
        if champion is not None:
            self.metrics.variant_fallbacks_of(reads).inc()
            items = self._personal(snapshot, champion, k, CHAMPION)
            return _Served("personal", items, CHAMPION, variant_fallback=True)
        return self._cold_start(snapshot, k, context, context_value)

    def _personal(
        self, snapshot: Snapshot, value: bytes, k: int, reads: str
    ) -> list[ItemDict] | EncodedItems:
        """The head of ``reads``'s published list (``value``) as an answer's items."""
        indexes, scores, tags = user_list_head(value, k)
        if indexes and max(indexes) >= len(snapshot.items):  # raises, naming the list
            snapshot.names(indexes, user_key(snapshot.version, reads, "<user>"))
        if len(indexes) == k:  # the usual case: the items spliced from pieces of their JSON
            encoded = encode_items(snapshot.item_json, indexes, scores, tags)
            return EncodedItems(encoded, indexes, snapshot.items)
        names = snapshot.names(indexes, "")  # checked above
        items: list[ItemDict] = [
            {"item_id": name, "score": score, "channel": CHANNEL_OF[tag], "stage": STAGE_OF[tag]}
            for name, score, tag in zip(names, scores, tags, strict=True)
        ]
        # A short published list is filled from the popular ones.
        return items + _items(top_up([], k - len(items), snapshot, exclude=names))

    def _cold_start(
        self, snapshot: Snapshot, k: int, context: str | None, context_value: bytes | None
    ) -> _Served:
        lists = dict(snapshot.segments)
        if context:
            lists["context"] = snapshot.segment_items(context, context_value)
        arms = [a for a in STRATEGIES if lists.get(a)]
        if not arms:  # an empty catalog: nothing to recommend
            return _Served("cold_start", [], strategy="global")
        strategy = self.bandit.choose(arms, context)
        self.metrics.cold_starts_of(strategy).inc()
        return _Served("cold_start", _items(top_up(lists[strategy], k, snapshot)), strategy=strategy)

    def _audit(self, nonce: int, answer: RecommendationsDict, started: float) -> None:
        self.audit.write(
            nonce,
            {
                "request_id": answer["request_id"],
                "user": self.hasher(answer["user_id"]),  # never the raw id
                "experiments": answer["experiments"],
                "reads": answer["reads"],
                "variant_fallback": answer["variant_fallback"],
                "source": answer["source"],
                "strategy": answer["strategy"],
                "context": answer["context"],
                "fallback_reason": answer["fallback_reason"],
                "version": answer["version"],
                "items": item_ids(answer["items"]),
                "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            },
        )

    # -- similar items ----------------------------------------------------------------

    async def similar(self, item_id: str, k: int) -> SimilarDict:
        """Up to ``k`` items similar to ``item_id``; popular items while Redis is away."""
        nonce = self._rng.getrandbits(64)
        try:
            snapshot = await self._current()
            items = await self._similar(snapshot, item_id, k)
            reason = None
        except StoreUnavailableError as exc:
            reason = exc.reason
        except RecommendationFormatError as exc:
            log.error("rec: bad similar-items value: %s", exc)
            reason = "bad_value"
        if reason is not None:
            snapshot = self._snapshot_or_unavailable(reason)
            items = self._popular(snapshot, k, reason, "similar", exclude=item_id)
        return {
            "request_id": request_id(nonce, snapshot.version, "fallback" if reason else "similar"),
            "item_id": item_id,
            "version": snapshot.version,
            "fallback": reason is not None,
            "fallback_reason": reason,
            "items": items,
        }

    async def _similar(self, snapshot: Snapshot, item_id: str, k: int) -> list[ItemDict]:
        key = similar_key(snapshot.version, item_id)
        value = await self.store.get(key)
        if value is None:
            raise UnknownItemError(
                f"item {item_id!r} has no similar items in the serving version v{snapshot.version}"
            )
        indexes, scores = decode_item_list(value)
        names = snapshot.names(indexes[:k].tolist(), key)
        return [
            {"item_id": n, "score": s, "channel": "similar", "stage": None}
            for n, s in zip(names, scores[:k].tolist(), strict=True)
        ]

    # -- feedback and readiness ---------------------------------------------------------

    async def feedback(self, body: FeedbackIn) -> FeedbackOut:
        """Record one event into the stream (and the bandit, for a cold-start answer)."""
        token = parse_request_id(body.request_id)
        if token is None:
            raise InvalidRequestError(
                "request_id",
                "not a request id issued by this service (<16 hex>.v<version>.<source>[.<context>])",
                body.request_id,
                "body",
            )
        if body.event != "impression" and body.item_id is None:
            raise InvalidRequestError("item_id", f"required for a {body.event} event", None, "body")
        # Assignment is a pure function of the user id, so feedback recomputes it (intention to treat).
        assignment = self.experiments.assign(body.user_id)
        entry = feedback_entry(
            token,
            body.request_id,
            body.event,
            body.user_id,
            body.item_id,
            assignment.experiments,
            assignment.experiment,
            assignment.variant,
            int(time.time() * 1000),
        )
        submitted = await self.sink.submit(entry)
        self.metrics.feedback.labels(body.event, submitted.outcome).inc()
        for event, count in submitted.dropped.items():
            self.metrics.feedback.labels(event, "dropped").inc(count)
        per_variant = {"impression": self.metrics.impressions, "click": self.metrics.clicks}.get(body.event)
        if per_variant is not None:
            for name, variant in assignment.experiments.items():
                per_variant.labels(name, variant).inc()
        return FeedbackOut(
            accepted=True,
            queued=submitted.outcome == "queued",
            stream_id=submitted.stream_id,
            experiment=assignment.experiment,
            variant=assignment.variant,
        )

    async def ready(self) -> Ready:
        """Ready when Redis answers and ``rec:current`` names a version."""
        breaker = self.store.breaker.state.name.lower()
        try:
            version = await self.store.ping()
        except StoreUnavailableError as exc:
            return Ready(ready=False, version=None, breaker=breaker, reason=f"redis: {exc.reason}")
        if version is None:
            return Ready(
                ready=False, version=None, breaker=breaker, reason="nothing published: rec:current is unset"
            )
        return Ready(ready=True, version=version, breaker=self.store.breaker.state.name.lower())
