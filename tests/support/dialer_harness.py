"""Shared harness for the dialer integration tests (no tests here).

The real thing end to end: a SimulatedPbx on a TCP port, the engine (switchboard/engine.py) with
its AMI client and tracker, the dialer's stores (gate, leads, dispositions) on a private Redis,
the inbound ACD owning the agents (dialer/desk/acd.py AcdDesk, as `switchboard run` wires it) and
the DialerService, sharing one lease as the runtime does. Tests assert on what the simulated PBX actually
received (`sim.originated_numbers()`, `sim.actions`) and wait for conditions with `Rig.until`,
which re-checks a predicate after every event and tick the engine hands to its services (an
observing PbxService placed last), under a timeout: no sleeps. The engine's clock starts on a
Wednesday at noon in Budapest (inside the default calling hours) and runs at real speed, unless a
test passes its own; the simulated PBX runs `time_scale` times faster.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from core.lease import Lease
from dialer.calls.dial_metrics import DialerMetrics
from dialer.campaigns.rules import Campaigns
from dialer.desk.acd import AcdDesk
from dialer.lists.gate import Gate, GateMetrics
from dialer.loop.campaign_control import CampaignState
from dialer.loop.service import DialerService, DialerSettings
from dialer.stores import DialerStores
from dialer.tasks.rules import TaskRules
from dialer.tasks.store import TaskStore
from dialer.tasks.task_metrics import TaskMetrics
from pbx.call_changes import CallChange
from pbx.client import AmiSettings
from pbx.codec import Action, Event
from pbx.sim import AgentPhone, SimConfig, SimulatedPbx
from pbx.tracker import CallTracker
from routing.acd import AcdMetrics, AcdOptions, AcdService
from routing.acd.acd_keys import AcdKeys
from routing.agent_events import AgentState
from routing.rules import Rules
from switchboard.engine import Engine
from switchboard.metrics import create_metrics

SECRET = "switchboard-secret"
BUDAPEST = ZoneInfo("Europe/Budapest")
WEDNESDAY_NOON = datetime(2026, 11, 18, 12, 0, tzinfo=BUDAPEST).timestamp()
MACHINE_DIALPLAN = {"switchboard-machine-message": ("Answer()", "Playback(machine-message)", "Hangup()")}


class RunningClock:
    """Real elapsed time from a chosen start (epoch seconds)."""

    def __init__(self, start: float = WEDNESDAY_NOON) -> None:
        self._start = start
        self._t0 = time.monotonic()

    def __call__(self) -> float:
        return self._start + (time.monotonic() - self._t0)

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self(), UTC)


class Observer:
    """A PbxService after the dialer: wakes `until` after everything the engine hands the services."""

    name = "observer"

    def __init__(self) -> None:
        self.changed = asyncio.Condition()

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def handle(self, event: Event, changes: Sequence[CallChange]) -> None:
        await self._notify()

    async def resync(self, tracker: CallTracker) -> None:
        await self._notify()

    async def tick(self, now: float) -> None:
        await self._notify()


def number(index: int) -> str:
    """A Hungarian mobile number in E.164 (+3630 + seven digits)."""
    return f"+3630{1000000 + index:07d}"


def campaign(campaign_id: str = "c1", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": campaign_id,
        "name": f"Campaign {campaign_id}",
        "mode": "progressive",
        "queue": "sales",
        "ring_timeout_s": 20,
        "pacing": {"abandon_grace_s": 2.0},
    }
    data.update(overrides)
    return data


def campaigns(*items: dict[str, Any]) -> Campaigns:
    return Campaigns.model_validate({"campaigns": list(items)})


def lead(index: int, *, phone: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "lead_id": f"L{index}",
        "customer_id": f"C{index}",
        "name": f"Customer {index}",
        "phones": [phone or number(index)],
        "crm": {"do_not_call": False},
        **extra,
    }


def sim_config(**options: Any) -> SimConfig:
    base: dict[str, Any] = {
        "time_scale": 20.0,
        "amd_s": (0.2, 0.4),
        "default_agent": AgentPhone(answer_after_s=0.2),
        "extra_dialplan": MACHINE_DIALPLAN,
    }
    base.update(options)
    return SimConfig(**base)


def originate_vars(action: Action) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in action.get_all("Variable"):
        for item in value.split(","):
            name, _, content = item.partition("=")
            found[name] = content
    return found


class DialerHarness:
    """What the dialer tests read and do (Rig, and the blended harness's Blended: the ACD owns the
    agents in both). Subclasses are dataclasses with these fields."""

    sim: SimulatedPbx
    stores: DialerStores
    acd: AcdService
    dialer: DialerService
    registry: CollectorRegistry
    observer: Observer
    clock: Callable[[], float]

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout), self.observer.changed:
            await self.observer.changed.wait_for(predicate)

    async def acd_settled(self, timeout: float = 10.0) -> None:
        """The ACD's step under way is over: what it writes to Redis, the event stream and the metrics
        is written (tests/support/acd_harness.py Stack.settled; the dialer's own writes: `settled()`)."""
        async with asyncio.timeout(timeout), self.acd.lock:
            pass

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def sample(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value

    def customer_originates(self) -> list[Action]:
        """Originates to customers (the trunk), in arrival order."""
        return [a for a in self.sim.actions if a.name == "Originate" and "@trunk" in (a.get("Channel") or "")]

    def dialed(self) -> list[str]:
        return [n for n in self.sim.originated_numbers() if n.startswith("+")]

    async def load_leads(self, leads: Iterable[dict[str, Any]], campaign_id: str = "c1") -> None:
        report = await self.stores.leads.upsert_many(
            list(leads), now=self.now(), actor="crm", campaign_id=campaign_id
        )
        assert not report.errors, report.errors

    async def start(self, campaign_id: str = "c1") -> None:
        await self.dialer.set_state(campaign_id, CampaignState.RUNNING, "supervisor")


DESK_AGENTS = ("1001", "1002", "1003", "1004", "1005")
# An advisor held for a dial whose engine stopped before giving them back is freed by the ACD's
# owner after this long (the product's default is 180 s: a whole ring timeout and more).
HOLD_TTL_S = 3.0


def desk_rules() -> Rules:
    """The ACD the dialer tests run on: queue `sales` (skill sales 1), no wrap-up, a 5 s ring; the
    agents DESK_AGENTS at `PJSIP/<id>` with skill sales 1, logged out until a test logs them in."""
    queue = {"name": "sales", "skill": "sales", "level": 1, "wrap_up_seconds": 0, "ring_timeout_seconds": 5}
    return Rules.model_validate(
        {
            "default_region": "HU",
            "default_tier": "active",
            "tiers": [{"name": "active", "priority": 40}],
            "skills": [{"name": "sales"}],
            "agents": [
                {"id": a, "name": f"Agent {a}", "interface": f"PJSIP/{a}", "skills": {"sales": 1}}
                for a in DESK_AGENTS
            ],
            "queues": [queue],
        }
    )


@dataclass
class Rig(DialerHarness):
    sim: SimulatedPbx
    redis: aioredis.Redis
    engine: Engine
    stores: DialerStores
    acd: AcdService
    dialer: DialerService
    registry: CollectorRegistry
    observer: Observer
    clock: Callable[[], float]
    lease: Lease
    tasks: TaskStore | None = None

    async def agent(self, agent_id: str) -> None:
        """Log an advisor in (one of DESK_AGENTS): ready at once. One the ACD already has logged in
        (loaded from Redis after an engine restart: held, busy...) stays as they are."""
        if self.state(agent_id) is AgentState.LOGGED_OUT:
            await self.acd.login(agent_id)

    def state(self, agent_id: str) -> AgentState:
        return self.acd.ctx.state.status(agent_id).state

    async def stop_engine(self) -> None:
        """This engine stops as `switchboard run` does: no more pacing, its lease resigned at once."""
        await self.dialer.close()
        await self.lease.stop(release=True)


@contextlib.asynccontextmanager
async def rig(
    redis: aioredis.Redis,
    config: Campaigns,
    sim: SimConfig | None = None,
    *,
    clock: Callable[[], float] | None = None,
    settings: DialerSettings | None = None,
    engine_ticks: bool = True,
    gate_redis: aioredis.Redis | None = None,
    instance_id: str = "engine-1",
    task_rules: TaskRules | None = None,
    pbx: SimulatedPbx | None = None,
    lease: Lease | None = None,
) -> AsyncIterator[Rig]:
    """The whole stack; `engine_ticks=False` leaves pacing rounds to the test (`dialer.run_once()`);
    `task_rules`: the dialer follows up results and dials due callbacks with a TaskStore; `pbx`:
    a running simulated Asterisk the test owns (it outlives the rig: an engine restart); `lease`:
    the engine's lease (ACD and pacing) that the test runs itself (else the rig takes one as the
    runtime does, on AcdKeys().owner, and renews and resigns it)."""
    clock = clock or RunningClock()
    settings = settings or DialerSettings(round_interval_s=0.05, round_timeout_s=2.0, store_timeout_s=0.5)
    simulator = pbx or SimulatedPbx(sim or sim_config(), seed=11)
    if pbx is None:
        await simulator.start()
    registry = CollectorRegistry()
    metrics = create_metrics(registry, process=False)
    gate = Gate(gate_redis or redis, GateMetrics(registry), default_region="HU", timeout=0.3)
    stores = DialerStores.build(
        redis, default_region="HU", gate=gate, clock=lambda: datetime.fromtimestamp(clock(), UTC)
    )
    ami = AmiSettings("127.0.0.1", simulator.port, "switchboard", SECRET, reconnect_min=0.01, ping_interval=0)
    engine = Engine(ami, metrics, clock=clock, tick_s=0.02 if engine_ticks else 3600)
    own_lease = lease is None
    if lease is None:
        lease = Lease(
            redis, AcdKeys().owner, engine_id=instance_id, role="acd", ttl_s=settings.lease_ms / 1000,
            renew_s=settings.lease_renew_s,
        )  # fmt: skip
        await lease.acquire()
    engine.client.fence = lambda: lease.owned  # as `switchboard run` wires it
    acd = AcdService(
        redis, engine.client, desk_rules(), AcdMetrics(registry), clock=clock, instance_id=instance_id,
        options=AcdOptions(hold_ttl_s=HOLD_TTL_S), lease=lease,
    )  # fmt: skip
    acd.on_owned = engine.resync
    await acd.load("test")
    tasks = None
    if task_rules is not None:
        tasks = TaskStore(
            redis,
            leads=stores.leads,
            rules=task_rules,
            cc_zone="Europe/Budapest",
            metrics=TaskMetrics(registry),
        )
    dialer = DialerService(
        redis, engine.client, config, gate=stores.gate, leads=stores.leads, desk=AcdDesk(acd), tasks=tasks,
        metrics=DialerMetrics(registry), instance_id=instance_id, clock=clock, lease=lease, settings=settings,
    )  # fmt: skip
    observer = Observer()
    engine.services.extend([acd, dialer, observer])
    if own_lease:
        lease.start()
    await engine.start()
    try:
        yield Rig(simulator, redis, engine, stores, acd, dialer, registry, observer, clock, lease, tasks)
    finally:
        await dialer.close()
        await engine.stop()
        await acd.aclose()
        if own_lease:
            await lease.stop(release=True)
        if pbx is None:
            await simulator.stop()
