"""The vocabulary of the agent lifecycle: states, events in, effects out (plain frozen data).

The table that connects them is in routing/agents.py. Times are epoch seconds
(float) from the injected clock; events carry the per-queue numbers they need
(ring timeout, missed rings before pause, wrap-up seconds) so that `apply`
needs nothing but the status and the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RESERVED = "reserved"
    RINGING = "ringing"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class Login:
    at: float


@dataclass(frozen=True, slots=True)
class Logout:
    at: float


@dataclass(frozen=True, slots=True)
class Ready:
    at: float


@dataclass(frozen=True, slots=True)
class Pause:
    at: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Offer:
    """The engine chose this agent for `call_id` and is ringing them."""

    at: float
    call_id: str
    ring_timeout: float


@dataclass(frozen=True, slots=True)
class Hold:
    """The dialer takes this agent for an outbound call it is about to place (progressive,
    manual, callback): nothing rings yet, and no inbound call is offered meanwhile."""

    at: float
    call_id: str


@dataclass(frozen=True, slots=True)
class Ring:
    """Asterisk reports the agent's phone ringing."""

    at: float
    call_id: str


@dataclass(frozen=True, slots=True)
class Answer:
    at: float
    call_id: str


@dataclass(frozen=True, slots=True)
class NoAnswer:
    """The agent did not answer within the ring timeout (or rejected the call)."""

    at: float
    call_id: str
    pause_after: int


@dataclass(frozen=True, slots=True)
class Hangup:
    """The call ended: after talking (-> wrap-up), or the caller left while the agent was rung."""

    at: float
    call_id: str
    wrap_up_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class WrapUpDone:
    at: float


Event = Login | Logout | Ready | Pause | Offer | Hold | Ring | Answer | NoAnswer | Hangup | WrapUpDone


@dataclass(frozen=True, slots=True)
class StateChanged:
    """Publish (API event, metrics, Redis history)."""

    agent_id: str
    old: AgentState
    new: AgentState
    at: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class StartRingTimer:
    """Feed NoAnswer(call_id) for this agent after `seconds` unless cancelled."""

    agent_id: str
    call_id: str
    seconds: float


@dataclass(frozen=True, slots=True)
class CancelRingTimer:
    agent_id: str
    call_id: str


@dataclass(frozen=True, slots=True)
class StartWrapUp:
    """Feed WrapUpDone for this agent after `seconds`."""

    agent_id: str
    seconds: float


@dataclass(frozen=True, slots=True)
class RequeueCall:
    """Route `call_id` again without `declined_by` (the caller never notices)."""

    call_id: str
    declined_by: str


@dataclass(frozen=True, slots=True)
class SeekCall:
    """The agent is ready: run pick_call for them."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class Stale:
    """An event about a call or timer the agent no longer has; nothing changed."""

    agent_id: str
    event: str
    reason: str


Effect = StateChanged | StartRingTimer | CancelRingTimer | StartWrapUp | RequeueCall | SeekCall | Stale
