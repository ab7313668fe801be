"""The circuit breaker's states on a hand-driven clock: open after N failures, half-open probes, recovery."""

from __future__ import annotations

import pytest

from feature_store.service.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def breaker(
    clock: Clock, failures: int = 5, open_s: float = 300.0
) -> tuple[CircuitBreaker, list[BreakerState]]:
    changes: list[BreakerState] = []
    return CircuitBreaker(failures, open_s, clock=clock, on_change=changes.append), changes


def fail(b: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        assert b.allow()
        b.failure()


def test_it_opens_after_the_configured_consecutive_failures(clock: Clock) -> None:
    b, changes = breaker(clock)
    fail(b, 4)
    assert b.state is BreakerState.CLOSED and b.allow()
    b.failure()
    assert b.state is BreakerState.OPEN
    assert changes == [BreakerState.OPEN]
    assert not b.allow()


def test_a_success_resets_the_count(clock: Clock) -> None:
    b, _ = breaker(clock)
    fail(b, 4)
    b.success()
    fail(b, 4)
    assert b.state is BreakerState.CLOSED
    assert b.consecutive_failures == 4


def test_it_stays_open_for_open_s_then_lets_one_probe_through(clock: Clock) -> None:
    b, changes = breaker(clock, open_s=300.0)
    fail(b, 5)
    clock.now += 299.9
    assert not b.allow()
    clock.now += 0.1
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow()  # the probe
    assert not b.allow()  # one probe at a time: others keep using the fallback
    b.success()
    assert b.state is BreakerState.CLOSED and b.allow()
    assert changes == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


def test_a_failed_probe_opens_it_again_for_a_full_period(clock: Clock) -> None:
    b, changes = breaker(clock, open_s=10.0)
    fail(b, 5)
    clock.now += 10.0
    assert b.allow()
    b.failure()  # one failure is enough in half-open
    assert b.state is BreakerState.OPEN
    clock.now += 9.0
    assert not b.allow()
    clock.now += 1.0
    assert b.allow()
    b.success()
    assert changes == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]


def test_an_abandoned_probe_frees_the_slot(clock: Clock) -> None:
    b, _ = breaker(clock, open_s=1.0)
    fail(b, 5)
    clock.now += 1.0
    assert b.allow()
    b.abandon()  # the probing request was cancelled
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow()


def test_late_failures_of_calls_started_before_it_opened_do_not_extend_the_open_time(clock: Clock) -> None:
    b, _ = breaker(clock, failures=2, open_s=5.0)
    assert b.allow() and b.allow() and b.allow()  # three calls in flight
    b.failure()
    b.failure()
    assert b.state is BreakerState.OPEN
    clock.now += 4.0
    b.failure()  # the third call's answer arrives late
    clock.now += 1.0
    assert b.state is BreakerState.HALF_OPEN


def test_a_threshold_of_one_opens_on_the_first_failure(clock: Clock) -> None:
    b, _ = breaker(clock, failures=1)
    fail(b, 1)
    assert b.state is BreakerState.OPEN


@pytest.mark.parametrize(("failures", "open_s"), [(0, 1.0), (5, 0.0)])
def test_nonsense_settings_are_refused(failures: int, open_s: float) -> None:
    with pytest.raises(ValueError, match="failures >= 1 and open_s > 0"):
        CircuitBreaker(failures, open_s)
