"""The ACD when things go wrong: Redis stops answering, Asterisk refuses to ring an agent."""

from __future__ import annotations

import json
import time

import pytest
import redis.asyncio as aioredis

from routing.acd.acd_keys import AcdKeys
from routing.agent_events import AgentState
from switchboard.private_redis import PrivateRedis
from tests.support.acd_harness import acd_stack, agent, base_rules, make_rules, sim_config

pytestmark = pytest.mark.integration
ABANDONED = "switchboard_acd_calls_abandoned_total"
LATE_S = 0.5


async def test_calls_are_served_while_redis_is_down_and_written_back_after(own_redis: PrivateRedis) -> None:
    client = aioredis.Redis.from_url(own_redis.url, socket_timeout=0.3)
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)]))
    try:
        async with acd_stack(client, rules, sim_config()) as s:
            await s.acd.login("a1")
            own_redis.pause()
            caller = await s.sim.inbound_call("+36301234567", "+3612345678", patience_s=600, talk_s=600)
            await s.until_state("a1", AgentState.BUSY, timeout=15)
            assert s.acd.dispatcher.dirty
            own_redis.resume()
            await s.until(lambda: not s.acd.dispatcher.dirty, timeout=15)
            call_id = s.sim.channels[caller].uniqueid
            stored = json.loads(await client.get(AcdKeys().call(call_id)) or "{}")
            assert (stored["facts"]["state"], stored["facts"]["agent_id"]) == ("connected", "a1")
            status = json.loads(await client.get(AcdKeys().agent_status("a1")) or "{}")
            assert status["state"] == "busy" and status["call_id"] == call_id
    finally:
        await client.aclose()


async def test_an_agent_asterisk_cannot_ring_is_skipped(redis_client: aioredis.Redis) -> None:
    agents = [agent("ghost", "Local/2001@nowhere", tech=2), agent("a2", "PJSIP/2002", tech=3)]
    rules = make_rules(base_rules(agents=agents))
    async with acd_stack(redis_client, rules, sim_config()) as s:
        for agent_id in ("ghost", "a2"):
            await s.acd.login(agent_id)
        await s.sim.inbound_call("+36301234567", "+3612345678", patience_s=600)
        await s.until_state("a2", AgentState.BUSY)
        assert [a.get("Channel") for a in s.actions("Originate")] == ["Local/2001@nowhere", "PJSIP/2002"]
        assert s.acd.agent("ghost").missed_rings == 1


async def test_stray_and_duplicate_events_change_nothing(redis_client: aioredis.Redis) -> None:
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)]))
    async with acd_stack(redis_client, rules, sim_config()) as s:
        caller = await s.sim.inbound_call("+36301234567", "+3612345678", patience_s=600)
        await s.until(lambda: len(s.waiting_ids()) == 1)
        call_id = s.sim.channels[caller].uniqueid
        sent = await s.engine.client.send(
            "UserEvent",
            {"UserEvent": "SwitchboardInbound", "CallID": call_id, "CallerIDNum": "+36201111111"},
        )
        assert sent.response.ok
        stray = {"UserEvent": "SwitchboardAgentAnswered", "CallID": "nope", "AgentID": "a1"}
        assert (await s.engine.client.send("UserEvent", stray)).response.ok
        await s.until(lambda: any(e.get("CallID") == "nope" for e in s.observer.seen))
        assert s.engine.stats.service_errors == 0
        assert s.waiting_ids() == [call_id]
        assert [w.tier for q in s.acd.queues() for w in q.waiting] == ["active"]  # not re-classified
        assert s.state("a1") is AgentState.LOGGED_OUT and not s.actions("Hangup")


async def test_a_refusal_to_ring_that_comes_late_skips_the_agent_and_holds_up_no_other_call(
    redis_client: aioredis.Redis,
) -> None:
    """Asterisk answers every Originate 0.5 s late: the ACD does not wait for it. A second caller
    is rung for while the first ring's answer is still out; the refusal, when it comes, is settled
    as before (a missed ring, the call routed again), and both calls end as talks, not abandons."""
    agents = [
        agent("ghost", "Local/2001@nowhere", tech=2), agent("a2", "PJSIP/2002", tech=3),
        agent("a3", "PJSIP/2003", tech=3),
    ]  # fmt: skip
    rules = make_rules(base_rules(agents=agents))
    async with acd_stack(redis_client, rules, sim_config()) as s:
        s.sim.answer_late("Originate", LATE_S)
        for agent_id in ("ghost", "a2", "a3"):
            await s.acd.login(agent_id)
        first = await s.sim.inbound_call("+36301234567", "+3612345678", patience_s=600, talk_s=0.5)
        ghost = await s.sim.wait_for_action("Originate")
        assert ghost.get("Channel") == "Local/2001@nowhere"
        rung_at = time.perf_counter()
        await s.sim.inbound_call("+36301234568", "+3612345678", patience_s=600, talk_s=0.5)
        await s.sim.wait_for_action("Originate", lambda a: a.get("Channel") != "Local/2001@nowhere")
        assert time.perf_counter() - rung_at < LATE_S, "the second call waited for the first ring's answer"

        await s.until(lambda: s.acd.agent("ghost").missed_rings >= 1)
        first_id = s.sim.channels[first].uniqueid
        await s.until(lambda: first_id in s.acd.ctx.state.calls and
                      s.acd.ctx.state.calls[first_id].facts.agent_id in ("a2", "a3"))  # fmt: skip
        await s.until(lambda: s.sample("switchboard_acd_calls_answered_total", queue="support",
                                       tier="active") == 2)  # fmt: skip
        await s.until(lambda: not s.acd.ctx.state.calls, timeout=15)  # both talked and hung up
        assert s.sample(ABANDONED, queue="support", tier="active") == 0
        assert [a.get("Channel1") for a in s.actions("Bridge")].count(first) == 1
