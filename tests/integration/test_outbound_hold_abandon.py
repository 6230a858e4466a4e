"""A customer whose AMD verdict was seen (a person: on hold, handed to the ACD, the grace running)
when the AMI link stalls, and who hangs up on hold unseen past the grace (issue 10, the case left
open by the abandon in doubt before a verdict): the simulated Asterisk over TCP behind the fault
proxy, real Redis, the engine of `switchboard run`.

What decides it is whether the ACD may have connected the customer: no agent answered for it (no
Bridge sent) -> an abandon in doubt, counted and quarantined, never `no_answer`.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from dialer.calls.intents import IntentStore
from dialer.calls.lifecycle import Phase
from dialer.compliance.caps import CallResult
from dialer.loop.campaign_control import CampaignState
from pbx.sim import CustomerScript
from pbx.sim.config import AgentPhone
from tests.integration.test_dialer_intents import attempts_on, audit_of, open_ids, stats
from tests.support.blended_harness import Blended, blended, blended_rules
from tests.support.dialer_harness import RunningClock, campaign, campaigns, lead, number, sim_config
from tests.support.proxy_harness import behind_proxy, ended_customers, published

pytestmark = pytest.mark.integration

AMD_S = 1.5  # the dialplan's AMD() listens this long, then announces the verdict (UserEvent)
GRACE_S = 2.0
ORDERS = pytest.mark.parametrize(
    "dialer_first", [False, True], ids=["acd-resyncs-first", "dialer-resyncs-first"]
)


def resync_order(b: Blended, *, dialer_first: bool) -> None:
    """The engine resyncs its services in their order (switchboard run: the ACD first); the
    outcome must not depend on it."""
    if dialer_first:
        services = b.engine.services
        acd, dialer = services.index(b.acd), services.index(b.dialer)
        services[acd], services[dialer] = b.dialer, b.acd
        assert services.index(b.dialer) < services.index(b.acd)


@ORDERS
async def test_a_customer_on_hold_who_hangs_up_in_an_ami_stall_past_the_grace_is_an_abandon(
    redis_client: aioredis.Redis, dialer_first: bool
) -> None:
    """The engine sees the answer and the HUMAN verdict (the call waits, handed to the ACD, whose
    agent does not answer); the link stalls; the customer hangs up on hold past the grace, unseen.
    No Bridge was sent for the call: an abandon in doubt, counted and recorded once."""
    script = CustomerScript(outcome="answer", ring_s=0.5, patience_s=AMD_S + GRACE_S + 1.5)
    config = sim_config(
        time_scale=1.0, amd_s=(AMD_S, AMD_S), customer_overrides={number(1): script},
        default_agent=AgentPhone(answer_after_s=60.0),
    )  # fmt: skip
    async with behind_proxy(config) as (sim, proxy, ami), blended(
        redis_client, blended_rules("1001"), campaigns(campaign(pacing={"abandon_grace_s": GRACE_S})),
        pbx=sim, ami=ami,
    ) as b:  # fmt: skip
        resync_order(b, dialer_first=dialer_first)
        await b.acd.login("1001")
        await b.load_leads([lead(1)])
        await b.start()
        await b.until(lambda: [c.phase for c in b.dialer.calls()] == [Phase.WAITING], timeout=15)
        await b.dialer.set_state("c1", CampaignState.PAUSED, "supervisor")
        stalled_at = sim.clock.now()
        stall = asyncio.create_task(proxy.stall(GRACE_S + 4.0))  # the fault's length, not a wait
        await sim.wait_for_channel_count(0, timeout=15)
        [record] = ended_customers(sim)
        assert record.ended_by == "patience" and record.bridged is None, "hung up on hold"
        assert stalled_at <= (record.ended or 0.0), "the hang-up fell in the stall"
        await stall
        await b.until(lambda: not b.dialer.calls(), timeout=20)
        await b.dialer.settled()

        assert proxy.stats.stalls == 1 and proxy.stats.connections >= 2, "seen after a reconnect"
        results = [a.result for a in await attempts_on(redis_client, number(1))]
        assert results == [CallResult.ABANDONED]
        assert b.sample("switchboard_dial_abandoned_total", campaign="c1") == 1
        assert (await stats(redis_client)).get("x", 0) == 1
        [outcome] = await audit_of(redis_client, record.call_id, "outcome")
        assert "in doubt" in outcome.get("detail", ""), outcome
        assert await open_ids(redis_client) == []


@ORDERS
async def test_a_customer_the_acd_bridged_unseen_who_ended_the_talk_unseen_is_answered_not_abandoned(
    redis_client: aioredis.Redis, dialer_first: bool
) -> None:
    """The customer waits on hold (verdict seen), the agent answers, the ACD's Bridge reaches
    Asterisk and the link is cut right after it: nothing passes for a while, the customer talks and
    hangs up unseen, past the grace. The Bridge was sent: the ACD settles the talk, and the dialer
    agrees (answered), whichever resync runs first; no abandon counted, one outcome recorded."""
    script = CustomerScript(outcome="answer", ring_s=0.5, talk_s=1.0, patience_s=2000.0)
    config = sim_config(time_scale=1.0, amd_s=(AMD_S, AMD_S), customer_overrides={number(1): script})
    async with behind_proxy(config) as (sim, proxy, ami), blended(
        redis_client, blended_rules("1001"), campaigns(campaign(pacing={"abandon_grace_s": GRACE_S})),
        pbx=sim, ami=ami,
    ) as b:  # fmt: skip
        resync_order(b, dialer_first=dialer_first)
        await b.acd.login("1001")
        await b.load_leads([lead(1)])
        proxy.cut_after("Bridge", then_stall_s=GRACE_S + 3.0)  # the fault's length, not a wait
        await b.start()
        await b.until(lambda: bool(ended_customers(sim)), timeout=30)
        [record] = ended_customers(sim)
        assert record.bridged is not None and record.ended_by == "talk", "the Bridge connected"
        await b.until(lambda: not b.acd.ctx.state.calls and not b.dialer.calls(), timeout=20)
        await b.dialer.settled()
        await b.acd_settled()  # the call left the ACD's memory before the commit that carries its event

        assert proxy.stats.cuts["bridge"] == 1 and proxy.stats.connections >= 2
        talk = (record.ended or 0.0) - (record.bridged or 0.0)
        assert talk < GRACE_S + 3.0, "the talk ended in the stall that began at the Bridge: unseen"
        results = [a.result for a in await attempts_on(redis_client, number(1))]
        assert results == [CallResult.ANSWERED]
        assert b.sample("switchboard_dial_abandoned_total", campaign="c1") == 0
        assert (await stats(redis_client)).get("x", 0) == 0
        [outcome] = await audit_of(redis_client, record.call_id, "outcome")
        assert "in doubt" not in outcome.get("detail", ""), outcome
        history = await published(b.redis, record.call_id)
        assert [e.type for e in history] == ["handover", "ended"], history
        assert await open_ids(redis_client) == []


async def test_a_customer_bridged_unseen_whose_talk_ended_while_no_engine_ran_is_answered(
    redis_client: aioredis.Redis,
) -> None:
    """The recovery path: the ACD's Bridge goes out and the link is cut right after it; the engine
    stops before it sees anything more; the customer talks and hangs up while no engine runs. The
    dial record says the desk sent a Bridge (not only that the customer answered): the restarted
    engine settles the talk as answered, never as an abandon in doubt."""
    script = CustomerScript(outcome="answer", ring_s=0.5, talk_s=1.0, patience_s=2000.0)
    config = sim_config(time_scale=1.0, amd_s=(AMD_S, AMD_S), customer_overrides={number(1): script})
    rules, plans = blended_rules("1001"), campaigns(campaign(ring_timeout_s=30))
    clock = RunningClock()  # one time line across the restart
    async with behind_proxy(config) as (sim, proxy, ami):
        async with blended(redis_client, rules, plans, pbx=sim, clock=clock, ami=ami) as first:
            await first.acd.login("1001")
            await first.load_leads([lead(1)])
            proxy.cut_after("Bridge", then_stall_s=30.0)  # the fault's length: the engine stops in it
            await first.start()
            # the proxy's own wait: the engine hears nothing once the link is cut (nothing in the
            # engine waits for the Bridge's answer any more)
            assert await proxy.wait_until(lambda: proxy.stats.cuts["bridge"] == 1, timeout=30)
            await first.dialer.settled()  # the background writes started so far, the Bridge's mark included
            [intent] = await IntentStore(redis_client).open_intents()
            assert intent.bridge_ms > 0 and intent.connected_ms == 0, "the record: a Bridge was sent"
        await sim.wait_for_channel_count(0, timeout=15)  # the talk and its end while no engine runs
        [record] = ended_customers(sim)
        assert record.bridged is not None and record.ended_by == "talk", "the Bridge connected"

        async with blended(redis_client, rules, plans, pbx=sim, clock=clock) as second:
            settled = {"campaign": "c1", "how": "settled"}
            await second.until(
                lambda: second.sample("switchboard_dial_intents_recovered_total", **settled) == 1,
                timeout=15,
            )
            results = [a.result for a in await attempts_on(redis_client, number(1))]
            assert results == [CallResult.ANSWERED]
            assert (await stats(redis_client)).get("x", 0) == 0, "no abandon counted"
            [outcome] = await audit_of(redis_client, record.call_id, "outcome")
            assert "in doubt" not in outcome.get("detail", ""), outcome
            assert await open_ids(redis_client) == []


@ORDERS
async def test_a_customer_gone_before_a_late_bridge_reached_asterisk_is_one_abandon_for_both(
    redis_client: aioredis.Redis, dialer_first: bool
) -> None:
    """The ACD's Bridge is caught in a stall (held in the network) and the customer hangs up on hold
    meanwhile, past the grace; the Bridge then reaches Asterisk, which refuses it (the caller is
    gone) and leaves the agent's leg waiting. Nobody talked: the ACD records an abandon and the
    dialer agrees (one abandon counted, the number quarantined), never `answered`."""
    script = CustomerScript(outcome="answer", ring_s=0.5, patience_s=AMD_S + GRACE_S + 1.5)
    config = sim_config(time_scale=1.0, amd_s=(AMD_S, AMD_S), customer_overrides={number(1): script})
    async with behind_proxy(config) as (sim, proxy, ami), blended(
        redis_client, blended_rules("1001"), campaigns(campaign(pacing={"abandon_grace_s": GRACE_S})),
        pbx=sim, ami=ami,
    ) as b:  # fmt: skip
        resync_order(b, dialer_first=dialer_first)
        await b.acd.login("1001")
        await b.load_leads([lead(1)])
        proxy.stall_at("Bridge", GRACE_S + 4.0)  # the fault's length, not a wait
        await b.start()
        await b.until(lambda: bool(ended_customers(sim)), timeout=30)
        [record] = ended_customers(sim)
        assert record.ended_by == "patience" and record.bridged is None, "hung up on hold"
        await b.until(lambda: not b.acd.ctx.state.calls and not b.dialer.calls(), timeout=30)
        await b.dialer.settled()
        await b.acd_settled()  # the call left the ACD's memory before the commit that carries its event

        assert proxy.stats.stalls == 1 and proxy.stats.connections >= 2
        results = [a.result for a in await attempts_on(redis_client, number(1))]
        assert results == [CallResult.ABANDONED]
        assert b.sample("switchboard_dial_abandoned_total", campaign="c1") == 1
        assert (await stats(redis_client)).get("x", 0) == 1
        history = await published(b.redis, record.call_id)
        assert [e.type for e in history] == ["abandoned"], history
        assert await open_ids(redis_client) == []
