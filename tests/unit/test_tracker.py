"""Call tracker rules on small, hand-written event sequences."""

from __future__ import annotations

from pbx.codec import Event, parse_message
from pbx.tracker import (
    Bridged,
    CallChange,
    CallEnded,
    CallIdBound,
    CallTracker,
    ChannelAnswered,
    ChannelHungUp,
    ChannelUp,
    OriginateResult,
    Unbridged,
    UserEventSeen,
)

VAR = "SWITCHBOARD_CALL_ID"


def ev(name: str, *headers: tuple[str, str], **fields: str) -> Event:
    lines = [f"Event: {name}", *(f"{k}: {v}" for k, v in fields.items()), *(f"{k}: {v}" for k, v in headers)]
    event = parse_message("\r\n".join(lines))
    assert isinstance(event, Event)
    return event


def chan(name: str, uid: str, linked: str = "", state: int = 0, call_id: str = "", **extra: str) -> Event:
    return ev(
        name,
        ("ChanVariable", f"{VAR}={call_id}"),
        Channel=f"PJSIP/{uid}",
        ChannelState=str(state),
        CallerIDNum="555",
        CallerIDName="Ann",
        Uniqueid=uid,
        Linkedid=linked or uid,
        **extra,
    )


def kinds(changes: list[CallChange]) -> list[str]:
    return [type(change).__name__ for change in changes]


def one_call(tracker: CallTracker, n: int) -> list[CallChange]:
    """Customer leg with a call id, an agent leg linked to it, a bridge, hangups."""
    cust, agent, call_id, bridge = f"{n}.1", f"{n}.2", f"call-{n}", f"bridge-{n}"
    changes: list[CallChange] = []
    for event in (
        chan("Newchannel", cust),
        ev("VarSet", Uniqueid=cust, Linkedid=cust, Channel=f"PJSIP/{cust}", Variable=VAR, Value=call_id),
        chan("Newstate", cust, state=6, call_id=call_id),
        chan("Newchannel", agent, cust),
        chan("Newstate", agent, cust, state=6),
        chan("BridgeEnter", agent, cust, state=6, BridgeUniqueid=bridge),
        chan("BridgeEnter", cust, state=6, call_id=call_id, BridgeUniqueid=bridge),
        chan("BridgeLeave", agent, cust, state=6, BridgeUniqueid=bridge),
        chan("BridgeLeave", cust, state=6, call_id=call_id, BridgeUniqueid=bridge),
        chan("Hangup", agent, cust, state=6, Cause="16"),
        chan("Hangup", cust, state=6, call_id=call_id, Cause="16"),
    ):
        changes.extend(tracker.apply(event))
    return changes


def test_a_complete_call_reports_its_lifecycle() -> None:
    changes = one_call(CallTracker(), 1)
    assert kinds(changes) == [
        "ChannelUp", "CallIdBound", "ChannelAnswered",
        "ChannelUp", "CallIdBound", "ChannelAnswered",
        "Bridged", "Bridged", "Unbridged", "Unbridged",
        "ChannelHungUp", "ChannelHungUp", "CallEnded",
    ]  # fmt: skip
    assert changes[3] == ChannelUp("1.2", "PJSIP/1.2", "1.1", "call-1")
    assert changes[7] == Bridged("1.1", "PJSIP/1.1", "bridge-1", "call-1", ("1.2",))
    assert changes[-1] == CallEnded("call-1", "1.1")


def test_memory_is_released_after_many_calls() -> None:
    tracker = CallTracker()
    for n in range(2000):
        one_call(tracker, n)
    sizes = tracker.sizes()
    assert sizes.pop("recent_hangups") == 4000
    assert set(sizes.values()) == {0}
    for n in range(2000, 3000):
        one_call(tracker, n)
    assert tracker.sizes()["recent_hangups"] == 4096  # the ring of late-event guards is capped


def test_lookups_by_name_uniqueid_and_call_id() -> None:
    tracker = CallTracker()
    tracker.apply(chan("Newchannel", "7.1", call_id="c-7"))
    tracker.apply(chan("Newchannel", "7.2", "7.1"))
    info = tracker.channel("7.1")
    assert info is not None
    assert (info.channel, info.call_id, info.caller_id_num) == ("PJSIP/7.1", "c-7", "555")
    assert not info.answered
    assert tracker.channel_by_name("PJSIP/7.2") == tracker.channel("7.2")
    assert [c.uniqueid for c in tracker.channels_for_call("c-7")] == ["7.1", "7.2"]
    assert [c.uniqueid for c in tracker.channels_in_group("7.1")] == ["7.1", "7.2"]
    assert tracker.call_ids() == ["c-7"]
    assert tracker.channel("nope") is None
    assert tracker.channel_by_name("nope") is None
    assert tracker.channels_for_call("nope") == []


def test_inherited_variable_names_are_recognised() -> None:
    tracker = CallTracker()
    tracker.apply(chan("Newchannel", "1.1"))
    changes = tracker.apply(ev("VarSet", Uniqueid="1.1", Linkedid="1.1", Variable=f"__{VAR}", Value="c-1"))
    assert changes == [CallIdBound("c-1", "1.1", "PJSIP/1.1", "1.1")]
    assert tracker.apply(ev("VarSet", Uniqueid="1.1", Linkedid="1.1", Variable=VAR, Value="c-1")) == []
    assert tracker.apply(ev("VarSet", Uniqueid="1.1", Linkedid="1.1", Variable="OTHER", Value="x")) == []


def test_originate_response_binds_the_call_id() -> None:
    tracker = CallTracker()
    tracker.apply(chan("Newchannel", "1.1"))
    event = ev(
        "OriginateResponse",
        ("ChanVariable(PJSIP/1.1)", f"{VAR}=c-9"),
        ActionID="a-9", Response="Success", Channel="PJSIP/1.1", Reason="4", Uniqueid="1.1",
    )  # fmt: skip
    changes = tracker.apply(event)
    assert changes == [
        CallIdBound("c-9", "1.1", "PJSIP/1.1", "1.1"),
        OriginateResult("a-9", True, 4, "1.1", "PJSIP/1.1", "c-9"),
    ]


def test_failed_originate_is_reported_by_action_id_only() -> None:
    event = ev(
        "OriginateResponse",
        ActionID="a-1", Response="Failure", Channel="PJSIP/x@trunk", Reason="8", Uniqueid="<unknown>",
    )  # fmt: skip
    (result,) = CallTracker().apply(event)
    assert result == OriginateResult("a-1", False, 8, None, "PJSIP/x@trunk", None)
    assert result.reason_text == "congestion"


def test_channels_first_seen_mid_call_are_created() -> None:
    tracker = CallTracker()
    changes = tracker.apply(chan("Newstate", "3.1", state=6, call_id="c-3"))
    assert kinds(changes) == ["ChannelUp", "CallIdBound", "ChannelAnswered"]
    assert tracker.apply(chan("Newstate", "3.1", state=6, call_id="c-3")) == []


def test_late_events_do_not_bring_a_hung_up_channel_back() -> None:
    tracker = CallTracker()
    tracker.apply(chan("Newchannel", "1.1"))
    tracker.apply(chan("Hangup", "1.1", Cause="16"))
    assert tracker.apply(chan("Newstate", "1.1", state=6)) == []
    assert tracker.apply(chan("Hangup", "1.1", Cause="16")) == []
    assert tracker.sizes()["channels"] == 0


def test_hangup_of_an_unknown_channel_is_reported_only_when_it_is_ours() -> None:
    tracker = CallTracker()
    assert tracker.apply(chan("Hangup", "9.1", Cause="16")) == []
    (hangup,) = tracker.apply(chan("Hangup", "9.2", call_id="c-9", Cause="17", **{"Cause-txt": "User busy"}))
    assert hangup == ChannelHungUp("9.2", "PJSIP/9.2", "9.2", "c-9", 17, "User busy")
    assert tracker.sizes()["channels"] == 0


def test_linkedid_change_moves_the_channel_to_the_other_call() -> None:
    tracker = CallTracker()
    tracker.apply(chan("Newchannel", "1.1", call_id="c-1"))
    tracker.apply(chan("Newchannel", "2.1"))
    changes = tracker.apply(chan("BridgeEnter", "2.1", "1.1", BridgeUniqueid="b"))
    assert CallIdBound("c-1", "2.1", "PJSIP/2.1", "1.1") in changes
    assert [c.uniqueid for c in tracker.channels_in_group("1.1")] == ["1.1", "2.1"]
    assert tracker.channels_in_group("2.1") == []
    assert tracker.sizes()["groups"] == 1


def test_rename_updates_the_name_lookup() -> None:
    tracker = CallTracker()
    tracker.apply(chan("Newchannel", "1.1"))
    tracker.apply(ev("Rename", Channel="PJSIP/1.1", Newname="PJSIP/1.1<ZOMBIE>", Uniqueid="1.1"))
    assert tracker.channel_by_name("PJSIP/1.1") is None
    info = tracker.channel_by_name("PJSIP/1.1<ZOMBIE>")
    assert info is not None
    assert info.uniqueid == "1.1"


def test_user_event_carries_headers_and_call_id() -> None:
    tracker = CallTracker()
    tracker.apply(chan("Newchannel", "1.1", call_id="c-1"))
    (seen,) = tracker.apply(chan("UserEvent", "1.1", call_id="c-1", UserEvent="Inbound", Tier="vip"))
    assert isinstance(seen, UserEventSeen)
    assert (seen.name, seen.uniqueid, seen.call_id) == ("Inbound", "1.1", "c-1")
    assert seen.headers["Tier"] == "vip"
    (bare,) = tracker.apply(ev("UserEvent", UserEvent="Ping"))
    assert bare == UserEventSeen("Ping", bare.headers, None, None)


def test_unknown_and_uninteresting_events_change_nothing() -> None:
    tracker = CallTracker()
    assert tracker.apply(ev("Newexten", Uniqueid="1.1")) == []
    assert tracker.apply(ev("SomethingFromAsterisk30")) == []
    assert tracker.apply(ev("Hangup")) == []
    assert tracker.sizes()["channels"] == 0


def test_resync_drops_gone_channels_and_adds_present_ones() -> None:
    tracker = CallTracker()
    tracker.apply(chan("Newchannel", "1.1", call_id="c-1"))
    tracker.apply(chan("BridgeEnter", "1.1", call_id="c-1", BridgeUniqueid="b-1"))
    tracker.apply(chan("Newchannel", "2.1"))
    present = [
        chan("CoreShowChannel", "2.1", state=6, BridgeId="b-2"),
        chan("CoreShowChannel", "3.1", state=6, call_id="c-3", BridgeId="b-2"),
    ]
    changes = tracker.resync(present)
    assert changes[:2] == [
        ChannelHungUp("1.1", "PJSIP/1.1", "1.1", "c-1", None, "gone at resync"),
        CallEnded("c-1", "1.1"),
    ]
    assert ChannelAnswered("2.1", "PJSIP/2.1", None) in changes
    assert Bridged("2.1", "PJSIP/2.1", "b-2", None, ()) in changes
    assert ChannelUp("3.1", "PJSIP/3.1", "3.1", "c-3") in changes
    assert Bridged("3.1", "PJSIP/3.1", "b-2", "c-3", ("2.1",)) in changes
    assert tracker.sizes() == {
        "channels": 2, "names": 2, "groups": 2, "call_ids": 1, "bridges": 1, "recent_hangups": 1,
    }  # fmt: skip
    again = tracker.resync([chan("CoreShowChannel", "2.1", state=6, BridgeId="")])
    assert Unbridged("2.1", "PJSIP/2.1", "b-2", None) in again
    assert tracker.resync([chan("CoreShowChannel", "2.1", state=6, BridgeId="")]) == []


def test_a_second_bridge_enter_leaves_the_first_bridge() -> None:
    tracker = CallTracker()
    tracker.apply(chan("Newchannel", "1.1"))
    tracker.apply(chan("BridgeEnter", "1.1", BridgeUniqueid="a"))
    changes = tracker.apply(chan("BridgeEnter", "1.1", BridgeUniqueid="b"))
    assert kinds(changes) == ["Unbridged", "Bridged"]
    assert tracker.sizes()["bridges"] == 1


def test_resync_keeps_channels_born_after_the_snapshot_was_asked_for() -> None:
    tracker = CallTracker()
    tracker.apply(chan("Newchannel", "1.1"))
    mark = tracker.begin_resync()  # CoreShowChannels goes out now...
    tracker.apply(chan("Newchannel", "2.1", call_id="c-2"))  # ...and this arrives before its answer
    changes = tracker.resync([], since=mark)
    assert [c.uniqueid for c in changes if isinstance(c, ChannelHungUp)] == ["1.1"]
    assert tracker.channel("2.1") is not None


def test_an_originate_response_before_its_newchannel_creates_the_channel() -> None:
    """Asterisk sends OriginateResponse straight, Newchannel through Stasis: it can come first."""
    tracker = CallTracker()
    event = ev(
        "OriginateResponse",
        ("ChanVariable(PJSIP/1.1)", f"{VAR}=c-9"),
        ActionID="a-9", Response="Success", Channel="PJSIP/1.1", Reason="4", Uniqueid="1.1",
    )  # fmt: skip
    changes = tracker.apply(event)
    assert kinds(changes) == ["ChannelUp", "CallIdBound", "OriginateResult"]
    assert changes[-1] == OriginateResult("a-9", True, 4, "1.1", "PJSIP/1.1", "c-9")
    assert tracker.apply(chan("Newchannel", "1.1")) == []
    assert [c.uniqueid for c in tracker.channels_for_call("c-9")] == ["1.1"]
    tracker.apply(chan("Hangup", "1.1", Cause="16"))
    late = ev(
        "OriginateResponse",
        ActionID="a-9",
        Response="Success",
        Channel="PJSIP/1.1",
        Reason="4",
        Uniqueid="1.1",
    )
    assert kinds(tracker.apply(late)) == ["OriginateResult"], "a hung-up channel is not brought back"
    assert tracker.sizes()["channels"] == 0


def test_a_hangup_before_the_bridge_leave_releases_the_bridge() -> None:
    tracker = CallTracker()
    for uid in ("1.1", "1.2"):
        tracker.apply(chan("Newchannel", uid, "1.1", call_id="c-1"))
        tracker.apply(chan("BridgeEnter", uid, "1.1", state=6, call_id="c-1", BridgeUniqueid="b-1"))
    hung = tracker.apply(chan("Hangup", "1.1", state=6, call_id="c-1", Cause="16"))
    assert kinds(hung) == ["ChannelHungUp"]
    assert tracker.apply(chan("BridgeLeave", "1.1", state=6, call_id="c-1", BridgeUniqueid="b-1")) == []
    assert kinds(tracker.apply(chan("BridgeLeave", "1.2", "1.1", state=6, BridgeUniqueid="b-1"))) == [
        "Unbridged"
    ]
    tracker.apply(chan("Hangup", "1.2", "1.1", state=6, Cause="16"))
    assert (tracker.sizes()["bridges"], tracker.sizes()["channels"]) == (0, 0)
