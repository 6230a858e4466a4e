"""Outbound resync, the pure half (dialer.calls.resync.plan and the table's `Found` rows): after a
reconnect or a restart every answered customer is connected or abandoned once, never left on hold;
a ringing one is followed; a call whose channel is gone gets one definite outcome."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dialer.calls import lifecycle as outbound
from dialer.calls.dial_records import DialKind, PlacedCall
from dialer.calls.follow import HEARD_FOR_S, CallBook, Heard
from dialer.calls.lifecycle import CallRules, Found, OutboundCall, Phase, Settle
from dialer.calls.resync import LiveCustomer, customers, needs_verdict, orphans, plan
from dialer.compliance.caps import CallResult
from pbx.call_changes import UserEventSeen
from pbx.codec import Event, parse_message

PLACED = PlacedCall("c1", "a-1", "camp", "+3611", DialKind.CAMPAIGN, 100.0, "L1", "engine-1", "1001")
RULES = CallRules(grace_s=2.0)
CHANNEL = "PJSIP/trunk-00000001"


def listing(
    uid: str, call_id: str, *, context: str = "switchboard-outbound", state: int = 6,
    app: str = "Wait", bridge: str = "", linked: str = "",
) -> Event:  # fmt: skip
    lines = [
        "Event: CoreShowChannel", f"Channel: PJSIP/x-{uid}", f"ChannelState: {state}", f"Context: {context}",
        f"Uniqueid: {uid}", f"Linkedid: {linked or uid}", f"ChanVariable: SWITCHBOARD_CALL_ID={call_id}",
        "ChanVariable: SWITCHBOARD_CASE_ID=", f"Application: {app}", f"BridgeId: {bridge}",
    ]  # fmt: skip
    event = parse_message("\r\n".join(lines))
    assert isinstance(event, Event)
    return event


def test_the_customer_is_the_answered_channel_in_the_outbound_context() -> None:
    found = customers(
        [
            listing("9.2", "c1", context="switchboard-agent", linked="9.2"),  # the agent leg, same call id
            listing("9.1", "c1", app="AMD"),
            listing("8.1", "c2", context="from-trunk", state=5),  # ringing
            listing("7.1", "", context="switchboard-inbound"),  # no call id of ours
            listing("6.2", "c3", context="customers", state=5, linked="6.1"),  # a Local ;2, not originated
        ]
    )
    assert found["c1"] == LiveCustomer("c1", "9.1", "PJSIP/x-9.1", True, True, False, True)
    assert found["c2"] == LiveCustomer("c2", "8.1", "PJSIP/x-8.1", False, False, False, False)
    assert set(found) == {"c1", "c2"}


def live(*, detecting: bool = False, bridged: bool = False, answered: bool = True) -> LiveCustomer:
    return LiveCustomer("c1", "u1", CHANNEL, answered, detecting, bridged, answered)


def call(phase: Phase, **fields: object) -> OutboundCall:
    found = OutboundCall(PLACED, phase=phase)
    if phase is not Phase.DIALING:
        found = replace(found, uniqueid="u1", channel=CHANNEL, answered_at=103.0)
    return replace(found, **fields)  # type: ignore[arg-type]


NOW = 110.0


@pytest.mark.parametrize(
    ("name", "followed", "customer", "since", "expected"),
    [
        ("gone while dialing", call(Phase.DIALING), None, 105.0, [outbound.Vanished(NOW)]),
        ("gone while waiting", call(Phase.WAITING), None, 105.0, [outbound.Vanished(NOW)]),
        ("gone on hold, the agent's leg still ringing with its call id", call(Phase.WAITING),
         live(answered=False), 105.0, [outbound.Vanished(NOW)]),
        ("gone during AMD, another leg with its call id", call(Phase.ANSWERED), live(answered=False), 105.0,
         [outbound.Vanished(NOW)]),
        ("answered during the cut", call(Phase.DIALING), live(), 109.0,
         [Found(NOW, "u1", CHANNEL, 109.0, "HUMAN", False)]),
        ("AMD still listening", call(Phase.DIALING), live(detecting=True), 109.0,
         [Found(NOW, "u1", CHANNEL, 109.0, None, False)]),
        ("bridged during the cut", call(Phase.WAITING, waiting_since=104.0), live(bridged=True), 105.0,
         [Found(NOW, "u1", CHANNEL, 105.0, "HUMAN", True)]),
        ("still ringing", call(Phase.DIALING), live(answered=False), 105.0, []),
        ("connected", call(Phase.CONNECTED), live(bridged=True), 105.0, []),
    ],
)  # fmt: skip
def test_plan(
    name: str,
    followed: OutboundCall,
    customer: LiveCustomer | None,
    since: float,
    expected: list[outbound.Event],
) -> None:
    found = {} if customer is None else {"c1": customer}
    assert [event for _, event in plan([followed], found, NOW, since, {"c1": "HUMAN"})] == expected, name


def test_a_call_placed_an_instant_ago_may_not_have_its_channel_yet() -> None:
    fresh = replace(call(Phase.DIALING), placed=replace(PLACED, placed_at=NOW - 0.5))
    assert plan([fresh], {}, NOW, 0.0, {}) == []


def test_the_answer_is_never_taken_before_the_call_was_placed() -> None:
    ((_, event),) = plan([call(Phase.DIALING)], {"c1": live()}, NOW, 0.0, {"c1": "HUMAN"})
    assert isinstance(event, Found) and event.answered_at == PLACED.placed_at


def test_orphans_are_answered_or_ringing_customers_nobody_follows() -> None:
    found = {
        "c1": live(),
        "c2": replace(live(answered=False), call_id="c2"),
        "c3": replace(live(), call_id="c3"),
    }
    assert [o.call_id for o in orphans(found, ["c3"])] == ["c1", "c2"]


def test_a_verdict_is_read_only_when_it_was_missed() -> None:
    assert needs_verdict(call(Phase.DIALING), live())
    assert not needs_verdict(None, live()), "another engine's customer"
    assert not needs_verdict(call(Phase.DIALING), live(detecting=True))
    assert not needs_verdict(call(Phase.WAITING), live())
    assert not needs_verdict(call(Phase.DIALING), live(bridged=True))


# ---- the table's Found rows ---------------------------------------------------------------------

ABANDON = outbound.Redirect(CHANNEL, "switchboard-abandon", "s")


@pytest.mark.parametrize(
    ("name", "start", "event", "phase", "effects"),
    [
        ("within the grace: handed over", call(Phase.DIALING),
         Found(NOW, "u1", CHANNEL, 109.0, "HUMAN", False), Phase.WAITING,
         (outbound.HandOver(), outbound.StartGrace(111.0))),
        ("past the grace: abandoned at once, never handed over", call(Phase.DIALING),
         Found(NOW, "u1", CHANNEL, 105.0, "HUMAN", False), Phase.ENDED,
         (ABANDON, outbound.Withdraw(),
          Settle(CallResult.ABANDONED, live=True, abandoned=True, answer_delay_s=5.0))),
        ("still in AMD", call(Phase.DIALING), Found(NOW, "u1", CHANNEL, 109.0, None, False),
         Phase.ANSWERED, ()),
        ("bridged", call(Phase.ANSWERED), Found(NOW, "u1", CHANNEL, 105.0, "HUMAN", True),
         Phase.CONNECTED, (outbound.Connected(),)),
        ("bridged while waiting", call(Phase.WAITING, waiting_since=104.0),
         Found(NOW, "u1", CHANNEL, 105.0, "HUMAN", True), Phase.CONNECTED,
         (outbound.CancelGrace(), outbound.Connected())),
        ("waiting: its grace runs on", call(Phase.WAITING, waiting_since=109.0),
         Found(NOW, "u1", CHANNEL, 109.0, "HUMAN", False), Phase.WAITING, ()),
        ("past the grace, the desk's Bridge unanswered: the grace's timer decides now",
         call(Phase.DIALING), Found(NOW, "u1", CHANNEL, 105.0, "HUMAN", False, bridging=True),
         Phase.WAITING, (outbound.StartGrace(NOW),)),
        ("a machine past the grace is a machine", call(Phase.DIALING),
         Found(NOW, "u1", CHANNEL, 105.0, "MACHINE", False), Phase.ENDED,
         (outbound.ReleaseAgent("1001"), outbound.HangupChannel(CHANNEL),
          Settle(CallResult.ANSWERING_MACHINE, machine=True, answer_delay_s=5.0))),
    ],
)  # fmt: skip
def test_found(
    name: str, start: OutboundCall, event: Found, phase: Phase, effects: tuple[outbound.Effect, ...]
) -> None:
    moved, done = outbound.apply(start, event, RULES)
    assert (moved.phase, done) == (phase, effects), name
    assert moved.uniqueid == "u1"


def test_a_found_customer_is_abandoned_once() -> None:
    found = Found(NOW, "u1", CHANNEL, 105.0, "HUMAN", False)
    ended, effects = outbound.apply(call(Phase.DIALING), found, RULES)
    assert sum(isinstance(e, Settle) and e.abandoned for e in effects) == 1
    for late in (
        found,
        outbound.GraceOver(NOW + 1),
        outbound.CustomerGone(NOW + 2),
        outbound.Vanished(NOW + 3),
    ):
        assert outbound.apply(ended, late, RULES) == (ended, ())


@pytest.mark.parametrize(
    ("then", "phase", "abandoned"),
    [
        (outbound.AgentConnected(NOW + 0.1), Phase.CONNECTED, False),
        (outbound.GraceOver(NOW + 0.5), Phase.ENDED, True),
    ],
)
def test_a_found_customer_whose_bridge_was_pending_is_connected_or_abandoned_once(
    then: outbound.Event, phase: Phase, abandoned: bool
) -> None:
    """The Bridge connected them (BridgeEnter, or the desk says so when the timer is due), or it was
    refused and the grace's timer abandons them: one outcome either way."""
    found = Found(NOW, "u1", CHANNEL, 105.0, "HUMAN", False, bridging=True)
    waiting, _ = outbound.apply(call(Phase.DIALING), found, RULES)
    moved, effects = outbound.apply(waiting, then, RULES)
    assert moved.phase is phase
    assert (ABANDON in effects, sum(isinstance(e, Settle) and e.abandoned for e in effects)) == (
        abandoned,
        int(abandoned),
    )


def test_a_call_gone_unseen_says_whether_the_desk_sent_a_bridge_for_its_customer() -> None:
    """The desk's Bridges are named by the customer's channel: only that call's Vanished says so."""
    other = replace(call(Phase.WAITING), placed=replace(PLACED, call_id="c2"), channel="PJSIP/x-other")
    steps = plan([call(Phase.WAITING), other], {}, NOW, 105.0, {}, bridges={CHANNEL})
    assert steps == [("c1", outbound.Vanished(NOW, bridge_sent=True)), ("c2", outbound.Vanished(NOW))]


# ---- a verdict heard for a call taken over ------------------------------------------------------


def verdict(call_id: str, uniqueid: str = "u1") -> UserEventSeen:
    headers = {"CallID": call_id, "AMDStatus": "NOTSURE"}
    return UserEventSeen("SwitchboardOutboundAnswered", headers, uniqueid, call_id)


def test_a_verdict_for_a_call_this_engine_does_not_follow_is_remembered_when_it_was_heard() -> None:
    book = CallBook()
    assert book.translate(verdict("c1"), 108.0) == []
    assert book.heard == {"c1": Heard("u1", 108.0)}
    book.add(PLACED, RULES)  # taken over: its own verdicts go to the table, not to `heard`
    book.translate(verdict("c1", "u2"), 109.0)
    assert book.heard == {"c1": Heard("u1", 108.0)}
    book.forget("c1")
    assert book.heard == {}


def test_heard_verdicts_are_forgotten_once_older_than_any_grace() -> None:
    book = CallBook()
    book.translate(verdict("old"), 100.0)
    book.translate(verdict("c1"), 100.0 + HEARD_FOR_S / 2)
    book.translate(verdict("c2"), 100.5 + HEARD_FOR_S)
    assert list(book.heard) == ["c1", "c2"]


@pytest.mark.parametrize(
    ("name", "heard", "handed"),
    [
        ("heard on the customer's channel: from the verdict", Heard("u1", 109.0), True),
        ("heard on another channel: from the placing", Heard("u9", 109.0), False),
        ("not heard: from the placing", None, False),
    ],
)  # fmt: skip
def test_a_call_taken_over_counts_its_grace_from_the_verdict_this_engine_heard(
    name: str, heard: Heard | None, handed: bool
) -> None:
    """A takeover (since 0.0): the verdict came while no engine owned the call, 1 s before; with
    the grace counted from the placing (10 s before) the customer would hear the abandon message."""
    (_, event), = plan(
        [call(Phase.DIALING)], {"c1": live()}, NOW, 0.0, {"c1": "NOTSURE"},
        heard={} if heard is None else {"c1": heard},
    )  # fmt: skip
    assert isinstance(event, Found)
    moved, effects = outbound.apply(call(Phase.DIALING), event, RULES)
    if handed:
        assert (moved.phase, effects) == (Phase.WAITING, (outbound.HandOver(), outbound.StartGrace(111.0))), (
            name
        )
        assert moved.answered_at == PLACED.placed_at, "the answer delay is not moved: AMD's length is unknown"
    else:
        assert moved.phase is Phase.ENDED and ABANDON in effects, name


def test_a_verdict_heard_longer_than_the_grace_before_the_takeover_is_an_abandon_counted_once() -> None:
    found = Found(NOW, "u1", CHANNEL, PLACED.placed_at, "HUMAN", False, judged_at=NOW - 2.5)
    moved, effects = outbound.apply(call(Phase.DIALING), found, RULES)
    assert moved.phase is Phase.ENDED and ABANDON in effects
    assert sum(isinstance(e, Settle) and e.abandoned for e in effects) == 1
