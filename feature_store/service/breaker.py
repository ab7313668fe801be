"""A circuit breaker for the service's Redis calls: closed, open, half-open.

Closed: every call goes through; ``failures`` consecutive failures open it. Open: no call
goes through for ``open_s`` seconds, so a dead Redis costs nothing per request (no connect
timeouts piling up) and the answers come from the in-process snapshot. Half-open: one probe
call goes through; its success closes the breaker, its failure opens it again for another
``open_s``. The breaker lives in one event loop (one per worker), so it needs no lock.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable


class BreakerState(enum.IntEnum):
    """The value is what the ``recsys_service_breaker_state`` gauge shows."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    """Counts consecutive failures; ``allow()`` says whether a call may go to Redis now.

    Every allowed call must end in ``success()``, ``failure()`` or ``abandon()`` (a call
    cancelled before it knew), so a half-open probe always frees its slot.
    """

    def __init__(
        self,
        failures: int,
        open_s: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        if failures < 1 or open_s <= 0:
            raise ValueError(f"need failures >= 1 and open_s > 0, got {failures} and {open_s}")
        self.threshold = failures
        self.open_s = open_s
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        """The state now: an open breaker whose time is up reads as half-open."""
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.open_s:
            self._move(BreakerState.HALF_OPEN)
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def allow(self) -> bool:
        """True when a call may go to Redis: always when closed, one probe at a time when half-open."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._probing = False
        if self._state is not BreakerState.CLOSED:
            self._move(BreakerState.CLOSED)

    def failure(self) -> None:
        self._failures += 1
        was_probe, self._probing = self._probing, False
        if was_probe or (self._state is BreakerState.CLOSED and self._failures >= self.threshold):
            self._opened_at = self._clock()
            self._move(BreakerState.OPEN)

    def abandon(self) -> None:
        """A call ended without an answer either way (cancelled): let the next one probe."""
        self._probing = False

    def _move(self, state: BreakerState) -> None:
        self._state = state
        if self._on_change is not None:
            self._on_change(state)
