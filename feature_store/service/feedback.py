"""Request ids, and feedback events into the Redis stream ``feedback:events``.

A request id is issued with every answer and says what served it, so feedback needs no
server-side state: ``<16 hex nonce>.v<version>.<source>[.<context>]``, e.g.
``9f2c4e1a7b3d5f60.v12.trending`` or ``0a1b2c3d4e5f6789.v12.context.category:phones``.
Sources: ``personal``, a cold-start strategy (``global``, ``trending``, ``context``,
``new_arrivals``), ``fallback`` (the snapshot, Redis away) and ``similar``.

Each feedback event becomes one stream entry (``XADD feedback:events MAXLEN ~ <n>``, fields in
docs/service.md); feedback on a cold-start answer also updates the bandit in the same
pipelined round trip. While Redis is unreachable events wait in a bounded in-process queue
and go out with the next write; delivery is at least once (a write cut off mid-pipeline is
sent again), so consumers drop repeated ``event_id``s.
"""

from __future__ import annotations

import json
import re
import secrets
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import redis.asyncio as aioredis

from feature_store.service.bandit import STRATEGIES, ColdStartBandit
from feature_store.service.store import OnlineStore, StoreUnavailableError

STREAM = "feedback:events"
# How many entries erasures deleted on purpose (recsys_maintenance): trimming is the rest.
ERASED_ENTRIES = STREAM + ":erased"
EVENTS = ("impression", "click", "cart", "purchase")
SOURCES = ("personal", *STRATEGIES, "fallback", "similar")
PENDING_LIMIT = 10_000  # events a worker holds while Redis is away; the oldest go first beyond it
_TOKEN = re.compile(r"^([0-9a-f]{16})\.v(\d{1,18})\.([a-z_]+)(?:\.(\S{1,200}))?$")

Event = Literal["impression", "click", "cart", "purchase"]


@dataclass(frozen=True)
class RequestToken:
    nonce: int
    version: int
    source: str
    context: str | None = None

    def encode(self) -> str:
        return request_id(self.nonce, self.version, self.source, self.context)


def request_id(nonce: int, version: int, source: str, context: str | None = None) -> str:
    """``RequestToken(...).encode()`` without making the token (the hot path's form)."""
    nonce_hex = nonce.to_bytes(8, "big").hex()  # f"{nonce:016x}", in half the time
    if context:
        return f"{nonce_hex}.v{version}.{source}.{context}"
    return f"{nonce_hex}.v{version}.{source}"


def parse_request_id(text: str) -> RequestToken | None:
    """The token of a request id issued by ``RequestToken.encode``; None for anything else."""
    match = _TOKEN.match(text)
    if match is None or match[3] not in SOURCES:
        return None
    return RequestToken(int(match[1], 16), int(match[2]), match[3], match[4])


@dataclass(frozen=True)
class FeedbackEntry:
    """One stream entry's fields (all strings, as Redis stores them)."""

    fields: Mapping[str, str]
    event: str
    token: RequestToken


def feedback_entry(
    token: RequestToken,
    request_id: str,
    event: str,
    user_id: str,
    item_id: str | None,
    experiments: Mapping[str, str],
    experiment: str,
    variant: str,
    ts_ms: int,
) -> FeedbackEntry:
    fields = {
        "event_id": secrets.token_hex(8),
        "ts_ms": str(ts_ms),
        "event": event,
        "request_id": request_id,
        "user_id": user_id,
        "item_id": item_id or "",
        "experiment": experiment,
        "variant": variant,
        "experiments": json.dumps(dict(experiments), separators=(",", ":"), sort_keys=True),
        "source": token.source,
        "context": token.context or "",
        "version": str(token.version),
    }
    return FeedbackEntry(fields, event, token)


@dataclass(frozen=True)
class Submitted:
    outcome: Literal["written", "queued"]
    stream_id: str | None
    dropped: dict[str, int]  # older queued events dropped to make room, per event type


class FeedbackSink:
    """Writes feedback entries (and bandit updates) in one pipeline, queueing while Redis is away."""

    def __init__(self, store: OnlineStore, bandit: ColdStartBandit, maxlen: int) -> None:
        self.store = store
        self.bandit = bandit
        self.maxlen = maxlen
        self.pending: deque[FeedbackEntry] = deque()

    def _queue(self, pipe: aioredis.client.Pipeline, entry: FeedbackEntry) -> int:
        """Queue the entry's commands; returns how many."""
        pipe.xadd(STREAM, dict(entry.fields), maxlen=self.maxlen, approximate=True)  # type: ignore[arg-type]
        if entry.token.source not in STRATEGIES:
            return 1
        return 1 + self.bandit.queue_update(pipe, entry.token.source, entry.token.context, entry.event)

    def _hold(self, entries: list[FeedbackEntry]) -> dict[str, int]:
        self.pending.extend(entries)
        dropped: dict[str, int] = {}
        while len(self.pending) > PENDING_LIMIT:
            event = self.pending.popleft().event
            dropped[event] = dropped.get(event, 0) + 1
        return dropped

    async def submit(self, entry: FeedbackEntry) -> Submitted:
        """Write ``entry`` after any queued ones; queue them all if Redis cannot take them now."""
        batch = [*self.pending, entry]
        self.pending.clear()
        pipe = self.store.client.pipeline(transaction=False)
        before_entry = sum(self._queue(pipe, queued) for queued in batch[:-1])
        self._queue(pipe, entry)
        try:
            replies = await self.store.execute(pipe)
        except StoreUnavailableError:
            return Submitted("queued", None, self._hold(batch))
        stream_id = replies[before_entry]  # the new entry's XADD follows the queued entries' commands
        return Submitted(
            "written", stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id), {}
        )
