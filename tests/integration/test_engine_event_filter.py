"""The engine skips events no consumer reads, yet they still count as the link's liveness
(scripted Asterisk over real TCP): `last_event_at`, the event count and the `watch_link`
callbacks (the dialer's takeover cut) advance; no service is handed them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import pytest
from prometheus_client import CollectorRegistry

from pbx.ami_settings import AmiSettings
from pbx.call_changes import CallChange
from pbx.codec import Action, Event
from pbx.tracker import CALL_ID_VARIABLE, CallTracker
from switchboard.engine import Engine
from switchboard.metrics import create_metrics
from tests.support.scripted_peer import SECRET, USERNAME, PeerConnection, ScriptedPeer, event, reply

pytestmark = pytest.mark.integration


class Seen:
    """A service recording the events it is handed, and the link's liveness (`watch_link`)."""

    name = "seen"

    def __init__(self) -> None:
        self.events: list[str] = []
        self.link: list[float] = []
        self._changed = asyncio.Event()

    async def handle(self, event: Event, changes: Sequence[CallChange]) -> None:
        self.events.append(event.name)
        self._changed.set()

    def link_seen(self, at: float) -> None:
        self.link.append(at)
        self._changed.set()

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(5):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    async def resync(self, tracker: CallTracker) -> None:
        pass

    async def tick(self, now: float) -> None:
        pass


def no_channels(action: Action, _: PeerConnection) -> bytes:
    complete = event("CoreShowChannelsComplete", ActionID=action.action_id, EventList="Complete", ListItems=0)
    return reply(action, EventList="start", Message="Channels will follow") + complete


async def test_a_skipped_event_is_not_dispatched_but_the_link_liveness_advances() -> None:
    peer = ScriptedPeer()
    await peer.start()
    peer.on("CoreShowChannels", no_channels)
    now = [100.0]
    settings = AmiSettings("127.0.0.1", peer.port, USERNAME, SECRET, action_timeout=5.0, ping_interval=0)
    engine = Engine(settings, create_metrics(CollectorRegistry(), process=False), clock=lambda: now[0])
    service = Seen()
    engine.add(service)
    engine.watch_link(service.link_seen)
    try:
        await engine.start()
        await engine.client.wait_ready(5)
        await peer.send_raw(event("Newchannel", Channel="PJSIP/a-1", Uniqueid="1.1", Linkedid="1.1"))
        await service.until(lambda: service.events == ["Newchannel"])
        assert engine.stats.last_event_at == 100.0
        skipped, events = engine.stats.skipped, engine.stats.events  # FullyBooted at login is skipped too

        now[0] = 200.0
        await peer.send_raw(
            event("Newexten", Channel="PJSIP/a-1", Uniqueid="1.1", Application="Set")
            + event("VarSet", Channel="PJSIP/a-1", Uniqueid="1.1", Variable="RTPAUDIOQOS", Value="x")
        )
        await service.until(lambda: engine.stats.skipped == skipped + 2)
        assert engine.stats.last_event_at == 200.0  # skipped, still seen
        assert service.link == [200.0]
        assert engine.stats.events == events + 2

        now[0] = 300.0
        await peer.send_raw(
            event("VarSet", Channel="PJSIP/a-1", Uniqueid="1.1", Variable=CALL_ID_VARIABLE, Value="c1")
            + event("Hangup", Channel="PJSIP/a-1", Uniqueid="1.1", Linkedid="1.1", Cause="16")
        )
        await service.until(lambda: service.events[-1:] == ["Hangup"])
        assert service.events == ["Newchannel", "VarSet", "Hangup"]  # never Newexten, never that VarSet
        assert engine.tracker.channel("1.1") is None
    finally:
        await engine.stop()
        await peer.stop()
