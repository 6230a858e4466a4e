"""The inbound call table (routing.acd.lifecycle.apply): every state and event, by table.

Each row: a call in a state, one event, the state after (None: unknown or over) and the exact
effects. `test_every_pair_is_in_the_table` makes sure no (state, event) pair is left to chance;
the out-of-order rows (an answer after the caller left, a bridge found at a resync, a hangup after
the end) are marked in their names.
"""

from __future__ import annotations

import pytest

from routing.acd import call_events as ev
from routing.acd.calls import ActiveCall, CallFacts, CallState
from routing.acd.case_payloads import case_data, handover
from routing.acd.held import HeldCaller
from routing.acd.lifecycle import EVENTS, STATES, TABLE, apply, ignored
from routing.acd.offer_transitions import leg_gone_at_bridge
from routing.queue import WaitingCall

CALLER, CALLER_UID = "PJSIP/trunk-00000001", "1700000000.1"
LEG = "PJSIP/1001-00000002"
HELD = HeldCaller("c1", CALLER_UID, CALLER, "+3612345678", "1800", "2", "support", 100.0)

WAITING = ActiveCall(
    WaitingCall("c1", "support", "key", 1, (("support", 1),), 100.0, 100.0),
    CallFacts("20250616-000001", CALLER_UID, CALLER, "+3612345678", "+3612345678", "1800", "2"),
)
OFFERED = WAITING.with_facts(state=CallState.OFFERED, agent_id="a1", action_id="act-1")
RUNG = OFFERED.with_facts(agent_channel=LEG)  # the OriginateResponse reported the leg
LOCAL_RUNG = OFFERED.with_facts(agent_channel="Local/1001@agents-01;1")
TALKING = RUNG.with_facts(state=CallState.CONNECTED, answered_at=110.0)
OUTBOUND = ActiveCall(
    WaitingCall("c1", "support", "outbound:spring", 0, (), 100.0, 100.0, outbound=True),
    OFFERED.facts,
)


def connected(call: ActiveCall, at: float, leg: str = LEG) -> ActiveCall:
    return call.with_facts(state=CallState.CONNECTED, agent_channel=leg, answered_at=at, opened_by="a1")


def abandoned(call: ActiveCall, at: float, counted: bool = True) -> tuple[ev.Effect, ...]:
    ended = call.with_facts(outcome="abandoned")
    ringing = call.state is CallState.OFFERED
    closing = (ev.HangUpLegs(), ev.AgentFreed("a1", ended)) if ringing else (ev.Close(ended),)
    waited = at - 100.0
    data = {**case_data(call), "waited": round(waited, 3), "ringing": call.facts.agent_id}
    return (
        *closing,
        *((ev.CountAbandoned(call.call.queue, call.call.tier, waited),) if counted else ()),
        ev.Note(f"caller hung up after {waited:.1f} s (abandoned)"),
        ev.Publish("abandoned", call.facts.agent_id, data),
    )


def ended(at: float, by: str) -> tuple[ev.Effect, ...]:
    talk = at - 110.0
    data = {**case_data(TALKING), "talk": round(talk, 3), "ended_by": by}
    return (
        ev.AgentWrapsUp("a1", TALKING.with_facts(outcome="ended")),
        ev.Note(f"ended by the {by} after {talk:.1f} s"),
        ev.Publish("ended", "a1", data),
    )


def talks(call: ActiveCall, at: float, leg: str = LEG, counted: bool = True) -> tuple[ev.Effect, ...]:
    moved, waited = connected(call, at, leg), at - 100.0
    count = (ev.CountAnswered(call.call.queue, call.call.tier, waited),) if counted else ()
    return (ev.AgentTalks("a1", moved), *count, ev.Publish("handover", "a1", handover(moved, waited)))


# -- transfers --------------------------------------------------------------------------------
B_LEG = "PJSIP/1002-00000005"
BILLING = WaitingCall("c1", "billing", "key", 3, (("billing", 1),), 200.0, 100.0)
BLIND = ev.TransferAsked(200.0, BILLING, "queue:billing")
ASK_CONSULT = ev.ConsultAsked(200.0, "a2", "queue:billing")
REQUEUED = (
    ActiveCall(BILLING, TALKING.facts)
    .waiting_again(BILLING)
    .with_facts(transfers=1, transferred_from="a1", transfer_target="queue:billing", answered_at=None)
)
CONSULTING = TALKING.with_facts(
    state=CallState.CONSULTING, transferer="a1", transferer_channel=LEG, agent_id="", action_id="",
    agent_channel="", transfer_target="queue:billing",
)  # fmt: skip
CONSULT_RUNG = CONSULTING.with_facts(agent_id="a2", action_id="act-2")
CONSULT_UP = CONSULT_RUNG.with_facts(agent_channel=B_LEG)  # the consulted agent's leg answered
BACK = CONSULT_RUNG.with_facts(
    state=CallState.CONNECTED,
    agent_id="a1",
    agent_channel=LEG,
    action_id="",
    transferer="",
    transferer_channel="",
)
TRANSFERRED = CONSULT_UP.with_facts(
    state=CallState.CONNECTED, transferer="", transferer_channel="", transfers=1, transferred_from="a1",
    answered_at=160.0,
)  # fmt: skip


def blind(by_phone: bool = False) -> tuple[ev.Effect, ...]:
    data = {**case_data(TALKING), "from": "a1", "to": "queue:billing", "mode": "blind", "summary": ""}
    move = () if by_phone else (ev.MoveCaller(LEG, CALLER, "queue-billing"),)
    return (
        ev.Save(REQUEUED), ev.AgentLeaves("a1", wrap_up=True), *move,
        ev.Note("agent a1 transferred the caller to queue:billing (blind)"),
        ev.Publish("transferred", "a1", data), ev.Route(""),
    )  # fmt: skip


def back(why: str, *, hang: bool, missed: bool) -> tuple[ev.Effect, ...]:
    back_to = BACK.with_facts(agent_channel=LEG)
    data = {**case_data(back_to), "from": "a1", "to": "queue:billing", "reason": why}
    return (
        ev.Save(back_to), ev.Bridge(CALLER, LEG), *((ev.HangUpLegs(),) if hang else ()),
        *((ev.AgentLeaves("a2", wrap_up=False),) if not missed else ()),
        ev.Note(f"transfer to queue:billing not done ({why}); back to agent a1"),
        ev.Publish("transfer_cancelled", "a1", data), *((ev.Missed("a2"),) if missed else ()),
    )  # fmt: skip


def complete(at: float) -> tuple[ev.Effect, ...]:
    done = TRANSFERRED.with_facts(answered_at=at)
    data = {
        **case_data(done),
        "from": "a1",
        "to": "queue:billing",
        "mode": "warm",
        "agent_id": "a2",
        "summary": "",
    }
    return (
        ev.Save(done), ev.Bridge(CALLER, B_LEG), ev.AgentLeaves("a1", wrap_up=True),
        ev.Note("agent a1 transferred the caller to agent a2 (warm)"), ev.Publish("transferred", "a1", data),
    )  # fmt: skip


def caller_gone_on_hold(call: ActiveCall, at: float) -> tuple[ev.Effect, ...]:
    ended_call = call.with_facts(agent_id="a1", agent_channel=LEG, outcome="ended", state=CallState.CONNECTED)
    talk = at - 110.0
    data = {**case_data(call), "talk": round(talk, 3), "ended_by": "caller"}
    return (
        ev.HangUpLegs(), ev.HangUp(LEG), ev.AgentLeaves("a2", wrap_up=bool(call.facts.agent_channel)),
        ev.AgentWrapsUp("a1", ended_call), ev.Note(f"caller hung up on hold after {talk:.1f} s"),
        ev.Publish("ended", "a1", data),
    )  # fmt: skip


OUT = ev.TransferredOut(150.0, "5551@from-internal", "blind")
OUT_ENDED = TALKING.with_facts(outcome="transferred", exit_to="5551@from-internal", transferred_from="a1")
OUT_DATA = {**case_data(TALKING), "from": "a1", "to": "5551@from-internal", "mode": "blind", "summary": ""}
CONSULT_HANDOVER = {
    **handover(CONSULT_UP, 112.0),
    "transfer": {"from": "a1", "to": "queue:billing", "mode": "warm"},
}
RESYNC_REQUEUED = CONSULT_RUNG.waiting_again(CONSULT_RUNG.call).with_facts(
    transferer="", transferer_channel="", transfers=1, transferred_from="a1"
)
ASKED = (BLIND, ASK_CONSULT, ev.ConsultCompleted(200.0), ev.ConsultCancelled(200.0), OUT)
DOUBT = RUNG.with_facts(bridge_in_doubt=True)  # its Bridge went out and got no answer


def talk_unseen(at: float) -> tuple[ev.Effect, ...]:
    """A Bridge in doubt connected the call and the talk ended while the engine was away."""
    moved = connected(DOUBT, at)
    data = {**case_data(moved), "talk": 0.0, "ended_by": "caller"}
    return (
        *talks(DOUBT, at),
        ev.AgentWrapsUp("a1", moved.with_facts(outcome="ended")),
        ev.Note("ended by the caller after 0.0 s"),
        ev.Publish("ended", "a1", data),
        ev.Note("the Bridge sent before the link stalled connected the call; it ended unseen", warn=True),
    )


AGAIN = OFFERED.with_facts(action_id="act-2")  # offered again (its own Originate) after a miss


def leg_was_gone() -> tuple[ev.Effect, ...]:
    """A Bridge refused because agent a1's answered leg was gone (the caller there): a miss."""
    note = ev.Note(f"agent a1's answered leg {LEG} was gone at the Bridge; routing again")
    return (ev.HangUp(LEG), note, ev.Missed("a1"))


LATE = ev.Note("agent a1 answered a call that no longer waits for them; hanging up")
TIMED_OUT = ev.Note("agent a1: no OriginateResponse in time", warn=True)
GONE_LEG = ev.Note("the leg ringing agent a1 is gone; releasing", warn=True)
PRESENT = ev.Resynced(130.0, caller_present=True)
ABSENT = ev.Resynced(130.0, caller_present=False)
Row = tuple[str, ActiveCall | None, ev.Event, ActiveCall | None, tuple[ev.Effect, ...]]

ROWS: list[Row] = [
    # -- unknown or over -------------------------------------------------------------------
    ("arrival admits the caller", None, ev.Arrived(100.0, HELD), None, (ev.Admit(HELD),)),
    ("ring answered for no call", None, ev.RingAnswered(105.0, LEG), None, ()),
    ("ring failed for no call", None, ev.RingFailed(105.0, "no answer"), None, ()),
    ("a ring for no call", None, ev.AgentRang(101.0), None, ()),
    ("ring timer for a call that ended: the agent still missed it", None, ev.RingTimedOut(140.0, "a1"),
     None, (TIMED_OUT, ev.Missed("a1"))),
    ("out of order: answered after the caller left", None, ev.AgentAnswered(112.0, "a1", LEG), None,
     (LATE, ev.HangUp(LEG))),
    ("answered after the end, no channel named", None, ev.AgentAnswered(112.0, "a1", ""), None, (LATE,)),
    ("a bridge result for a call that ended", None, ev.BridgeResult(112.0, LEG, True), None, ()),
    ("out of order: a bridge seen after the end", None, ev.BridgeSeen(112.0, LEG), None, ()),
    ("out of order: a hangup after the end", None, ev.ChannelGone(150.0, CALLER_UID, CALLER), None, ()),
    ("resync of a call already closed", None, ABSENT, None, ()),
    # -- waiting -----------------------------------------------------------------------------
    ("announced twice", WAITING, ev.Arrived(100.5, HELD), WAITING, ()),
    ("ring answered while waiting", WAITING, ev.RingAnswered(105.0, LEG), WAITING, ()),
    ("ring failed while waiting (requeued already)", WAITING, ev.RingFailed(105.0, "busy"), WAITING, ()),
    ("a ring while waiting", WAITING, ev.AgentRang(101.0), WAITING, ()),
    ("ring timer of a requeued call", WAITING, ev.RingTimedOut(140.0, "a1"), WAITING,
     (TIMED_OUT, ev.Missed("a1"))),
    ("out of order: answered after the offer was withdrawn", WAITING, ev.AgentAnswered(112.0, "a1", LEG),
     WAITING, (LATE, ev.HangUp(LEG))),
    ("a bridge result while waiting", WAITING, ev.BridgeResult(112.0, LEG, True), WAITING, ()),
    ("out of order: the leg gone at the Bridge after its Hangup requeued the call", WAITING,
     ev.BridgeResult(112.0, LEG, False, leg_gone=True, action_id="act-1"), WAITING, ()),
    ("a bridge seen while waiting: no agent offered", WAITING, ev.BridgeSeen(112.0, LEG), WAITING, ()),
    ("caller hangs up while waiting", WAITING, ev.ChannelGone(130.0, CALLER_UID, CALLER), None,
     abandoned(WAITING, 130.0)),
    ("another channel of the call hangs up", WAITING, ev.ChannelGone(130.0, "x.9", "Local/x;2"), WAITING, ()),
    ("resync: still holding", WAITING, PRESENT, WAITING, ()),
    ("resync: the caller left while the link was down", WAITING, ABSENT, None, abandoned(WAITING, 130.0)),
    # -- offered -----------------------------------------------------------------------------
    ("announced again while offered", OFFERED, ev.Arrived(100.5, HELD), OFFERED, ()),
    ("ring answered: the leg is noted", OFFERED, ev.RingAnswered(105.0, LEG), RUNG, (ev.Save(RUNG),)),
    ("ring failed: a miss", OFFERED, ev.RingFailed(105.0, "busy"), OFFERED,
     (ev.Note("agent a1 did not answer (busy)"), ev.Missed("a1"))),
    ("the agent's phone rings", OFFERED, ev.AgentRang(101.0), OFFERED, (ev.AgentRinging("a1"),)),
    ("ring timer: leg hung up, a miss", OFFERED, ev.RingTimedOut(140.0, "a1"), OFFERED,
     (TIMED_OUT, ev.HangUpLegs(), ev.Missed("a1"))),
    ("agent answers: bridge", RUNG, ev.AgentAnswered(112.0, "a1", LEG), RUNG, (ev.Bridge(CALLER, LEG),)),
    ("agent answers, already bridged (link dropped after the Bridge)", RUNG,
     ev.AgentAnswered(112.0, "a1", LEG, bridged=True), connected(RUNG, 112.0), talks(RUNG, 112.0)),
    ("another agent answers for the call", RUNG, ev.AgentAnswered(112.0, "a2", "PJSIP/1002-03"), RUNG,
     (ev.Note("agent a2 answered a call that no longer waits for them; hanging up"),
      ev.HangUp("PJSIP/1002-03"))),
    ("bridged: connected, counted, handed over", RUNG, ev.BridgeResult(112.0, LEG, True),
     connected(RUNG, 112.0), talks(RUNG, 112.0)),
    ("outbound bridged: not counted as inbound", OUTBOUND, ev.BridgeResult(112.0, LEG, True),
     connected(OUTBOUND, 112.0), talks(OUTBOUND, 112.0, counted=False)),
    ("bridge refused: the caller is gone, the leg is hung up", RUNG, ev.BridgeResult(112.0, LEG, False), RUNG,
     (ev.HangUp(LEG),)),
    ("bridge refused: the agent's leg was gone, the caller there: a miss, the caller routed again", RUNG,
     ev.BridgeResult(112.0, LEG, False, leg_gone=True, action_id="act-1"), RUNG, leg_was_gone()),
    ("a leg the resync found (no OriginateResponse seen) gone at the Bridge: a miss", OFFERED,
     ev.BridgeResult(130.0, LEG, False, leg_gone=True, action_id="act-1"), OFFERED, leg_was_gone()),
    ("out of order: the leg of an earlier offer gone at its Bridge, the call offered again since: no miss",
     AGAIN, ev.BridgeResult(112.0, LEG, False, leg_gone=True, action_id="act-1"), AGAIN, (ev.HangUp(LEG),)),
    ("bridge unknown (link dropped): nothing hung up, the doubt kept", RUNG,
     ev.BridgeResult(112.0, LEG, None), DOUBT, (ev.Save(DOUBT),)),
    ("a Bridge answered too late, link up: Asterisk shows them bridged, connected", DOUBT,
     ev.BridgeSeen(113.0, LEG), connected(DOUBT, 113.0), talks(DOUBT, 113.0)),
    ("out of order: the bridge seen before the Bridge's answer", RUNG, ev.BridgeSeen(112.0, LEG),
     connected(RUNG, 112.0), talks(RUNG, 112.0)),
    ("a bridge seen before the OriginateResponse named the leg", OFFERED, ev.BridgeSeen(112.0, LEG),
     connected(OFFERED, 112.0), talks(OFFERED, 112.0)),
    ("the caller bridged with another leg than the offered one", RUNG,
     ev.BridgeSeen(112.0, "PJSIP/1002-03"), RUNG, ()),
    ("caller hangs up while the agent is rung", OFFERED, ev.ChannelGone(108.0, CALLER_UID, CALLER), None,
     abandoned(OFFERED, 108.0)),
    ("outbound customer gone while rung: not counted", OUTBOUND, ev.ChannelGone(108.0, CALLER_UID, CALLER),
     None, abandoned(OUTBOUND, 108.0, counted=False)),
    ("the answered leg is gone before the bridge: a miss", RUNG, ev.ChannelGone(111.0, "u.2", LEG), RUNG,
     (ev.Missed("a1"),)),
    ("the other half of a Local leg is gone", LOCAL_RUNG,
     ev.ChannelGone(111.0, "u.3", "Local/1001@agents-01;2"),
     LOCAL_RUNG, (ev.Missed("a1"),)),
    ("a leg gone before the OriginateResponse named it", OFFERED, ev.ChannelGone(111.0, "u.2", LEG), OFFERED,
     ()),
    ("resync: the caller left", OFFERED, ABSENT, None, abandoned(OFFERED, 130.0)),
    ("out of order: resync after a Bridge in doubt, caller and leg gone: the talk it connected", DOUBT,
     ABSENT, None, talk_unseen(130.0)),
    ("resync after a Bridge in doubt, the leg still waits for it: the caller abandoned", DOUBT,
     ev.Resynced(130.0, False, LEG), None, abandoned(DOUBT, 130.0)),
    ("resync: answered meanwhile, bridge now", OFFERED, ev.Resynced(130.0, True, LEG, ringing=True),
     OFFERED, (ev.Bridge(CALLER, LEG),)),
    ("out of order: resync finds the bridge done", OFFERED,
     ev.Resynced(130.0, True, LEG, ringing=True, talking=True, bridged=True),
     connected(OFFERED, 130.0), talks(OFFERED, 130.0)),
    ("resync: still ringing", OFFERED, ev.Resynced(130.0, True, ringing=True), OFFERED, ()),
    ("resync: the ringing leg vanished: released, routed again", OFFERED, PRESENT, OFFERED,
     (GONE_LEG, ev.Requeue())),
    # -- connected ----------------------------------------------------------------------------
    ("announced again while talking", TALKING, ev.Arrived(100.5, HELD), TALKING, ()),
    ("late OriginateResponse after the bridge", TALKING, ev.RingAnswered(112.0, LEG), TALKING, ()),
    ("ring failed after the bridge", TALKING, ev.RingFailed(112.0, "no answer"), TALKING, ()),
    ("a ring while talking", TALKING, ev.AgentRang(112.0), TALKING, ()),
    ("ring timer while talking never cuts the talk", TALKING, ev.RingTimedOut(140.0, "a1"), TALKING, ()),
    ("out of order: the answer after a resync bridged it", TALKING, ev.AgentAnswered(131.0, "a1", LEG),
     TALKING, ()),
    ("a second leg answers for a talking call", TALKING, ev.AgentAnswered(131.0, "a1", "PJSIP/1001-09"),
     TALKING, (LATE, ev.HangUp("PJSIP/1001-09"))),
    ("a bridge result while talking", TALKING, ev.BridgeResult(112.0, LEG, True), TALKING, ()),
    ("the bridge seen after the Bridge's answer", TALKING, ev.BridgeSeen(112.0, LEG), TALKING, ()),
    ("caller hangs up: wrap-up", TALKING, ev.ChannelGone(150.0, CALLER_UID, CALLER), None,
     ended(150.0, "caller")),
    ("agent hangs up: wrap-up", TALKING, ev.ChannelGone(150.0, "u.2", LEG), None, ended(150.0, "agent")),
    ("a spy's channel hangs up", TALKING, ev.ChannelGone(150.0, "u.7", "PJSIP/9999-01"), TALKING, ()),
    ("resync: the caller left during the talk", TALKING, ABSENT, None, ended(130.0, "caller")),
    ("resync: still talking", TALKING, ev.Resynced(130.0, True, talking=True), TALKING, ()),
    ("resync: nobody talks any more", TALKING, PRESENT, None, ended(130.0, "agent")),
    # -- transfers asked of a call not in conversation: nothing (the API refuses them first) ------
    *[
        (f"{type(e).__name__} while {c.state if c else 'over'}", c, e, c, ())
        for c in (None, WAITING, OFFERED)
        for e in ASKED
    ],
    # -- transfers of a connected call ------------------------------------------------------------
    (
        "blind transfer: waits again in the target queue with the case, the agent wraps up",
        TALKING,
        BLIND,
        REQUEUED,
        blind(),
    ),
    (
        "a phone's blind transfer: Asterisk moved the caller already",
        TALKING,
        ev.TransferAsked(200.0, BILLING, "queue:billing", by_phone=True),
        REQUEUED,
        blind(by_phone=True),
    ),
    (
        "warm transfer: the caller holds, the agent waits, the target is rung",
        TALKING,
        ASK_CONSULT,
        CONSULTING,
        (
            ev.HoldForConsult(CALLER, LEG),
            ev.Save(CONSULTING),
            ev.Note("agent a1 consults a2 (queue:billing) before transferring"),
            ev.OfferConsult("a2"),
        ),
    ),
    ("complete without a consult", TALKING, ev.ConsultCompleted(200.0), TALKING, ()),
    ("cancel without a consult", TALKING, ev.ConsultCancelled(200.0), TALKING, ()),
    (
        "a phone transferred the caller outside the ACD: tracked, the agent wraps up",
        TALKING,
        OUT,
        None,
        (
            ev.AgentWrapsUp("a1", OUT_ENDED),
            ev.Note("agent a1's phone transferred the caller to 5551@from-internal (blind)"),
            ev.Publish("transferred", "a1", OUT_DATA),
        ),
    ),
    # -- consulting ---------------------------------------------------------------------------
    ("announced again during a consult", CONSULT_RUNG, ev.Arrived(100.5, HELD), CONSULT_RUNG, ()),
    (
        "the consulted agent's leg is up",
        CONSULT_RUNG,
        ev.RingAnswered(205.0, B_LEG),
        CONSULT_UP,
        (ev.Save(CONSULT_UP),),
    ),
    (
        "the consulted agent did not answer: back to the transferer, a miss",
        CONSULT_RUNG,
        ev.RingFailed(220.0, "no answer"),
        BACK,
        back("agent did not answer: no answer", hang=False, missed=True),
    ),
    (
        "the consulted agent's phone rings",
        CONSULT_RUNG,
        ev.AgentRang(201.0),
        CONSULT_RUNG,
        (ev.AgentRinging("a2"),),
    ),
    (
        "consult ring timer: back to the transferer",
        CONSULT_RUNG,
        ev.RingTimedOut(240.0, "a2"),
        BACK,
        back("no OriginateResponse in time", hang=True, missed=True),
    ),
    (
        "the consulted agent answers: transferer and target are bridged",
        CONSULT_UP,
        ev.AgentAnswered(206.0, "a2", B_LEG),
        CONSULT_UP,
        (ev.Bridge(LEG, B_LEG),),
    ),
    (
        "consult bridged: the target talks and gets the case",
        CONSULT_RUNG,
        ev.BridgeResult(212.0, B_LEG, True),
        CONSULT_UP,
        (ev.AgentTalks("a2", CONSULT_UP), ev.Publish("handover", "a2", CONSULT_HANDOVER)),
    ),
    (
        "caller hangs up on hold: both legs go, the transferer wraps up",
        CONSULT_UP,
        ev.ChannelGone(230.0, CALLER_UID, CALLER),
        None,
        caller_gone_on_hold(CONSULT_UP, 230.0),
    ),
    (
        "resync during a consult: the caller waits again, both agents let go",
        CONSULT_RUNG,
        PRESENT,
        RESYNC_REQUEUED,
        (
            ev.HangUpLegs(),
            ev.HangUp(LEG),
            ev.Save(RESYNC_REQUEUED),
            ev.AgentLeaves("a2", wrap_up=False),
            ev.AgentLeaves("a1", wrap_up=True),
            ev.Note("a consult was under way across a reconnect; the caller waits again", warn=True),
            ev.Route(),
        ),
    ),
    ("a blind transfer asked during a consult", CONSULT_UP, BLIND, CONSULT_UP, ()),
    ("a second consult asked during a consult", CONSULT_UP, ASK_CONSULT, CONSULT_UP, ()),
    (
        "complete: the caller joins the target, the transferer wraps up",
        CONSULT_UP,
        ev.ConsultCompleted(160.0),
        TRANSFERRED,
        complete(160.0),
    ),
    (
        "cancel: the caller back to the transferer, the target free",
        CONSULT_UP,
        ev.ConsultCancelled(250.0),
        BACK.with_facts(agent_channel=LEG),
        back("cancelled", hang=True, missed=False),
    ),
    ("a phone transfer event during a consult", CONSULT_UP, OUT, CONSULT_UP, ()),
    ("a bridge seen during a consult (its own Bridge answers)", CONSULT_UP, ev.BridgeSeen(212.0, B_LEG),
     CONSULT_UP, ()),
]


@pytest.mark.parametrize(("name", "call", "event", "after", "effects"), ROWS, ids=[r[0] for r in ROWS])
def test_table(
    name: str,
    call: ActiveCall | None,
    event: ev.Event,
    after: ActiveCall | None,
    effects: tuple[ev.Effect, ...],
) -> None:
    assert apply(call, event) == (after, effects)


def test_every_pair_is_in_the_table() -> None:
    """No pair falls through: 5 states x 15 events, each a transition or explicitly ignored."""
    assert set(TABLE) == {(state, event) for state in STATES for event in EVENTS}
    assert len(TABLE) == 75


def test_every_pair_has_a_row() -> None:
    covered = {(r[1].state if r[1] else None, type(r[2])) for r in ROWS}
    assert covered == set(TABLE)


def test_the_transferer_hanging_up_during_a_consult_completes_it() -> None:
    """As on a phone: a transferer who hangs up hands the caller to the consulted agent."""
    after, effects = apply(CONSULT_UP, ev.ChannelGone(160.0, "u.2", LEG))
    assert (after, effects) == (TRANSFERRED, complete(160.0))
    rung_only, effects = apply(CONSULT_RUNG, ev.ChannelGone(160.0, "u.2", LEG))
    assert rung_only is not None and (rung_only.state, rung_only.facts.agent_id) == (CallState.OFFERED, "a2")
    assert ev.AgentLeaves("a1", wrap_up=True) in effects


def test_a_transferred_call_answered_again_is_not_counted_twice() -> None:
    offered = REQUEUED.with_facts(state=CallState.OFFERED, agent_id="a1", agent_channel=LEG)
    _, effects = apply(offered, ev.BridgeResult(230.0, LEG, True))
    assert not [e for e in effects if isinstance(e, ev.CountAnswered)]
    handed = next(e for e in effects if isinstance(e, ev.Publish))
    assert handed.data["case_id"] == "20250616-000001"
    assert handed.data["transfer"] == {"from": "a1", "to": "queue:billing", "mode": "blind"}


@pytest.mark.parametrize(
    ("refusal", "caller_here", "leg_here", "gone"),
    [
        (f"Channel2 does not exist: {LEG}", True, True, True),  # Asterisk says so (the tracker lags)
        (f"Channel2 does not exist: {LEG}", False, False, True),  # Channel1 was looked up first: there
        (f"Channel1 does not exist: {CALLER}", True, False, False),  # the caller is gone: today's way
        ("", True, False, True),  # no word from Asterisk: the leg hung up, the caller there
        ("", False, False, False),
        ("", True, True, False),
        ("Unable to add Channel2 to bridge", True, True, False),
    ],
)
def test_a_refused_bridge_is_the_agents_leg_gone_only_with_the_caller_there(
    refusal: str, caller_here: bool, leg_here: bool, gone: bool
) -> None:
    assert leg_gone_at_bridge(refusal, caller_here=caller_here, leg_here=leg_here) is gone


def test_a_leg_gone_at_the_bridge_is_one_miss_whichever_comes_first() -> None:
    """The refusal first: a miss, the caller requeued (the dispatcher's work) and offered again; the
    old leg's Hangup after it does nothing to the new offer. The Hangup first: its miss, and the
    refusal after the requeue does nothing."""
    refused = ev.BridgeResult(112.0, LEG, False, leg_gone=True, action_id="act-1")
    hung_up = ev.ChannelGone(112.1, "u.2", LEG)
    first, effects = apply(RUNG, refused)
    assert first == RUNG and effects.count(ev.Missed("a1")) == 1
    requeued = RUNG.waiting_again(RUNG.call)
    again = requeued.with_facts(state=CallState.OFFERED, agent_id="a2", action_id="act-2")
    assert apply(again, hung_up) == (again, ())
    assert apply(requeued, hung_up)[1] == ()
    first, effects = apply(RUNG, hung_up)
    assert effects == (ev.Missed("a1"),)
    assert apply(requeued, refused)[1] == ()
    assert apply(again, refused) == (again, (ev.HangUp(LEG),))


def test_ignored_pairs_change_nothing() -> None:
    """An ignored pair is exactly that: the call unchanged, no effect (out-of-order safe)."""
    for _, call, event, after, effects in ROWS:
        if TABLE[(call.state if call else None, type(event))] is ignored:
            assert (after, effects) == (call, ())


def test_a_call_ends_once_whatever_the_order() -> None:
    """The caller's hangup and a resync that saw it gone, in both orders: one abandoned end."""
    orders: list[tuple[ev.Event, ev.Event]] = [
        (ev.ChannelGone(108.0, CALLER_UID, CALLER), ABSENT),
        (ABSENT, ev.ChannelGone(108.0, CALLER_UID, CALLER)),
    ]
    for first, second in orders:
        after, effects = apply(OFFERED, first)
        assert after is None
        assert next(e for e in effects if isinstance(e, ev.Publish)).kind == "abandoned"
        assert apply(after, second) == (None, ())


def test_answer_then_bridge_is_one_handover() -> None:
    """Answered -> Bridge -> bridged: one AgentTalks and one handover; a repeated announcement
    of the same answer afterwards does nothing."""
    call, first = apply(RUNG, ev.AgentAnswered(112.0, "a1", LEG))
    assert first == (ev.Bridge(CALLER, LEG),)
    assert call is not None
    call, second = apply(call, ev.BridgeResult(112.5, LEG, True))
    assert [type(e) for e in second] == [ev.AgentTalks, ev.CountAnswered, ev.Publish]
    assert apply(call, ev.AgentAnswered(113.0, "a1", LEG)) == (call, ())


LATE_ORDERS: list[tuple[ev.Event, ...]] = [
    (ev.BridgeResult(112.0, LEG, None), ev.BridgeSeen(113.0, LEG)),  # the answer timed out first
    (ev.BridgeSeen(113.0, LEG), ev.BridgeResult(113.5, LEG, None)),
    (ev.BridgeSeen(113.0, LEG), ev.BridgeResult(113.5, LEG, True)),
    (ev.BridgeResult(113.0, LEG, True), ev.BridgeSeen(113.0, LEG)),
]


@pytest.mark.parametrize("order", LATE_ORDERS, ids=["timeout-then-seen", "seen-then-timeout",
                                                     "seen-then-answer", "answer-then-seen"])  # fmt: skip
def test_a_bridge_answered_late_or_not_is_one_talk_timed_from_the_bridge(order: tuple[ev.Event, ...]) -> None:
    """The Bridge's answer (in time, too late, or never) and Asterisk's report of the bridge, in
    either order, then the caller's hangup: one handover, one end with the real talk time, never
    an abandon, and nothing hung up."""
    call: ActiveCall | None = RUNG
    effects: list[ev.Effect] = []
    for event in (*order, ev.ChannelGone(143.0, CALLER_UID, CALLER)):
        call, done = apply(call, event)
        effects += done
    published = [e for e in effects if isinstance(e, ev.Publish)]
    assert call is None
    assert [p.kind for p in published] == ["handover", "ended"]
    assert published[-1].data["talk"] == 30.0 and published[-1].data["ended_by"] == "caller"
    assert len([e for e in effects if isinstance(e, ev.AgentTalks)]) == 1
    assert [type(e) for e in effects if isinstance(e, ev.AgentWrapsUp | ev.AgentFreed)] == [ev.AgentWrapsUp]
    assert not [e for e in effects if isinstance(e, ev.HangUp | ev.HangUpLegs | ev.CountAbandoned)]
