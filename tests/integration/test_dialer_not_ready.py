"""The dialer's rounds wait for the one readiness signal: the AMI client's `ready`, false while
disconnected and until the resync after a reconnect has finished (simulated PBX over TCP)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
import redis.asyncio as aioredis

from pbx.call_changes import CallChange
from pbx.codec import Event
from pbx.sim import CustomerScript
from pbx.tracker import CallTracker
from tests.support.dialer_harness import campaign, campaigns, lead, number, rig, sim_config

pytestmark = pytest.mark.integration


class SlowResync:
    """A service whose resync waits for the test: the engine is logged in again but not ready."""

    name = "slow-resync"

    def __init__(self) -> None:
        self.armed = False
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def handle(self, event: Event, changes: Sequence[CallChange]) -> None:
        pass

    async def resync(self, tracker: CallTracker) -> None:
        if self.armed:
            self.entered.set()
            await self.release.wait()

    async def tick(self, now: float) -> None:
        pass


async def test_no_round_dials_or_holds_an_agent_while_the_resync_runs(redis_client: aioredis.Redis) -> None:
    sim = sim_config(customer_overrides={number(1): CustomerScript(outcome="answer", ring_s=1.0, talk_s=40)})
    async with rig(redis_client, campaigns(campaign()), sim, engine_ticks=False) as r:
        slow = SlowResync()
        r.engine.services.insert(0, slow)
        await r.load_leads([lead(1)])
        await r.start()
        await r.agent("1001")
        slow.armed = True
        await r.sim.drop_connections()
        await asyncio.wait_for(slow.entered.wait(), 5)  # logged in again, resync under way
        assert not r.engine.ready
        for _ in range(3):
            assert await r.dialer.run_once()  # the round runs (and keeps the lease) ...
        assert r.customer_originates() == []  # ... but dials nothing
        assert r.sample("switchboard_dial_refused_total", campaign="c1", reason="ami-unavailable") == 0
        assert (await r.stores.leads.get("L1")).status != "claimed"
        slow.release.set()
        await r.engine.client.wait_ready(5)
        assert await r.dialer.run_once()
        assert len(r.customer_originates()) == 1
