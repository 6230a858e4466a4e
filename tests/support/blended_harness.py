"""Shared harness for the blended tests (no tests here): the dialer and the inbound ACD in one
engine, as `switchboard run` wires them, the ACD owning every agent (dialer/desk/acd.py AcdDesk).

The real thing end to end: a SimulatedPbx on a TCP port, the engine with its AMI client and
tracker, the AcdService and the DialerService on a private Redis. Tests wait with `until` (a
predicate re-checked after every event and tick the engine hands its services), never sleep.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from core.lease import Lease
from dialer.calls.dial_metrics import DialerMetrics
from dialer.campaigns.rules import Campaigns
from dialer.desk.acd import AcdDesk
from dialer.lists.gate import Gate, GateMetrics
from dialer.loop.service import DialerService, DialerSettings
from dialer.stores import DialerStores
from pbx.call_changes import CallChange
from pbx.client import AmiSettings
from pbx.codec import Action, Event
from pbx.sim import SimConfig, SimulatedPbx
from pbx.tracker import CallTracker
from routing.acd import AcdMetrics, AcdOptions, AcdService
from routing.agent_events import AgentState
from routing.rules import Rules
from switchboard.engine import Engine
from switchboard.metrics import create_metrics
from tests.support.dialer_harness import (
    SECRET,
    DialerHarness,
    Observer,
    RunningClock,
    lead,
    originate_vars,
    sim_config,
)

INBOUND_LINE = "+3612345678"


def blended_rules(*agents: str, wrap_up_s: float = 0.3, interface: str = "PJSIP/{id}", **queue: Any) -> Rules:
    """Queue `sales` (skill sales 1) for campaigns and inbound callers; agents `PJSIP/<id>` (or
    `interface` with `{id}`, e.g. `Local/{id}@agents`)."""
    spec: dict[str, Any] = {
        "name": "sales", "skill": "sales", "level": 1, "wrap_up_seconds": wrap_up_s,
        "ring_timeout_seconds": 3, "missed_rings_before_pause": 3, **queue,
    }  # fmt: skip
    return Rules.model_validate(
        {
            "default_region": "HU",
            "default_tier": "active",
            "tiers": [{"name": "active", "priority": 40}],
            "skills": [{"name": "sales"}],
            "agents": [
                {"id": a, "name": f"Agent {a}", "interface": interface.format(id=a), "skills": {"sales": 3}}
                for a in agents
            ],
            "queues": [spec],
        }
    )


@dataclass
class Blended(DialerHarness):
    sim: SimulatedPbx
    redis: aioredis.Redis
    engine: Engine
    acd: AcdService
    stores: DialerStores
    dialer: DialerService
    registry: CollectorRegistry
    observer: Observer
    clock: Callable[[], float]

    def state(self, agent_id: str) -> AgentState:
        return self.acd.ctx.state.status(agent_id).state

    def agent_originates(self, agent_id: str) -> list[Action]:
        channel = f"PJSIP/{agent_id}"
        return [a for a in self.sim.actions if a.name == "Originate" and a.get("Channel") == channel]

    def waiting(self) -> list[str]:
        return [w.call_id for q in self.acd.queues() for w in q.waiting]

    async def dial_one(self, agent_id: str = "1001") -> str:
        """`agent_id` logs in, the campaign dials its one lead: the call id of the customer's Originate."""
        await self.acd.login(agent_id)
        await self.load_leads([lead(0)])
        await self.start()
        dial = await self.sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
        return originate_vars(dial)["SWITCHBOARD_CALL_ID"]


class ServiceProbe:
    """A service a test puts among the engine's (each event reaches the services in their order):
    it hears events (`handle`, overridden), has nothing to resync and no timers."""

    name = "probe"

    async def handle(self, event: Event, changes: Sequence[CallChange]) -> None:
        return None

    async def resync(self, tracker: CallTracker) -> None:
        return None

    async def tick(self, now: float) -> None:
        return None


@contextlib.asynccontextmanager
async def blended(
    redis: aioredis.Redis,
    rules: Rules,
    config: Campaigns,
    sim: SimConfig | None = None,
    *,
    options: AcdOptions | None = None,
    instance_id: str = "engine-1",
    settings: DialerSettings | None = None,
    pbx: SimulatedPbx | None = None,
    lease: Lease | None = None,
    ami: AmiSettings | None = None,
    clock: RunningClock | None = None,
) -> AsyncIterator[Blended]:
    """The engine of `switchboard run`, pacing every 50 ms once a campaign is started. `pbx`: a
    running simulated Asterisk the test owns (it outlives the engine: a restart; several engines
    may share it); `lease`: the ACD's and the pacing's, taken before the first load and renewed on
    its timer as the runtime does; `ami`: how to reach the PBX (e.g. through a fault proxy);
    `clock`: the engine's (one shared by a restarted engine keeps time running on)."""
    clock = clock or RunningClock()
    simulator = pbx or SimulatedPbx(sim or sim_config(), seed=13)
    if pbx is None:
        await simulator.start()
    registry = CollectorRegistry()
    gate = Gate(redis, GateMetrics(registry), default_region="HU", timeout=0.3)
    stores = DialerStores.build(
        redis, default_region="HU", gate=gate, clock=lambda: datetime.fromtimestamp(clock(), UTC)
    )
    ami = ami or AmiSettings(
        "127.0.0.1", simulator.port, "switchboard", SECRET, reconnect_min=0.01, ping_interval=0
    )
    engine = Engine(ami, create_metrics(registry, process=False), clock=clock, tick_s=0.02)
    if lease is not None:
        engine.client.fence = lambda: lease.owned  # as `switchboard run` wires it
        await lease.acquire()
    acd = AcdService(
        redis, engine.client, rules, AcdMetrics(registry), clock=clock, instance_id=instance_id,
        options=options or AcdOptions(), lease=lease,
    )  # fmt: skip
    acd.on_owned = engine.resync
    await acd.load("test")
    settings = settings or DialerSettings(round_interval_s=0.05, round_timeout_s=2.0, store_timeout_s=0.5)
    dialer = DialerService(
        redis, engine.client, config, gate=stores.gate, leads=stores.leads, desk=AcdDesk(acd),
        metrics=DialerMetrics(registry), instance_id=instance_id, clock=clock, settings=settings, lease=lease,
    )  # fmt: skip
    observer = Observer()
    engine.services.extend([acd, dialer, observer])
    if lease is not None:
        lease.start()
    await engine.start()
    try:
        yield Blended(simulator, redis, engine, acd, stores, dialer, registry, observer, clock)
    finally:
        await dialer.close()
        await engine.stop()
        await acd.aclose()
        if lease is not None:
            await lease.stop(release=True)
        if pbx is None:
            await simulator.stop()
