"""Order independence (DESIGN.md 2.7): the tracker and the outbound call table give the same result
whatever order Asterisk delivers a call's events in.

Each scenario's events are made by the simulator's core on a manual clock (the usual Asterisk 22
order, real headers). Every order a real Asterisk 22 may deliver them in (docs/sim.md) is then
derived from it and replayed through CallTracker -> CallBook -> dialer.calls.lifecycle.apply, with the
grace timer run at each event's time: the effects (hand-over, abandon redirect, settlement) and
the tracker's final state must be the same as in the usual order. Pure: no sockets, no Redis.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import pytest

from dialer.calls import lifecycle as outbound
from dialer.calls.dial_records import DialKind, PlacedCall
from dialer.calls.follow import CallBook
from dialer.calls.lifecycle import CallRules, Effect, GraceOver, Phase, Settle
from dialer.compliance.caps import CallResult
from pbx.call_changes import ChannelHungUp
from pbx.codec import Event, parse_message
from pbx.sim.clock import ManualClock
from pbx.sim.config import AgentPhone, CustomerScript, SimConfig
from pbx.sim.core import PbxCore
from pbx.sim.endpoints import parse_dial_string
from pbx.sim.events import Headers
from pbx.sim.originate import OriginateRequest, Originator
from pbx.tracker import CallTracker

NUMBER = "+3611"
CALL_ID = "c1"
PLACED = PlacedCall(CALL_ID, "a-1", "camp", NUMBER, DialKind.CAMPAIGN, 0.0)
RULES = CallRules(grace_s=2.0)
END = 10_000.0  # long after everything: any grace still running has run out

Timed = tuple[float, Event]


def to_event(headers: Headers) -> Event:
    event = parse_message("\r\n".join(f"{key}: {value}" for key, value in headers))
    assert isinstance(event, Event)
    return event


# ---- scenarios, made by the simulator ---------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    outcome: str = "answer"
    patience_s: float = 60.0
    talk_s: float = 20.0
    agent_after_s: float | None = 0.5  # None: no agent is bridged
    agent_hangs_up_s: float | None = None  # the agent ends the talk this long after the bridge
    local: bool = False


def make(scenario: Scenario) -> list[Timed]:
    clock, sent = ManualClock(0.0), []
    script = CustomerScript(
        outcome=scenario.outcome, ring_s=2.0, patience_s=scenario.patience_s, talk_s=scenario.talk_s
    )  # type: ignore[arg-type]
    config = SimConfig(
        customer_overrides={NUMBER: script}, agents={"1001": AgentPhone(answer_after_s=0.2)}, amd_s=(1.0, 1.0)
    )
    core = PbxCore(config, clock, random.Random(1), sent.append)
    originator = Originator(core)
    dial = f"Local/{NUMBER}@customers" if scenario.local else f"PJSIP/{NUMBER}@trunk"
    variables = (("SWITCHBOARD_CALL_ID", CALL_ID),)
    target = parse_dial_string(dial, config)
    originator.start(
        OriginateRequest(target, "a-1", context="switchboard-outbound", exten="s", variables=variables)
    )
    clock.advance(3.0)  # ringing 2 s, AMD 1 s: announced at 3 s
    if scenario.agent_after_s is not None and core.channels:
        clock.advance(scenario.agent_after_s - 0.2)
        agent_target = parse_dial_string("PJSIP/1001", config)
        originator.start(
            OriginateRequest(agent_target, "a-2", application="Wait", data="600", variables=variables)
        )
        clock.advance(0.2)
        customer = next(c for c in core.channels if c.context == "switchboard-outbound")
        agent = next(c for c in core.channels if c.name.startswith("PJSIP/1001-"))
        core.bridges.bridge(customer, agent)
        if scenario.agent_hangs_up_s is not None:
            clock.advance(scenario.agent_hangs_up_s)
            core.hangup(agent, 16, "remote")
    clock.advance(300.0)
    assert not core.channels, "every scenario ends"
    return [(float(dict(h)["Timestamp"]), to_event(h)) for h in sent]


SCENARIOS = [
    Scenario("connected"),
    Scenario("connected-local", local=True),
    Scenario("agent-hangs-up-first", agent_hangs_up_s=5.0),
    Scenario("abandoned", agent_after_s=None, patience_s=8.0),
    Scenario("gone-on-hold", agent_after_s=None, patience_s=1.5),
    Scenario("busy", outcome="busy"),
    Scenario("machine", outcome="machine"),
]

# ---- the orders a real Asterisk 22 delivers them in ---------------------------------------------

_LEAVING = {"BridgeLeave", "BridgeDestroy"}


def _originate_positions(events: Sequence[Timed]) -> range:
    """OriginateResponse (sent straight, not through Stasis) may overtake every event before it."""
    at = next(
        i for i, (_, e) in enumerate(events) if e.name == "OriginateResponse" and e.get("ActionID") == "a-1"
    )
    return range(at + 1)


def _hangup_moves(events: Sequence[Timed]) -> list[tuple[int, range]]:
    """A Hangup may come before the BridgeLeave / BridgeDestroy events just before it."""
    moves = []
    for at, (_, event) in enumerate(events):
        if event.name != "Hangup":
            continue
        first = at
        while first > 0 and events[first - 1][1].name in _LEAVING:
            first -= 1
        if first < at:
            moves.append((at, range(first, at + 1)))
    return moves


def _move(events: list[Timed], source: int, target: int) -> list[Timed]:
    moved = events[:]
    item = moved.pop(source)
    moved.insert(target, item)
    return moved


def _variable_on_newchannel(events: list[Timed]) -> list[Timed]:
    """The other place a call id can first show: already on the channel's Newchannel."""
    empty = "ChanVariable: SWITCHBOARD_CALL_ID=\r\n"
    filled = f"ChanVariable: SWITCHBOARD_CALL_ID={CALL_ID}\r\n"
    return [
        (at, to_event_raw(e.raw.replace(empty, filled)) if e.name == "Newchannel" else e) for at, e in events
    ]


def to_event_raw(raw: str) -> Event:
    event = parse_message(raw)
    assert isinstance(event, Event)
    return event


def orders(events: list[Timed]) -> Iterator[list[Timed]]:
    """Every allowed order; each delivery keeps the time of the position it lands on."""
    times = [at for at, _ in events]
    moves = _hangup_moves(events)
    source = _originate_positions(events).stop - 1
    for variant in (events, _variable_on_newchannel(events)):
        for targets in itertools.product(*(positions for _, positions in reversed(moves))):
            shuffled = variant
            for (at, _), target in zip(reversed(moves), targets, strict=True):
                shuffled = _move(shuffled, at, target)
            here = next(i for i, (_, e) in enumerate(shuffled) if e is variant[source][1])
            for target in range(here + 1):
                final = _move(shuffled, here, target)
                yield [(times[i], event) for i, (_, event) in enumerate(final)]


# ---- the replay ------------------------------------------------------------------------------------


@dataclass
class Result:
    effects: list[Effect]
    phase: Phase | None
    hung_up: set[tuple[str, str | None]]
    sizes: dict[str, int]


def _plain(effect: Effect) -> Effect | None:
    """Effects without their timings (an earlier OriginateResponse moves the answer time)."""
    if isinstance(effect, outbound.StartGrace | outbound.CancelGrace):
        return None
    if isinstance(effect, Settle):
        return replace(effect, talk_s=None, answer_delay_s=None)
    return effect


def replay(events: Sequence[Timed]) -> Result:
    tracker, book = CallTracker(), CallBook()
    book.add(PLACED, RULES)
    effects: list[Effect] = []
    hung_up: set[tuple[str, str | None]] = set()

    def run(call_id: str, event: outbound.Event) -> None:
        done = book.apply(call_id, event)
        if done is not None:
            effects.extend(e for e in map(_plain, done[1]) if e is not None)
            if done[0].phase is Phase.ENDED:
                book.forget(call_id)

    for at, event in [*events, (END, None)]:
        for call_id in book.due(at):
            run(call_id, GraceOver(at))
        if event is None:
            break
        for change in tracker.apply(event):
            if isinstance(change, ChannelHungUp):
                hung_up.add((change.uniqueid, change.call_id))
            for call_id, step in book.translate(change, at):
                run(call_id, step)
    call = book.calls.get(CALL_ID)
    return Result(effects, None if call is None else call.phase, hung_up, tracker.sizes())


SEEN = outbound.AnswerSeen()
TALK = [SEEN, outbound.HandOver(), outbound.Connected(), Settle(CallResult.ANSWERED, live=True)]
EXPECTED = {
    "connected": TALK,
    "connected-local": TALK,
    "agent-hangs-up-first": TALK,
    "abandoned": [
        SEEN,
        outbound.HandOver(),
        outbound.Redirect("", "switchboard-abandon", "s"),
        outbound.Withdraw(),
        Settle(CallResult.ABANDONED, live=True, abandoned=True),
    ],
    "gone-on-hold": [SEEN, outbound.HandOver(), outbound.Withdraw(), Settle(CallResult.NO_ANSWER, live=True)],
    "busy": [Settle(CallResult.BUSY)],
    "machine": [SEEN, outbound.HangupChannel(""), Settle(CallResult.ANSWERING_MACHINE, machine=True)],
}


def _named(effects: list[Effect]) -> list[Effect]:
    """Channel names differ per scenario; the kinds, targets and results are what is compared."""
    return [
        replace(e, channel="") if isinstance(e, outbound.Redirect | outbound.HangupChannel) else e
        for e in effects
    ]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_order_gives_the_same_result(scenario: Scenario) -> None:
    events = make(scenario)
    usual = replay(events)
    assert _named(usual.effects) == EXPECTED[scenario.name]
    assert usual.phase is None, "the call ended and was forgotten"
    live = {key: size for key, size in usual.sizes.items() if key != "recent_hangups"}
    assert live == dict.fromkeys(live, 0), "the tracker holds nothing after the call"
    count = 0
    for order in orders(events):
        count += 1
        result = replay(order)
        names = [e.name for _, e in order]
        assert result.effects == usual.effects, names
        assert (result.phase, result.hung_up, result.sizes) == (usual.phase, usual.hung_up, usual.sizes), (
            names
        )
    assert count >= 2 * len(_originate_positions(events))


def test_a_connected_customer_is_never_abandoned_when_the_originate_response_comes_first() -> None:
    """The measured case: OriginateResponse before the customer's Newchannel (1 call in 16)."""
    events = make(Scenario("connected"))
    response = next(i for i, (_, e) in enumerate(events) if e.name == "OriginateResponse")
    first = [(events[0][0], events[response][1]), *(item for i, item in enumerate(events) if i != response)]
    assert first[1][1].name == "Newchannel"
    effects = replay(first).effects
    assert not any(isinstance(e, outbound.Redirect) for e in effects)
    assert effects[-1] == Settle(CallResult.ANSWERED, live=True)


def test_an_answer_announced_before_its_lost_originate_response_is_followed() -> None:
    """A reconnect can lose the OriginateResponse: the dialplan's announcement answers the call."""
    events = [item for item in make(Scenario("connected")) if item[1].name != "OriginateResponse"]
    effects = replay(events).effects
    assert effects == TALK


def test_a_postponed_grace_runs_out_again_later_and_never_for_a_forgotten_call() -> None:
    """The dialer postpones a grace while the desk's Bridge is in doubt (dialer/loop/service.py)."""
    book = CallBook()
    book.add(PLACED, RULES)
    book.apply(CALL_ID, outbound.Answered(1.0, "u.1", "PJSIP/trunk-01"))
    book.apply(CALL_ID, outbound.AmdDone(1.2, "HUMAN"))
    assert book.due(3.2) == [CALL_ID]
    book.postpone(CALL_ID, 3.7)
    assert book.due(3.6) == []
    assert book.due(3.7) == [CALL_ID]
    book.forget(CALL_ID)
    book.postpone(CALL_ID, 4.0)
    assert book.due(10.0) == []


def replay_stalled(events: Sequence[Timed], vanished_at: float, *, bridge_sent: bool = False) -> list[Effect]:
    """These events only (the link stalled after them), then a resync that finds the call gone."""
    tracker, book = CallTracker(), CallBook()
    book.add(PLACED, RULES)
    effects: list[Effect] = []
    steps = [
        step for at, event in events for change in tracker.apply(event) for step in book.translate(change, at)
    ]
    for call_id, step in [*steps, (CALL_ID, outbound.Vanished(vanished_at, bridge_sent))]:
        done = book.apply(call_id, step)
        effects.extend(e for e in map(_plain, done[1] if done else ()) if e is not None)
    return effects


def test_an_answer_whose_verdict_and_end_fell_in_a_stall_is_an_abandon_in_doubt_in_every_order() -> None:
    """The link stalls right after the answer (before the AMD verdict is announced); the resync finds
    the customer gone long past the grace: whatever order the answer's events came in, the call is
    an abandon in doubt, never a `no_answer` (docs/reliability.md, the 23 s stall on Asterisk 22)."""
    events = make(Scenario("abandoned", agent_after_s=None, patience_s=8.0))
    verdict = next(i for i, (_, e) in enumerate(events) if e.name == "UserEvent")
    seen = events[:verdict]
    expected = [SEEN, Settle(CallResult.ABANDONED, live=True, abandoned=True, doubt=outbound.IN_DOUBT)]
    count = 0
    for order in orders(seen):
        count += 1
        assert replay_stalled(order, vanished_at=30.0) == expected, [e.name for _, e in order]
    assert count >= 2


@pytest.mark.parametrize(
    ("bridge_sent", "settled"),
    [
        (False, Settle(CallResult.ABANDONED, live=True, abandoned=True, doubt=outbound.IN_DOUBT)),
        (True, Settle(CallResult.ANSWERED, live=True)),
    ],
    ids=["no-bridge-abandon-in-doubt", "bridge-sent-the-acds-talk"],
)
def test_a_person_on_hold_whose_end_fell_in_a_stall_is_settled_alike_in_every_order(
    bridge_sent: bool, settled: Settle
) -> None:
    """The link stalls right after the HUMAN verdict is announced (the call waits, handed to the
    desk); the resync finds the customer gone long past the grace. Whatever order the events seen
    came in: an abandon in doubt if the desk sent no Bridge for the customer, else the ACD's talk
    (answered). The desk's answer is read at the resync from what it sent, so it does not depend
    on whether the ACD's own resync ran first."""
    events = make(Scenario("abandoned", agent_after_s=None, patience_s=8.0))
    verdict = next(i for i, (_, e) in enumerate(events) if e.name == "UserEvent")
    seen = events[: verdict + 1]
    withdraw = [] if bridge_sent else [outbound.Withdraw()]
    expected = [SEEN, outbound.HandOver(), *withdraw, settled]
    count = 0
    for order in orders(seen):
        count += 1
        assert replay_stalled(order, 30.0, bridge_sent=bridge_sent) == expected, [e.name for _, e in order]
    assert count >= 2
