"""The real Asterisk 22 recording fed through the codec and the call tracker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pbx.codec import ActionResult, AmiDecoder, Event, Response, ResponseAssembler
from pbx.tracker import (
    Bridged,
    CallChange,
    CallEnded,
    CallIdBound,
    CallTracker,
    ChannelAnswered,
    ChannelHungUp,
    DialEnded,
    LocalPaired,
    OriginateResult,
    UserEventSeen,
)
from tests.support.recordings import FULL, server_stream

VARIABLE = "ENGINE_CALL_ID"  # the recording's manager.conf channelvars


def replay(tracker: CallTracker) -> Iterator[tuple[Event | ActionResult, list[CallChange]]]:
    """Yield each call event (or finished action) with what the tracker made of it."""
    assembler = ResponseAssembler()
    for item in AmiDecoder().feed(server_stream(FULL)):
        if not isinstance(item, Event | Response):
            continue
        result, event = assembler.feed(item)
        if event is not None:
            yield event, tracker.apply(event)
        if result is not None:
            if result.response.action_id == "csc-1":
                channels = [e for e in result.events if e.name == "CoreShowChannel"]
                yield result, tracker.resync(channels)
            else:
                yield result, []


@pytest.fixture(scope="module")
def changes() -> list[CallChange]:
    return [change for _, made in replay(CallTracker(VARIABLE)) for change in made]


def test_answered_call_is_tracked_with_its_call_id() -> None:
    tracker = CallTracker(VARIABLE)
    assembler = ResponseAssembler()
    for item in AmiDecoder().feed(server_stream(FULL)):
        if isinstance(item, Event) and assembler.feed(item)[1] is not None:
            tracker.apply(item)
            if item.name == "OriginateResponse":
                break  # the first one: orig-answer-1, the call is up
    channels = tracker.channels_for_call("call-0001")
    assert [c.channel for c in channels] == [
        "Local/100@sim-customer-answer-00000000;1",
        "Local/100@sim-customer-answer-00000000;2",
    ]
    one, two = channels
    assert one.local_peer == two.uniqueid
    assert one.linkedid == two.linkedid == "1795333657.0"
    assert one.caller_id_num == "7000"
    by_name = tracker.channel_by_name("Local/100@sim-customer-answer-00000000;2")
    assert by_name is not None
    assert by_name.call_id == "call-0001"


def test_call_ids_bound_then_call_ended(changes: list[CallChange]) -> None:
    bound = [c.uniqueid for c in changes if isinstance(c, CallIdBound) and c.call_id == "call-0001"]
    assert bound == ["1795333657.0", "1795333657.1"]
    hangups = [c for c in changes if isinstance(c, ChannelHungUp) and c.call_id == "call-0001"]
    assert [(c.uniqueid, c.cause) for c in hangups] == [("1795333657.0", 0), ("1795333657.1", 0)]
    assert CallEnded("call-0001", "1795333657.0") in changes


def test_originate_results_are_matched_by_action_id(changes: list[CallChange]) -> None:
    results = {c.action_id: c for c in changes if isinstance(c, OriginateResult)}
    assert {a: (r.ok, r.reason) for a, r in results.items()} == {
        "orig-answer-1": (True, 4),
        "orig-busy-1": (False, 5),
        "orig-congestion-1": (False, 8),
        "orig-noanswer-1": (False, 3),
        "orig-reject-1": (False, 0),
        "orig-badctx-1": (False, 0),
        "orig-agentphone-1": (True, 4),
        "orig-queue-1": (True, 4),
        "orig-queue-abandon": (True, 4),
        "orig-queue-rona": (True, 4),
        "orig-long-1": (True, 4),
        "orig-long-2": (True, 4),
    }
    busy = results["orig-busy-1"]
    assert busy.uniqueid is None  # `Uniqueid: <unknown>`: only the ActionID matches it
    assert busy.channel == "Local/101@sim-customer-busy"
    assert busy.reason_text == "busy"
    assert results["orig-answer-1"].call_id == "call-0001"
    assert results["orig-answer-1"].uniqueid == "1795333657.0"


def test_real_failure_causes_are_on_the_second_half(changes: list[CallChange]) -> None:
    hangups = [c for c in changes if isinstance(c, ChannelHungUp)]
    causes = {c.call_id: c.cause for c in hangups if c.channel.endswith(";2")}
    assert causes["orig-busy-1"] == 17
    assert causes["orig-congestion-1"] == 34
    assert causes["orig-noanswer-1"] == 19
    assert causes["orig-reject-1"] == 21


def test_queued_call_bridge_is_seen_with_the_agent_leg(changes: list[CallChange]) -> None:
    bridged = [c for c in changes if isinstance(c, Bridged) and c.bridge_id.startswith("eccd045c")]
    assert [(c.channel, c.call_id, c.peers) for c in bridged] == [
        ("Local/agent1@sim-agent-00000009;1", "call-q-0001", ()),
        ("Local/5551000@sim-customer-answer-00000008;1", "call-q-0001", ("1795333676.18",)),
    ]
    agent_bound = [c for c in changes if isinstance(c, CallIdBound) and c.uniqueid == "1795333676.18"]
    assert agent_bound == [
        CallIdBound("call-q-0001", "1795333676.18", "Local/agent1@sim-agent-00000009;1", "1795333676.16")
    ]
    ends = [c for c in changes if isinstance(c, DialEnded) and c.dest_uniqueid == "1795333676.18"]
    assert [c.status for c in ends] == ["ANSWER"]


def test_rona_dial_ends_without_answer(changes: list[CallChange]) -> None:
    statuses = [c.status for c in changes if isinstance(c, DialEnded) and c.dest_uniqueid == "1795333686.24"]
    assert statuses == ["NOANSWER", "CANCEL"]


def test_user_events_and_local_pairs(changes: list[CallChange]) -> None:
    user = [c for c in changes if isinstance(c, UserEventSeen)]
    assert len(user) == 12
    assert user[0].name == "SimCustomer"
    assert user[0].headers["Outcome"] == "answered"
    assert user[0].call_id == "call-0001"
    assert len([c for c in changes if isinstance(c, LocalPaired)]) == 15


def test_answers_are_reported_once_per_channel(changes: list[CallChange]) -> None:
    answered = [c.uniqueid for c in changes if isinstance(c, ChannelAnswered)]
    assert len(answered) == len(set(answered))
    assert "1795333657.0" in answered


def test_resync_at_core_show_channels_drops_nothing_live() -> None:
    for made_by, made in replay(CallTracker(VARIABLE)):
        if isinstance(made_by, ActionResult) and made_by.response.action_id == "csc-1":
            assert not [c for c in made if isinstance(c, ChannelHungUp)]
            return
    pytest.fail("no CoreShowChannels in the recording")


def test_everything_is_released_at_the_end() -> None:
    tracker = CallTracker(VARIABLE)
    for _ in replay(tracker):
        pass
    sizes = tracker.sizes()
    assert {k: v for k, v in sizes.items() if k != "recent_hangups"} == {
        "channels": 0,
        "names": 0,
        "groups": 0,
        "call_ids": 0,
        "bridges": 0,
    }
    assert sizes["recent_hangups"] == 32
