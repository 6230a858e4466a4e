"""The ACD issue's end-to-end scenarios, over real AMI and a private Redis.

VIP after ten normal callers; escalation, overflow and max-wait exits decided at
the time the core asks for; an engine restart keeping the queue; a rules swap
re-evaluating waiting callers; a reconnect closing what vanished meanwhile.
"""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from core.config.loader import content_hash
from pbx.sim import AgentPhone
from pbx.sim.rawclient import RawAmiClient
from routing.acd import AcdOptions
from routing.agent_events import AgentState
from tests.support.acd_harness import (
    SECRET,
    acd_stack,
    agent,
    base_rules,
    make_rules,
    originate_vars,
    running_engine,
    running_sim,
    sim_config,
)

pytestmark = pytest.mark.integration
LINE = "+3612345678"
VIP = "+36201111111"


async def test_a_vip_after_ten_callers_is_answered_first_by_the_closest_level_agent(
    redis_client: aioredis.Redis,
) -> None:
    agents = [
        agent("expert", "PJSIP/2005", tech=5),
        agent("senior", "PJSIP/2004", tech=4),
        agent("novice", "PJSIP/2002", tech=2),
    ]
    rules = make_rules(base_rules(agents=agents))  # normal calls need tech 2-3 now; VIPs need 4+
    async with acd_stack(redis_client, rules, sim_config()) as s:
        for agent_id in ("expert", "senior"):
            await s.acd.login(agent_id)
        normal = [await s.sim.inbound_call(f"+363011100{i:02d}", LINE, patience_s=600) for i in range(10)]
        await s.until(lambda: len(s.waiting_ids()) == 10)
        vip = await s.sim.inbound_call(VIP, LINE, patience_s=600)
        await s.until_state("senior", AgentState.BUSY)

        first = s.actions("Originate")
        assert (
            len(first) == 1
            and originate_vars(first[0])["SWITCHBOARD_CALL_ID"] == s.sim.channels[vip].uniqueid
        )
        assert originate_vars(first[0])["SWITCHBOARD_TIER"] == "key"
        assert first[0].get("Channel") == "PJSIP/2004"  # level 4 = the need, not the level-5 expert
        assert s.state("expert") is AgentState.READY
        order = [s.sim.channels[name].uniqueid for name in normal]
        assert s.waiting_ids() == order  # the ten still wait, in arrival order

        await s.acd.login("novice")
        await s.until_state("novice", AgentState.BUSY)
        assert originate_vars(s.actions("Originate")[1])["SWITCHBOARD_CALL_ID"] == order[0]


async def test_escalation_widens_the_agents_at_the_time_the_core_gives(redis_client: aioredis.Redis) -> None:
    queue = {**base_rules()["queues"][0], "level": 3, "match": {"above": 0}}
    queue["escalation"] = [{"after_seconds": 0.4, "widen": 1}]
    rules = make_rules(base_rules(agents=[agent("a2", "PJSIP/2002", tech=2)], queues=[queue]))
    async with acd_stack(redis_client, rules, sim_config()) as s:
        await s.acd.login("a2")
        caller = await s.sim.inbound_call("+36301234567", LINE, patience_s=600)
        await s.until(lambda: len(s.waiting_ids()) == 1)
        assert not s.actions("Originate")  # tech 2 is below the need of 3
        await s.until_state("a2", AgentState.BUSY)
        case = await s.acd.case(s.sim.channels[caller].uniqueid)
        history = s.acd.ctx.state.status("a2").history
        offered_at = next(at for at, state in history if state is AgentState.RESERVED)
        assert 0.4 <= offered_at - case.arrived_at < 1.0


async def test_overflow_moves_the_call_and_max_wait_exit_redirects(redis_client: aioredis.Redis) -> None:
    support = {**base_rules()["queues"][0], "escalation": [{"after_seconds": 0.3, "overflow_to": "billing"}]}
    billing = {
        "name": "billing",
        "skill": "billing",
        "level": 1,
        "max_wait": {"seconds": 0.3, "action": "exit"},
    }
    rules = make_rules(base_rules(agents=[agent("b1", "PJSIP/2007", billing=1)], queues=[support, billing]))
    async with acd_stack(redis_client, rules, sim_config()) as s:
        await s.acd.login("b1")
        await s.sim.inbound_call("+36301234567", LINE, patience_s=600, talk_s=600)
        await s.until_state("b1", AgentState.BUSY)
        labels = {"queue": "support", "tier": "active", "outcome": "overflow"}
        assert s.sample("switchboard_acd_calls_routed_out_total", **labels) == 1
        assert s.sample("switchboard_acd_calls_offered_total", queue="billing", tier="active") == 1
        assert originate_vars(s.actions("Originate")[0])["SWITCHBOARD_QUEUE"] == "billing"

        # b1 is busy: the next caller overflows to billing and leaves at billing's max wait
        caller = await s.sim.inbound_call("+36307654321", LINE, patience_s=600)
        redirect = await s.sim.wait_for_action("Redirect", timeout=5)
        assert (redirect.get("Channel"), redirect.get("Context"), redirect.get("Exten")) == (
            caller,
            "switchboard-exit",
            "voicemail",
        )
        await s.until(lambda: caller not in s.sim.channels)
        labels = {"queue": "billing", "tier": "active", "outcome": "exit"}
        assert s.sample("switchboard_acd_calls_routed_out_total", **labels) == 1
        assert not s.waiting_ids()


async def test_an_engine_restart_keeps_the_queue_order(redis_client: aioredis.Redis) -> None:
    queue = {**base_rules()["queues"][0], "match": {"above": 3}}
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=4)], queues=[queue]))
    async with running_sim(sim_config()) as sim:
        async with running_engine(sim, redis_client, rules) as s:
            for i in range(3):
                await sim.inbound_call(f"+363022200{i:02d}", LINE, patience_s=600)
            vip = await sim.inbound_call(VIP, LINE, patience_s=600)
            await s.until(lambda: len(s.waiting_ids()) == 4)
            await s.settled()  # memory has an arrived caller before Redis: written before the engine stops
            before = s.waiting_ids()
            cases = {w.call_id: w.case_id for q in s.acd.queues() for w in q.waiting}
        assert before[0] == sim.channels[vip].uniqueid
        gone = await sim.inbound_call("+36303330000", LINE, patience_s=0.2)  # leaves while no engine runs
        await sim.wait_for_event("Hangup", lambda e: e.get("Channel") == gone, timeout=5)

        async with running_engine(sim, redis_client, rules) as s:
            await s.until(lambda: s.engine.stats.resyncs == 1)
            assert s.waiting_ids() == before
            assert {w.call_id: w.case_id for q in s.acd.queues() for w in q.waiting} == cases
            await s.acd.login("a1")
            await s.until_state("a1", AgentState.BUSY)
            assert s.acd.agent("a1").call_id == before[0]
            assert s.waiting_ids() == before[1:]


async def test_new_rules_re_evaluate_the_waiting_callers(redis_client: aioredis.Redis) -> None:
    strict = {**base_rules()["queues"][0], "level": 3, "match": {"above": 1, "below": 0}}
    old = make_rules(base_rules(agents=[agent("a2", "PJSIP/2002", tech=2)], queues=[strict]))
    async with acd_stack(redis_client, old, sim_config()) as s:
        await s.acd.login("a2")
        first = await s.sim.inbound_call("+36301234567", LINE, patience_s=600)
        second = await s.sim.inbound_call("+36309876543", LINE, patience_s=600)
        await s.until(lambda: len(s.waiting_ids()) == 2)
        ids = [s.sim.channels[name].uniqueid for name in (first, second)]
        assert [w.tier for q in s.acd.queues() for w in q.waiting] == ["active", "active"]

        tiers = [*base_rules()["tiers"]]
        tiers[0] = {**tiers[0], "callers": ["+36309876543"], "min_level": None}
        loose = {**strict, "level": 2}
        new = make_rules(base_rules(agents=[agent("a2", "PJSIP/2002", tech=2)], queues=[loose], tiers=tiers))
        await s.acd.replace_rules(new, "edited")
        # the second caller is a key client now, so jumps the line; tech 2 fits the new need at once
        await s.until_state("a2", AgentState.BUSY)
        assert s.acd.agent("a2").call_id == ids[1]
        assert s.waiting_ids() == [ids[0]]
        info = next(m for m in s.registry.collect() if m.name == "switchboard_acd_rules").samples[0]
        assert (info.labels["hash"], info.labels["source"]) == (content_hash(new), "edited")


async def test_a_reconnect_closes_callers_and_rings_that_vanished_meanwhile(
    redis_client: aioredis.Redis,
) -> None:
    queue = {**base_rules()["queues"][0], "ring_timeout_seconds": 30}
    agents = [agent("deaf", "PJSIP/2002", tech=2)]
    rules = make_rules(base_rules(agents=agents, queues=[queue]))
    options = AcdOptions(ring_grace_s=60)
    config = sim_config(**{"2002": AgentPhone(answer_after_s=None)})
    async with (
        running_sim(config) as sim,
        running_engine(sim, redis_client, rules, options=options, reconnect_min=1.0) as s,
    ):
        await s.acd.login("deaf")
        ringing = await sim.inbound_call("+36301234567", LINE, patience_s=600)
        waiting = await sim.inbound_call("+36309876543", LINE, patience_s=600)
        await s.until(lambda: len(s.waiting_ids()) == 1 and s.state("deaf") is AgentState.RINGING)
        leg = next(name for name in sim.channels if name.startswith("PJSIP/2002-"))

        await sim.drop_connections()  # the engine is away for 0.5-1 s (reconnect backoff)
        other = await RawAmiClient.connect("127.0.0.1", sim.port)
        await other.login("switchboard", SECRET)
        for name in (leg, waiting):
            assert (await other.request("Hangup", [("Channel", name)])).ok
        await other.close()

        await s.until(lambda: s.engine.stats.resyncs == 2)
        assert s.sample("switchboard_acd_calls_abandoned_total", queue="support", tier="active") == 1
        # the deaf agent's leg vanished: released without a miss, and rung again for the same caller
        assert s.acd.agent("deaf").missed_rings == 0
        await s.until_state("deaf", AgentState.RINGING)
        assert s.acd.agent("deaf").call_id == sim.channels[ringing].uniqueid


async def test_an_agent_who_answered_while_the_engine_was_away_is_bridged_after(
    redis_client: aioredis.Redis,
) -> None:
    queue = {**base_rules()["queues"][0], "ring_timeout_seconds": 30}
    rules = make_rules(base_rules(agents=[agent("a1", "Local/2001@agents", tech=2)], queues=[queue]))
    async with running_sim(sim_config(**{"2001": AgentPhone(answer_after_s=0.5)})) as sim:
        async with running_engine(sim, redis_client, rules) as s:
            await s.acd.login("a1")
            caller = await sim.inbound_call("+36301234567", LINE, patience_s=600)
            await s.until_state("a1", AgentState.RINGING)
        answered = await sim.wait_for_event(
            "UserEvent", lambda e: e.get("UserEvent") == "SwitchboardAgentAnswered"
        )
        assert not [a for a in sim.actions if a.name == "Bridge"]

        async with running_engine(sim, redis_client, rules) as s:
            await s.until_state("a1", AgentState.BUSY)
            await s.settled()  # memory says busy before the commit that carries the handover
            bridge = s.actions("Bridge")[0]
            assert (bridge.get("Channel1"), bridge.get("Channel2")) == (caller, answered.get("Channel"))
            assert (answered.get("Channel") or "").endswith(";1") and not s.actions("Hangup")
            assert [e.type for e in await s.acd.events.read()] == ["handover"]
