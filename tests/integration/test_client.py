"""AmiClient against a scripted AMI peer over real TCP: login, actions, timeouts, events."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from core.errors import AmiActionError, AmiConnectionError, AmiEncodeError, AmiLoginError, AmiTimeoutError
from pbx.client import AmiClient, AmiSettings
from pbx.codec import Action, Event
from tests.support.scripted_peer import SECRET, USERNAME, PeerConnection, ScriptedPeer, event, reply

pytestmark = pytest.mark.integration

ClientFactory = Callable[..., AmiClient]


@pytest.fixture
async def peer() -> AsyncIterator[ScriptedPeer]:
    server = ScriptedPeer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def make_client(peer: ScriptedPeer) -> AsyncIterator[ClientFactory]:
    clients: list[AmiClient] = []

    def make(*, secret: str = SECRET, port: int | None = None, **options: Any) -> AmiClient:
        names = ("on_event", "on_connected", "on_disconnected", "rng")
        callbacks = {k: options.pop(k) for k in names if k in options}
        defaults: dict[str, Any] = dict(action_timeout=2.0, connect_timeout=2.0, reconnect_min=0.01)
        settings = AmiSettings("127.0.0.1", port or peer.port, USERNAME, secret, **{**defaults, **options})
        client = AmiClient(settings, **callbacks)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def test_md5_login_then_ping(peer: ScriptedPeer, make_client: ClientFactory) -> None:
    client = make_client()
    await client.connect()
    assert client.ready
    assert client.server_version == "11.0.0"
    result = await client.send("Ping")
    assert result.response.ok
    assert result.response.get("Ping") == "Pong"
    challenge, login, _ = peer.actions
    assert (challenge.name, challenge.get("AuthType")) == ("Challenge", "MD5")
    assert login.get("Key") is not None
    assert login.get("Secret") is None  # the secret never crosses the wire with MD5


async def test_plain_login(peer: ScriptedPeer, make_client: ClientFactory) -> None:
    client = make_client(auth="plain")
    await client.connect()
    login = await peer.wait_for_action("Login")
    assert login.get("Secret") == SECRET
    assert peer.count("Challenge") == 0


@pytest.mark.parametrize("auth", ["md5", "plain"])
async def test_wrong_secret_is_an_error_that_names_the_cause_and_is_not_retried(
    peer: ScriptedPeer, make_client: ClientFactory, auth: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(secret="not-the-secret", auth=auth)
    with pytest.raises(AmiLoginError) as caught:
        await client.connect()
    assert "Authentication failed" in caught.value.message
    assert USERNAME in caught.value.message
    assert caught.value.error_id == "ami-login-failed"
    assert not client.ready
    assert peer.count("Login") == 1
    assert peer.accepted == 1
    everything = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records) + repr(client)
    assert "not-the-secret" not in everything
    with pytest.raises(AmiConnectionError):
        await client.send("Ping")


async def test_settings_repr_hides_the_secret() -> None:
    assert SECRET not in repr(AmiSettings("h", 1, "u", SECRET))


async def test_unreachable_server_is_a_connection_error(
    peer: ScriptedPeer, make_client: ClientFactory
) -> None:
    port = peer.port
    await peer.stop()
    client = make_client(port=port)
    with pytest.raises(AmiConnectionError) as caught:
        await client.connect()
    assert str(port) in caught.value.message


async def test_a_peer_that_is_not_asterisk_is_refused(make_client: ClientFactory) -> None:
    impostor = ScriptedPeer(banner=b"SSH-2.0-OpenSSH_9.6\r\n")
    port = await impostor.start()
    try:
        with pytest.raises(AmiConnectionError, match="not an Asterisk manager"):
            await make_client(port=port).connect()
    finally:
        await impostor.stop()


async def test_a_silent_peer_times_out_at_connect(make_client: ClientFactory) -> None:
    mute = ScriptedPeer(banner=b"")
    port = await mute.start()
    try:
        with pytest.raises(AmiConnectionError, match="no AMI banner"):
            await make_client(port=port, connect_timeout=0.2).connect()
    finally:
        await mute.stop()


async def test_every_action_has_a_timeout_and_the_connection_survives_it(
    peer: ScriptedPeer, make_client: ClientFactory
) -> None:
    peer.on("QueueStatus", None)
    client = make_client()
    await client.connect()
    with pytest.raises(AmiTimeoutError) as caught:
        await client.send("QueueStatus", timeout=0.1)
    assert caught.value.details["sent"] is True
    late = await peer.wait_for_action("QueueStatus")
    await peer.send_raw(reply(late, Message="late answer"))  # logged and skipped
    assert (await client.send("Ping")).response.ok
    assert client.ready


async def test_error_responses_are_returned_or_raised_on_request(
    peer: ScriptedPeer, make_client: ClientFactory
) -> None:
    peer.on("Getvar", lambda action, _: reply(action, "Error", Message="No such channel"))
    client = make_client()
    await client.connect()
    result = await client.send("Getvar", {"Channel": "Local/nope@x-00000000;1", "Variable": "X"})
    assert not result.response.ok
    assert result.response.message == "No such channel"
    with pytest.raises(AmiActionError, match="No such channel"):
        await client.send("Getvar", {"Channel": "x", "Variable": "X"}, check=True)


async def test_originate_is_async_with_variables_and_its_outcome_arrives_as_an_event(
    peer: ScriptedPeer, make_client: ClientFactory
) -> None:
    def answer(action: Action, _: PeerConnection) -> bytes:
        outcome = event(
            "OriginateResponse",
            (f"ChanVariable({action.get('Channel')}-00000001;1)", "SWITCHBOARD_CALL_ID=call-1"),
            ActionID=action.action_id, Response="Success", Channel=action.get("Channel"), Reason=4,
        )  # fmt: skip
        return reply(action, Message="Originate successfully queued") + outcome

    peer.on("Originate", answer)
    events: list[Event] = []
    client = make_client(on_event=events.append)
    await client.connect()
    result = await client.originate(
        channel="PJSIP/5551000@trunk",
        variables={"SWITCHBOARD_CALL_ID": "call-1", "CAMPAIGN": "c"},
        context="switchboard-outbound",
        exten="s",
        caller_id='"Sales" <7000>',
        action_id="orig-call-1",
    )
    assert result.response.message == "Originate successfully queued"
    sent = await peer.wait_for_action("Originate")
    assert sent.action_id == "orig-call-1"
    assert sent.get("Async") == "true"
    assert sent.get_all("Variable") == ["SWITCHBOARD_CALL_ID=call-1", "CAMPAIGN=c"]
    assert [sent.get(k) for k in ("Context", "Exten", "Priority")] == ["switchboard-outbound", "s", "1"]
    await peer.wait_for(lambda: any(e.name == "OriginateResponse" for e in events))
    outcome = next(e for e in events if e.name == "OriginateResponse")
    assert outcome.action_id == "orig-call-1"
    assert outcome.chan_variables()["SWITCHBOARD_CALL_ID"] == "call-1"


async def test_originate_needs_a_destination(make_client: ClientFactory) -> None:
    client = make_client()
    await client.connect()
    with pytest.raises(AmiEncodeError):
        await client.originate(channel="PJSIP/1", context="ctx")
    with pytest.raises(AmiEncodeError):
        await client.originate(channel="PJSIP/1", application="Wait", context="c", exten="s")


async def test_header_injection_is_refused_before_sending(
    peer: ScriptedPeer, make_client: ClientFactory
) -> None:
    client = make_client()
    await client.connect()
    with pytest.raises(AmiEncodeError):
        await client.send("Setvar", {"Variable": "X", "Value": "1\r\nAction: Logoff"})
    assert peer.count("Logoff") == 0
    assert peer.count("Setvar") == 0


async def test_core_show_channels_collects_the_recorded_event_list(
    peer: ScriptedPeer, make_client: ClientFactory
) -> None:
    peer.on("CoreShowChannels", peer.recorded("csc-1"))
    events: list[Event] = []
    client = make_client(on_event=events.append)
    await client.connect()
    channels = await client.core_show_channels()
    assert [c.get("Channel") for c in channels] == [
        "Local/300@sim-customer-answer-0000000e;1",
        "Local/300@sim-customer-answer-0000000e;2",
        "Local/301@sim-customer-answer-0000000f;2",
        "Local/301@sim-customer-answer-0000000f;1",
    ]
    assert not [e for e in events if e.name.startswith("CoreShowChannel")]  # list events are not call events


async def test_recorded_replies_that_panoramisk_misreads_resolve(
    peer: ScriptedPeer, make_client: ClientFactory
) -> None:
    peer.on("QueueAdd", peer.recorded("qadd-1"))  # "Added interface to queue": panoramisk never resolved it
    peer.on("QueueStatus", peer.recorded("qstatus-waiting"))
    peer.on("Hangup", peer.recorded("hangup-2"))
    client = make_client()
    await client.connect()
    added = await client.send("QueueAdd", {"Queue": "support", "Interface": "Local/agent1@sim-agent"})
    assert added.response.message == "Added interface to queue"
    status = await client.send("QueueStatus", {"Queue": "support"})
    assert [e.name for e in status.events][-1] == "QueueStatusComplete"
    hung = await client.send("Hangup", {"Channel": "/^Local\\/301@/"})
    assert [e.name for e in hung.events] == ["ChannelHungup", "ChannelHungup", "ChannelsHungupListComplete"]


async def test_concurrent_actions_are_matched_by_action_id(
    peer: ScriptedPeer, make_client: ClientFactory
) -> None:
    held: list[Action] = []

    def hold(action: Action, _: PeerConnection) -> None:
        held.append(action)

    peer.on("Getvar", hold)
    client = make_client()
    await client.connect()
    tasks = [asyncio.create_task(client.send("Getvar", {"Variable": f"V{n}"})) for n in range(5)]
    await peer.wait_for(lambda: len(held) == 5)
    for action in reversed(held):  # answer in the opposite order
        await peer.send_raw(reply(action, Variable=action.get("Variable"), Value=action.get("Variable")))
    results = await asyncio.gather(*tasks)
    assert [r.response.get("Value") for r in results] == [f"V{n}" for n in range(5)]


def test_only_the_ami_transport_imports_panoramisk() -> None:
    root = Path(__file__).resolve().parents[2]
    importers = sorted(
        str(path.relative_to(root))
        for package in ("pbx", "routing", "dialer", "switchboard")
        for path in (root / package).rglob("*.py")
        if re.search(r"^\s*(from|import)\s+panoramisk", path.read_text(encoding="utf-8"), re.M)
    )
    assert importers == ["pbx/ami_transport.py"]


async def test_a_peer_that_never_answers_the_login_is_a_connection_error(
    peer: ScriptedPeer, make_client: ClientFactory
) -> None:
    peer.on("Challenge", None)
    with pytest.raises(AmiConnectionError, match="did not answer the login"):
        await make_client(action_timeout=0.2).connect()
