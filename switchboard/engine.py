"""The engine's run loop: one AMI client, one call tracker, the services, a ticker.

Events flow one way: AMI bytes -> pbx.codec -> pbx.tracker -> services
(ACD, dialer), one event at a time and in order. After every (re)login the
client calls `_on_connected` before it reports ready: the tracker is rebuilt
from CoreShowChannels and each service reconciles its own records with it, so
nothing acts on a stale picture. Timers run in one ticker task that calls
`tick(now)` on each service. One failing service call is logged and counted;
it never stops the loop or the other services.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pbx.client import AmiClient, AmiSettings
from pbx.codec import Event
from pbx.service import PbxService
from pbx.tracker import CallTracker
from switchboard.metrics import EngineMetrics

log = logging.getLogger("switchboard.engine")

Clock = Callable[[], float]


@dataclass
class EngineStats:
    """Counters the demo's live view and the readiness check read."""

    events: int = 0
    service_errors: int = 0
    resyncs: int = 0
    last_event_at: float = 0.0
    by_service: dict[str, int] = field(default_factory=dict)


class Engine:
    """Owns the AMI client and tracker; drives the services."""

    def __init__(
        self,
        ami: AmiSettings,
        metrics: EngineMetrics,
        services: Sequence[PbxService] = (),
        *,
        clock: Clock = time.time,
        tick_s: float = 0.2,
    ) -> None:
        self.tracker = CallTracker()
        self.metrics = metrics
        self.services = list(services)
        self.stats = EngineStats()
        self._clock = clock
        self._tick_s = tick_s
        self._ticker: asyncio.Task[None] | None = None
        self._stopping = False
        self.client = AmiClient(
            ami,
            on_event=self._on_event,
            on_connected=self._on_connected,
            on_disconnected=self._on_disconnected,
        )

    @property
    def ready(self) -> bool:
        return self.client.ready

    async def start(self) -> None:
        """Connect and log in; raises AmiLoginError (wrong credentials) or AmiConnectionError."""
        await self.client.connect()
        self._ticker = asyncio.create_task(self._tick_forever(), name="switchboard-ticker")

    async def stop(self) -> None:
        self._stopping = True
        if self._ticker is not None:
            self._ticker.cancel()
            # Bounded: redis-py's wait_for on Python 3.11 can swallow a cancel inside a service.
            await asyncio.wait([self._ticker], timeout=5.0)
            self._ticker = None
        await self.client.close()
        self.metrics.ami_connected.set(0)

    async def _on_event(self, event: Event) -> None:
        self.stats.events += 1
        self.stats.last_event_at = self._clock()
        self.metrics.ami_events.inc()
        changes = self.tracker.apply(event)
        for service in self.services:
            try:
                await service.handle(event, changes)
            except Exception:
                self._service_failed(service, "handle", event.name)

    async def _on_connected(self) -> None:
        mark = self.tracker.begin_resync()  # channels seen after it are newer than the list: kept
        channels = await self.client.core_show_channels()
        self.tracker.resync(channels, mark)
        for service in self.services:
            try:
                await service.resync(self.tracker)
            except Exception:
                self._service_failed(service, "resync", "")
        self.stats.resyncs += 1
        if self.stats.resyncs > 1:
            self.metrics.ami_reconnects.inc()
        self.metrics.ami_connected.set(1)
        log.info("AMI ready: %d live channels after resync", len(channels), extra={"channels": len(channels)})

    def _on_disconnected(self, reason: str) -> None:
        self.metrics.ami_connected.set(0)
        log.warning("AMI connection lost: %s", reason, extra={"reason": reason})

    async def _tick_forever(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self._tick_s)
            if not self.client.ready:
                continue
            await self.tick()

    async def tick(self) -> None:
        """One round of timers for every service (tests call it directly)."""
        now = self._clock()
        for service in self.services:
            try:
                await service.tick(now)
            except Exception:
                self._service_failed(service, "tick", "")

    def _service_failed(self, service: PbxService, step: str, event: str) -> None:
        self.stats.service_errors += 1
        self.stats.by_service[service.name] = self.stats.by_service.get(service.name, 0) + 1
        extra = {"service": service.name, "event": event}
        log.exception("service %s failed in %s", service.name, step, extra=extra)
