"""Callbacks and dispositions: the other ways a lead is dialed or rescheduled, through the same checks."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from dialer.calls.dial_records import DialStatus
from pbx.sim import CustomerProfile
from tests.support.dialer_harness import (
    campaign,
    campaigns,
    lead,
    number,
    originate_vars,
    rig,
    sim_config,
)

pytestmark = pytest.mark.integration

BUSY = CustomerProfile(answer=0, busy=1, noanswer=0, congestion=0, machine=0, reject=0, signal_s=(0.2, 0.5))


async def test_a_callback_rings_its_owner_and_counts_on_the_lead(redis_client: aioredis.Redis) -> None:
    async with rig(redis_client, campaigns(campaign()), sim_config(customers=BUSY), engine_ticks=False) as r:
        await r.load_leads([lead(1)])
        await r.agent("1001")

        busy_owner = await r.dialer.callback_dial("c1", number(1), agent_id="1002", lead_id="L1")
        assert busy_owner.status is DialStatus.AGENT_NOT_READY and r.sim.originated_numbers() == []

        placed = await r.dialer.callback_dial("c1", number(1), agent_id="1001", lead_id="L1")
        assert placed.placed and placed.call is not None
        dial = await r.sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
        assert originate_vars(dial)["SWITCHBOARD_DIAL_KIND"] == "callback"
        assert [a.call_id for a in await r.dialer.attempts.lead_attempts("L1")] == [placed.call.call_id]

        await r.stores.internal.add(number(2), reason="do not call", actor="anna", now=r.now())
        blocked = await r.dialer.callback_dial("c1", number(2))
        assert blocked.status is DialStatus.BLOCKED, "a callback passes the gate like any dial"


async def test_the_campaigns_retry_rule_for_a_disposition(redis_client: aioredis.Redis) -> None:
    caps = {"retry_after_disposition": {"call_back_later": "1d", "not_interested": None}}
    async with rig(redis_client, campaigns(campaign(caps=caps)), sim_config(), engine_ticks=False) as r:
        await r.load_leads([lead(1), lead(2)])

        assert await r.dialer.apply_disposition("L1", "call_back_later") == "queued"
        later = await r.stores.leads.get("L1")
        assert later.next_attempt_at is not None and later.next_attempt_at >= r.now() + timedelta(hours=23)
        assert await r.dialer.apply_disposition("L2", "not_interested") == "closed"
        assert (await r.stores.leads.get("L2")).status == "closed"
        assert await r.dialer.apply_disposition("L2", "sale") is None
