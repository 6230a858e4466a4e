"""Shared harness for the ACD integration tests (no tests here).

The real thing end to end: a SimulatedPbx on a TCP port, the engine
(switchboard/engine.py) with its AMI client and tracker, and an AcdService on a
private Redis. Tests wait for conditions with `Stack.until`, which re-checks a
predicate after every event, resync and tick the engine hands to its services
(an observing PbxService placed after the ACD), under a timeout: no sleeps.
Ring, wrap-up and escalation times in the test rules are fractions of a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from core.clock import Clock
from core.lease import Lease
from pbx.call_changes import CallChange
from pbx.client import AmiSettings
from pbx.codec import Action, Event
from pbx.sim import AgentPhone, SimConfig, SimulatedPbx
from pbx.tracker import CallTracker
from routing.acd import AcdMetrics, AcdOptions, AcdService
from routing.agent_events import AgentState
from routing.rules import Rules
from switchboard.engine import Engine
from switchboard.metrics import create_metrics

SECRET = "switchboard-secret"
EXIT_DIALPLAN = {"switchboard-exit": ("Answer()", "Playback(vm-intro)", "Hangup()")}


def base_rules(**overrides: Any) -> dict[str, Any]:
    """One queue `support` (tech 2, levels 2-3 first), tiers key (min level 4) and active."""
    queue: dict[str, Any] = {
        "name": "support",
        "skill": "tech",
        "level": 2,
        "match": {"above": 1},
        "wrap_up_seconds": 0.2,
        "ring_timeout_seconds": 0.6,
        "missed_rings_before_pause": 2,
        "service_level": {"within_seconds": 20, "target_percent": 80},
    }
    data: dict[str, Any] = {
        "default_region": "HU",
        "default_tier": "active",
        "tiers": [
            {"name": "key", "priority": 100, "min_level": 4, "callers": ["+36201111111"]},
            {"name": "active", "priority": 40},
        ],
        "skills": [{"name": "tech"}, {"name": "billing"}],
        "agents": [],
        "queues": [queue],
    }
    data.update(overrides)
    return data


def make_rules(data: dict[str, Any]) -> Rules:
    return Rules.model_validate(data)


def agent(agent_id: str, interface: str, **skills: int) -> dict[str, Any]:
    return {"id": agent_id, "name": f"Agent {agent_id}", "interface": interface, "skills": skills}


class Observer:
    """A PbxService after the ACD: wakes `until` after everything the engine hands the services."""

    name = "observer"

    def __init__(self) -> None:
        self.changed = asyncio.Condition()
        self.seen: list[Event] = []  # every event, after the ACD handled it

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def handle(self, event: Event, changes: Sequence[CallChange]) -> None:
        self.seen.append(event)
        await self._notify()

    async def resync(self, tracker: CallTracker) -> None:
        await self._notify()

    async def tick(self, now: float) -> None:
        await self._notify()


@dataclass
class Stack:
    sim: SimulatedPbx
    engine: Engine
    acd: AcdService
    redis: aioredis.Redis
    registry: CollectorRegistry
    observer: Observer

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout), self.observer.changed:
            await self.observer.changed.wait_for(predicate)

    def state(self, agent_id: str) -> AgentState:
        return self.acd.ctx.state.status(agent_id).state

    async def until_state(self, agent_id: str, state: AgentState, timeout: float = 10.0) -> None:
        await self.until(lambda: self.state(agent_id) is state, timeout)

    async def settled(self, timeout: float = 10.0) -> None:
        """The ACD's step under way (an event's, a timer round's, a Bridge's answer's, an API call's)
        is over: what it writes to Redis, the event stream and the metrics is written (a step holds
        the ACD's lock). Call it after `until` saw the ACD's memory change and before reading what the
        same step writes later: `until` is woken by ticks and events while a step in another task
        (a timer round, a Bridge's answer, the dialer's) may be under way, and a step changes memory
        before some of its writes (an arrived caller is written with its offer or at the step's end;
        a commit that carries its event mirrors memory first; metrics and events after the commit:
        routing/acd/state_writes.py, inbound_effects.py)."""
        async with asyncio.timeout(timeout), self.acd.lock:
            pass

    def sample(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value

    def actions(self, name: str, since: int = 0) -> list[Action]:
        return [a for a in self.sim.actions[since:] if a.name == name]

    def waiting_ids(self) -> list[str]:
        return [w.call_id for q in self.acd.queues() for w in q.waiting]


def originate_vars(action: Action) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in action.get_all("Variable"):
        for item in value.split(","):
            name, _, content = item.partition("=")
            found[name] = content
    return found


@contextlib.asynccontextmanager
async def running_sim(config: SimConfig | None = None) -> AsyncIterator[SimulatedPbx]:
    sim = SimulatedPbx(config or sim_config(), seed=7)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@contextlib.asynccontextmanager
async def running_engine(
    sim: SimulatedPbx,
    redis: aioredis.Redis,
    rules: Rules,
    *,
    options: AcdOptions | None = None,
    reconnect_min: float = 0.01,
    clock: Clock | None = None,
    ami: AmiSettings | None = None,
    lease: Lease | None = None,
) -> AsyncIterator[Stack]:
    """With `lease` (acquired): fenced by it as `switchboard run` wires it (commits are one fenced
    script, AMI actions leave only while it is owned); renewed while the stack runs."""
    registry = CollectorRegistry()
    ami = ami or AmiSettings(
        "127.0.0.1", sim.port, "switchboard", SECRET, reconnect_min=reconnect_min, ping_interval=0
    )
    engine = Engine(ami, create_metrics(registry, process=False), tick_s=0.02)
    if lease is not None:
        engine.client.fence = lambda: lease.owned
    acd = AcdService(
        redis,
        engine.client,
        rules,
        AcdMetrics(registry),
        instance_id="test",
        options=options or AcdOptions(),
        clock=clock or time.time,
        lease=lease,
    )
    observer = Observer()
    engine.services.extend([acd, observer])
    await acd.load("test")
    if lease is not None:
        lease.start()
    await engine.start()
    try:
        yield Stack(sim, engine, acd, redis, registry, observer)
    finally:
        await engine.stop()
        await acd.aclose()
        if lease is not None:
            await lease.stop(release=True)


@contextlib.asynccontextmanager
async def acd_stack(
    redis: aioredis.Redis,
    rules: Rules,
    config: SimConfig | None = None,
    *,
    options: AcdOptions | None = None,
) -> AsyncIterator[Stack]:
    async with running_sim(config) as sim, running_engine(sim, redis, rules, options=options) as stack:
        yield stack


def sim_config(**agents: Any) -> SimConfig:
    """`sim_config(**{"2002": AgentPhone(...)})`; other phones answer at once. The exit context is there."""
    default = AgentPhone(answer_after_s=0.05)
    return SimConfig(agents=agents, default_agent=default, extra_dialplan=EXIT_DIALPLAN)
