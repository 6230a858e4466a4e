"""Several engines share one Redis: one paces (the leader, which owns the ACD by the same lease);
when it stops, another takes over."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from core.errors import StoreUnavailableError
from core.lease import Lease
from pbx.sim import CustomerProfile
from routing.acd.acd_keys import AcdKeys
from tests.support.dialer_harness import campaign, campaigns, lead, rig, sim_config
from tests.support.lease_harness import FreezableClock, became_owner

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
            await one.agent(agent_id)  # the ACD's agents are shared through Redis
        await one.start()

        await one.until(lambda: len(one.dialed()) >= 4, timeout=20)
        assert one.dialer.is_leader and not two.dialer.is_leader
        assert two.dialed() == [], "a second engine never paces while the leader holds the lease"
        assert one.sample("switchboard_dialer_leader") == 1 and two.sample("switchboard_dialer_leader") == 0

        await one.stop_engine()  # engine-1 stops: it resigns the lease (the ACD's and the pacing's)
        await two.until(lambda: len(two.dialed()) >= 2, timeout=20)
        assert two.dialer.is_leader
        assert await two.dialer.lease.holder() == "engine-2"
        assert not set(one.dialed()) & set(two.dialed()), "no lead was dialed by both engines"


async def test_a_paused_leader_dials_nothing_once_another_engine_leads(redis_client: aioredis.Redis) -> None:
    """engine-1 freezes (its clock and renewals stop, so it still believes it leads); engine-2
    takes the lease once it ran out; engine-1 wakes up and runs its round: the fence stops it
    before any dial (here the ACD's hold of the agent, fenced by the same lease: the pacer reads
    the lease no more itself)."""
    await _paused_leader_round(redis_client, acd_cut_off=False)


async def test_a_paused_leader_whose_hold_stays_in_memory_is_stopped_by_the_lease_read(
    redis_client: aioredis.Redis,
) -> None:
    """The same, with engine-1's ACD serving from memory (its Redis writes failed, not yet written
    back): its hold is not written, so no fence checks it in Redis; the pacer then reads the lease
    itself before the lead is claimed, and dials nothing."""
    await _paused_leader_round(redis_client, acd_cut_off=True)


async def _paused_leader_round(redis_client: aioredis.Redis, *, acd_cut_off: bool) -> None:
    config = campaigns(campaign())
    sim = sim_config(customers=BUSY)
    frozen = FreezableClock()
    lease = Lease(
        redis_client, AcdKeys().owner, engine_id="engine-1", role="acd", ttl_s=1.0, renew_s=0.25,
        monotonic=frozen,
    )  # fmt: skip
    await lease.acquire()
    lease.start()
    async with (
        rig(redis_client, config, sim, instance_id="engine-1", engine_ticks=False, lease=lease) as one,
        rig(redis_client, config, sim, instance_id="engine-2") as two,
    ):
        await one.load_leads(lead(i) for i in range(60))
        for agent_id in ("1001", "1002"):
            await one.agent(agent_id)
        await one.start()
        assert await one.dialer.run_once()
        await one.until(lambda: len(one.dialed()) >= 2, timeout=20)
        assert not two.dialer.is_leader and two.dialed() == []

        frozen.freeze()
        await lease.stop(release=False)
        await became_owner(two.dialer.lease, timeout=5.0)
        await two.until(lambda: len(two.dialed()) >= 2, timeout=20)
        dialed = one.dialed()

        assert lease.owned, "paused, engine-1 cannot tell it lost the lease"
        if acd_cut_off:
            one.acd.writes.store_failed(StoreUnavailableError("the test: the ACD's writes failed"))
        assert not await one.dialer.run_once(), "its round stops at the fence"
        assert one.dialed() == dialed, "the paused leader dialed nothing after the takeover"
        assert not one.dialer.is_leader and not lease.owned
        assert one.sample("switchboard_dialer_leader") == 0
        assert not set(one.dialed()) & set(two.dialed()), "no lead was dialed by both engines"
