"""A dead AMI link is noticed and a reconnect cannot wedge (scripted peer over real TCP).

- a stalled link (no bytes either way, socket open) is dropped by the keepalive Ping within
  ping_interval + ping_timeout, then the client reconnects and resyncs;
- a cut during the resync fails the resync's actions at once and starts the resync over,
  however many cuts come in a row (one during CoreShowChannels included);
- every action outcome and every malformed message reaches the monitor (the engine's metrics).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from core.errors import AmiConnectionError
from pbx.ami_settings import AmiSettings
from pbx.client import AmiClient
from pbx.codec import Action
from tests.support.scripted_peer import SECRET, USERNAME, PeerConnection, Recorder, ScriptedPeer, event, reply

pytestmark = pytest.mark.integration


class Monitor:
    """Records what the client reports (the engine turns these into metrics)."""

    def __init__(self) -> None:
        self.actions: list[tuple[str, str]] = []
        self.malformed: list[str] = []
        self.ready: list[bool] = []

    def action_done(self, action: str, result: str, seconds: float | None) -> None:
        self.actions.append((action, result))

    def malformed_seen(self, reason: str) -> None:
        self.malformed.append(reason)

    def became_ready(self, reconnect: bool) -> None:
        self.ready.append(reconnect)


@pytest.fixture
async def peer() -> AsyncIterator[ScriptedPeer]:
    server = ScriptedPeer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def setup(peer: ScriptedPeer) -> AsyncIterator[Callable[..., tuple[AmiClient, Recorder, Monitor]]]:
    made: list[AmiClient] = []

    def make(**options: Any) -> tuple[AmiClient, Recorder, Monitor]:
        recorder, monitor = Recorder(peer), Monitor()
        defaults: dict[str, Any] = dict(action_timeout=5.0, connect_timeout=1.0, reconnect_min=0.01)
        settings = AmiSettings("127.0.0.1", peer.port, USERNAME, SECRET, **{**defaults, **options})
        client = AmiClient(
            settings,
            on_event=recorder.on_event,
            on_connected=recorder.on_connected,
            on_disconnected=recorder.on_disconnected,
            rng=random.Random(7),
            monitor=monitor,
        )
        recorder.client = client
        made.append(client)
        return client, recorder, monitor

    yield make
    for client in made:
        await client.close()


async def test_a_stalled_link_is_dropped_by_the_keepalive_and_the_client_reconnects(
    peer: ScriptedPeer, setup: Callable[..., tuple[AmiClient, Recorder, Monitor]]
) -> None:
    interval, ping_timeout = 0.2, 0.3
    client, recorder, monitor = setup(ping_interval=interval, ping_timeout=ping_timeout)
    await client.connect()
    loop = asyncio.get_running_loop()
    stalled_at = loop.time()
    peer.stall_connections()
    await recorder.until(lambda: len(recorder.disconnects) == 1, timeout=5)
    noticed_after = loop.time() - stalled_at
    assert noticed_after <= interval + ping_timeout + 0.5, f"noticed after {noticed_after:.2f}s"
    assert "keepalive" in recorder.disconnects[0]
    await recorder.until(lambda: recorder.connected == 2)  # logged in again and resynced
    await client.wait_ready(2)
    assert ("Ping", "timeout") in monitor.actions
    assert monitor.ready == [False, True]
    assert peer.accepted == 2


async def test_a_cut_during_the_resync_fails_its_actions_at_once_and_starts_it_over(
    peer: ScriptedPeer, setup: Callable[..., tuple[AmiClient, Recorder, Monitor]]
) -> None:
    client, recorder, _ = setup(action_timeout=5.0)
    failures: list[str] = []

    async def cut_twice(number: int) -> None:
        if number in (2, 3):  # the resyncs after the first and the second cut are cut too
            await peer.drop_connections()
            try:
                await client.send("Getvar", {"Variable": "X"})
            except AmiConnectionError as exc:
                failures.append(exc.message)

    recorder.before_ready = cut_twice
    await client.connect()
    loop = asyncio.get_running_loop()
    cut_at = loop.time()
    await peer.drop_connections()
    await recorder.until(lambda: len(recorder.disconnects) == 1)
    await client.wait_ready(3.0)  # far less than one action timeout per cut
    assert loop.time() - cut_at < 2.0
    assert len(failures) == 2  # AmiConnectionError at once, not an AmiTimeoutError after 5 s
    assert peer.accepted == 4
    assert peer.count("Getvar") == 0  # never sent, never re-sent on the next connection
    assert (await client.send("Ping")).response.ok


async def test_cuts_in_a_row_one_during_core_show_channels_end_in_one_clean_resync(
    peer: ScriptedPeer, setup: Callable[..., tuple[AmiClient, Recorder, Monitor]]
) -> None:
    cuts = 0

    def core_show_channels(action: Action, connection: PeerConnection) -> bytes | None:
        nonlocal cuts
        if cuts > 0:
            cuts -= 1
            connection.close()  # the link dies while the channel list is awaited
            return None
        complete = event(
            "CoreShowChannelsComplete", ActionID=action.action_id, EventList="Complete", ListItems=0
        )
        return reply(action, EventList="start", Message="Channels will follow") + complete

    peer.on("CoreShowChannels", core_show_channels)
    client, recorder, monitor = setup(action_timeout=5.0)
    resyncs: list[int] = []

    async def list_channels(number: int) -> None:
        await client.core_show_channels()
        resyncs.append(number)

    recorder.before_ready = list_channels
    await client.connect()
    cuts = 3
    await peer.drop_connections()
    await recorder.until(lambda: len(recorder.disconnects) == 1)
    await client.wait_ready(3.0)  # each cut costs a reconnect, never an action timeout
    assert resyncs == [1, 2]
    assert peer.count("CoreShowChannels") == 5
    assert monitor.actions.count(("CoreShowChannels", "disconnected")) == 3
    assert monitor.ready == [False, True]


async def test_malformed_messages_and_action_outcomes_reach_the_monitor(
    peer: ScriptedPeer, setup: Callable[..., tuple[AmiClient, Recorder, Monitor]]
) -> None:
    peer.on("QueueStatus", None)
    client, recorder, monitor = setup(action_timeout=0.2)
    await client.connect()
    await peer.send_raw(b"this is not AMI at all\r\n\r\nnor this\r\n\r\n")
    assert (await client.send("Ping")).response.ok  # answered after the garbage: it was read
    assert (await client.send("Getvar", {"Variable": "X"})).response.status == "Error"
    with pytest.raises(Exception, match="no answer"):
        await client.send("QueueStatus")
    assert len(monitor.malformed) == 2
    assert ("Ping", "success") in monitor.actions
    assert ("Getvar", "error") in monitor.actions
    assert ("QueueStatus", "timeout") in monitor.actions
    assert recorder.disconnects == []
