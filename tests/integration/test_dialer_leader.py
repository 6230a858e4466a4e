"""Several engines share one Redis: one paces (the leader); when it stops, another takes over."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from pbx.sim import CustomerProfile
from tests.support.dialer_harness import campaign, campaigns, lead, rig, sim_config

pytestmark = pytest.mark.integration

BUSY = CustomerProfile(answer=0, busy=1, noanswer=0, congestion=0, machine=0, reject=0, signal_s=(0.5, 1.0))


async def test_only_the_leader_paces_and_another_engine_takes_over(redis_client: aioredis.Redis) -> None:
    config = campaigns(campaign())
    sim = sim_config(customers=BUSY)
    async with (
        rig(redis_client, config, sim, instance_id="engine-1") as one,
        rig(redis_client, config, sim, instance_id="engine-2") as two,
    ):
        await one.load_leads(lead(i) for i in range(60))
        for agent_id in ("1001", "1002"):
            await one.agent(agent_id)  # the desk's agents are shared through Redis
        await one.start()

        await one.until(lambda: len(one.dialed()) >= 4, timeout=20)
        assert one.dialer.is_leader and not two.dialer.is_leader
        assert two.dialed() == [], "a second engine never paces while the leader holds the lease"
        assert one.sample("switchboard_dialer_leader") == 1 and two.sample("switchboard_dialer_leader") == 0

        await one.dialer.close()  # engine-1 stops: it resigns the lease
        await two.until(lambda: len(two.dialed()) >= 2, timeout=20)
        assert two.dialer.is_leader
        assert await two.dialer.lease.holder() == "engine-2"
        assert not set(one.dialed()) & set(two.dialed()), "no lead was dialed by both engines"
