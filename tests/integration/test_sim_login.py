"""Connecting and logging in to the simulated PBX over TCP, as to Asterisk 22."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pbx.codec import Event, Response
from pbx.sim import SimConfig, SimulatedPbx
from pbx.sim.rawclient import RawAmiClient

pytestmark = pytest.mark.integration

USER, SECRET = "switchboard", "switchboard-secret"


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedPbx]:
    pbx = SimulatedPbx(SimConfig(), seed=1)
    await pbx.start()
    yield pbx
    await pbx.stop()


@pytest.fixture
async def client(sim: SimulatedPbx) -> AsyncIterator[RawAmiClient]:
    raw = await RawAmiClient.connect("127.0.0.1", sim.port)
    yield raw
    await raw.close()


async def test_banner_and_plain_login_then_fully_booted(client: RawAmiClient) -> None:
    assert client.banner == "11.0.0"
    response = await client.login(USER, SECRET)
    assert response.headers[0] == ("Response", "Success")
    assert response.message == "Authentication accepted"
    booted = await client.wait_event("FullyBooted")
    assert [key for key, _ in booted.headers] == ["Event", "Privilege", "Uptime", "LastReload", "Status"]
    assert booted.get("Status") == "Fully Booted"


async def test_md5_challenge_login(client: RawAmiClient) -> None:
    challenge = await client.request("Challenge", [("AuthType", "MD5")])
    assert challenge.ok and (challenge.get("Challenge") or "").isdigit()
    response = await client.login_md5(USER, SECRET)
    assert response.ok, response.message


async def test_md5_with_a_wrong_key_fails_and_closes(client: RawAmiClient) -> None:
    await client.request("Challenge", [("AuthType", "MD5")])
    response = await client.request("Login", [("AuthType", "MD5"), ("Username", USER), ("Key", "0" * 32)])
    assert response.message == "Authentication failed"
    assert await client.wait_closed()


async def test_challenge_needs_md5(client: RawAmiClient) -> None:
    response = await client.request("Challenge", [("AuthType", "plain")])
    assert (response.status, response.message) == ("Error", "Must specify AuthType")


async def test_wrong_secret_is_refused_and_the_socket_closed(client: RawAmiClient) -> None:
    response = await client.request("Login", [("Username", USER), ("Secret", "wrong")])
    assert [key for key, _ in response.headers] == ["Response", "ActionID", "Message"]
    assert (response.status, response.message) == ("Error", "Authentication failed")
    assert await client.wait_closed()


async def test_unknown_user_is_refused(client: RawAmiClient) -> None:
    response = await client.request("Login", [("Username", "nobody"), ("Secret", SECRET)])
    assert response.message == "Authentication failed"
    assert await client.wait_closed()


async def test_actions_before_login_are_denied_but_the_session_lives(client: RawAmiClient) -> None:
    for name in ("Ping", "Originate", "NoSuchAction"):
        response = await client.request(name)
        assert (response.status, response.message) == ("Error", "Permission denied")
    assert (await client.login(USER, SECRET)).ok


async def test_events_off_means_no_events(sim: SimulatedPbx, client: RawAmiClient) -> None:
    assert (await client.login(USER, SECRET, events="off")).ok
    await sim.inbound_call()
    await client.request("Ping")  # the inbound call's events would have come before this reply
    assert client.events == []


async def test_events_action_switches_events_on(sim: SimulatedPbx, client: RawAmiClient) -> None:
    await client.login(USER, SECRET, events="off")
    response = await client.request("Events", [("EventMask", "on")])
    assert response.get("Events") == "On"
    await sim.inbound_call()
    assert (await client.wait_event("Newchannel")).get("Context") == "switchboard-inbound"


async def test_event_mask_by_category(sim: SimulatedPbx, client: RawAmiClient) -> None:
    await client.login(USER, SECRET, events="user")
    await sim.inbound_call()
    user_event = await client.wait_event("UserEvent")
    assert user_event.get("UserEvent") == "SwitchboardInbound"
    assert {event.name for event in client.events} == {"UserEvent"}


async def test_ping_command_and_core_settings(client: RawAmiClient) -> None:
    await client.login(USER, SECRET)
    ping = await client.request("Ping")
    assert [key for key, _ in ping.headers] == ["Response", "ActionID", "Ping", "Timestamp"]
    assert ping.get("Ping") == "Pong"
    version = await client.request("Command", [("Command", "core show version")])
    assert version.message == "Command output follows"
    assert (version.get("Output") or "").startswith("Asterisk 22.10.1 built by")
    unknown = await client.request("Command", [("Command", "core frobnicate")])
    assert unknown.status == "Error" and "No such command" in (unknown.get("Output") or "")
    settings = await client.request("CoreSettings")
    assert settings.get("AMIversion") == "11.0.0" and settings.get("AsteriskVersion") == "22.10.1"


async def test_unknown_action(client: RawAmiClient) -> None:
    await client.login(USER, SECRET)
    response = await client.request("Frobnicate")
    assert response.message == (
        "Invalid/unknown command: Frobnicate. Use Action: ListCommands to show available commands."
    )


async def test_logoff_says_goodbye_and_closes(client: RawAmiClient) -> None:
    await client.login(USER, SECRET)
    response = await client.request("Logoff")
    assert (response.status, response.message) == ("Goodbye", "Thanks for all the fish.")
    assert await client.wait_closed()


async def test_bad_input_never_kills_the_session(sim: SimulatedPbx, client: RawAmiClient) -> None:
    await client.login(USER, SECRET)
    client.write_raw(b"this is not AMI\r\nActionID: junk-1\r\n\r\n")
    client.write_raw(b"\xff\xfe\x00\r\n\r\n")
    client.write_raw(b"action: Ping\r\nActionID: lower-1\r\n\r\n")  # header names are case-insensitive
    client.write_raw(b"ActionID: late-1\r\nAction: Ping\r\n\r\n")  # Action need not come first
    pong = await client.request("Ping")
    assert pong.ok
    replies = {m.action_id: m for m in client.messages if isinstance(m, Response)}
    assert replies["junk-1"].message == "Missing action in request"
    assert replies["lower-1"].get("Ping") == "Pong"
    assert replies["late-1"].get("Ping") == "Pong"
    assert [a.name for a in sim.actions][-3:] == ["Ping", "Ping", "Ping"]


async def test_every_action_is_recorded(sim: SimulatedPbx, client: RawAmiClient) -> None:
    await client.login(USER, SECRET)
    await client.request("Ping")
    assert [action.name for action in sim.actions] == ["Login", "Ping"]
    found = await sim.wait_for_action("ping")
    assert found is sim.actions[1]
    assert isinstance(client.events[0], Event)
