"""Event builders against the recorded Asterisk 22 events: same names, order and values."""

from __future__ import annotations

import random

import pytest

from pbx.codec import AmiDecoder, Event
from pbx.sim.channels import Bridge
from pbx.sim.clock import ManualClock
from pbx.sim.config import SimConfig
from pbx.sim.core import PbxCore
from pbx.sim.events import EventFactory, Headers, cause_text, list_complete
from tests.support.recordings import channel_from, load_steps, without_timestamp

RECORDED_VARS = ("SIM_TALK", "SIM_ROLE", "ENGINE_CALL_ID")
FACTORY = EventFactory(RECORDED_VARS)


def _events() -> list[Event]:
    found: list[Event] = []
    for step in load_steps():
        items = AmiDecoder(expect_banner=False).feed(step.server_bytes + b"\r\n\r\n")
        found.extend(item for item in items if isinstance(item, Event))
    return found


EVENTS = _events()


def recorded(name: str, **match: str) -> Event:
    return next(e for e in EVENTS if e.name == name and all(e.get(k) == v for k, v in match.items()))


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("Newchannel", {"Uniqueid": "1795333657.0"}),
        ("Newstate", {"ChannelStateDesc": "Busy"}),
        ("NewCallerid", {"Uniqueid": "1795333657.1"}),
        ("NewConnectedLine", {"Uniqueid": "1795333657.0"}),
        ("MusicOnHoldStop", {}),
    ],
)
def test_channel_events_match(name: str, match: dict[str, str]) -> None:
    event = recorded(name, **match)
    builders = {
        "Newchannel": FACTORY.newchannel,
        "Newstate": FACTORY.newstate,
        "NewCallerid": FACTORY.new_callerid,
        "NewConnectedLine": FACTORY.new_connected_line,
        "MusicOnHoldStop": FACTORY.moh_stop,
    }
    assert builders[name](channel_from(event)) == without_timestamp(event)


@pytest.mark.parametrize("cause", ["0", "16", "17", "19", "21", "34"])
def test_hangup_matches(cause: str) -> None:
    event = recorded("Hangup", Cause=cause)
    assert FACTORY.hangup(channel_from(event), int(cause)) == without_timestamp(event)
    assert cause_text(int(cause)) == event.get("Cause-txt")


def test_requests_varset_newexten_moh_and_user_event_match() -> None:
    soft = recorded("SoftHangupRequest")
    assert FACTORY.soft_hangup_request(channel_from(soft), 16) == without_timestamp(soft)
    request = recorded("HangupRequest", Cause="19")
    assert FACTORY.hangup_request(channel_from(request), 19) == without_timestamp(request)
    varset = recorded("VarSet", Variable="SIM_ROLE")
    built = FACTORY.varset(channel_from(varset), "SIM_ROLE", "customer")
    assert built == without_timestamp(varset)
    newexten = recorded("Newexten", Application="Wait")
    channel = channel_from(newexten)
    built = FACTORY.newexten(channel, "Wait", newexten.get("AppData") or "")
    assert built == without_timestamp(newexten)
    moh = recorded("MusicOnHoldStart")
    assert FACTORY.moh_start(channel_from(moh), "default") == without_timestamp(moh)
    user = recorded("UserEvent", Outcome="answered")
    body = [("Exten", user.get("Exten") or ""), ("Outcome", "answered")]
    assert FACTORY.user_event(channel_from(user), "SimCustomer", body) == without_timestamp(user)


def test_dial_events_match() -> None:
    begin = recorded("DialBegin", DestUniqueid="1795333657.0")
    dest = channel_from(begin, "Dest")
    assert FACTORY.dial_begin(None, dest, "100@sim-customer-answer") == without_timestamp(begin)
    end = recorded("DialEnd", DialStatus="ANSWER", Channel="Local/5551000@sim-customer-answer-00000008;1")
    built = FACTORY.dial_end(channel_from(end), channel_from(end, "Dest"), "ANSWER")
    assert built == without_timestamp(end)
    state = recorded("DialState")
    assert FACTORY.dial_state(None, channel_from(state, "Dest"), "RINGING") == without_timestamp(state)


def test_local_bridge_matches() -> None:
    event = recorded("LocalBridge", LocalOneUniqueid="1795333657.0")
    one, two = channel_from(event, "LocalOne"), channel_from(event, "LocalTwo")
    assert FACTORY.local_bridge(one, two) == without_timestamp(event)


def test_originate_responses_match() -> None:
    success = recorded("OriginateResponse", ActionID="orig-answer-1")
    channel = channel_from(recorded("Newstate", Uniqueid="1795333657.0", ChannelStateDesc="Up"))
    built = FACTORY.originate_response(
        "orig-answer-1", channel, "", (("Application", "Wait"), ("Data", "2")), 4, ("7000", "Engine")
    )
    assert built == without_timestamp(success)
    failure = recorded("OriginateResponse", ActionID="orig-busy-1")
    built = FACTORY.originate_response(
        "orig-busy-1",
        None,
        "Local/101@sim-customer-busy",
        (("Application", "Wait"), ("Data", "2")),
        5,
        ("", ""),
    )
    assert built == without_timestamp(failure)
    by_context = recorded("OriginateResponse", ActionID="orig-queue-1")
    queued = channel_from(recorded("Newstate", Uniqueid="1795333676.16", ChannelStateDesc="Up"))
    built = FACTORY.originate_response(
        "orig-queue-1",
        queued,
        "",
        (("Context", "engine-queue"), ("Exten", "support")),
        4,
        ("5551000", "Customer"),
    )
    assert built == without_timestamp(by_context)


def test_bridge_events_match() -> None:
    create = recorded("BridgeCreate", BridgeUniqueid="49b78960-7f1e-4298-84f1-ef220171b88c")
    bridge = Bridge("49b78960-7f1e-4298-84f1-ef220171b88c", 0.0)
    assert FACTORY.bridge_create(bridge) == without_timestamp(create)
    enter = recorded("BridgeEnter", BridgeNumChannels="1", BridgeUniqueid=bridge.id)
    channel = channel_from(enter)
    bridge.members.append(channel)
    assert FACTORY.bridge_enter(bridge, channel) == without_timestamp(enter)
    leave = recorded("BridgeLeave", BridgeNumChannels="0", BridgeUniqueid=bridge.id)
    bridge.members.clear()
    assert FACTORY.bridge_leave(bridge, channel_from(leave)) == without_timestamp(leave)
    destroy = recorded("BridgeDestroy", BridgeUniqueid=bridge.id)
    assert FACTORY.bridge_destroy(bridge) == without_timestamp(destroy)


def test_listing_events_match() -> None:
    listed = recorded("CoreShowChannel", Channel="Local/300@sim-customer-answer-0000000e;1")
    channel = channel_from(listed)
    channel.app, channel.app_data, channel.created = "Wait", "60", 100.0
    assert FACTORY.core_show_channel(channel, "csc-1", 100.4) == list(listed.headers)
    status = recorded("Status")
    channel.app_data = "60"
    assert FACTORY.status(channel, "status-1", 100.4) == list(status.headers)
    complete = recorded("CoreShowChannelsComplete")
    assert list_complete("CoreShowChannelsComplete", "csc-1", 4) == list(complete.headers)
    status_complete = recorded("StatusComplete")
    assert list_complete("StatusComplete", "status-1", 1, ("Items", "1")) == list(status_complete.headers)


def test_the_core_stamps_events_like_timestampevents() -> None:
    """A fresh Local pair at the recorded instant gives the recorded Newchannel, byte for byte."""
    sink: list[Headers] = []
    clock = ManualClock(start=1795333657.647082)
    core = PbxCore(SimConfig(channelvars=RECORDED_VARS), clock, random.Random(0), sink.append)
    one, _ = core.channels.new_local_pair("100", "sim-customer-answer")
    core.emit(core.events.newchannel(one))
    assert sink[0] == list(recorded("Newchannel", Uniqueid="1795333657.0").headers)
    no_stamp = PbxCore(SimConfig(timestamp_events=False), clock, random.Random(0), sink.append)
    no_stamp.emit(no_stamp.events.newchannel(one))
    assert "Timestamp" not in dict(sink[1])
