"""A customer on hold whose Bridge to an agent Asterisk REFUSED over a live link (the agent's leg
vanished as the Bridge went out: `Response: Error`, `Channel2 does not exist`), and who then hangs
up on hold past the grace: the simulated Asterisk over TCP (its `vanish_before("Bridge")`), behind
the fault proxy where a stall is injected, real Redis, the engine of `switchboard run`.

A refused Bridge connected nobody. The dial record carries the refusal (`bridge_refused_ms`), so
the engine restarted after a crash settles the call as the live engine and both resync orders do:
one abandon, never `answered` (which would under-count the abandon rate's legal cap and finish a
lead whose customer talked to nobody).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from dialer.calls.intents import Intent, IntentStore
from dialer.calls.recovery import TALK_ENDED_UNSEEN, unseen_end
from dialer.compliance.caps import CallResult
from dialer.loop.campaign_control import CampaignState
from pbx.codec import Action
from pbx.sim import CustomerScript, SimulatedPbx
from pbx.sim.config import AgentPhone
from tests.integration.test_dialer_intents import (
    T0,
    attempts_on,
    audit_of,
    lead_fields,
    open_ids,
    stats,
)
from tests.integration.test_outbound_hold_abandon import resync_order
from tests.support.blended_harness import Blended, blended, blended_rules
from tests.support.dialer_harness import RunningClock, campaign, campaigns, lead, number, sim_config
from tests.support.proxy_harness import behind_proxy, ended_customers, published

pytestmark = pytest.mark.integration

AMD_S = 1.5  # the dialplan's AMD() listens this long, then announces the verdict (UserEvent)
# The Bridge (the verdict + the agent's 0.5 s answer) goes out, and a stall after it is noticed
# (1 s Ping timeout), well within the grace.
GRACE_S = 5.0
# Hangs up on hold past the grace since the answer; the agent's leg vanishes at the Bridge and a
# missed ring pauses the agent, so nobody else is rung meanwhile.
ON_HOLD = CustomerScript(outcome="answer", ring_s=0.5, patience_s=AMD_S + GRACE_S + 1.5)
RULES = blended_rules("1001", missed_rings_before_pause=1)
PLANS = campaigns(campaign(ring_timeout_s=30, pacing={"abandon_grace_s": GRACE_S}))


def bridges(sim: SimulatedPbx) -> list[Action]:
    return [a for a in sim.actions if a.name == "Bridge"]


async def refused_bridge(b: Blended, redis: aioredis.Redis) -> Intent:
    """Run the campaign until the ACD's Bridge of the customer was refused and its marks written;
    the dial record as it is then."""
    b.sim.vanish_before("Bridge")
    await b.acd.login("1001")
    await b.load_leads([lead(1)])
    await b.start()
    await b.until(lambda: bool(bridges(b.sim)) and not b.acd.ctx.executor.bridging, timeout=20)
    await b.dialer.set_state("c1", CampaignState.PAUSED, "supervisor")
    await b.dialer.settled()  # the background writes started so far: the Bridge's two marks
    [intent] = await IntentStore(redis).open_intents()
    assert intent.answered_ms > 0 and intent.connected_ms == 0
    assert intent.bridge_refused_ms >= intent.bridge_ms > 0, "the record: a Bridge sent, then refused"
    assert b.acd.bridge_sent(intent_channel(b)) is None, "the ACD knows it connected nobody"
    return intent


def intent_channel(b: Blended) -> str:
    [call] = b.dialer.calls()
    return call.channel


async def assert_one_abandon(
    b: Blended, redis: aioredis.Redis, call_id: str, *, in_doubt: bool, counted_here: bool = True
) -> None:
    """One abandon for the call, in the attempt, the counters and the audit; the lead released for a
    retry (never `done` as answered); the customer dialed once."""
    assert [a.result for a in await attempts_on(redis, number(1))] == [CallResult.ABANDONED]
    counted = await stats(redis)
    assert counted.get("x") == 1 and counted.get("a") == 1, "one live answer, abandoned"
    if counted_here:
        assert b.sample("switchboard_dial_abandoned_total", campaign="c1") == 1
    [outcome] = await audit_of(redis, call_id, "outcome")
    assert ("in doubt" in outcome.get("detail", "")) == in_doubt, outcome
    assert (await lead_fields(redis, "L1")).get("status") != "done", "not finished as answered"
    assert b.dialed() == [number(1)], "dialed once"
    assert await open_ids(redis) == []


async def test_a_customer_whose_refused_bridge_was_followed_by_a_crash_and_a_hang_up_unseen_is_an_abandon(
    redis_client: aioredis.Redis,
) -> None:
    """The triple fault: the Bridge is refused over a live link, the engine dies before the customer
    is connected elsewhere, the customer hangs up on hold past the grace while no engine runs. The
    restarted engine's recovery reads the refusal on the dial record: an abandon in doubt, counted
    once, not `answered`."""
    config = sim_config(
        time_scale=1.0, amd_s=(AMD_S, AMD_S), customer_overrides={number(1): ON_HOLD},
        default_agent=AgentPhone(answer_after_s=0.5),
    )  # fmt: skip
    pbx = SimulatedPbx(config, seed=13)
    clock = RunningClock()  # one time line across the restart
    await pbx.start()
    try:
        async with blended(redis_client, RULES, PLANS, pbx=pbx, clock=clock) as first:
            intent = await refused_bridge(first, redis_client)
            answered_s = intent.answered_ms / 1000
            assert clock() < answered_s + AMD_S + GRACE_S, "the engine stops before its grace could end"
        await pbx.wait_for_channel_count(0, timeout=15)  # the hang-up on hold while no engine runs
        [record] = ended_customers(pbx)
        assert record.ended_by == "patience" and record.bridged is None, "hung up on hold, never bridged"

        async with blended(redis_client, RULES, PLANS, pbx=pbx, clock=clock) as second:
            settled = {"campaign": "c1", "how": "settled"}
            await second.until(
                lambda: second.sample("switchboard_dial_intents_recovered_total", **settled) == 1, timeout=15
            )
            await assert_one_abandon(second, redis_client, record.call_id, in_doubt=True)
            await second.until(lambda: not second.acd.ctx.state.calls, timeout=10)
            await second.acd_settled()  # the call left the ACD's memory before the commit with its event
            history = await published(second.redis, record.call_id)
            assert [e.type for e in history] == ["abandoned"], "the ACD agrees: nobody talked"
    finally:
        await pbx.stop()


@pytest.mark.parametrize(
    "fault", ["live", "acd-resyncs-first", "dialer-resyncs-first"], ids=lambda fault: fault
)
async def test_a_customer_whose_bridge_was_refused_is_one_abandon_live_and_in_both_resync_orders(
    redis_client: aioredis.Redis, fault: str
) -> None:
    """The same refused Bridge with the engine running: `live`, the link stays up and the grace
    ends in the abandon message (an abandon seen, not in doubt); otherwise the link stalls right
    after the refusal, the customer hangs up on hold unseen past the grace, and after the reconnect
    the ACD and the dialer agree whichever resyncs first: one abandon, in doubt."""
    config = sim_config(
        time_scale=1.0, amd_s=(AMD_S, AMD_S), customer_overrides={number(1): ON_HOLD},
        default_agent=AgentPhone(answer_after_s=0.5),
    )  # fmt: skip
    async with (
        behind_proxy(config) as (sim, proxy, ami),
        blended(redis_client, RULES, PLANS, pbx=sim, ami=ami) as b,
    ):
        resync_order(b, dialer_first=fault == "dialer-resyncs-first")
        await refused_bridge(b, redis_client)
        stall = None if fault == "live" else asyncio.create_task(proxy.stall(GRACE_S + 4.0))
        await b.until(lambda: bool(ended_customers(sim)), timeout=20)
        [record] = ended_customers(sim)
        assert record.bridged is None, "never bridged"
        if stall is not None:
            assert record.ended_by == "patience", "hung up on hold, in the stall"
            await stall
        await b.until(lambda: not b.acd.ctx.state.calls and not b.dialer.calls(), timeout=20)
        await b.dialer.settled()
        await b.acd_settled()  # the call left the ACD's memory before the commit that carries its event

        stalled = (proxy.stats.stalls, proxy.stats.connections >= 2)
        assert stalled == ((0, False) if stall is None else (1, True)), "seen after a reconnect"
        await assert_one_abandon(b, redis_client, record.call_id, in_doubt=stall is not None)
        history = [e.type for e in await published(b.redis, record.call_id)]
        # live: the dialer's abandon withdrew the call from the ACD, which adds nothing
        assert history == ([] if stall is None else ["abandoned"]), "nobody talked"


async def test_the_bridge_marks_keep_the_latest_moment_in_any_order(redis_client: aioredis.Redis) -> None:
    """Retried marks may land out of order: a refusal written late never hides a later Bridge, and a
    late Bridge mark never hides a later refusal."""
    store = IntentStore(redis_client)
    placed = Intent("c1", "a-c1", number(1), "c1", "campaign", int(T0.timestamp() * 1000), "engine-1")
    assert await store.open(placed, at=T0, hold=timedelta(minutes=1)) is None
    first, refused, second = (T0 + timedelta(seconds=s) for s in (2, 2.001, 6))
    await store.mark_bridge_sent("c1", at=second)
    await store.mark_bridge_refused("c1", at=refused)
    await store.mark_bridge_sent("c1", at=first)  # the first Bridge's mark, retried after the second
    [found] = await store.open_intents()
    assert found.bridge_may_have_connected, "the second Bridge went out after the refusal"
    await store.mark_bridge_refused("c1", at=second + timedelta(milliseconds=5))
    await store.mark_bridge_refused("c1", at=refused)  # a retried older refusal changes nothing
    [found] = await store.open_intents()
    assert not found.bridge_may_have_connected and found.bridge_ms == int(second.timestamp() * 1000)


async def test_bridge_marks_of_two_engines_are_ordered_as_written_not_by_their_clocks(
    redis_client: aioredis.Redis,
) -> None:
    """A failover between a refused Bridge and the next one: the engines' clocks may differ (here the
    new owner's is 10 s behind), so their marks are compared by the order they were written in;
    one engine's retried marks are still ordered by its own clock."""
    store = IntentStore(redis_client)
    placed = Intent("c1", "a-c1", number(1), "c1", "campaign", int(T0.timestamp() * 1000), "engine-1")
    assert await store.open(placed, at=T0, hold=timedelta(minutes=1)) is None
    ahead, behind = T0 + timedelta(seconds=20), T0 + timedelta(seconds=10)  # the same real moment + 10 s
    await store.mark_bridge_sent("c1", at=ahead, by="engine-1")
    await store.mark_bridge_sent("c1", at=ahead - timedelta(seconds=1), by="engine-1")  # retried, late
    await store.mark_bridge_refused("c1", at=ahead + timedelta(milliseconds=1), by="engine-1")
    [found] = await store.open_intents()
    assert not found.bridge_may_have_connected, "engine-1's Bridge was refused"

    # engine-1 is gone; engine-2 takes the calls over and sends a Bridge, at an earlier clock time
    await store.mark_bridge_sent("c1", at=behind + timedelta(seconds=3), by="engine-2")
    [found] = await store.open_intents()
    assert found.bridge_ms < found.bridge_refused_ms, "by the clocks it would look refused"
    assert found.bridge_may_have_connected, "engine-2's Bridge went out after the refusal"
    assert unseen_end(found, (ahead + timedelta(minutes=5)).timestamp(), 2.0) == TALK_ENDED_UNSEEN

    await store.mark_bridge_refused("c1", at=behind + timedelta(seconds=3, milliseconds=2), by="engine-2")
    await store.mark_bridge_sent("c1", at=behind + timedelta(seconds=2), by="engine-2")  # retried, late
    [found] = await store.open_intents()
    assert not found.bridge_may_have_connected, "engine-2's Bridge was refused too"
