"""Preview: a lead is offered to one advisor at a time; the dialer calls it only once they accept."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from pbx.sim import CustomerScript
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


async def test_a_preview_lead_is_dialed_for_the_advisor_who_accepted_it(redis_client: aioredis.Redis) -> None:
    config = campaigns(campaign(mode="preview", queue=None, preview_offer_s=60))
    overrides = {number(i): CustomerScript(outcome="answer", ring_s=1.0, talk_s=20) for i in (1, 2)}
    async with rig(redis_client, config, sim_config(customer_overrides=overrides)) as r:
        await r.load_leads([lead(1), lead(2)])
        await r.agent("1001")
        await r.start()
        leads = r.stores.leads

        await r.until(lambda: "L1" in r.dialer.pacer.offers)
        offered = await leads.current_offer("1001", now=r.now())
        assert offered is not None and offered.lead_id == "L1"
        await leads.decline_offer("L1", "1001", now=r.now())
        await r.until(lambda: "L2" in r.dialer.pacer.offers)
        assert r.dialed() == [], "nothing is dialed before the advisor accepts"
        await leads.accept_offer("L2", "1001", now=r.now())

        dial = await r.sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
        variables = originate_vars(dial)
        assert (variables["SWITCHBOARD_DIAL_KIND"], variables["SWITCHBOARD_AGENT_ID"]) == ("preview", "1001")
        assert variables["SWITCHBOARD_LEAD"] == "L2"
        await r.sim.wait_for_action("Bridge", timeout=10)
        assert r.dialed() == [number(2)]
        declined = await leads.get("L1")
        assert declined.status == "queued" and declined.next_attempt_at is not None
