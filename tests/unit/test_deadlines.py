"""The store's call deadlines: late calls are cancelled as DeadlineExceededError, others untouched."""

from __future__ import annotations

import asyncio
import time

from feature_store.service.deadlines import DeadlineExceededError, Deadlines


async def _call(deadlines: Deadlines, work: float) -> BaseException | None:
    """A store-shaped call: enter, await, turn the exception into its reason, leave."""
    task = deadlines.enter()
    try:
        await asyncio.sleep(work)
    except BaseException as exc:
        return deadlines.reason(task, exc)
    finally:
        deadlines.leave(task)
    return None


def test_a_late_call_is_cancelled_within_its_deadline_and_a_tick() -> None:
    deadlines = Deadlines(0.05, tick_s=0.01)

    async def main() -> tuple[BaseException | None, float, int]:
        started = time.monotonic()
        reason = await _call(deadlines, 5.0)
        task = asyncio.current_task()
        assert task is not None
        return reason, time.monotonic() - started, task.cancelling()

    reason, elapsed, cancelling = asyncio.run(main())
    assert isinstance(reason, DeadlineExceededError) and isinstance(reason, OSError)
    assert "0.05 s" in str(reason)
    assert 0.05 <= elapsed < 0.5
    assert cancelling == 0  # the cancel was taken back: the task goes on normally
    assert deadlines.in_flight == 0


def test_calls_in_time_are_untouched_and_the_timer_stops() -> None:
    deadlines = Deadlines(0.05, tick_s=0.01)

    async def main() -> list[BaseException | None]:
        answers = await asyncio.gather(*(_call(deadlines, 0.001) for _ in range(50)))
        await asyncio.sleep(0.1)  # ticks pass with nothing in flight
        return list(answers)

    assert asyncio.run(main()) == [None] * 50
    assert deadlines.in_flight == 0 and deadlines._timer is None


def test_only_the_late_one_of_concurrent_calls_is_cancelled() -> None:
    deadlines = Deadlines(0.05, tick_s=0.01)

    async def main() -> list[BaseException | None]:
        return list(
            await asyncio.gather(_call(deadlines, 0.001), _call(deadlines, 5.0), _call(deadlines, 0.02))
        )

    fast, slow, in_time = asyncio.run(main())
    assert fast is None and in_time is None and isinstance(slow, DeadlineExceededError)


def test_a_cancellation_from_elsewhere_passes_through() -> None:
    deadlines = Deadlines(5.0, tick_s=0.01)

    async def main() -> None:
        task = asyncio.create_task(_call(deadlines, 5.0))
        await asyncio.sleep(0.02)
        task.cancel()
        reason = await task
        assert isinstance(reason, asyncio.CancelledError)  # not turned into a timeout

    asyncio.run(main())
    assert deadlines.in_flight == 0
