"""/healthz, /readyz and the AMI metrics of a real engine on the simulated Asterisk (over TCP).

- /readyz is 503 while AMI is down AND while the resync after a reconnect is still running;
- /healthz turns 503 once AMI has been down longer than ami.max_disconnected (an injected clock);
- a stalled link is noticed by the keepalive and counted (Ping timeout, reconnect);
- malformed messages are counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import httpx
import pytest
import redis.asyncio as aioredis

from pbx.call_changes import CallChange
from pbx.client import AmiSettings
from pbx.codec import Event
from pbx.sim import SimulatedPbx
from pbx.tracker import CallTracker
from switchboard.api import AppState, TokenStore, create_app
from switchboard.engine import Engine
from switchboard.metrics import EngineMetrics, create_metrics
from switchboard.settings import AmiSection, Settings
from tests.support.acd_harness import SECRET, sim_config

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Gate:
    """A service whose resync waits until the test opens the gate (a slow resync)."""

    name = "gate"

    def __init__(self) -> None:
        self.closed = False
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()

    async def handle(self, event: Event, changes: Sequence[CallChange]) -> None:
        pass

    async def resync(self, tracker: CallTracker) -> None:
        if self.closed:
            self.entered.set()
            await self.opened.wait()

    async def tick(self, now: float) -> None:
        pass


@dataclass
class Rig:
    sim: SimulatedPbx
    engine: Engine
    metrics: EngineMetrics
    http: httpx.AsyncClient
    clock: Clock
    gate: Gate

    def sample(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


@pytest.fixture
async def rig(redis_client: aioredis.Redis) -> AsyncIterator[Rig]:
    sim = SimulatedPbx(sim_config(), seed=3)
    await sim.start()
    clock, gate, metrics = Clock(), Gate(), create_metrics(process=False)
    ami = AmiSettings(
        "127.0.0.1", sim.port, "switchboard", SECRET,
        reconnect_min=0.01, reconnect_max=0.2, ping_interval=0.2, ping_timeout=0.3,
    )  # fmt: skip
    engine = Engine(ami, metrics, [gate], clock=clock, tick_s=0.05)
    settings = Settings(ami=AmiSection(max_disconnected=30))
    state = AppState(
        settings, TokenStore(), metrics, redis=redis_client,
        ami_ready=lambda: engine.ready, ami_down_for=engine.down_for,
    )  # fmt: skip
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(state)), base_url="http://sb")
    await engine.start()
    try:
        yield Rig(sim, engine, metrics, http, clock, gate)
    finally:
        gate.opened.set()
        await http.aclose()
        await engine.stop()
        await sim.stop()


async def test_healthz_fails_only_after_ami_was_down_longer_than_the_limit(rig: Rig) -> None:
    assert (await rig.http.get("/healthz")).status_code == 200
    assert (await rig.http.get("/readyz")).status_code == 200
    port = rig.sim.port
    await rig.sim.stop()  # Asterisk is gone; the engine keeps trying
    await rig.engine.client.wait_down(5)
    readyz = await rig.http.get("/readyz")
    assert readyz.status_code == 503 and readyz.json()["details"]["failing"] == ["ami"]
    rig.clock.now += 29
    assert (await rig.http.get("/healthz")).status_code == 200  # a restart of Asterisk is not a wedge
    rig.clock.now += 2
    healthz = await rig.http.get("/healthz")
    assert healthz.status_code == 503
    body = healthz.json()
    assert body["error"] == "unhealthy"
    assert body["details"] == {"ami_down_seconds": 31.0, "max_disconnected": 30.0}
    assert "ami.max_disconnected" in body["message"]
    assert rig.sample("switchboard_ami_down_seconds") == 31.0
    assert rig.sample("switchboard_ami_connected") == 0.0
    await rig.sim.start(port=port)
    await rig.engine.client.wait_ready(5)
    assert (await rig.http.get("/healthz")).status_code == 200
    assert (await rig.http.get("/readyz")).status_code == 200
    assert rig.sample("switchboard_ami_down_seconds") == 0.0
    assert rig.sample("switchboard_ami_connected") == 1.0
    assert rig.sample("switchboard_ami_reconnects_total") == 1.0


async def test_readyz_fails_until_the_resync_after_a_reconnect_has_finished(rig: Rig) -> None:
    rig.gate.closed = True
    await rig.sim.drop_connections()
    await asyncio.wait_for(rig.gate.entered.wait(), 5)  # logged in again, resync under way
    readyz = await rig.http.get("/readyz")
    assert readyz.status_code == 503
    assert readyz.json()["details"]["checks"]["ami"] == "not logged in to Asterisk AMI"
    assert rig.sample("switchboard_ami_connected") == 0.0
    rig.gate.opened.set()
    await rig.engine.client.wait_ready(5)
    assert (await rig.http.get("/readyz")).status_code == 200


async def test_a_stalled_link_is_noticed_counted_and_reconnected(rig: Rig) -> None:
    assert rig.sample("switchboard_ami_last_contact_age_seconds") < 1.0
    loop = asyncio.get_running_loop()
    stalled_at = loop.time()
    rig.sim.stall_connections()
    await rig.engine.client.wait_down(5)
    noticed = loop.time() - stalled_at
    assert noticed <= 0.2 + 0.3 + 0.5, f"noticed after {noticed:.2f}s (ping_interval + ping_timeout: 0.5 s)"
    assert rig.sample("switchboard_ami_actions_total", action="Ping", result="timeout") == 1
    await rig.engine.client.wait_ready(5)
    assert rig.sample("switchboard_ami_reconnects_total") == 1
    assert (await rig.http.get("/readyz")).status_code == 200


async def test_malformed_messages_are_counted(rig: Rig) -> None:
    await rig.sim.send_raw(b"this is not AMI\r\n\r\nnor is this\r\n\r\n")
    assert (await rig.engine.client.send("Ping")).response.ok  # answered after the garbage: it was read
    assert rig.sample("switchboard_ami_malformed_total") == 2
    assert rig.sample("switchboard_ami_actions_total", action="Ping", result="success") >= 1
    assert rig.sample("switchboard_ami_action_seconds_count", action="Ping") >= 1
