"""The outbound call table (dialer.calls.lifecycle.apply): every phase and event, by table."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dialer.calls.dial_records import DialKind, PlacedCall
from dialer.calls.lifecycle import (
    IN_DOUBT,
    AgentConnected,
    AmdDone,
    Answered,
    AnswerSeen,
    CallRules,
    CancelGrace,
    Connected,
    CustomerGone,
    Effect,
    Event,
    GraceOver,
    HandOver,
    HangupChannel,
    NotAnswered,
    OutboundCall,
    Phase,
    Redirect,
    ReleaseAgent,
    Settle,
    StartGrace,
    Vanished,
    Withdraw,
    apply,
)
from dialer.compliance.caps import CallResult

PLACED = PlacedCall("sbo-1", "a-1", "c1", "+36301234567", DialKind.CAMPAIGN, 100.0, "L1", "engine-1", "1001")
UNRESERVED = replace(PLACED, agent_id=None)
RULES = CallRules()
CHANNEL = "PJSIP/trunk-00000001"


def at(phase: Phase, placed: PlacedCall = PLACED) -> OutboundCall:
    call = OutboundCall(placed)
    if phase is Phase.DIALING:
        return call
    call = replace(call, phase=phase, uniqueid="u1", channel=CHANNEL, answered_at=104.0)
    if phase is Phase.WAITING:
        return replace(call, waiting_since=106.0)
    if phase is Phase.CONNECTED:
        return replace(call, waiting_since=106.0, connected_at=107.0)
    return call


CASES: list[tuple[str, OutboundCall, Event, CallRules, Phase, tuple[Effect, ...]]] = [
    ("answered: the dial record is marked", at(Phase.DIALING), Answered(104.0, "u1", CHANNEL), RULES,
     Phase.ANSWERED, (AnswerSeen(),)),
    ("busy", at(Phase.DIALING), NotAnswered(103.0, 5), RULES, Phase.ENDED,
     (ReleaseAgent("1001"), Settle(CallResult.BUSY))),
    ("congestion", at(Phase.DIALING, UNRESERVED), NotAnswered(103.0, 8), RULES, Phase.ENDED,
     (Settle(CallResult.CONGESTION),)),
    ("no answer", at(Phase.DIALING), NotAnswered(130.0, 3), RULES, Phase.ENDED,
     (ReleaseAgent("1001"), Settle(CallResult.NO_ANSWER))),
    ("rejected", at(Phase.DIALING), NotAnswered(101.0, 0), RULES, Phase.ENDED,
     (ReleaseAgent("1001"), Settle(CallResult.FAILED))),
    ("gone while dialing waits for its OriginateResponse", at(Phase.DIALING), CustomerGone(103.0), RULES,
     Phase.DIALING, ()),
    ("answer never came: outcome unknown", at(Phase.DIALING), Vanished(160.0), RULES, Phase.ENDED,
     (ReleaseAgent("1001"), Settle(CallResult.UNKNOWN))),
    ("a person", at(Phase.ANSWERED), AmdDone(106.0, "HUMAN"), RULES, Phase.WAITING,
     (HandOver(), StartGrace(108.0))),
    ("not sure is a person", at(Phase.ANSWERED), AmdDone(106.0, "NOTSURE"), RULES, Phase.WAITING,
     (HandOver(), StartGrace(108.0))),
    ("machine: hang up", at(Phase.ANSWERED), AmdDone(106.0, "MACHINE"), RULES, Phase.ENDED,
     (ReleaseAgent("1001"), HangupChannel(CHANNEL),
      Settle(CallResult.ANSWERING_MACHINE, machine=True, answer_delay_s=4.0))),
    ("machine: message", at(Phase.ANSWERED), AmdDone(106.0, "MACHINE"), CallRules(machine="message"),
     Phase.ENDED,
     (ReleaseAgent("1001"), Redirect(CHANNEL, "switchboard-machine-message", "s"),
      Settle(CallResult.ANSWERING_MACHINE, machine=True, answer_delay_s=4.0))),
    ("machine: connect", at(Phase.ANSWERED), AmdDone(106.0, "MACHINE"), CallRules(machine="connect"),
     Phase.WAITING, (HandOver(), StartGrace(108.0))),
    ("hung up during AMD", at(Phase.ANSWERED), AmdDone(106.0, "HANGUP"), RULES, Phase.ENDED,
     (ReleaseAgent("1001"), Settle(CallResult.NO_ANSWER, answer_delay_s=4.0))),
    ("gone during AMD", at(Phase.ANSWERED), CustomerGone(105.0), RULES, Phase.ENDED,
     (ReleaseAgent("1001"), Settle(CallResult.NO_ANSWER, answer_delay_s=4.0))),
    ("answered, no verdict seen, gone unseen past the grace: abandon in doubt", at(Phase.ANSWERED),
     Vanished(130.0), RULES, Phase.ENDED,
     (ReleaseAgent("1001"),
      Settle(CallResult.ABANDONED, live=True, abandoned=True, answer_delay_s=4.0, doubt=IN_DOUBT))),
    ("answered, found gone within the grace of the answer: no answer", at(Phase.ANSWERED),
     Vanished(105.5), RULES, Phase.ENDED,
     (ReleaseAgent("1001"), Settle(CallResult.NO_ANSWER, answer_delay_s=4.0))),
    ("answered, gone unseen just at the grace: no answer", at(Phase.ANSWERED), Vanished(106.0), RULES,
     Phase.ENDED, (ReleaseAgent("1001"), Settle(CallResult.NO_ANSWER, answer_delay_s=4.0))),
    ("a hang-up seen during AMD stays no answer, however late", at(Phase.ANSWERED), CustomerGone(130.0),
     RULES, Phase.ENDED, (ReleaseAgent("1001"), Settle(CallResult.NO_ANSWER, answer_delay_s=4.0))),
    ("agent connected in time", at(Phase.WAITING), AgentConnected(107.0), RULES, Phase.CONNECTED,
     (CancelGrace(), Connected())),
    ("abandoned", at(Phase.WAITING), GraceOver(108.0), CallRules(grace_s=2.0), Phase.ENDED,
     (Redirect(CHANNEL, "switchboard-abandon", "s"), Withdraw(),
      Settle(CallResult.ABANDONED, live=True, abandoned=True, answer_delay_s=4.0))),
    ("abandon target from the campaign", at(Phase.WAITING), GraceOver(108.0),
     CallRules(abandon_target=("sorry", "100")), Phase.ENDED,
     (Redirect(CHANNEL, "sorry", "100"), Withdraw(),
      Settle(CallResult.ABANDONED, live=True, abandoned=True, answer_delay_s=4.0))),
    ("hung up before an agent came", at(Phase.WAITING), CustomerGone(107.0), RULES, Phase.ENDED,
     (Withdraw(), CancelGrace(), Settle(CallResult.NO_ANSWER, live=True, answer_delay_s=4.0))),
    ("on hold, gone unseen past the grace since the verdict, no Bridge sent: abandon in doubt",
     at(Phase.WAITING), Vanished(130.0), RULES, Phase.ENDED,
     (Withdraw(), CancelGrace(),
      Settle(CallResult.ABANDONED, live=True, abandoned=True, answer_delay_s=4.0, doubt=IN_DOUBT))),
    ("on hold, gone unseen within the grace since the verdict: no answer", at(Phase.WAITING),
     Vanished(107.5), RULES, Phase.ENDED,
     (Withdraw(), CancelGrace(), Settle(CallResult.NO_ANSWER, live=True, answer_delay_s=4.0))),
    ("on hold, gone unseen just at the grace: no answer", at(Phase.WAITING), Vanished(108.0), RULES,
     Phase.ENDED, (Withdraw(), CancelGrace(), Settle(CallResult.NO_ANSWER, live=True, answer_delay_s=4.0))),
    ("on hold, gone unseen past the grace, the desk sent a Bridge: the ACD's talk, answered",
     at(Phase.WAITING), Vanished(130.0, bridge_sent=True), RULES, Phase.ENDED,
     (CancelGrace(), Settle(CallResult.ANSWERED, live=True, answer_delay_s=4.0))),
    ("on hold, gone unseen within the grace, the desk sent a Bridge: answered", at(Phase.WAITING),
     Vanished(107.0, bridge_sent=True), RULES, Phase.ENDED,
     (CancelGrace(), Settle(CallResult.ANSWERED, live=True, answer_delay_s=4.0))),
    ("a hang-up seen on hold stays no answer, however late", at(Phase.WAITING), CustomerGone(130.0), RULES,
     Phase.ENDED, (Withdraw(), CancelGrace(), Settle(CallResult.NO_ANSWER, live=True, answer_delay_s=4.0))),
    ("talk over", at(Phase.CONNECTED), CustomerGone(187.0), RULES, Phase.ENDED,
     (Settle(CallResult.ANSWERED, live=True, talk_s=80.0, answer_delay_s=4.0),)),
    ("gone at resync while talking", at(Phase.CONNECTED), Vanished(190.0), RULES, Phase.ENDED,
     (Settle(CallResult.ANSWERED, live=True, talk_s=83.0, answer_delay_s=4.0),)),
    ("late grace timer after connect", at(Phase.CONNECTED), GraceOver(108.0), RULES, Phase.CONNECTED, ()),
    ("late answer after the end", replace(at(Phase.ANSWERED), phase=Phase.ENDED), AmdDone(106.0, "HUMAN"),
     RULES, Phase.ENDED, ()),
    ("duplicate OriginateResponse", at(Phase.ANSWERED), Answered(104.5, "u1", CHANNEL), RULES,
     Phase.ANSWERED, ()),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_transition(case: tuple[str, OutboundCall, Event, CallRules, Phase, tuple[Effect, ...]]) -> None:
    _, call, event, rules, phase, effects = case
    moved, done = apply(call, event, rules)
    assert moved.phase is phase
    assert done == effects


def test_an_abandoned_call_is_redirected_before_anything_else() -> None:
    """The person on the line hears the message first; the desk and the stores come after."""
    _, effects = apply(at(Phase.WAITING), GraceOver(108.0), RULES)
    assert isinstance(effects[0], Redirect)


def test_the_answer_keeps_the_customer_channel() -> None:
    moved, _ = apply(at(Phase.DIALING), Answered(104.0, "u9", "PJSIP/trunk-9"), RULES)
    assert (moved.uniqueid, moved.channel, moved.answered_at) == ("u9", "PJSIP/trunk-9", 104.0)


@pytest.mark.parametrize("grace_s", [2.0, 10.0])
def test_the_grace_decides_an_unseen_end_from_the_answer(grace_s: float) -> None:
    """A campaign's longer grace widens the window in which an unseen end is surely no abandon."""
    rules = CallRules(grace_s=grace_s)
    _, within = apply(at(Phase.ANSWERED), Vanished(104.0 + grace_s - 0.1), rules)
    _, past = apply(at(Phase.ANSWERED), Vanished(104.0 + grace_s + 0.1), rules)
    assert [e.result for e in within if isinstance(e, Settle)] == [CallResult.NO_ANSWER]
    assert [(e.result, e.abandoned, e.live) for e in past if isinstance(e, Settle)] == [
        (CallResult.ABANDONED, True, True)
    ]


@pytest.mark.parametrize("grace_s", [2.0, 10.0])
def test_the_grace_decides_an_unseen_end_on_hold_from_the_verdict(grace_s: float) -> None:
    """On hold the grace counts from the verdict (106.0), as the live grace timer does."""
    rules = CallRules(grace_s=grace_s)
    _, within = apply(at(Phase.WAITING), Vanished(106.0 + grace_s - 0.1), rules)
    _, past = apply(at(Phase.WAITING), Vanished(106.0 + grace_s + 0.1), rules)
    assert [e.result for e in within if isinstance(e, Settle)] == [CallResult.NO_ANSWER]
    assert [(e.result, e.abandoned, e.doubt) for e in past if isinstance(e, Settle)] == [
        (CallResult.ABANDONED, True, IN_DOUBT)
    ]
