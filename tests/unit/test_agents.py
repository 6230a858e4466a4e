"""The agent lifecycle table, missed rings and auto-pause, stale events, occupancy over a window."""

from __future__ import annotations

from dataclasses import replace

import pytest

from routing.agent_events import (
    AgentState,
    Answer,
    CancelRingTimer,
    Event,
    Hangup,
    Hold,
    Login,
    Logout,
    NoAnswer,
    Offer,
    Pause,
    Ready,
    RequeueCall,
    Ring,
    SeekCall,
    Stale,
    StartRingTimer,
    StartWrapUp,
    StateChanged,
    WrapUpDone,
)
from routing.agents import HISTORY_LIMIT, AgentStatus, AgentTransitionError, apply, occupancy, prune, pruned

S = AgentState
T0 = 1_750_000_000.0


def run(events: list[Event], status: AgentStatus | None = None) -> tuple[AgentStatus, list[object]]:
    status = status or AgentStatus("1001")
    effects: list[object] = []
    for event in events:
        status, produced = apply(status, event)
        effects.extend(produced)
    return status, effects


def ready_agent() -> AgentStatus:
    return run([Login(T0)])[0]


def test_a_whole_call() -> None:
    status, effects = run(
        [
            Login(T0),
            Offer(T0 + 10, "c1", ring_timeout=15),
            Ring(T0 + 10.2, "c1"),
            Answer(T0 + 14, "c1"),
            Hangup(T0 + 100, "c1", wrap_up_seconds=20),
            WrapUpDone(T0 + 120),
        ]
    )
    assert status.state is S.READY
    assert status.idle_since == T0 + 120
    assert [type(e).__name__ for e in effects if not isinstance(e, StateChanged)] == [
        "SeekCall",
        "StartRingTimer",
        "CancelRingTimer",
        "StartWrapUp",
        "SeekCall",
    ]
    assert StartRingTimer("1001", "c1", 15) in effects
    assert StartWrapUp("1001", 20) in effects
    states = [(e.old, e.new) for e in effects if isinstance(e, StateChanged)]
    assert states == [
        (S.LOGGED_OUT, S.READY),
        (S.READY, S.RESERVED),
        (S.RESERVED, S.RINGING),
        (S.RINGING, S.BUSY),
        (S.BUSY, S.WRAP_UP),
        (S.WRAP_UP, S.READY),
    ]
    assert [state for _, state in status.history] == [new for _, new in states]


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (S.LOGGED_OUT, Ready(T0)),
        (S.LOGGED_OUT, Offer(T0, "c", 15)),
        (S.PAUSED, Offer(T0, "c", 15)),
        (S.BUSY, Offer(T0, "c", 15)),
        (S.BUSY, Logout(T0)),
        (S.READY, Login(T0)),
        (S.BUSY, Ready(T0)),
    ],
)
def test_transitions_outside_the_table_are_refused(state: AgentState, event: Event) -> None:
    status = AgentStatus("1001", state=state, call_id="c" if state is S.BUSY else "")
    with pytest.raises(AgentTransitionError) as caught:
        apply(status, event)
    assert caught.value.error_id == "agent-transition-invalid"
    assert caught.value.details["state"] == state


def test_missed_rings_requeue_the_call_and_pause_after_n() -> None:
    status = ready_agent()
    for number in range(1, 4):
        status, effects = run(
            [Offer(T0 + number, f"c{number}", 15), NoAnswer(T0 + number + 15, f"c{number}", 3)], status
        )
        assert RequeueCall(f"c{number}", "1001") in effects
        assert CancelRingTimer("1001", f"c{number}") in effects
        assert status.missed_rings == number
    assert status.state is S.PAUSED
    assert status.pause_reason == "missed 3 rings"
    assert not any(isinstance(e, SeekCall) for e in effects)


def test_answering_resets_the_missed_count() -> None:
    status, _ = run(
        [Offer(T0, "c1", 15), NoAnswer(T0 + 15, "c1", 3), Offer(T0 + 16, "c2", 15), Answer(T0 + 18, "c2")],
        ready_agent(),
    )
    assert (status.state, status.missed_rings) == (S.BUSY, 0)


def test_manual_ready_after_auto_pause_resets_the_count() -> None:
    status = replace(ready_agent(), missed_rings=2)
    status, _ = run([Offer(T0, "c1", 15), NoAnswer(T0 + 15, "c1", 3), Ready(T0 + 60)], status)
    assert (status.state, status.missed_rings, status.pause_reason) == (S.READY, 0, "")


def test_caller_hangs_up_while_the_agent_rings() -> None:
    status, effects = run([Offer(T0, "c1", 15), Ring(T0 + 1, "c1"), Hangup(T0 + 3, "c1")], ready_agent())
    assert (status.state, status.missed_rings, status.call_id) == (S.READY, 0, "")
    assert CancelRingTimer("1001", "c1") in effects
    assert not any(isinstance(e, RequeueCall) for e in effects)


def test_stale_events_change_nothing() -> None:
    busy, _ = run([Offer(T0, "c1", 15), Answer(T0 + 2, "c1")], ready_agent())
    late_timer = apply(busy, NoAnswer(T0 + 15, "c1", 3))  # the ring timer fired after the answer
    assert late_timer[0].state is S.BUSY and late_timer[0].missed_rings == 0
    assert late_timer[1] == (Stale("1001", "NoAnswer", "already busy"),)
    other_call = apply(busy, Hangup(T0 + 20, "zzz", 10))
    assert other_call == (busy, (Stale("1001", "Hangup", "not on call 'zzz'"),))
    ready = ready_agent()
    assert apply(ready, WrapUpDone(T0 + 5)) == (ready, (Stale("1001", "WrapUpDone", "already ready"),))


def test_pause_during_a_call_is_taken_after_it() -> None:
    status, effects = run(
        [
            Offer(T0, "c1", 15),
            Answer(T0 + 2, "c1"),
            Pause(T0 + 30, "lunch"),
            Hangup(T0 + 60, "c1", 10),
            WrapUpDone(T0 + 70),
        ],
        ready_agent(),
    )
    assert (status.state, status.pause_reason, status.pending_pause) == (S.PAUSED, "lunch", "")
    assert not any(isinstance(e, SeekCall) for e in effects)


def test_pause_and_ready_and_zero_wrap_up() -> None:
    status, _ = run([Pause(T0, "")], ready_agent())
    assert (status.state, status.pause_reason) == (S.PAUSED, "paused")
    status, effects = run(
        [Ready(T0 + 10), Offer(T0 + 11, "c", 15), Answer(T0 + 12, "c"), Hangup(T0 + 20, "c", 0)], status
    )
    assert status.state is S.READY
    assert effects.count(SeekCall("1001")) == 2
    assert apply(status, Ready(T0 + 30)) == (status, ())  # already ready: idempotent


def test_logout_while_ringing_gives_the_call_back() -> None:
    status, effects = run([Offer(T0, "c1", 15), Logout(T0 + 2)], ready_agent())
    assert status.state is S.LOGGED_OUT
    assert RequeueCall("c1", "1001") in effects


@pytest.mark.parametrize(
    ("changes", "now", "window", "expected"),
    [
        ([], T0, 3600, 0.0),
        ([(T0, S.READY)], T0 + 100, 3600, 0.0),
        ([(T0, S.READY), (T0 + 50, S.BUSY)], T0 + 100, 3600, 0.5),
        ([(T0, S.READY), (T0 + 50, S.BUSY), (T0 + 80, S.WRAP_UP), (T0 + 90, S.READY)], T0 + 100, 3600, 0.4),
        # pauses do not count as available time
        ([(T0, S.READY), (T0 + 10, S.PAUSED), (T0 + 90, S.BUSY)], T0 + 100, 3600, 0.5),
        # only the last `window` seconds count: busy for 1000 s long ago, ready in the window
        ([(T0, S.BUSY), (T0 + 1000, S.READY)], T0 + 2000, 500, 0.0),
        # a state entered before the window counts from the window's start
        ([(T0, S.BUSY)], T0 + 2000, 500, 1.0),
        ([(T0, S.READY), (T0 + 1750, S.BUSY)], T0 + 2000, 500, 0.5),
    ],
)
def test_occupancy(
    changes: list[tuple[float, AgentState]], now: float, window: float, expected: float
) -> None:
    assert occupancy(tuple(changes), now, window) == pytest.approx(expected)


def test_prune_keeps_the_state_in_force_at_the_window_start() -> None:
    history = ((T0, S.READY), (T0 + 10, S.BUSY), (T0 + 500, S.READY), (T0 + 900, S.BUSY))
    status = AgentStatus("1001", history=history)
    pruned = prune(status, T0 + 1000, 300)
    assert pruned.history == history[2:]
    assert occupancy(pruned.history, T0 + 1000, 300) == occupancy(history, T0 + 1000, 300)
    assert prune(status, T0 + 100, 3600) is status


R, B, W = S.READY, S.BUSY, S.WRAP_UP


@pytest.mark.parametrize(
    ("history", "now", "window", "kept"),
    [
        ((), T0, 60, ()),
        (((T0, R),), T0 + 1e6, 60, ((T0, R),)),  # the state in force stays, however old
        (((T0, R), (T0 + 10, B)), T0 + 20, 60, ((T0, R), (T0 + 10, B))),  # all inside
        (((T0, R), (T0 + 10, B), (T0 + 20, R)), T0 + 75, 60, ((T0 + 10, B), (T0 + 20, R))),
        (((T0, R), (T0 + 15, B), (T0 + 20, R)), T0 + 75, 60, ((T0 + 15, B), (T0 + 20, R))),  # at start
        (((T0, R), (T0 + 10, B), (T0 + 20, W)), T0 + 100, 60, ((T0 + 20, W),)),
        (((T0, R), (T0, B), (T0, R)), T0 + 100, 60, ((T0, R),)),  # same instant: the last one is in force
    ],
)
def test_pruned(
    history: tuple[tuple[float, AgentState], ...], now: float, window: float, kept: tuple[object, ...]
) -> None:
    assert pruned(history, now, window) == kept
    assert occupancy(pruned(history, now, window), now, window) == occupancy(history, now, window)


def test_pruned_caps_what_the_window_would_keep() -> None:
    history = tuple((T0 + i, R if i % 2 else B) for i in range(HISTORY_LIMIT + 10))
    assert pruned(history, T0 + HISTORY_LIMIT + 10, 1e9) == history[10:]


def test_every_change_prunes_the_history_to_the_window() -> None:
    """A day of calls keeps only the last window's changes, and the occupancy is the same as with
    the whole day's history."""
    window, status, whole = 600.0, AgentStatus("1001"), AgentStatus("1001")
    events: list[Event] = [Login(T0)]
    for n in range(1, 24 * 60):  # a call a minute: 30 s talking, 10 s wrap-up
        at = T0 + 60 * n
        call = f"c{n}"
        events += [Offer(at, call, 15), Answer(at + 1, call), Hangup(at + 31, call, 10), WrapUpDone(at + 41)]
    for event in events:
        status, _ = apply(status, event, window=window)
        whole, _ = apply(whole, event)
        assert status.history[0][0] <= event.at - window or status.history[0] == whole.history[0]
    assert len(status.history) <= 4 * (window / 60 + 1) + 1
    now = events[-1].at + 5
    assert occupancy(status.history, now, window) == pytest.approx(occupancy(whole.history, now, window))
    assert occupancy(status.history, now, window) == pytest.approx(40 / 60, abs=0.02)


def test_a_change_that_keeps_the_state_does_not_prune() -> None:
    """Pruning happens on a state change; a pause asked for during a call changes no history."""
    busy = run([Login(T0), Offer(T0 + 1, "c", 15), Answer(T0 + 2, "c")])[0]
    paused, _ = apply(busy, Pause(T0 + 5000, "lunch"), window=60)
    assert paused.history is busy.history
    assert paused.pending_pause == "lunch"


# ---- agents the dialer holds for calls it places -------------------------------------------------


def test_a_held_agent_is_reserved_without_a_ring_and_is_rung_only_for_that_call() -> None:
    held, effects = run([Hold(T0 + 1, "out-1")], ready_agent())
    assert (held.state, held.call_id) == (S.RESERVED, "out-1")
    assert not any(isinstance(e, StartRingTimer) for e in effects), "nothing rings while dialing"
    with pytest.raises(AgentTransitionError):
        apply(held, Offer(T0 + 2, "inbound-7", ring_timeout=15))
    rung, effects = apply(held, Offer(T0 + 5, "out-1", ring_timeout=15))
    assert (rung.state, rung.call_id) == (S.RESERVED, "out-1")
    assert StartRingTimer("1001", "out-1", 15) in effects


def test_a_held_agent_given_back_is_ready_without_a_miss_and_looks_for_a_call() -> None:
    back, effects = run([Hold(T0 + 1, "out-1"), Hangup(T0 + 9, "out-1")], ready_agent())
    assert (back.state, back.call_id, back.missed_rings) == (S.READY, "", 0)
    assert SeekCall("1001") in effects
    again, stale = apply(back, Hangup(T0 + 10, "out-1"))
    assert again == back and isinstance(stale[0], Stale), "releasing twice changes nothing"


def test_only_a_ready_agent_can_be_held() -> None:
    paused = run([Pause(T0 + 1, "lunch")], ready_agent())[0]
    with pytest.raises(AgentTransitionError):
        apply(paused, Hold(T0 + 2, "out-1"))


def test_wrap_up_names_the_call_being_wrapped_up_and_shrugs_off_its_late_events() -> None:
    """The call stays named through the wrap-up (its case summary may still be completed there);
    a duplicated hangup or a late ring report of that call changes nothing; ready forgets it."""
    wrapping, _ = run([Offer(T0, "c1", 15), Answer(T0 + 2, "c1"), Hangup(T0 + 60, "c1", 30)], ready_agent())
    assert (wrapping.state, wrapping.call_id) == (S.WRAP_UP, "c1")
    for late in (Hangup(T0 + 61, "c1", 30), Ring(T0 + 61, "c1"), Answer(T0 + 61, "c1")):
        again, effects = apply(wrapping, late)
        assert again == wrapping and [type(e).__name__ for e in effects] == ["Stale"]
    ready, _ = apply(wrapping, WrapUpDone(T0 + 90))
    assert (ready.state, ready.call_id) == (S.READY, "")
