"""The events and effects of one inbound call's table (routing/acd/lifecycle.py). Pure: no I/O.

Events are what Asterisk and the timers report about a call, already matched to it by the shell
(routing/acd/callflow.py); effects are what the shell performs, in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from routing.acd.calls import ActiveCall
from routing.acd.held import HeldCaller

# -- events ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arrived:
    """The caller announced itself (SwitchboardInbound) and the engine does not know the call."""

    at: float
    held: HeldCaller


@dataclass(frozen=True, slots=True)
class RingAnswered:
    """OriginateResponse success for the agent's leg: the leg is up (the answer is announced next)."""

    at: float
    channel: str


@dataclass(frozen=True, slots=True)
class RingFailed:
    """OriginateResponse failure: no answer, busy, rejected, unreachable."""

    at: float
    reason: str


@dataclass(frozen=True, slots=True)
class AgentRang:
    """The agent's phone rings: a Dial to a leg of the offered agent's interface, the agent reserved."""

    at: float


@dataclass(frozen=True, slots=True)
class RingTimedOut:
    """The safety net: `agent_id`, rung for this call, got no OriginateResponse in time."""

    at: float
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentAnswered:
    """SwitchboardAgentAnswered. `bridged`: Asterisk shows the caller and `channel` in one bridge
    already (a Bridge that went through while the link dropped)."""

    at: float
    agent_id: str
    channel: str
    bridged: bool = False


@dataclass(frozen=True, slots=True)
class BridgeResult:
    """What Asterisk said to the Bridge of caller and `channel`: True done, False the caller is
    gone, None unknown (the link dropped)."""

    at: float
    channel: str
    bridged: bool | None


@dataclass(frozen=True, slots=True)
class ChannelGone:
    """A channel carrying the call id hung up: the caller's (by Uniqueid), the agent's leg, or another."""

    at: float
    uniqueid: str
    channel: str


@dataclass(frozen=True, slots=True)
class Resynced:
    """What CoreShowChannels shows of the call after a (re)connect. `answered_leg`: an agent leg of
    the call that is up ('' if none); `ringing`: some agent leg exists; `talking`: the caller is in
    a bridge or the agent's leg is there; `bridged`: caller and `answered_leg` share a bridge."""

    at: float
    caller_present: bool
    answered_leg: str = ""
    ringing: bool = False
    talking: bool = False
    bridged: bool = False


Event = (
    Arrived | RingAnswered | RingFailed | AgentRang | RingTimedOut | AgentAnswered | BridgeResult
    | ChannelGone | Resynced
)  # fmt: skip

# -- effects ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Admit:
    """Classify the caller, open the case, store the waiting call, route it, tag the caller's channel."""

    held: HeldCaller


@dataclass(frozen=True, slots=True)
class Save:
    """Write the call's new record (no agent change goes with it)."""

    call: ActiveCall


@dataclass(frozen=True, slots=True)
class Close:
    """Write the call's end (its `outcome` set); no agent is involved."""

    call: ActiveCall


@dataclass(frozen=True, slots=True)
class Bridge:
    caller_channel: str
    agent_channel: str


@dataclass(frozen=True, slots=True)
class HangUp:
    """Hang up one agent leg (never the caller's channel)."""

    channel: str


@dataclass(frozen=True, slots=True)
class HangUpLegs:
    """Hang up every leg of the offered agent Asterisk has for the call (recognised exactly)."""


@dataclass(frozen=True, slots=True)
class AgentRinging:
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentTalks:
    """The agent is busy; `call` (connected) is written with the agent's change."""

    agent_id: str
    call: ActiveCall


@dataclass(frozen=True, slots=True)
class AgentFreed:
    """The agent is ready again without a miss; `call` (ended) is written with the agent's change."""

    agent_id: str
    call: ActiveCall


@dataclass(frozen=True, slots=True)
class AgentWrapsUp:
    """The talk ended: the agent goes into the queue's wrap-up; `call` (ended) is written with it."""

    agent_id: str
    call: ActiveCall


@dataclass(frozen=True, slots=True)
class Missed:
    """The agent missed the ring (counts towards the pause); the call goes to the next choice."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class Requeue:
    """The ring ended without the agent's fault (the leg vanished): agent freed, call routed again."""


@dataclass(frozen=True, slots=True)
class CountAnswered:
    queue: str
    tier: str
    waited: float


@dataclass(frozen=True, slots=True)
class CountAbandoned:
    queue: str
    tier: str
    waited: float


@dataclass(frozen=True, slots=True)
class Publish:
    """An entry on the ACD's event stream (handover, abandoned, ended)."""

    kind: str
    agent_id: str
    data: dict[str, object]


@dataclass(frozen=True, slots=True)
class Note:
    """A line for the log (`warn`: at warning level)."""

    text: str
    warn: bool = False


Effect = (
    Admit | Save | Close | Bridge | HangUp | HangUpLegs | AgentRinging | AgentTalks | AgentFreed
    | AgentWrapsUp | Missed | Requeue | CountAnswered | CountAbandoned | Publish | Note
)  # fmt: skip
