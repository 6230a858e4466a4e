"""The dialer and the inbound ACD in one engine, as `switchboard run` wires them: the ACD owns every
agent, holds them for progressive dials, rings them for answered outbound calls under the call's own
id and bridges on answer; inbound callers never get a held agent. Real AMI over TCP, private Redis."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from pbx.sim import AgentPhone, CustomerScript
from routing.acd import AcdOptions
from routing.agent_events import AgentState
from tests.support.blended_harness import INBOUND_LINE, blended, blended_rules
from tests.support.dialer_harness import (
    campaign,
    campaigns,
    lead,
    number,
    originate_vars,
    sim_config,
)

pytestmark = pytest.mark.integration

CALLER = "+36209876543"


async def test_a_progressive_call_goes_to_the_agent_held_for_it_and_inbound_waits_meanwhile(
    redis_client: aioredis.Redis,
) -> None:
    slow = CustomerScript(outcome="answer", ring_s=50.0, talk_s=30.0)  # simulated s (x20)
    async with blended(
        redis_client,
        blended_rules("1001"),
        campaigns(campaign(ring_timeout_s=60)),
        sim_config(customer_overrides={number(1): slow}),
    ) as b:
        await b.acd.login("1001")
        await b.load_leads([lead(1)])
        await b.start()
        dial = await b.sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
        call_id = originate_vars(dial)["SWITCHBOARD_CALL_ID"]
        assert originate_vars(dial)["SWITCHBOARD_AGENT_ID"] == "1001"
        assert b.state("1001") is AgentState.RESERVED, "held before the customer is dialed"

        await b.sim.inbound_call(CALLER, INBOUND_LINE, patience_s=600)
        await b.until(lambda: len(b.waiting()) == 1)
        assert b.agent_originates("1001") == [], "an inbound caller never gets the held agent"

        ring = await b.sim.wait_for_action(
            "Originate", lambda a: a.get("Channel") == "PJSIP/1001", timeout=10
        )
        variables = originate_vars(ring)
        assert variables["SWITCHBOARD_CALL_ID"] == call_id, "the agent leg carries the outbound call's id"
        assert (variables["SWITCHBOARD_CAMPAIGN"], variables["SWITCHBOARD_LEAD_ID"]) == ("c1", "L1")
        bridge = await b.sim.wait_for_action("Bridge", timeout=10)
        assert bridge.get("Channel1", "").startswith("PJSIP/trunk-")
        assert bridge.get("Channel2", "").startswith("PJSIP/1001-")
        await b.until(lambda: b.state("1001") is AgentState.BUSY)

        # The customer hangs up: wrap-up, then the waiting inbound caller is the agent's next call.
        await b.until(lambda: len(b.agent_originates("1001")) == 2, timeout=15)
        assert originate_vars(b.agent_originates("1001")[1])["SWITCHBOARD_CALL_ID"] != call_id
        await b.until(lambda: b.waiting() == [])
        assert b.sample("switchboard_acd_calls_offered_total", queue="sales", tier="active") == 1
        assert b.sample("switchboard_acd_calls_offered_total", queue="sales", tier="outbound:c1") == 0
        assert b.sample("switchboard_dial_originates_total", campaign="c1", kind="campaign") == 1


async def test_a_dial_that_reaches_nobody_gives_the_agent_back_without_a_missed_ring(
    redis_client: aioredis.Redis,
) -> None:
    async with blended(
        redis_client,
        blended_rules("1001"),
        campaigns(campaign()),
        sim_config(customer_overrides={number(1): "busy"}),
    ) as b:
        await b.acd.login("1001")
        await b.load_leads([lead(1)])
        await b.start()
        await b.sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
        await b.until(lambda: b.sample("switchboard_dial_attempts_total", campaign="c1", result="busy") == 1)
        await b.until(lambda: b.state("1001") is AgentState.READY)
        assert b.acd.ctx.state.status("1001").missed_rings == 0
        assert b.agent_originates("1001") == [], "nobody answered: the agent was never rung"

        await b.sim.inbound_call(CALLER, INBOUND_LINE, patience_s=600)
        await b.sim.wait_for_action("Originate", lambda a: a.get("Channel") == "PJSIP/1001", timeout=10)


async def test_a_predictive_answer_is_routed_to_a_ready_agent_and_bridged(
    redis_client: aioredis.Redis,
) -> None:
    plan = campaigns(campaign(mode="predictive", pacing={"abandon_grace_s": 2.0}))
    answers = CustomerScript(outcome="answer", ring_s=1.0, talk_s=30.0)
    async with blended(
        redis_client, blended_rules("1001"), plan, sim_config(customer_overrides={number(1): answers})
    ) as b:
        await b.acd.login("1001")
        await b.load_leads([lead(1)])
        await b.start()
        dial = await b.sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
        assert originate_vars(dial)["SWITCHBOARD_AGENT_ID"] == "", "predictive: nobody held"
        ring = await b.sim.wait_for_action(
            "Originate", lambda a: a.get("Channel") == "PJSIP/1001", timeout=10
        )
        assert originate_vars(ring)["SWITCHBOARD_CALL_ID"] == originate_vars(dial)["SWITCHBOARD_CALL_ID"]
        await b.sim.wait_for_action("Bridge", timeout=10)
        await b.until(
            lambda: b.sample("switchboard_dial_attempts_total", campaign="c1", result="answered") == 1
        )
        assert b.sample("switchboard_dial_abandoned_total", campaign="c1") == 0


async def test_an_answer_no_agent_takes_in_the_grace_is_abandoned_withdrawn_and_counted_as_missed(
    redis_client: aioredis.Redis,
) -> None:
    plan = campaigns(campaign(mode="predictive", pacing={"abandon_grace_s": 1.0}))
    answers = CustomerScript(outcome="answer", ring_s=1.0, talk_s=600.0)
    sim = sim_config(
        customer_overrides={number(1): answers}, agents={"1001": AgentPhone(answer_after_s=None)}
    )
    rules = blended_rules("1001", ring_timeout_seconds=60)  # 3 s at the simulator's speed: still ringing
    async with blended(redis_client, rules, plan, sim) as b:
        await b.acd.login("1001")
        await b.load_leads([lead(1)])
        await b.start()
        dial = await b.sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
        call_id = originate_vars(dial)["SWITCHBOARD_CALL_ID"]
        await b.sim.wait_for_action("Originate", lambda a: a.get("Channel") == "PJSIP/1001", timeout=10)
        redirect = await b.sim.wait_for_action("Redirect", timeout=10)
        assert redirect.get("Context") == "switchboard-abandon"
        assert redirect.get("Channel", "").startswith("PJSIP/trunk-"), "the dialer moves its customer"
        await b.until(lambda: call_id not in b.acd.ctx.state.calls)
        await b.sim.wait_for_action("Hangup", lambda a: (a.get("Channel") or "").startswith("PJSIP/1001-"))
        await b.until(lambda: b.state("1001") is AgentState.READY)
        assert b.acd.ctx.state.status("1001").missed_rings == 1, "rung through the grace: missed"
        assert not any(a.name == "Bridge" for a in b.sim.actions), "never bridged after the abandon"
        await b.until(lambda: b.sample("switchboard_dial_abandoned_total", campaign="c1") == 1)


async def test_a_held_agent_survives_a_reconnect_and_is_freed_if_the_call_never_comes(
    redis_client: aioredis.Redis,
) -> None:
    options = AcdOptions(hold_ttl_s=1.5)
    async with blended(redis_client, blended_rules("1001"), campaigns(campaign()), options=options) as b:
        await b.acd.login("1001")
        held = await b.acd.hold("sales", (), "dialer-call-1")
        assert held == "1001"
        assert await b.acd.hold("sales", (), "dialer-call-2") is None, "one agent, one call"
        stored = await b.acd.ctx.store.agent_status("1001")
        assert stored is not None and (stored.state, stored.call_id) == (AgentState.RESERVED, "dialer-call-1")

        await b.sim.drop_connections()
        await b.until(lambda: not b.engine.ready)
        await b.until(lambda: b.engine.ready)
        assert b.state("1001") is AgentState.RESERVED, "the resync keeps a hold of a call being placed"

        await b.until(lambda: b.state("1001") is AgentState.READY, timeout=5)
        assert b.acd.ctx.state.status("1001").missed_rings == 0


async def test_a_progressive_campaign_without_leads_holds_nobody(redis_client: aioredis.Redis) -> None:
    async with blended(redis_client, blended_rules("1001"), campaigns(campaign())) as b:
        await b.acd.login("1001")
        await b.start()
        await b.until(lambda: b.dialer.rounds >= 10)
        history = b.acd.ctx.state.status("1001").history
        assert [state for _, state in history] == [AgentState.READY], "never held, so never logged or counted"
        assert b.customer_originates() == []
