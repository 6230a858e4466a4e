"""The life of one placed outbound call as a table: apply(call, event, rules) -> (call, effects). No I/O.

Phases: dialing (Originate sent) -> answered (AMD listening) -> waiting (a person is on hold, an
agent is being connected) -> connected (bridged to an agent) -> ended. The service
(dialer/loop/service.py) turns tracker changes into events and performs the effects.
Rules it keeps (DESIGN.md 2.6, issue 4 "Pacing"):
- A person who answered and has no agent connected within the grace (2 s by default) is
  abandoned: redirected to the abandon message, counted as an abandoned live answer, and the
  attempt's result `abandoned` quarantines the number for every campaign. The grace starts when
  the dialplan announces the answer (after AMD), the first moment the engine knows a person is
  on the line.
- An answering machine follows the campaign's rule: hang up, play a message, or connect it like
  a person. Machines are not live answers (they do not enter the abandon rate).
- A customer who hangs up before an agent is connected is a live answer (if AMD called it a
  person) but not an abandon; the attempt's result is `no_answer` so the lead is retried.
- An answered call that vanished while the engine could not see it (an AMI stall or cut, found
  gone at the resync) before any AMD verdict was seen is an abandon in doubt once the grace since
  the answer has passed: the verdict may have come at once and the customer waited on hold past
  the grace unseen. It is counted as an abandon (`Settle.doubt` says why), never as `no_answer`:
  the abandon rate is a legal cap, over-counting in doubt is the safe side. Found gone within the
  grace of the answer it cannot have been abandoned: `no_answer`, not a live answer.
- A person on hold (verdict seen, handed to the desk) found gone unseen at the resync: if the
  desk's Bridge connected them (`Vanished.bridge_sent`: bridged, or in doubt with the agent's leg
  gone too, as the ACD judges it) they talked and the ACD settles that talk: answered, never an
  abandon. Otherwise, past the grace since the verdict, an abandon in doubt as above; within it
  `no_answer`.
- The answer is written to the dial record (`AnswerSeen`), so the recovery after a crash applies
  the same rule to an answered call that ended while no engine listened.
- An agent reserved for the call is released whenever the call ends without reaching them.
- Reaching `connected` is written to the dial record (`Connected`): a talk that ends while no
  engine listens is then settled as answered by the recovery, not as unknown (and redialed).
- Events that do not fit the phase change nothing (late, duplicated or foreign events).
- After a reconnect or a restart (dialer/calls/resync.py) a customer found in Asterisk is
  `Found`: bridged means connected; still in AMD means answered; on hold means waiting, and a
  customer on hold past the grace (counted from the answer the engine may have missed, or from
  the verdict when the engine heard it: `Found.judged_at`) is abandoned at once, never handed to
  an agent first, unless the desk's own resync found their agent's answered leg and its Bridge
  awaits an answer (`Found.bridging`): then the grace's timer decides, as for any Bridge sent at
  the end of the grace. Within the grace, handed to the desk with the rest of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from dialer.calls.dial_records import PlacedCall
from dialer.compliance.caps import CallResult

HUMAN_STATUSES = frozenset({"HUMAN", "NOTSURE", ""})
_REASON_RESULTS = {5: CallResult.BUSY, 8: CallResult.CONGESTION, 3: CallResult.NO_ANSWER}


class Phase(StrEnum):
    DIALING = "dialing"
    ANSWERED = "answered"
    WAITING = "waiting"
    CONNECTED = "connected"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class CallRules:
    """The campaign's rules for one call (taken when it was placed)."""

    machine: str = "hangup"  # hangup | connect | message
    machine_target: tuple[str, str] = ("switchboard-machine-message", "s")
    abandon_target: tuple[str, str] = ("switchboard-abandon", "s")
    grace_s: float = 2.0


@dataclass(frozen=True, slots=True)
class OutboundCall:
    placed: PlacedCall
    phase: Phase = Phase.DIALING
    uniqueid: str = ""  # the customer's channel
    channel: str = ""
    answered_at: float | None = None
    waiting_since: float | None = None
    connected_at: float | None = None

    @property
    def call_id(self) -> str:
        return self.placed.call_id


# --- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answered:
    at: float
    uniqueid: str
    channel: str


@dataclass(frozen=True, slots=True)
class NotAnswered:
    at: float
    reason: int  # OriginateResponse Reason


@dataclass(frozen=True, slots=True)
class AmdDone:
    at: float
    status: str  # HUMAN, MACHINE, NOTSURE, HANGUP


@dataclass(frozen=True, slots=True)
class AgentConnected:
    at: float


@dataclass(frozen=True, slots=True)
class CustomerGone:
    at: float


@dataclass(frozen=True, slots=True)
class GraceOver:
    at: float


@dataclass(frozen=True, slots=True)
class Vanished:
    """The call's channels are gone without us seeing the end (resync), or its answer never came.
    `bridge_sent`: the desk's Bridge of the customer to an agent connected them (they talked)."""

    at: float
    bridge_sent: bool = False


@dataclass(frozen=True, slots=True)
class Found:
    """Resync: the customer's answered channel as Asterisk lists it after a reconnect or restart.
    `answered_at` is the earliest moment the answer may have come (the grace counts from it);
    `amd_status` is None while AMD still listens; `judged_at`: when this engine heard the verdict
    itself (a call it took over), the grace counts from it instead; `bridging`: the desk's Bridge of
    the customer awaits its answer (its own resync found the agent's answered leg)."""

    at: float
    uniqueid: str
    channel: str
    answered_at: float
    amd_status: str | None
    bridged: bool
    judged_at: float | None = None
    bridging: bool = False


Event = Answered | NotAnswered | AmdDone | AgentConnected | CustomerGone | GraceOver | Vanished | Found

# --- effects --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HandOver:
    """Give the waiting call to the desk (connect to the reserved agent, or route it)."""


@dataclass(frozen=True, slots=True)
class StartGrace:
    until: float


@dataclass(frozen=True, slots=True)
class CancelGrace:
    pass


@dataclass(frozen=True, slots=True)
class AnswerSeen:
    """The customer answered: the dial record must say so, so that the recovery can count a call
    that then ended while no engine listened as an abandon in doubt (see `Settle.doubt`)."""


@dataclass(frozen=True, slots=True)
class Connected:
    """The customer is bridged to an agent: the dial record must say so, so that a call whose talk
    ends while no engine listens is settled as answered, not as an attempt of unknown outcome."""


@dataclass(frozen=True, slots=True)
class Withdraw:
    """The desk must stop routing the call and free any agent reserved or rung for it."""


@dataclass(frozen=True, slots=True)
class ReleaseAgent:
    agent_id: str


@dataclass(frozen=True, slots=True)
class Redirect:
    channel: str
    context: str
    exten: str


@dataclass(frozen=True, slots=True)
class HangupChannel:
    channel: str


@dataclass(frozen=True, slots=True)
class Settle:
    """The call is over: its attempt's result and what it adds to the campaign's statistics."""

    result: CallResult
    live: bool = False  # a person answered (counts in the abandon rate's denominator)
    abandoned: bool = False
    machine: bool = False
    talk_s: float | None = None
    answer_delay_s: float | None = None
    doubt: str = ""  # why an abandon was counted without being seen (written to the audit record)


IN_DOUBT = "in doubt: answered, then gone while the engine could not see it, past the grace"

Effect = (
    HandOver
    | AnswerSeen
    | StartGrace
    | CancelGrace
    | Connected
    | Withdraw
    | ReleaseAgent
    | Redirect
    | HangupChannel
    | Settle
)
Result = tuple[OutboundCall, tuple[Effect, ...]]


def _end(call: OutboundCall, *effects: Effect) -> Result:
    return replace(call, phase=Phase.ENDED), effects


def _release(call: OutboundCall) -> tuple[Effect, ...]:
    return (ReleaseAgent(call.placed.agent_id),) if call.placed.agent_id else ()


def _delay(call: OutboundCall) -> float | None:
    return None if call.answered_at is None else max(0.0, call.answered_at - call.placed.placed_at)


def _answered(call: OutboundCall, event: Event, rules: CallRules) -> Result:
    assert isinstance(event, Answered)
    moved = replace(
        call, phase=Phase.ANSWERED, uniqueid=event.uniqueid, channel=event.channel, answered_at=event.at
    )
    return moved, (AnswerSeen(),)


def _not_answered(call: OutboundCall, event: Event, rules: CallRules) -> Result:
    assert isinstance(event, NotAnswered)
    result = _REASON_RESULTS.get(event.reason, CallResult.FAILED)
    return _end(call, *_release(call), Settle(result))


def _amd(call: OutboundCall, event: Event, rules: CallRules) -> Result:
    assert isinstance(event, AmdDone)
    status = event.status.strip().upper()
    if status == "HANGUP":
        return _end(call, *_release(call), Settle(CallResult.NO_ANSWER, answer_delay_s=_delay(call)))
    if _is_person(event, rules):
        waiting = replace(call, phase=Phase.WAITING, waiting_since=event.at)
        return waiting, (HandOver(), StartGrace(event.at + rules.grace_s))
    machine = Settle(CallResult.ANSWERING_MACHINE, machine=True, answer_delay_s=_delay(call))
    if rules.machine == "message":
        context, exten = rules.machine_target
        return _end(call, *_release(call), Redirect(call.channel, context, exten), machine)
    return _end(call, *_release(call), HangupChannel(call.channel), machine)


def _gone_before_agent(call: OutboundCall, event: Event, rules: CallRules) -> Result:
    if call.phase is Phase.WAITING:
        settle = Settle(CallResult.NO_ANSWER, live=True, answer_delay_s=_delay(call))
        return _end(call, Withdraw(), CancelGrace(), settle)
    # Still dialing: its OriginateResponse never came (AMI cut, lost): it may have rung, outcome unknown.
    result = CallResult.UNKNOWN if call.phase is Phase.DIALING else CallResult.NO_ANSWER
    return _end(call, *_release(call), Settle(result, answer_delay_s=_delay(call)))


def _vanished_unjudged(call: OutboundCall, event: Event, rules: CallRules) -> Result:
    """Answered, no verdict seen, gone unseen: an abandon in doubt past the grace since the answer."""
    if call.answered_at is None or event.at <= call.answered_at + rules.grace_s:
        return _gone_before_agent(call, event, rules)
    settle = Settle(
        CallResult.ABANDONED, live=True, abandoned=True, answer_delay_s=_delay(call), doubt=IN_DOUBT
    )
    return _end(call, *_release(call), settle)


def _vanished_on_hold(call: OutboundCall, event: Event, rules: CallRules) -> Result:
    """A person on hold, gone unseen: talked if the desk sent a Bridge (the ACD's outcome wins),
    else an abandon in doubt past the grace since the verdict, else `no_answer`."""
    assert isinstance(event, Vanished)
    if event.bridge_sent:
        return _end(call, CancelGrace(), Settle(CallResult.ANSWERED, live=True, answer_delay_s=_delay(call)))
    if call.waiting_since is None or event.at <= call.waiting_since + rules.grace_s:
        return _gone_before_agent(call, event, rules)
    settle = Settle(
        CallResult.ABANDONED, live=True, abandoned=True, answer_delay_s=_delay(call), doubt=IN_DOUBT
    )
    return _end(call, Withdraw(), CancelGrace(), settle)


def _abandon(call: OutboundCall, event: Event, rules: CallRules) -> Result:
    context, exten = rules.abandon_target
    settle = Settle(CallResult.ABANDONED, live=True, abandoned=True, answer_delay_s=_delay(call))
    return _end(call, Redirect(call.channel, context, exten), Withdraw(), settle)


def _connected(call: OutboundCall, event: Event, rules: CallRules) -> Result:
    return replace(call, phase=Phase.CONNECTED, connected_at=event.at), (CancelGrace(), Connected())


def _talk_over(call: OutboundCall, event: Event, rules: CallRules) -> Result:
    talk = max(0.0, event.at - (call.connected_at or event.at))
    return _end(call, Settle(CallResult.ANSWERED, live=True, talk_s=talk, answer_delay_s=_delay(call)))


def _found(call: OutboundCall, event: Event, rules: CallRules) -> Result:
    assert isinstance(event, Found)
    answered_at = event.answered_at if call.answered_at is None else min(call.answered_at, event.answered_at)
    if call.phase is Phase.DIALING:
        call = replace(call, uniqueid=event.uniqueid, channel=event.channel)
    call = replace(call, answered_at=answered_at)
    if event.bridged:
        moved = replace(call, phase=Phase.CONNECTED, connected_at=event.at)
        return moved, ((CancelGrace(), Connected()) if call.phase is Phase.WAITING else (Connected(),))
    if call.phase is Phase.WAITING:
        return call, ()  # its grace timer runs on
    if event.amd_status is None:
        return replace(call, phase=Phase.ANSWERED), ()
    since = call.waiting_since
    if since is None:
        since = answered_at if event.judged_at is None else max(answered_at, event.judged_at)
    judged = AmdDone(since, event.amd_status)
    if since + rules.grace_s > event.at or not _is_person(judged, rules):
        return _amd(replace(call, phase=Phase.ANSWERED), judged, rules)
    waiting = replace(call, phase=Phase.WAITING, waiting_since=since)
    if event.bridging:  # the grace is over: its timer waits for the Bridge's answer, as it always does
        return waiting, (StartGrace(event.at),)
    return _abandon(waiting, event, rules)


def _is_person(event: AmdDone, rules: CallRules) -> bool:
    return event.status.strip().upper() in HUMAN_STATUSES or rules.machine == "connect"


Handler = Callable[[OutboundCall, Event, CallRules], Result]
P = Phase
# A customer gone while dialing is not in the table: its OriginateResponse says how it ended.
_TABLE: dict[tuple[Phase, type[Event]], Handler] = {
    (P.DIALING, Answered): _answered,
    (P.DIALING, NotAnswered): _not_answered,
    (P.DIALING, Vanished): _gone_before_agent,
    (P.ANSWERED, AmdDone): _amd,
    (P.ANSWERED, CustomerGone): _gone_before_agent,
    (P.ANSWERED, Vanished): _vanished_unjudged,
    (P.WAITING, AgentConnected): _connected,
    (P.WAITING, GraceOver): _abandon,
    (P.WAITING, CustomerGone): _gone_before_agent,
    (P.WAITING, Vanished): _vanished_on_hold,
    (P.CONNECTED, CustomerGone): _talk_over,
    (P.CONNECTED, Vanished): _talk_over,
    (P.DIALING, Found): _found,
    (P.ANSWERED, Found): _found,
    (P.WAITING, Found): _found,
}


def apply(call: OutboundCall, event: Event, rules: CallRules) -> Result:
    """The call's next phase and the effects the service must perform; unlisted pairs change nothing."""
    handler = _TABLE.get((call.phase, type(event)))
    return handler(call, event, rules) if handler is not None else (call, ())
