"""The simulated Asterisk behind the fault proxy (pbx.sim.faultproxy), for the tests that cut or
stall the engine's AMI link and then read what Asterisk and the ACD's stream say happened."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import NamedTuple

import redis.asyncio as aioredis

from pbx.client import AmiSettings
from pbx.sim import CallRecord, SimConfig, SimulatedPbx
from pbx.sim.faultproxy import FaultProxy
from routing.acd.events import AcdEvent, AcdEvents
from tests.support.acd_harness import SECRET, running_sim


class Proxied(NamedTuple):
    sim: SimulatedPbx
    proxy: FaultProxy
    ami: AmiSettings  # the engine's AMI settings through the proxy


def ami_through(proxy_port: int, *, ping_timeout: float) -> AmiSettings:
    """The engine's AMI settings through the proxy: a 1 s action timeout, a 0.5 s keepalive."""
    return AmiSettings("127.0.0.1", proxy_port, "switchboard", SECRET, action_timeout=1.0,
                       connect_timeout=0.5, reconnect_min=0.05, reconnect_max=0.2, ping_interval=0.5,
                       ping_timeout=ping_timeout)  # fmt: skip


@contextlib.asynccontextmanager
async def behind_proxy(config: SimConfig, *, ping_timeout: float = 1.0) -> AsyncIterator[Proxied]:
    """A running simulated Asterisk and a fault proxy in front of its AMI port."""
    async with running_sim(config) as sim:
        proxy = FaultProxy("127.0.0.1", sim.port, seed=1)
        port = await proxy.start()
        try:
            yield Proxied(sim, proxy, ami_through(port, ping_timeout=ping_timeout))
        finally:
            await proxy.stop()


async def published(redis: aioredis.Redis, call_id: str) -> list[AcdEvent]:
    """The call's entries in the ACD's event stream, oldest first."""
    return [e for e in await AcdEvents(redis).read(count=1000) if e.data.get("call_id") == call_id]


def ended_customers(sim: SimulatedPbx) -> list[CallRecord]:
    return [r for r in sim.call_log if r.role == "customer" and r.ended is not None]
