"""Fault injection: unanswered actions, cut connections, garbage, and the waits tests rely on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pbx.codec import Event
from pbx.sim import CustomerScript, SimConfig, SimTimeoutError, SimulatedPbx
from pbx.sim.rawclient import RawAmiClient

pytestmark = pytest.mark.integration

ORIGINATE = [
    ("Async", "true"),
    ("Channel", "PJSIP/+36301234567@trunk"),
    ("Context", "switchboard-outbound"),
    ("Exten", "s"),
    ("Priority", "1"),
    ("Variable", "SWITCHBOARD_CALL_ID=call-9"),
]


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedPbx]:
    pbx = SimulatedPbx(SimConfig(time_scale=20, customer_overrides={"+36301234567": "answer"}), seed=5)
    await pbx.start()
    yield pbx
    await pbx.stop()


@pytest.fixture
async def ami(sim: SimulatedPbx) -> AsyncIterator[RawAmiClient]:
    client = await RawAmiClient.connect("127.0.0.1", sim.port)
    await client.login("switchboard", "switchboard-secret")
    yield client
    await client.close()


async def test_silence_never_answers_and_places_no_call(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    sim.fail_next("Originate", mode="silence")
    with pytest.raises(SimTimeoutError):
        await ami.request("Originate", ORIGINATE, timeout=0.3)
    assert (await ami.request("Ping")).ok  # the session goes on
    assert sim.originated_numbers() == ["+36301234567"]
    assert sim.channels == {}
    assert (await ami.request("Originate", ORIGINATE)).ok  # only the next one was affected


async def test_silence_with_execute_places_the_call_without_answering(
    sim: SimulatedPbx, ami: RawAmiClient
) -> None:
    sim.fail_next("Originate", mode="silence", execute=True)
    action_id = ami.send("Originate", ORIGINATE)
    answered = await ami.wait_event(
        "UserEvent", lambda e: e.get("UserEvent") == "SwitchboardOutboundAnswered"
    )
    assert answered.get("CallID") == "call-9"
    assert not any(getattr(m, "status", None) and m.action_id == action_id for m in ami.messages)


async def test_close_drops_the_socket_before_answering(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    sim.fail_next("Originate", mode="close")
    ami.send("Originate", ORIGINATE)
    assert await ami.wait_closed()
    assert len(sim.originated_numbers()) == 1
    other = await RawAmiClient.connect("127.0.0.1", sim.port)  # the server still listens
    assert (await other.login("switchboard", "switchboard-secret")).ok
    await other.close()


async def test_garbage_instead_of_an_answer(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    sim.fail_next("ping", mode="garbage")
    ami.send("Ping")
    pong = await ami.request("Ping")
    assert pong.ok
    assert ami.malformed  # the garbage reached the client as undecodable bytes


async def test_drop_connections_keeps_listening(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    await sim.drop_connections()
    assert await ami.wait_closed()
    again = await RawAmiClient.connect("127.0.0.1", sim.port)
    assert (await again.login("switchboard", "switchboard-secret")).ok
    await again.close()


async def test_drop_connections_abandons_a_waiting_sync_originate(
    sim: SimulatedPbx, ami: RawAmiClient
) -> None:
    fields = [
        ("Async", "false"),
        ("Channel", "Local/5@sim-customer-noanswer"),
        ("Application", "Wait"),
        ("Timeout", "600000"),
    ]
    ami.send("Originate", fields)
    await sim.wait_for_action("Originate")
    await sim.wait_for_channel_count(2)
    await sim.drop_connections()
    assert await ami.wait_closed()


async def test_send_raw_reaches_every_client(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    await sim.send_raw(b"Event: Bogus\r\nWhat: ever\r\n\r\n")
    bogus = await ami.wait_event("Bogus")
    assert bogus.get("What") == "ever"


async def test_waits_time_out_with_a_clear_error(sim: SimulatedPbx) -> None:
    with pytest.raises(SimTimeoutError, match="no action Originate"):
        await sim.wait_for_action("Originate", timeout=0.05)
    with pytest.raises(TimeoutError):
        await sim.wait_for_event("Hangup", timeout=0.05)
    with pytest.raises(SimTimeoutError):
        await sim.wait_for_channel_count(3, timeout=0.05)


async def test_wait_for_action_and_event(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    ami.send("Originate", ORIGINATE)
    action = await sim.wait_for_action("Originate", lambda a: "trunk" in (a.get("Channel") or ""))
    assert action.get("Channel") == "PJSIP/+36301234567@trunk"
    since = sim.event_count
    event = await sim.wait_for_event("UserEvent", lambda e: e.get("CallID") == "call-9")
    assert event.get("UserEvent") == "SwitchboardOutboundAnswered"
    assert since < sim.event_count and event in sim.events
    with pytest.raises(ValueError, match="unknown failure mode"):
        sim.fail_next("Ping", mode="explode")  # type: ignore[arg-type]


async def test_vanish_before_a_bridge_hangs_up_its_channel2_and_asterisk_refuses_the_bridge() -> None:
    """The phone on Channel2 hangs up while the Bridge is on its way: its Hangup reaches the client
    first, then the Bridge's error, worded as manager.c's; Channel1 stays where it was."""
    on_hold = CustomerScript(outcome="answer", ring_s=0.0, patience_s=600.0)
    sim = SimulatedPbx(SimConfig(time_scale=20, customer_overrides={"+36301234567": on_hold}), seed=5)
    await sim.start()
    ami = await RawAmiClient.connect("127.0.0.1", sim.port)
    try:
        await ami.login("switchboard", "switchboard-secret")
        for call_id in ("call-1", "call-2"):
            ami.send("Originate", [*ORIGINATE[:-1], ("Variable", f"SWITCHBOARD_CALL_ID={call_id}")])
            await sim.wait_for_event("UserEvent", lambda e, wanted=call_id: e.get("CallID") == wanted)
        one, two = sorted(sim.channels)
        sim.vanish_before("Bridge")
        refused = await ami.request("Bridge", [("Channel1", one), ("Channel2", two)])
        assert not refused.ok and refused.message == f"Channel2 does not exist: {two}"
        hangups = [i for i, m in enumerate(ami.messages) if isinstance(m, Event) and m.name == "Hangup"]
        assert [ami.messages[i].get("Channel") for i in hangups] == [two]
        assert hangups[0] < ami.messages.index(refused), "the phone's hang-up is seen first"
        assert list(sim.channels) == [one], "only Channel2's phone hung up"
        again = await ami.request("Bridge", [("Channel1", one), ("Channel2", one)])
        assert again.message == f"Unable to add Channel2 to bridge: {one}", "only the next Bridge"
    finally:
        await ami.close()
        await sim.stop()
