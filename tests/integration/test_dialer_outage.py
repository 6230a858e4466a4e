"""Fail closed: while Redis (or only the blacklist's store) cannot be consulted, nothing is dialed."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from dialer.loop.service import DialerSettings
from pbx.sim import CustomerProfile
from switchboard.private_redis import PrivateRedis
from tests.support.dialer_harness import campaign, campaigns, lead, rig, sim_config

pytestmark = pytest.mark.integration

QUICK_BUSY = CustomerProfile(
    answer=0, busy=1, noanswer=0, congestion=0, machine=0, reject=0, signal_s=(2.0, 3.0)
)
SETTINGS = DialerSettings(round_interval_s=0.05, round_timeout_s=0.4, store_timeout_s=0.2)


async def test_redis_stopped_mid_campaign_means_no_originate_until_it_is_back(
    own_redis: PrivateRedis, own_client: aioredis.Redis
) -> None:
    sim = sim_config(customers=QUICK_BUSY, time_scale=10.0)
    async with rig(own_client, campaigns(campaign()), sim, settings=SETTINGS) as r:
        await r.load_leads(lead(i) for i in range(30))
        await r.agent("1001")
        await r.start()
        await r.until(lambda: len(r.dialed()) >= 2, timeout=20)

        own_redis.pause()
        failed = r.dialer.round_failures
        await r.until(lambda: r.dialer.round_failures >= failed + 2, timeout=20)
        frozen = len(r.dialed())  # every round since has failed: what went out, went out before
        await r.until(lambda: r.dialer.round_failures >= failed + 8, timeout=30)
        assert len(r.dialed()) == frozen, "an Originate left while Redis was unreachable"
        assert not r.dialer.is_leader

        own_redis.resume()
        await r.until(lambda: len(r.dialed()) > frozen, timeout=30)
        assert r.dialer.is_leader


async def test_the_gate_fails_closed_when_only_the_blacklist_store_is_down(
    redis_client: aioredis.Redis, own_redis: PrivateRedis, own_client: aioredis.Redis
) -> None:
    """Leads and attempts readable, the blacklist not: the gate refuses, counts and logs; nothing dials."""
    config = campaigns(campaign())
    async with rig(redis_client, config, sim_config(customers=QUICK_BUSY), gate_redis=own_client) as r:
        await r.load_leads(lead(i) for i in range(3))
        await r.agent("1001")
        own_redis.pause()
        await r.start()

        await r.until(
            lambda: r.sample("switchboard_dial_blocked_total", source="store-unavailable") >= 3, timeout=20
        )
        assert r.sample("switchboard_gate_checks_total", result="unavailable") >= 3
        assert r.dialed() == []

        own_redis.resume()
        await r.until(lambda: len(r.dialed()) >= 1, timeout=20)
