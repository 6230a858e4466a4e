"""The engine's run loop: one AMI client, one call tracker, the services, a ticker.

Events flow one way: AMI bytes -> pbx.codec -> pbx.tracker -> services
(ACD, dialer), one event at a time and in order. Events no consumer reads
(pbx.event_filter: Newexten, VarSet of other variables...) are skipped unparsed by
the codec; they still count as received and as the link's liveness (`_skipped`:
`last_event_at` and the `watch_link` callbacks, e.g. the dialer's takeover cut). After every (re)login the
client calls `_on_connected` before it reports ready: the tracker is rebuilt
from CoreShowChannels and each service reconciles its own records with it, so
nothing acts on a stale picture. Timers run in one ticker task that calls
`tick(now)` on each service. One failing service call is logged and counted;
it never stops the loop or the other services.

One readiness signal: the client's `ready` is false while disconnected and until
the resync has finished, so the ticker (ACD timers and routing, the dialer's
rounds) and every service that checks its sender's `ready` stay idle meanwhile.
`down_for()` says how long that has lasted (the health check fails past a limit).
The client's reports (action outcomes, malformed messages, reconnects) feed the metrics.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core.cancellation import raise_if_cancelling
from core.clock import Clock
from pbx.ami_transport import SkipEvents
from pbx.client import AmiClient, AmiSettings
from pbx.codec import Event
from pbx.event_filter import EventFilter
from pbx.service import PbxService
from pbx.tracker import CallTracker
from switchboard.metrics import EngineMetrics

log = logging.getLogger("switchboard.engine")


@dataclass
class EngineStats:
    """Counters the demo's live view and the readiness check read."""

    events: int = 0  # received, skipped ones included
    skipped: int = 0  # not dispatched: no consumer reads them (pbx.event_filter)
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
        fence: Callable[[], bool] | None = None,
    ) -> None:
        self.tracker = CallTracker()
        self.metrics = metrics
        self.services = list(services)
        self.stats = EngineStats()
        self._clock = clock
        self._tick_s = tick_s
        self._ticker: asyncio.Task[None] | None = None
        self._stopping = False
        self._down_since = clock()
        self._link_watchers: list[Callable[[float], None]] = []
        self.client = AmiClient(
            ami,
            on_event=self._on_event,
            on_connected=self._on_connected,
            on_disconnected=self._on_disconnected,
            monitor=_MetricsMonitor(metrics),
            skipping=SkipEvents(EventFilter(self.tracker.variable), self._skipped),
        )
        # Whether this engine owns the calls now (its lease): fences the call actions (pbx.client).
        self.client.fence = fence
        metrics.ami_connected.set_function(lambda: 1.0 if self.client.ready else 0.0)
        metrics.ami_down_seconds.set_function(self.down_for)
        metrics.ami_contact_age.set_function(lambda: _or_minus_one(self.client.contact_age()))

    def add(self, *services: PbxService) -> None:
        """Drive these services too, after the ones given so far (their order is the events' order)."""
        self.services.extend(services)

    def watch_link(self, seen: Callable[[float], None]) -> None:
        """`seen(now)` for events skipped unread while ready (services hear of the others in
        `handle`): whoever keeps "the last event of the live link" stays exact."""
        self._link_watchers.append(seen)

    @property
    def ready(self) -> bool:
        return self.client.ready

    def down_for(self) -> float:
        """Seconds the engine has not been connected and resynced (0 while it is)."""
        return 0.0 if self.client.ready else max(0.0, self._clock() - self._down_since)

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

    def _skipped(self, count: int) -> None:
        now = self._clock()
        self.stats.events += count
        self.stats.skipped += count
        self.stats.last_event_at = now
        self.metrics.ami_events.inc(count)
        if self.client.ready:
            for seen in self._link_watchers:
                seen(now)

    async def _on_connected(self) -> None:
        channels = await self.resync()
        self.stats.resyncs += 1
        log.info("AMI resynced: %d live channels", channels, extra={"channels": channels})

    async def resync(self) -> int:
        """Rebuild the tracker from CoreShowChannels and let every service reconcile with it: run
        before `ready` after every (re)login, and when this engine takes the ACD over from another
        (core/lease.py). Returns the number of live channels."""
        mark = self.tracker.begin_resync()  # channels seen after it are newer than the list: kept
        channels = await self.client.core_show_channels()
        self.tracker.resync(channels, mark)
        for service in self.services:
            try:
                await service.resync(self.tracker)
            except Exception:
                self._service_failed(service, "resync", "")
        return len(channels)

    def _on_disconnected(self, reason: str) -> None:
        self._down_since = self._clock()
        log.warning("AMI connection lost: %s", reason, extra={"reason": reason})

    async def _tick_forever(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self._tick_s)
            if not self.client.ready:
                continue
            await self.tick()
            raise_if_cancelling()

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


class _MetricsMonitor:
    """The AMI client's reports, as engine metrics."""

    def __init__(self, metrics: EngineMetrics) -> None:
        self._metrics = metrics

    def action_done(self, action: str, result: str, seconds: float | None) -> None:
        self._metrics.record_action(action, result, seconds)

    def malformed_seen(self, reason: str) -> None:
        self._metrics.ami_malformed.inc()

    def became_ready(self, reconnect: bool) -> None:
        if reconnect:
            self._metrics.ami_reconnects.inc()


def _or_minus_one(value: float | None) -> float:
    return -1.0 if value is None else value
