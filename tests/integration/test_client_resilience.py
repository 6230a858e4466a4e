"""AmiClient when things go wrong: disconnects, resync, garbage, keepalive, refused re-login."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from core.errors import AmiConnectionError, AmiEncodeError, AmiLoginError, AmiTimeoutError
from pbx.ami_actions import originate_fields
from pbx.ami_settings import AmiSettings, backoff_delay, login_fields
from pbx.client import AmiClient
from pbx.codec import Event
from tests.support.scripted_peer import SECRET, USERNAME, Recorder, ScriptedPeer, event, reply

pytestmark = pytest.mark.integration


@pytest.fixture
async def peer() -> AsyncIterator[ScriptedPeer]:
    server = ScriptedPeer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def setup(peer: ScriptedPeer) -> AsyncIterator[Callable[..., tuple[AmiClient, Recorder]]]:
    made: list[AmiClient] = []

    def make(on_event: Callable[[Event], Any] | None = None, **options: Any) -> tuple[AmiClient, Recorder]:
        recorder = Recorder(peer)
        defaults: dict[str, Any] = dict(action_timeout=2.0, connect_timeout=1.0, reconnect_min=0.01)
        settings = AmiSettings("127.0.0.1", peer.port, USERNAME, SECRET, **{**defaults, **options})
        client = AmiClient(
            settings,
            on_event=on_event or recorder.on_event,
            on_connected=recorder.on_connected,
            on_disconnected=recorder.on_disconnected,
            rng=random.Random(7),
        )
        recorder.client = client
        made.append(client)
        return client, recorder

    yield make
    for client in made:
        await client.close()


async def test_unanswered_originate_fails_on_disconnect_and_is_never_resent(
    peer: ScriptedPeer, setup: Callable[..., tuple[AmiClient, Recorder]]
) -> None:
    peer.on("Originate", None)
    client, recorder = setup()
    await client.connect()
    call = asyncio.create_task(client.originate(channel="PJSIP/1@trunk", application="Wait", data="1"))
    await peer.wait_for_action("Originate")
    await peer.drop_connections()
    with pytest.raises(AmiConnectionError, match="not re-sent"):
        await call
    await recorder.until(lambda: recorder.connected == 2)  # re-login + resync, FullyBooted seen again
    assert recorder.disconnects == ["connection closed"]
    await client.wait_ready(2)
    assert (await client.send("Ping")).response.ok
    assert peer.count("Originate") == 1
    assert recorder.ready_during_resync == [False, False]


async def test_actions_wait_for_resync_before_going_out(
    peer: ScriptedPeer, setup: Callable[..., tuple[AmiClient, Recorder]]
) -> None:
    gate = asyncio.Event()
    client, recorder = setup()

    async def slow_second_resync(number: int) -> None:
        if number == 2:
            await gate.wait()

    recorder.before_ready = slow_second_resync
    await client.connect()
    await peer.drop_connections()
    await peer.wait_for(lambda: peer.count("Ping") == 2)  # the second resync is under way
    getvar = asyncio.create_task(client.send("Getvar", {"Variable": "X"}))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(getvar), 0.2)
    assert peer.count("Getvar") == 0
    gate.set()
    await getvar
    assert peer.count("Getvar") == 1


async def test_an_action_sent_while_disconnected_goes_out_after_reconnect(
    peer: ScriptedPeer, setup: Callable[..., tuple[AmiClient, Recorder]]
) -> None:
    client, recorder = setup()
    await client.connect()
    await peer.stop()
    await recorder.until(lambda: len(recorder.disconnects) == 1)
    assert not client.ready
    ping = asyncio.create_task(client.send("Getvar", {"Variable": "X"}, timeout=5))
    await peer.start()
    result = await ping
    assert result.response.status == "Error"  # the peer does not know Getvar; what matters: it was sent once
    assert peer.count("Getvar") == 1


async def test_an_action_never_sent_times_out_and_says_so(
    peer: ScriptedPeer, setup: Callable[..., tuple[AmiClient, Recorder]]
) -> None:
    client, recorder = setup()
    await client.connect()
    await peer.stop()
    await recorder.until(lambda: len(recorder.disconnects) == 1)
    with pytest.raises(AmiTimeoutError, match="never sent") as caught:
        await client.send("Ping", timeout=0.1)
    assert caught.value.details["sent"] is False


async def test_a_refused_login_on_reconnect_stops_the_client(
    peer: ScriptedPeer, setup: Callable[..., tuple[AmiClient, Recorder]]
) -> None:
    client, recorder = setup()
    await client.connect()
    peer.secret = "rotated-by-the-admin"
    await peer.drop_connections()
    await recorder.until(lambda: any("login refused" in r for r in recorder.disconnects))
    assert isinstance(client.fatal_error, AmiLoginError)
    with pytest.raises(AmiLoginError):
        await client.wait_ready(0.5)
    with pytest.raises(AmiLoginError):
        await client.send("Ping")
    assert peer.count("Login") == 2


async def test_odd_messages_never_drop_the_connection(
    peer: ScriptedPeer, setup: Callable[..., tuple[AmiClient, Recorder]]
) -> None:
    client, recorder = setup()
    await client.connect()
    await peer.send_raw(
        b"this is not AMI at all\r\n\r\n"
        b"Response: Success\r\nMessage: Originate successfully queued\r\n\r\n"  # no ActionID
        b"Response: Success\r\nActionID: nobody-asked\r\nMessage: Originate successfully queued\r\n\r\n"
        b"Action: Ping\r\nActionID: backwards\r\n\r\n"
        b"Event: UserEvent\r\nUserEvent: Caf\xc3\r\n\r\n"  # truncated UTF-8
        b"Event: SomethingNew\r\nFoo: bar\r\n\r\n" + event("Hangup", Uniqueid="1.1", Cause=16)
    )
    await recorder.until(lambda: any(e.name == "Hangup" for e in recorder.events))
    names = [e.name for e in recorder.events if e.name != "FullyBooted"]
    assert names == ["UserEvent", "SomethingNew", "Hangup"]
    assert (await client.send("Ping")).response.ok
    assert peer.accepted == 1
    assert recorder.disconnects == []


async def test_failing_and_async_event_callbacks_keep_order_and_connection(
    peer: ScriptedPeer, setup: Callable[..., tuple[AmiClient, Recorder]]
) -> None:
    seen: list[str] = []
    done = asyncio.Event()

    async def on_event(event: Event) -> None:
        await asyncio.sleep(0)
        if event.name == "Boom":
            raise RuntimeError("engine bug")
        seen.append(event.get("N") or event.name)
        if event.get("N") == "9":
            done.set()

    client, recorder = setup(on_event=on_event)
    await client.connect()
    await peer.send_raw(b"".join(event("Boom" if n == 4 else "Tick", N=n) for n in range(10)))
    await asyncio.wait_for(done.wait(), 5)
    assert seen == ["FullyBooted", "0", "1", "2", "3", "5", "6", "7", "8", "9"]
    assert (await client.send("Ping")).response.ok
    assert recorder.disconnects == []


async def test_keepalive_drops_a_dead_connection_and_reconnects(
    peer: ScriptedPeer, setup: Callable[..., tuple[AmiClient, Recorder]]
) -> None:
    client, recorder = setup(ping_interval=0.05, ping_timeout=0.5)
    await client.connect()
    peer.on("Ping", None)
    await recorder.until(lambda: len(recorder.disconnects) == 1)
    peer.on("Ping", lambda action, _: reply(action, Ping="Pong"))
    await recorder.until(lambda: recorder.connected >= 2)
    await client.wait_ready(2)


async def test_shutdown_event_then_close_reconnects(
    peer: ScriptedPeer, setup: Callable[..., tuple[AmiClient, Recorder]]
) -> None:
    client, recorder = setup()
    await client.connect()
    await peer.send_raw(event("Shutdown", Shutdown="Cleanly", Restart="True"))
    await peer.drop_connections()
    await recorder.until(lambda: recorder.connected == 2)
    assert any(e.name == "Shutdown" for e in recorder.events)


async def test_a_failed_resync_is_retried(
    peer: ScriptedPeer, setup: Callable[..., tuple[AmiClient, Recorder]]
) -> None:
    client, recorder = setup()
    attempts: list[int] = []

    async def flaky(number: int) -> None:
        attempts.append(number)
        if len(attempts) == 2:
            raise RuntimeError("Redis blinked")

    recorder.before_ready = flaky
    await client.connect()
    await peer.drop_connections()
    await recorder.until(lambda: recorder.connected == 2)
    assert len(attempts) == 3
    await client.wait_ready(2)


async def test_a_failing_first_resync_fails_connect(setup: Callable[..., tuple[AmiClient, Recorder]]) -> None:
    client, recorder = setup()

    async def broken(_: int) -> None:
        raise RuntimeError("cannot read engine records")

    recorder.before_ready = broken
    with pytest.raises(RuntimeError):
        await client.connect()
    assert not client.ready


async def test_close_fails_pending_actions_and_logs_off(
    peer: ScriptedPeer, setup: Callable[..., tuple[AmiClient, Recorder]]
) -> None:
    peer.on("QueueStatus", None)
    client, _ = setup()
    await client.connect()
    pending = asyncio.create_task(client.send("QueueStatus"))
    await peer.wait_for_action("QueueStatus")
    await client.close()
    with pytest.raises(AmiConnectionError):
        await pending
    assert peer.count("Logoff") == 1
    with pytest.raises(AmiConnectionError):
        await client.send("Ping")
    await client.close()  # twice is fine


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    settings = AmiSettings("h", 1, "u", "s", reconnect_min=0.5, reconnect_max=30.0)
    rng = random.Random(1)
    delays = [backoff_delay(settings, attempt, rng) for attempt in range(12)]
    for attempt, delay in enumerate(delays):
        ceiling = min(30.0, 0.5 * 2**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert delays[-1] > 15
    assert len({round(d, 6) for d in delays[-4:]}) == 4  # jitter: capped delays still differ


def test_login_fields_md5_and_plain() -> None:
    settings = AmiSettings("h", 1, "engine", "engine-secret")
    md5 = login_fields(settings, "1234")
    assert md5["Key"] == hashlib.md5(b"1234engine-secret").hexdigest()
    assert md5["AuthType"] == "MD5"
    assert "Secret" not in md5
    assert login_fields(settings, None)["Secret"] == "engine-secret"


def test_originate_fields_always_async() -> None:
    fields = originate_fields(
        channel="PJSIP/1", variables=None, context=None, exten=None, priority=1,
        application="Wait", data="2", caller_id=None, timeout_ms=1000,
    )  # fmt: skip
    assert fields["Async"] == "true"
    assert "Variable" not in fields
    with pytest.raises(AmiEncodeError):
        originate_fields(
            channel="PJSIP/1", variables=None, context=None, exten=None, priority=1,
            application=None, data=None, caller_id=None, timeout_ms=1000,
        )  # fmt: skip


async def test_a_close_ends_the_reconnects_even_when_a_resync_swallowed_the_cancel(
    peer: ScriptedPeer, setup: Callable[..., tuple[AmiClient, Recorder]]
) -> None:
    """Before: the cancel of close() was lost in the resync (redis-py's wait_for on Python 3.11), the
    supervisor went on reconnecting to a gone Asterisk for ever and close() never returned."""
    client, recorder = setup()
    in_resync = asyncio.Event()

    async def swallowing(connection: int) -> None:
        if connection == 2:  # the resync after the reconnect
            in_resync.set()
            with contextlib.suppress(asyncio.CancelledError):  # swallowed
                await asyncio.sleep(30)  # the command in flight

    recorder.before_ready = swallowing
    await client.connect()
    await peer.drop_connections()
    await asyncio.wait_for(in_resync.wait(), 5)
    await peer.stop()  # Asterisk goes away: every further attempt fails
    async with asyncio.timeout(10):
        await client.close()
    supervisor = client._supervisor
    assert supervisor is not None and supervisor.done(), "the reconnect loop ended with the close"
    accepted = peer.accepted
    await peer.start(peer.port)  # Asterisk is back: a loop still running would log in again
    await asyncio.sleep(0.3)  # many reconnect periods (reconnect_min 0.01 s)
    assert peer.accepted == accepted
