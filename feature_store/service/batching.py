"""Coalesced reads: the keys of requests that arrive together go to Redis as one MGET.

Under load a worker holds many requests at once, and each one's GET costs redis-py's
connection checkout, command packing and reply parsing, a send and a receive, and Redis a
command: together more than the worker's own work on the answer. Here a request's keys
join the open batch of its event-loop turn; the batch is sent by a task of its own once the
requests that were ready in that turn have all added theirs, so one MGET, one round trip,
answers them all. An idle service sends batches of one: a request waits for the same round
trip it would have made, plus one turn of the loop (microseconds).

A batch goes through ``OnlineStore.mget``: the breaker allows it or not, it has the call
deadline, and its failure counts once. Every request of a failed batch gets its own
``StoreUnavailableError`` with the batch's reason and answers from the snapshot, as after a
failed GET of its own. A request cancelled while it waits leaves the batch without harm; the
batch, sent by its own task, is never cancelled by a request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from feature_store.service.store import StoreUnavailableError

if TYPE_CHECKING:
    from feature_store.service.store import OnlineStore

Values = list[bytes | None]


class _Batch:
    """Requests' keys gathered in one loop turn, and the future each request waits on."""

    __slots__ = ("keys", "waiting")

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.waiting: list[tuple[int, int, asyncio.Future[Values]]] = []  # (start, stop, future)


class ReadBatcher:
    """One worker's coalesced reads; ``max_requests`` per MGET (1: every request alone)."""

    def __init__(
        self, store: OnlineStore, max_requests: int, on_batch: Callable[[int], object] | None = None
    ) -> None:
        if max_requests < 1:
            raise ValueError(f"a batch holds at least one request, got max_requests={max_requests}")
        self.store = store
        self.max_requests = max_requests
        self._open: _Batch | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._on_batch = on_batch  # called with each batch's request count (a metric)

    async def read(self, keys: list[str]) -> Values:
        """The values of ``keys`` (None for a missing key), read together with other requests'.

        Raises:
            StoreUnavailableError: the batch could not be read (breaker open, Redis away, deadline).
            redis.RedisError: Redis answered the batch with an error.
        """
        if self.max_requests == 1:  # unbatched: a plain GET where one key is read
            return [await self.store.get(keys[0])] if len(keys) == 1 else await self.store.mget(keys)
        loop = asyncio.get_running_loop()
        batch = self._open
        if batch is None:
            batch = self._open = _Batch()
            # A task runs from the next loop turn: every request ready in this one joins first.
            task = loop.create_task(self._send(batch))
            self._sending.add(task)  # the loop keeps only a weak reference
            task.add_done_callback(self._sending.discard)
        future: asyncio.Future[Values] = loop.create_future()
        start = len(batch.keys)
        batch.keys.extend(keys)
        batch.waiting.append((start, len(batch.keys), future))
        if len(batch.waiting) >= self.max_requests:
            self._open = None  # full: the next request opens another
        return await future

    async def _send(self, batch: _Batch) -> None:
        if self._open is batch:
            self._open = None
        if self._on_batch is not None:
            self._on_batch(len(batch.waiting))
        try:
            values = await self.store.mget(batch.keys)
        except asyncio.CancelledError:  # the worker shuts down
            for _, _, future in batch.waiting:
                future.cancel()
            raise
        except Exception as exc:  # each request raises what its own read would have
            reason = exc.reason if isinstance(exc, StoreUnavailableError) else None
            for _, _, future in batch.waiting:
                if not future.done():  # its own StoreUnavailableError, or the error reply itself
                    future.set_exception(exc if reason is None else StoreUnavailableError(reason))
            return
        for start, stop, future in batch.waiting:
            if not future.done():  # done: a request cancelled while it waited
                future.set_result(values[start:stop])
