"""Call-control actions on live channels: listings, variables, Hangup, Bridge, Redirect."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pbx.codec import AmiDecoder, Event
from pbx.sim import CustomerScript, SimConfig, SimulatedPbx
from pbx.sim.rawclient import RawAmiClient
from tests.support.recordings import load_steps

pytestmark = pytest.mark.integration

PARKED = CustomerScript(outcome="answer", ring_s=0, talk_s=3600, patience_s=3600)


def recorded_event(title_start: str, name: str) -> Event:
    step = next(step for step in load_steps() if step.title.startswith(title_start))
    items = AmiDecoder(expect_banner=False).feed(step.server_bytes + b"\r\n\r\n")
    return next(item for item in items if isinstance(item, Event) and item.name == name)


def keys(event: Event) -> list[str]:
    """Header names, without the per-installation ChanVariable list and Timestamp."""
    return [key for key, _ in event.headers if not key.startswith("ChanVariable") and key != "Timestamp"]


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedPbx]:
    config = SimConfig(
        customer_overrides={"300": PARKED, "301": PARKED},
        extra_dialplan={"engine-util": ("Answer()", "MusicOnHold(default)", "Hangup()")},
    )
    pbx = SimulatedPbx(config, seed=3)
    await pbx.start()
    yield pbx
    await pbx.stop()


@pytest.fixture
async def ami(sim: SimulatedPbx) -> AsyncIterator[RawAmiClient]:
    client = await RawAmiClient.connect("127.0.0.1", sim.port)
    await client.login("switchboard", "switchboard-secret")
    yield client
    await client.close()


async def park(ami: RawAmiClient, number: str) -> str:
    """An answered customer whose ;1 runs Wait(3600); returns the ;1 name."""
    fields = [
        ("Async", "true"),
        ("Channel", f"Local/{number}@customers"),
        ("Application", "Wait"),
        ("Data", "3600"),
        ("Variable", f"SWITCHBOARD_CALL_ID=call-{number}"),
    ]
    response = await ami.request("Originate", fields)
    origin = await ami.wait_event("OriginateResponse", lambda e: e.get("ActionID") == response.action_id)
    assert origin.get("Reason") == "4"
    return origin.get("Channel") or ""


async def test_core_show_channels_lists_every_half(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    first, second = await park(ami, "300"), await park(ami, "301")
    response, events = await ami.request_list("CoreShowChannels")
    assert (response.message, response.get("EventList")) == ("Channels will follow", "start")
    names = [event.get("Channel") for event in events[:-1]]
    assert set(names) == {first, first[:-1] + "2", second, second[:-1] + "2"}
    complete = events[-1]
    assert [k for k, _ in complete.headers] == ["Event", "ActionID", "EventList", "ListItems"]
    assert complete.get("ListItems") == "4"
    listed = next(event for event in events if event.get("Channel") == first)
    assert keys(listed) == keys(recorded_event("CoreShowChannels / Status", "CoreShowChannel"))
    assert (listed.get("Application"), listed.get("ApplicationData")) == ("Wait", "3600")
    assert listed.chan_variables()["SWITCHBOARD_CALL_ID"] == "call-300"
    assert set(sim.channels) == set(names)


async def test_status_of_one_channel(ami: RawAmiClient) -> None:
    first = await park(ami, "300")
    response, events = await ami.request_list("Status", [("Channel", first)])
    assert response.message == "Channel status will follow"
    status, complete = events
    assert keys(status) == keys(recorded_event("CoreShowChannels / Status", "Status"))
    assert (complete.get("ListItems"), complete.get("Items")) == ("1", "1")
    missing = await ami.request("Status", [("Channel", "Local/none@x-00000000;1")])
    assert (missing.status, missing.message) == ("Error", "No such channel")


async def test_setvar_getvar(ami: RawAmiClient) -> None:
    first = await park(ami, "300")
    set_reply = await ami.request(
        "Setvar", [("Channel", first), ("Variable", "ENGINE_TAG"), ("Value", "hello")]
    )
    assert set_reply.message == "Variable Set"
    varset = await ami.wait_event("VarSet", lambda e: e.get("Variable") == "ENGINE_TAG")
    assert varset.get("Channel") == first
    got = await ami.request("Getvar", [("Channel", first), ("Variable", "ENGINE_TAG")])
    assert [k for k, _ in got.headers] == ["Response", "ActionID", "Variable", "Value"]
    assert got.get("Value") == "hello"
    other_half = await ami.request(
        "Getvar", [("Channel", first[:-1] + "2"), ("Variable", "SWITCHBOARD_CALL_ID")]
    )
    assert other_half.get("Value") == "call-300"
    context = await ami.request("Getvar", [("Channel", first), ("Variable", "CHANNEL(context)")])
    assert context.get("Value") == "customers"
    missing = await ami.request("Getvar", [("Channel", "Local/nope@x-00000000;1"), ("Variable", "X")])
    assert missing.message == "No such channel"
    assert (await ami.request("Setvar", [("Channel", first)])).message == "No variable specified"
    await ami.request("Setvar", [("Variable", "GLOBAL_ONE"), ("Value", "1")])
    assert (await ami.request("Getvar", [("Variable", "GLOBAL_ONE")])).get("Value") == "1"


async def test_hangup_by_name_takes_both_halves(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    first = await park(ami, "300")
    start = len(ami.events)
    response = await ami.request("Hangup", [("Channel", first), ("Cause", "16")])
    assert response.message == "Channel Hungup"
    await ami.wait_event("Hangup", lambda e: (e.get("Channel") or "").endswith(";2"), since=start)
    sequence = [(e.name, (e.get("Channel") or "")[-2:], e.get("Cause")) for e in ami.events[start:]]
    assert sequence == [
        ("SoftHangupRequest", ";1", "16"),
        ("HangupRequest", ";2", "16"),
        ("Hangup", ";1", "16"),
        ("SoftHangupRequest", ";2", "16"),
        ("Hangup", ";2", "16"),
    ]
    assert sim.channels == {}
    missing = await ami.request("Hangup", [("Channel", "Local/none@x-0000dead;1")])
    assert (missing.status, missing.message) == ("Error", "No such channel")


async def test_hangup_by_regex_lists_the_channels(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    await park(ami, "300")
    second = await park(ami, "301")
    response, events = await ami.request_list("Hangup", [("Channel", "/^Local\\/301@/")])
    assert (response.get("EventList"), response.message) == ("start", "Channels hung up will follow")
    hung = events[:-1]
    assert [event.name for event in hung] == ["ChannelHungup", "ChannelHungup"]
    assert [k for k, _ in hung[0].headers] == ["Event", "Channel", "ActionID"]
    assert {event.get("Channel") for event in hung} == {second, second[:-1] + "2"}
    assert events[-1].name == "ChannelsHungupListComplete" and events[-1].get("ListItems") == "2"
    await sim.wait_for_channel_count(2)
    bad = await ami.request("Hangup", [("Channel", "/[unclosed/")])
    assert bad.message == "Regex compile failed on: /[unclosed/"
    assert (await ami.request("Hangup", [("Channel", "/x")])).message.startswith("Regex format invalid")


async def test_bridge_then_redirect_pulls_one_out(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    first, second = await park(ami, "300"), await park(ami, "301")
    start = len(ami.events)
    response = await ami.request("Bridge", [("Channel1", first), ("Channel2", second), ("Tone", "no")])
    assert response.message == "Channels have been bridged"
    enter = await ami.wait_event("BridgeEnter", lambda e: e.get("Channel") == second, since=start)
    assert keys(enter) == keys(recorded_event("Bridge Local/300", "BridgeEnter"))
    create = next(e for e in ami.events[start:] if e.name == "BridgeCreate")
    assert keys(create) == keys(recorded_event("Bridge Local/300", "BridgeCreate"))
    assert enter.get("BridgeNumChannels") == "2"
    assert enter.get("Linkedid") == sim.channels[first].uniqueid  # the oldest Linkedid wins

    start = len(ami.events)
    redirect = await ami.request(
        "Redirect", [("Channel", first), ("Context", "engine-util"), ("Exten", "wait"), ("Priority", "1")]
    )
    assert redirect.message == "Redirect successful"
    await ami.wait_event("BridgeDestroy", since=start)
    moh = await ami.wait_event("MusicOnHoldStart", lambda e: e.get("Channel") == first, since=start)
    assert (moh.get("Context"), moh.get("Class")) == ("engine-util", "default")
    names = [(e.name, e.get("Channel")) for e in ami.events[start:] if e.name.startswith("Bridge")]
    assert names == [("BridgeLeave", first), ("BridgeLeave", second), ("BridgeDestroy", None)]
    # The other member ran an Originate's Application: with its bridge gone, it ends.
    await ami.wait_event("Hangup", lambda e: e.get("Channel") == second, since=start)


async def test_redirect_the_second_half(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    first = await park(ami, "300")
    second_half = first[:-1] + "2"
    fields = [("Channel", second_half), ("Context", "engine-util"), ("Exten", "hold"), ("Priority", "1")]
    assert (await ami.request("Redirect", fields)).message == "Redirect successful"
    moh = await ami.wait_event("MusicOnHoldStart", lambda e: e.get("Channel") == second_half)
    assert moh.get("Exten") == "hold"
    assert sim.channels[first].app == "Wait"


@pytest.mark.parametrize(
    ("action", "fields", "message"),
    [
        ("Bridge", [("Channel1", "Local/a")], "Missing channel parameter in request"),
        ("Bridge", [("Channel1", "Local/a"), ("Channel2", "Local/b")], "Channel1 does not exist: Local/a"),
        ("Redirect", [("Context", "x"), ("Exten", "s"), ("Priority", "1")], "Channel not specified"),
        ("Redirect", [("Channel", "Local/a"), ("Exten", "s"), ("Priority", "1")], "Context not specified"),
        (
            "Redirect",
            [("Channel", "Local/a"), ("Context", "x"), ("Exten", "s"), ("Priority", "one")],
            "Priority is invalid",
        ),
        (
            "Redirect",
            [("Channel", "Local/a"), ("Context", "x"), ("Exten", "s"), ("Priority", "1")],
            "Channel does not exist: Local/a",
        ),
        ("Hangup", [], "No channel specified"),
        ("Getvar", [], "No variable specified"),
    ],
)
async def test_call_action_errors(
    ami: RawAmiClient, action: str, fields: list[tuple[str, str]], message: str
) -> None:
    response = await ami.request(action, fields)
    assert (response.status, response.message) == ("Error", message)


async def test_user_event_action(ami: RawAmiClient) -> None:
    response = await ami.request("UserEvent", [("UserEvent", "EngineHello"), ("Shift", "morning")])
    assert response.message == "Event Sent"
    event = await ami.wait_event("UserEvent", lambda e: e.get("UserEvent") == "EngineHello")
    assert [k for k, _ in event.headers] == [
        "Event",
        "Privilege",
        "Timestamp",
        "UserEvent",
        "ActionID",
        "Shift",
    ]
    assert event.get("Privilege") == "user,all" and event.get("Shift") == "morning"
