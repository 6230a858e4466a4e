"""An answered customer whose AMD verdict and hang-up both happen while no engine sees them (issue 10,
the real-Asterisk run of 2026-12-05: a 23 s AMI stall, 3 customers settled `no_answer`): the
simulated Asterisk over TCP behind the fault proxy, real Redis, the engine of `switchboard run`.

The abandon rate is a legal cap: a customer who may have waited on hold past the grace unseen is
counted as an abandon in doubt (the audit record says so), never as `no_answer`. One found gone
within the grace of the answer cannot have been abandoned. The same holds after a crash: the dial
record says the customer answered, and the recovery applies the same rule.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from dialer.calls.intents import IntentStore
from dialer.calls.lifecycle import Phase
from dialer.compliance.caps import CallResult
from dialer.loop.campaign_control import CampaignState
from pbx.sim import CustomerScript, SimulatedPbx
from tests.integration.test_dialer_intents import attempts_on, audit_of, open_ids, stats
from tests.support.blended_harness import blended, blended_rules
from tests.support.dialer_harness import RunningClock, campaign, campaigns, lead, number, sim_config
from tests.support.proxy_harness import behind_proxy, ended_customers

pytestmark = pytest.mark.integration

AMD_S = 1.5  # the dialplan's AMD() listens this long, then announces the verdict (UserEvent)


def announced(sim: SimulatedPbx, call_id: str) -> bool:
    """The dialplan announced the customer's AMD verdict (whether or not an engine heard it)."""
    return any(
        e.name == "UserEvent"
        and e.get("UserEvent") == "SwitchboardOutboundAnswered"
        and e.get("CallID") == call_id
        for e in sim.events
    )


@pytest.mark.parametrize(
    ("grace_s", "result", "abandons"),
    [(2.0, CallResult.ABANDONED, 1), (30.0, CallResult.NO_ANSWER, 0)],
    ids=["gone-past-the-grace-abandon-in-doubt", "gone-within-the-grace-no-answer"],
)
async def test_a_customer_whose_verdict_and_hang_up_fall_in_an_ami_stall_is_never_under_counted(
    redis_client: aioredis.Redis, grace_s: float, result: CallResult, abandons: int
) -> None:
    """The customer answers (the engine sees it), the link stalls; AMD decides HUMAN and the dialplan
    announces it unheard, the customer waits on hold and hangs up; the engine reconnects after the
    stall and finds the channel gone. Past the grace since the answer: an abandon in doubt."""
    script = CustomerScript(outcome="answer", ring_s=0.5, patience_s=AMD_S + 1.5)  # hangs up on hold
    config = sim_config(time_scale=1.0, amd_s=(AMD_S, AMD_S), customer_overrides={number(1): script})
    async with behind_proxy(config) as (sim, proxy, ami), blended(
        redis_client, blended_rules("1001"), campaigns(campaign(pacing={"abandon_grace_s": grace_s})),
        pbx=sim, ami=ami,
    ) as b:  # fmt: skip
        await b.acd.login("1001")
        await b.load_leads([lead(1)])
        await b.start()
        await b.until(lambda: [c.phase for c in b.dialer.calls()] == [Phase.ANSWERED], timeout=15)
        await b.dialer.set_state("c1", CampaignState.PAUSED, "supervisor")
        stalled_at = sim.clock.now()
        stall = asyncio.create_task(proxy.stall(AMD_S + 3.0))  # the fault's length, not a wait
        await sim.wait_for_channel_count(0, timeout=15)
        [record] = ended_customers(sim)
        assert announced(sim, record.call_id), "the dialplan announced the verdict"
        assert record.ended_by == "patience" and record.bridged is None, "hung up on hold"
        assert stalled_at <= (record.ended or 0.0), "the hang-up fell in the stall"
        await stall
        await b.until(lambda: not b.dialer.calls(), timeout=20)
        await b.dialer.settled()

        assert proxy.stats.stalls == 1 and proxy.stats.connections >= 2, "seen again after a reconnect"
        assert [a.result for a in await attempts_on(redis_client, number(1))] == [result]
        assert b.sample("switchboard_dial_abandoned_total", campaign="c1") == abandons
        assert (await stats(redis_client)).get("x", 0) == abandons
        [outcome] = await audit_of(redis_client, record.call_id, "outcome")
        assert ("in doubt" in outcome.get("detail", "")) == bool(abandons), outcome
        assert await open_ids(redis_client) == []


async def test_a_customer_who_answered_and_hung_up_on_hold_while_the_engine_was_down_is_an_abandon(
    redis_client: aioredis.Redis,
) -> None:
    """The recovery path of the same case: the engine sees the answer and dies; the verdict comes,
    the customer waits on hold past the grace and hangs up before an engine is back. The dial
    record says the customer answered: the restarted engine settles an abandon in doubt."""
    rules, config = blended_rules("1001"), campaigns(campaign(ring_timeout_s=30))
    script = CustomerScript(outcome="answer", ring_s=0.5, patience_s=AMD_S + 2.5)
    pbx = SimulatedPbx(
        sim_config(time_scale=1.0, amd_s=(AMD_S, AMD_S), customer_overrides={number(1): script}), seed=13
    )
    clock = RunningClock()  # one time line across the restart
    await pbx.start()
    try:
        async with blended(redis_client, rules, config, pbx=pbx, clock=clock) as first:
            await first.acd.login("1001")
            await first.load_leads([lead(1)])
            await first.start()
            await first.until(lambda: [c.phase for c in first.dialer.calls()] == [Phase.ANSWERED], timeout=15)
            await first.dialer.set_state("c1", CampaignState.PAUSED, "supervisor")
            await first.dialer.settled()  # the background writes started so far, the answer's mark included
            [intent] = await IntentStore(redis_client).open_intents()
            assert intent.answered_ms > 0 and intent.connected_ms == 0, "the dial record says: answered"
        await pbx.wait_for_channel_count(0, timeout=15)  # verdict, hold and hang-up while no engine runs
        [record] = ended_customers(pbx)
        assert announced(pbx, record.call_id) and record.ended_by == "patience"

        async with blended(redis_client, rules, config, pbx=pbx, clock=clock) as second:
            settled = {"campaign": "c1", "how": "settled"}
            await second.until(
                lambda: second.sample("switchboard_dial_intents_recovered_total", **settled) == 1, timeout=15
            )
            assert [a.result for a in await attempts_on(redis_client, number(1))] == [CallResult.ABANDONED]
            counted = await stats(redis_client)
            assert counted.get("x") == 1 and counted.get("a") == 1, "one live answer, abandoned"
            [outcome] = await audit_of(redis_client, record.call_id, "outcome")
            assert "in doubt" in outcome.get("detail", ""), outcome
            assert await open_ids(redis_client) == []
    finally:
        await pbx.stop()
