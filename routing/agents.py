"""Agent lifecycle as a transition table: apply(status, event) -> (status, effects). No I/O.

States: logged_out, ready, reserved (chosen, Originate sent), ringing, busy
(talking), wrap_up, paused(reason). The shell performs the effects (start a
ring or wrap-up timer, re-route a call, look for a call for a ready agent) and
feeds timer expiries back as events.
Rules it keeps:
- Only the transitions in `_TABLE` exist; anything else raises
  AgentTransitionError (the API answers 409, the shell logs it).
- Events about a call the agent no longer has (a late ring timer, a duplicate
  hang-up) change nothing and return a `Stale` effect instead of raising.
- A missed ring counts; the N-th consecutive miss pauses the agent with reason
  "missed N rings". Answering resets the count, so does a manual ready.
- A pause asked for during a call is remembered and taken when the call ends.
- The dialer may hold a ready agent for a call it is about to place (`Hold`:
  reserved, nothing rings); only that call may then be offered to them, and a
  `Hangup` of it gives them back without a miss.
- Every state change is appended to `history`, from which `occupancy` is
  computed over a sliding window. Given the window (`apply(..., window=)`), every
  change also drops what fell out of it (`pruned`), keeping the change in force
  at the window's start; HISTORY_LIMIT caps it whatever the window.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from core.errors import SwitchboardError
from routing.agent_events import (
    AgentState,
    Answer,
    CancelRingTimer,
    Effect,
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

__all__ = [
    "AVAILABLE",
    "OCCUPIED",
    "AgentState",
    "AgentStatus",
    "AgentTransitionError",
    "apply",
    "occupancy",
    "prune",
    "pruned",
]

HISTORY_LIMIT = 2048
"""Hard cap on the entries kept, whatever the window (a busy agent's hour fits well inside)."""

History = tuple[tuple[float, AgentState], ...]


OCCUPIED = frozenset({AgentState.RESERVED, AgentState.RINGING, AgentState.BUSY, AgentState.WRAP_UP})
AVAILABLE = OCCUPIED | {AgentState.READY}
ON_CALL = frozenset({AgentState.RESERVED, AgentState.RINGING, AgentState.BUSY})


class AgentTransitionError(SwitchboardError):
    """An agent event that is not allowed in the agent's current state."""

    error_id = "agent-transition-invalid"


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """What the engine knows about one agent's presence (their skills live in the agent profile)."""

    agent_id: str
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0
    idle_since: float = 0.0
    call_id: str = ""
    missed_rings: int = 0
    pause_reason: str = ""
    pending_pause: str = ""
    history: History = ()


Result = tuple[AgentStatus, tuple[Effect, ...]]
Handler = Callable[[AgentStatus, Event], Result]


def _move(status: AgentStatus, state: AgentState, at: float, *effects: Effect, **changes: Any) -> Result:
    history = (*status.history, (at, state))[-HISTORY_LIMIT:]
    if state is AgentState.READY:  # one copy of the status, not two (a status changes ~4 times a call)
        changes = {**changes, "idle_since": at, "call_id": "", "pause_reason": ""}
        effects = (*effects, SeekCall(status.agent_id))
    moved = replace(status, state=state, since=at, history=history, **changes)
    changed = StateChanged(status.agent_id, status.state, state, at, moved.pause_reason)
    return moved, (changed, *effects)


def _after_call(status: AgentStatus, at: float, *effects: Effect) -> Result:
    """Ready again, unless a pause was asked for during the call."""
    if status.pending_pause:
        return _move(
            status,
            AgentState.PAUSED,
            at,
            *effects,
            pause_reason=status.pending_pause,
            pending_pause="",
            call_id="",
        )
    return _move(status, AgentState.READY, at, *effects)


def _login(status: AgentStatus, event: Event) -> Result:
    return _move(status, AgentState.READY, event.at, missed_rings=0)


def _logout(status: AgentStatus, event: Event) -> Result:
    effects: tuple[Effect, ...] = ()
    if status.state in (AgentState.RESERVED, AgentState.RINGING):
        effects = (
            CancelRingTimer(status.agent_id, status.call_id),
            RequeueCall(status.call_id, status.agent_id),
        )
    return _move(
        status, AgentState.LOGGED_OUT, event.at, *effects, call_id="", pause_reason="", pending_pause=""
    )


def _ready(status: AgentStatus, event: Event) -> Result:
    if status.state is AgentState.READY:
        return status, ()
    return _move(status, AgentState.READY, event.at, missed_rings=0, pending_pause="")


def _pause(status: AgentStatus, event: Event) -> Result:
    assert isinstance(event, Pause)
    reason = event.reason or "paused"
    if status.state in ON_CALL:
        return replace(status, pending_pause=reason), ()
    return _move(status, AgentState.PAUSED, event.at, pause_reason=reason, pending_pause="", call_id="")


def _offer(status: AgentStatus, event: Event) -> Result:
    assert isinstance(event, Offer)
    if status.state is AgentState.RESERVED and event.call_id != status.call_id:
        raise AgentTransitionError(
            f"agent {status.agent_id} is held for call {status.call_id!r}, not {event.call_id!r}",
            agent_id=status.agent_id,
            state=str(status.state),
            event="Offer",
        )
    timer = StartRingTimer(status.agent_id, event.call_id, event.ring_timeout)
    return _move(status, AgentState.RESERVED, event.at, timer, call_id=event.call_id)


def _hold(status: AgentStatus, event: Event) -> Result:
    assert isinstance(event, Hold)
    return _move(status, AgentState.RESERVED, event.at, call_id=event.call_id)


def _ring(status: AgentStatus, event: Event) -> Result:
    return _move(status, AgentState.RINGING, event.at)


def _answer(status: AgentStatus, event: Event) -> Result:
    cancel = CancelRingTimer(status.agent_id, status.call_id)
    return _move(status, AgentState.BUSY, event.at, cancel, missed_rings=0)


def _no_answer(status: AgentStatus, event: Event) -> Result:
    assert isinstance(event, NoAnswer)
    missed = status.missed_rings + 1
    effects = (CancelRingTimer(status.agent_id, status.call_id), RequeueCall(status.call_id, status.agent_id))
    if missed >= event.pause_after:
        reason = f"missed {missed} rings"
        return _move(
            status,
            AgentState.PAUSED,
            event.at,
            *effects,
            missed_rings=missed,
            pause_reason=reason,
            call_id="",
        )
    return _after_call(replace(status, missed_rings=missed), event.at, *effects)


def _caller_gone(status: AgentStatus, event: Event) -> Result:
    """The caller hung up while this agent was being rung: no miss, back to ready."""
    return _after_call(status, event.at, CancelRingTimer(status.agent_id, status.call_id))


def _hangup(status: AgentStatus, event: Event) -> Result:
    assert isinstance(event, Hangup)
    if event.wrap_up_seconds <= 0:
        return _after_call(status, event.at)
    timer = StartWrapUp(status.agent_id, event.wrap_up_seconds)
    # the call stays named while it is wrapped up: its case summary may still be completed
    return _move(status, AgentState.WRAP_UP, event.at, timer)


def _wrap_up_done(status: AgentStatus, event: Event) -> Result:
    return _after_call(status, event.at)


def _ignore(status: AgentStatus, event: Event) -> Result:
    return status, (Stale(status.agent_id, type(event).__name__, f"already {status.state}"),)


S = AgentState
_TABLE: dict[tuple[AgentState, type[Event]], Handler] = {
    (S.LOGGED_OUT, Login): _login,
    **{(s, Logout): _logout for s in (S.READY, S.PAUSED, S.WRAP_UP, S.RESERVED, S.RINGING)},
    **{(s, Ready): _ready for s in (S.READY, S.PAUSED, S.WRAP_UP)},
    **{(s, Pause): _pause for s in (S.READY, S.PAUSED, S.WRAP_UP, S.RESERVED, S.RINGING, S.BUSY)},
    (S.READY, Offer): _offer,
    (S.RESERVED, Offer): _offer,  # ring the agent held for this very call
    (S.READY, Hold): _hold,
    (S.RESERVED, Ring): _ring,
    **{(s, Answer): _answer for s in (S.RESERVED, S.RINGING)},
    **{(s, NoAnswer): _no_answer for s in (S.RESERVED, S.RINGING)},
    **{(s, Hangup): _caller_gone for s in (S.RESERVED, S.RINGING)},
    (S.BUSY, Hangup): _hangup,
    (S.WRAP_UP, WrapUpDone): _wrap_up_done,
    # late timers and duplicated AMI events about the agent's current call
    **{(s, WrapUpDone): _ignore for s in (S.READY, S.PAUSED, S.LOGGED_OUT, S.RESERVED, S.RINGING, S.BUSY)},
    **{(S.WRAP_UP, e): _ignore for e in (Ring, Answer, NoAnswer, Hangup)},  # the call being wrapped up
    **{(S.BUSY, e): _ignore for e in (Ring, Answer, NoAnswer)},
    (S.RINGING, Ring): _ignore,
}
_CALL_EVENTS = (Ring, Answer, NoAnswer, Hangup)


def apply(status: AgentStatus, event: Event, *, window: float | None = None) -> Result:
    """The agent's next status and the effects the shell must perform; with `window` (seconds, the
    occupancy window) a changed history is pruned to it at the event's time."""
    call_id = getattr(event, "call_id", None)
    if isinstance(event, _CALL_EVENTS) and call_id != status.call_id:
        return status, (Stale(status.agent_id, type(event).__name__, f"not on call {call_id!r}"),)
    handler = _TABLE.get((status.state, type(event)))
    if handler is None:
        raise AgentTransitionError(
            f"agent {status.agent_id}: {type(event).__name__} is not allowed while {status.state}",
            agent_id=status.agent_id,
            state=str(status.state),
            event=type(event).__name__,
        )
    new, effects = handler(status, event)
    if window is not None and new.history is not status.history:
        history = pruned(new.history, event.at, window)
        if history is not new.history:  # mostly nothing is pruned: no copy then
            new = replace(new, history=history)
    return new, effects


def occupancy(history: History, now: float, window: float) -> float:
    """Share of available time (ready or on a call) spent on calls over the last `window` seconds."""
    if not history:
        return 0.0
    start = now - window
    occupied = available = 0.0
    ends = [entry[0] for entry in history[1:]]  # each change lasts until the next one, the last until now
    ends.append(now)
    for (at, state), end in zip(history, ends, strict=True):  # runs on every status change: no calls inside
        span = (end if end < now else now) - (at if at > start else start)
        if span <= 0 or state not in AVAILABLE:
            continue
        available += span
        if state in OCCUPIED:
            occupied += span
    return occupied / available if available > 0 else 0.0


def pruned(history: History, now: float, window: float) -> History:
    """`history` without what ended before `now - window`: the last change at or before the window's
    start stays (it is the state in force then), and so does everything later, up to HISTORY_LIMIT."""
    # changes are in time order (the clock's): the one in force at the start is found by bisection
    keep = max(0, bisect_right(history, now - window, key=_at) - 1)
    kept = history[max(keep, len(history) - HISTORY_LIMIT) :]
    return history if len(kept) == len(history) else kept


def _at(entry: tuple[float, AgentState]) -> float:
    return entry[0]


def prune(status: AgentStatus, now: float, window: float) -> AgentStatus:
    """`status` with its history pruned to `window` (see `pruned`)."""
    history = pruned(status.history, now, window)
    return status if history is status.history else replace(status, history=history)
