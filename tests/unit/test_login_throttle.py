"""The console's sign-in throttle as a table: free failures, then a doubling lockout per client,
forgotten after a quiet hour or by a success, in a bounded table."""

from __future__ import annotations

import pytest

from switchboard.console.login_throttle import LoginThrottle, ThrottleSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_failures_beyond_the_free_ones_lock_the_client_out_for_a_doubling_time() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock, ThrottleSettings(free_failures=3, base_delay_s=1, max_delay_s=8))
    assert [throttle.failed("10.0.0.1") for _ in range(3)] == [0, 0, 0]
    waits = []
    for _ in range(6):
        waits.append(throttle.failed("10.0.0.1"))
        assert throttle.retry_after("10.0.0.1") == waits[-1]
        clock.now += waits[-1]  # waits out each lockout, then fails again
        assert throttle.retry_after("10.0.0.1") == 0
    assert waits == [1, 2, 4, 8, 8, 8], "doubling, capped at max_delay_s"
    assert throttle.retry_after("10.0.0.2") == 0, "another client is not affected"


def test_a_success_or_a_quiet_hour_forgets_the_failures() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock, ThrottleSettings(free_failures=2, forget_after_s=3600, max_delay_s=60))
    throttle.failed("a"), throttle.failed("a")
    throttle.succeeded("a")
    assert throttle.failed("a") == 0 and throttle.failed("a") == 0, "counting starts again"
    assert throttle.failed("a") == 1
    clock.now += 3600
    assert throttle.failed("a") == 0, "forgotten after an hour without failures"


def test_the_table_stays_bounded_dropping_the_least_recently_failed() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock, ThrottleSettings(free_failures=1, max_clients=100))
    for n in range(5000):
        throttle.failed(f"client-{n}")
        clock.now += 0.001
    assert len(throttle) == 100
    throttle.failed("client-4999")
    assert throttle.retry_after("client-4999") > 0, "the latest ones are kept"
    assert throttle.retry_after("client-0") == 0


def test_a_lockout_longer_than_the_memory_of_it_is_refused() -> None:
    with pytest.raises(ValueError, match="forget_after_s"):
        ThrottleSettings(max_delay_s=7200, forget_after_s=3600)
