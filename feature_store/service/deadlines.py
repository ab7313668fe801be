"""Deadlines of the store's Redis calls: one periodic check per worker, not a timer per call.

``asyncio.timeout`` pushes a timer on the loop's heap and runs a context manager for every
call: about 6 µs, a thirtieth of a recommendation request. Here a call notes its task and
deadline in a dict (about 1 µs, removal included) and one callback, every ``tick_s`` while
calls are in flight, cancels the tasks past theirs. A call therefore gets between
``timeout_s`` and ``timeout_s + tick_s`` (a fifth more by default). The store turns such a
cancellation into ``DeadlineExceededError``, a ``TimeoutError`` (an OSError: the breaker
counts it like any other unanswered call); any other cancellation passes through untouched.
"""

from __future__ import annotations

import asyncio
from typing import Any

Task = asyncio.Task[Any]


class DeadlineExceededError(TimeoutError):
    """Redis did not answer a call within its deadline."""


class Deadlines:
    """The in-flight calls of one worker's event loop and the time each must be done by."""

    def __init__(self, timeout_s: float, tick_s: float | None = None) -> None:
        self.timeout_s = timeout_s
        self.tick_s = tick_s if tick_s is not None else max(timeout_s / 5, 0.001)
        self._due: dict[Task, float] = {}
        self._expired: set[Task] = set()
        self._timer: asyncio.TimerHandle | None = None

    def enter(self) -> Task:
        """Start the current task's call; pair with ``leave`` in a ``finally``."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a store call runs inside a task")
        loop = task.get_loop()
        self._due[task] = loop.time() + self.timeout_s
        if self._timer is None:
            self._timer = loop.call_later(self.tick_s, self._check, loop)
        return task

    def leave(self, task: Task) -> None:
        self._due.pop(task, None)
        self._expired.discard(task)

    def reason(self, task: Task, exc: BaseException) -> BaseException:
        """What a call's exception means: ``DeadlineExceededError`` for a cancellation of ours
        (the task's cancel is taken back, as ``asyncio.timeout`` does), else ``exc`` itself."""
        if isinstance(exc, asyncio.CancelledError) and task in self._expired:
            self._expired.discard(task)
            task.uncancel()
            return DeadlineExceededError(f"no answer within {self.timeout_s:g} s")
        return exc

    @property
    def in_flight(self) -> int:
        return len(self._due)

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for task, due in self._due.items():  # cancel() only schedules: the dict does not change here
            if due <= now and task not in self._expired:
                self._expired.add(task)
                task.cancel()
        self._timer = loop.call_later(self.tick_s, self._check, loop) if self._due else None
