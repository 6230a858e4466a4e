"""The events and effects of one inbound call's table (routing/acd/lifecycle.py). Pure: no I/O.

Events are what Asterisk and the timers report about a call, already matched to it by the shell
(routing/acd/callflow.py); effects are what the shell performs, in order
(routing/acd/inbound_effects.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from routing.acd.calls import ActiveCall
from routing.acd.held import HeldCaller
from routing.queue import WaitingCall

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
    """What Asterisk said to the Bridge of caller and `channel`: True done, False refused, None
    unknown (the link dropped). A refusal is the caller gone unless `leg_gone`: the agent's leg
    was gone while the caller was there (Asterisk's "Channel2 does not exist", or the tracker shows
    the leg hung up and the caller present). `action_id`: the offer (its Originate) the Bridge
    was sent for."""

    at: float
    channel: str
    bridged: bool | None
    leg_gone: bool = False
    action_id: str = ""


@dataclass(frozen=True, slots=True)
class BridgeSeen:
    """Asterisk reports the caller and the answered agent leg `channel` in one bridge (BridgeEnter of
    both): they are connected, whatever the engine heard of its Bridge (an answer past the action
    timeout over a link that stayed up: no resync will settle it)."""

    at: float
    channel: str


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


@dataclass(frozen=True, slots=True)
class TransferAsked:
    """A blind transfer: the call waits again as `moved` (the target queue or skill, its tier kept),
    or for the named `agent`. `by_phone`: Asterisk already moved the caller (a BlindTransfer the
    phone made); else the engine moves them. `target` says where, for the case and the stream."""

    at: float
    moved: WaitingCall
    target: str
    agent: str = ""
    by_phone: bool = False


@dataclass(frozen=True, slots=True)
class ConsultAsked:
    """A warm transfer: the caller holds while the agent consults `agent` (chosen by the rules)."""

    at: float
    agent: str
    target: str


@dataclass(frozen=True, slots=True)
class ConsultCompleted:
    """The transferer completes the warm transfer: the caller is joined to the consulted agent."""

    at: float


@dataclass(frozen=True, slots=True)
class ConsultCancelled:
    """The transferer cancels the warm transfer (or the consult could not be placed): the caller
    goes back to them."""

    at: float
    reason: str = "cancelled"


@dataclass(frozen=True, slots=True)
class TransferredOut:
    """A phone transferred the caller somewhere the ACD does not route (an outside number, an
    attended transfer to whoever the phone called): the call leaves the ACD, tracked."""

    at: float
    target: str
    kind: str


Event = (
    Arrived | RingAnswered | RingFailed | AgentRang | RingTimedOut | AgentAnswered | BridgeResult
    | BridgeSeen | ChannelGone | Resynced | TransferAsked | ConsultAsked | ConsultCompleted | ConsultCancelled
    | TransferredOut
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


@dataclass(frozen=True, slots=True)
class MoveCaller:
    """Send the caller to [switchboard-transfer] `exten`, where they hold with music: AMI
    BlindTransfer on the agent's leg (Asterisk's own transfer), or Redirect if that is refused."""

    agent_channel: str
    caller_channel: str
    exten: str


@dataclass(frozen=True, slots=True)
class HoldForConsult:
    """Dual Redirect: the caller to [switchboard-transfer] `hold`, the transferer's leg to `consult`."""

    caller_channel: str
    agent_channel: str


@dataclass(frozen=True, slots=True)
class OfferConsult:
    """Reserve `agent_id` (compare-and-set) and ring them for the consult; ConsultCancelled if not."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentLeaves:
    """The agent's part of a call that goes on is over: into wrap-up (`wrap_up`) or ready again."""

    agent_id: str
    wrap_up: bool


@dataclass(frozen=True, slots=True)
class Route:
    """Route the waiting call again: to the named `agent` if any, else by the rules."""

    agent: str = ""


Effect = (
    Admit | Save | Close | Bridge | HangUp | HangUpLegs | AgentRinging | AgentTalks | AgentFreed
    | AgentWrapsUp | Missed | Requeue | CountAnswered | CountAbandoned | Publish | Note | MoveCaller
    | HoldForConsult | OfferConsult | AgentLeaves | Route
)  # fmt: skip

Result = tuple[ActiveCall | None, tuple[Effect, ...]]
"""A transition's outcome: the call after the event (None once it is over) and the effects, in order."""
