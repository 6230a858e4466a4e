"""The ACD's timer table: cancelled timers never fire, and their heap entries do not pile up."""

from __future__ import annotations

from routing.acd.timers import COMPACT_SLACK, Timer, TimerKind, Timers

T0 = 1_750_000_000.0


def test_cancelled_rechecks_do_not_pile_up_in_the_heap() -> None:
    """A call that waited gets a re-decision 10 minutes ahead; offered early, it is cancelled."""
    timers = Timers()
    timers.set(Timer(TimerKind.RING, "a1", T0 + 15))
    for n in range(10_000):
        timers.set(Timer(TimerKind.RECHECK, f"c{n}", T0 + n / 50 + 600))
        timers.cancel(TimerKind.RECHECK, f"c{n}")
    assert len(timers) == 1
    assert timers.heap_size <= 2 * len(timers) + COMPACT_SLACK + 1
    assert timers.due(T0 + 10_000) == [Timer(TimerKind.RING, "a1", T0 + 15)]


def test_a_replaced_timer_fires_once_at_its_new_time() -> None:
    timers = Timers()
    for n in range(500):
        timers.set(Timer(TimerKind.WRAP, "a1", T0 + n))
    assert timers.due(T0 + 498) == []
    assert timers.due(T0 + 499) == [Timer(TimerKind.WRAP, "a1", T0 + 499)]
    assert timers.due(T0 + 10_000) == []
