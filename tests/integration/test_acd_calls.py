"""The ACD over real AMI: a caller is classified, held, an agent rung, bridged, released into wrap-up.

Simulated Asterisk over TCP, the engine's AMI client and tracker, a private Redis.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from pbx.sim import AgentPhone
from routing.acd import AcdOptions
from routing.acd.acd_keys import AcdKeys
from routing.acd.timers import Timer, TimerKind
from routing.agent_events import AgentState
from tests.support.acd_harness import (
    Stack,
    acd_stack,
    agent,
    base_rules,
    make_rules,
    originate_vars,
    sim_config,
)

pytestmark = pytest.mark.integration
CALLER = "+36301234567"
ABANDONED = "switchboard_acd_calls_abandoned_total"


async def test_a_call_is_rung_bridged_handed_over_and_wrapped_up(redis_client: aioredis.Redis) -> None:
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)]))
    config = sim_config(**{"2001": AgentPhone(answer_after_s=0.05)})
    async with acd_stack(redis_client, rules, config) as s:
        await s.acd.login("a1")
        caller = await s.sim.inbound_call(CALLER, "+3612345678", ivr_choice="2", patience_s=600, talk_s=0.3)
        await s.until_state("a1", AgentState.BUSY)
        await s.settled()  # memory says busy before the commit that carries the handover
        call_id = s.sim.channels[caller].uniqueid

        ring = s.actions("Originate")[0]
        target = (ring.get("Channel"), ring.get("Context"), ring.get("Exten"))
        assert target == ("PJSIP/2001", "switchboard-agent", "s")
        assert ring.get("Timeout") == "600" and ring.get("Async") == "true"
        variables = originate_vars(ring)
        case_id = variables["SWITCHBOARD_CASE_ID"]
        assert variables["SWITCHBOARD_CALL_ID"] == call_id
        assert (variables["SWITCHBOARD_AGENT_ID"], variables["SWITCHBOARD_TIER"]) == ("a1", "active")
        assert (variables["SWITCHBOARD_CALLER"], variables["SWITCHBOARD_IVR"]) == (CALLER, "2")
        setvar = s.actions("Setvar")[0]  # the caller's channel carries the case number too
        assert (setvar.get("Channel"), setvar.get("Variable"), setvar.get("Value")) == (
            caller,
            "SWITCHBOARD_CASE_ID",
            case_id,
        )
        bridge = s.actions("Bridge")[0]
        assert bridge.get("Channel1") == caller and (bridge.get("Channel2") or "").startswith("PJSIP/2001-")

        handover = [e for e in await s.acd.events.read() if e.type == "handover"]
        assert [e.agent_id for e in handover] == ["a1"]
        assert handover[0].data | {"waited": 0} == handover[0].data | {
            "call_id": call_id, "case_id": case_id, "tier": "active", "caller": CALLER, "ivr": "2",
            "agent_id": "a1", "queue": "support", "dialled": "+3612345678", "waited": 0,
        }  # fmt: skip
        case = await s.acd.case(call_id)
        assert (case.state, case.agent_id, case.case_id) == ("connected", "a1", case_id)

        await s.until_state("a1", AgentState.WRAP_UP)  # the caller hung up after talking
        await s.settled()  # memory says wrap-up before the commit that ends the call in Redis
        assert await redis_client.scard(AcdKeys().calls) == 0
        await _wrapped_up_and_counted(s, call_id)


async def _wrapped_up_and_counted(s: Stack, call_id: str) -> None:
    await s.until_state("a1", AgentState.READY)
    history = s.acd.ctx.state.status("a1").history
    wrap_start = next(at for at, state in history if state is AgentState.WRAP_UP)
    assert history[-1][0] - wrap_start >= 0.2
    assert s.sample("switchboard_acd_calls_offered_total", queue="support", tier="active") == 1
    assert s.sample("switchboard_acd_calls_answered_total", queue="support", tier="active") == 1
    labels = {"queue": "support", "tier": "active", "outcome": "answered"}
    assert s.sample("switchboard_acd_wait_seconds_count", **labels) == 1
    assert s.sample("switchboard_acd_decision_seconds_count", action="originate") == 1
    assert [e.type for e in await s.acd.events.read()] == ["handover", "ended"]
    assert (await s.acd.case(call_id)).state == "ended"
    s.acd.refresh_gauges(time.time())
    assert s.sample("switchboard_acd_agents", state="ready") == 1
    assert s.sample("switchboard_acd_agents", state="logged_out") == 0
    assert s.sample("switchboard_acd_service_level_ratio", queue="support") == 1.0
    assert s.sample("switchboard_acd_service_level_target_ratio", queue="support") == 0.8
    assert 0 < s.sample("switchboard_acd_agent_occupancy_ratio", agent="a1") < 1
    assert s.sample("switchboard_acd_calls_waiting", queue="support") == 0
    assert s.sample("switchboard_acd_oldest_wait_seconds", queue="support") == 0
    assert s.sample("switchboard_acd_queue_agents", queue="support", state="ready") == 1


async def test_the_waiting_call_is_stored_with_its_case(redis_client: aioredis.Redis) -> None:
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)]))
    await redis_client.hset(AcdKeys().crm_customer(CALLER), mapping={"segment": "gold", "name": "Kiss Anna"})
    async with acd_stack(redis_client, rules, sim_config()) as s:
        caller = await s.sim.inbound_call("06 30 123 4567", "+3612345678", patience_s=600)
        await s.until(lambda: len(s.waiting_ids()) == 1)
        await s.settled()  # an arrived caller is in memory before Redis (written as the step goes on)
        call_id = s.sim.channels[caller].uniqueid
        keys = AcdKeys()
        assert await redis_client.zrange(keys.queue("support"), 0, -1) == [call_id.encode()]
        stored = json.loads(await redis_client.get(keys.call(call_id)) or "{}")
        assert stored["tier"] == "active" and stored["needs"] == [["tech", 2]]
        facts = stored["facts"]
        assert (facts["number"], facts["state"], facts["channel"]) == (CALLER, "waiting", caller)
        assert facts["crm"] == {"segment": "gold", "name": "Kiss Anna"} and facts["case_id"]
        assert not s.actions("Originate")  # nobody is logged in
        s.acd.refresh_gauges(s.acd.ctx.state.waiting()[0].since + 42.0)
        assert s.sample("switchboard_acd_oldest_wait_seconds", queue="support") == 42.0
        assert s.sample("switchboard_acd_queue_agents", queue="support", state="logged_out") == 1
        assert s.sample("switchboard_acd_queue_agents", queue="support", state="ready") == 0


async def test_a_call_offered_on_arrival_is_stored_once_with_its_agent_reserved(
    redis_client: aioredis.Redis,
) -> None:
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)]))
    config = sim_config(**{"2001": AgentPhone(answer_after_s=None)})  # it rings: the offer is what we see
    async with acd_stack(redis_client, rules, config) as s:
        await s.acd.login("a1")
        caller = await s.sim.inbound_call(CALLER, "+3612345678", patience_s=600)
        await s.until_state("a1", AgentState.RINGING)
        call_id, keys = s.sim.channels[caller].uniqueid, AcdKeys()
        stored = json.loads(await redis_client.get(keys.call(call_id)) or "{}")
        assert (stored["facts"]["state"], stored["facts"]["agent_id"]) == ("offered", "a1")
        assert stored["facts"]["case_id"]
        assert await redis_client.sismember(keys.calls, call_id)
        assert await redis_client.zrange(keys.queue("support"), 0, -1) == []  # never stored waiting
        status = json.loads(await redis_client.get(keys.agent_status("a1")) or "{}")
        assert (status["state"], status["call_id"]) in {("reserved", call_id), ("ringing", call_id)}


async def test_an_arriving_call_whose_agent_another_engine_took_is_stored_waiting(
    redis_client: aioredis.Redis,
) -> None:
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)]))
    async with acd_stack(redis_client, rules, sim_config()) as s:
        await s.acd.login("a1")
        keys = AcdKeys()
        taken = json.loads(await redis_client.get(keys.agent_status("a1")) or "{}")
        taken.update(state="busy", call_id="elsewhere")  # memory still says ready
        await redis_client.set(keys.agent_status("a1"), json.dumps(taken))
        caller = await s.sim.inbound_call(CALLER, "+3612345678", patience_s=600)
        call_id = s.sim.channels[caller].uniqueid
        await s.until(lambda: s.acd.ctx.state.status("a1").state is AgentState.BUSY)  # Redis believed
        await s.until(lambda: s.waiting_ids() == [call_id])
        await s.settled()  # an arrived caller is in memory before Redis (written as the step goes on)
        assert await redis_client.zrange(keys.queue("support"), 0, -1) == [call_id.encode()]
        stored = json.loads(await redis_client.get(keys.call(call_id)) or "{}")
        assert stored["facts"]["state"] == "waiting" and stored["facts"]["case_id"]
        assert not s.actions("Originate")


async def test_an_arriving_call_that_overflows_at_once_is_stored_in_the_target_queue_only(
    redis_client: aioredis.Redis,
) -> None:
    open_day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(datetime.now(UTC).weekday() + 3) % 7]
    support = {
        **base_rules()["queues"][0],
        "hours": {"zone": "UTC", "weekly": {open_day: ["08:00-09:00"]}},  # open another day only
        "when_closed": {"action": "overflow", "queue": "billing"},
    }
    billing = {"name": "billing", "skill": "billing", "level": 1}
    rules = make_rules(base_rules(queues=[support, billing]))
    async with acd_stack(redis_client, rules, sim_config()) as s:
        caller = await s.sim.inbound_call(CALLER, "+3612345678", patience_s=600)
        call_id, keys = s.sim.channels[caller].uniqueid, AcdKeys()
        await s.until(lambda: [a.call.queue for a in s.acd.ctx.state.calls.values()] == ["billing"])
        await s.settled()  # an arrived caller is in memory before Redis (written as the step goes on)
        assert await redis_client.zrange(keys.queue("billing"), 0, -1) == [call_id.encode()]
        assert await redis_client.zrange(keys.queue("support"), 0, -1) == []
        stored = json.loads(await redis_client.get(keys.call(call_id)) or "{}")
        assert stored["queue"] == "billing" and stored["facts"]["state"] == "waiting"


async def test_an_agent_who_does_not_answer_is_skipped_and_paused_after_n_misses(
    redis_client: aioredis.Redis,
) -> None:
    # the deaf agent has the closest level, so every call goes to them first
    agents = [agent("deaf", "PJSIP/2002", tech=2), agent("good", "Local/2003@agents", tech=3)]
    rules = make_rules(base_rules(agents=agents))
    phones = {"2002": AgentPhone(answer_after_s=None), "2003": AgentPhone(answer_after_s=0.05, talk_s=0.3)}
    async with acd_stack(redis_client, rules, sim_config(**phones)) as s:
        for agent_id in ("deaf", "good"):
            await s.acd.login(agent_id)
        first = await s.sim.inbound_call(CALLER, "+3612345678", patience_s=600, talk_s=600)
        await s.until_state("good", AgentState.BUSY)
        assert [a.get("Channel") for a in s.actions("Originate")] == ["PJSIP/2002", "Local/2003@agents"]
        deaf = s.acd.agent("deaf")
        assert (deaf.state, deaf.missed_rings) == ("ready", 1)
        # the caller heard music all along: nothing happened to its channel between hold and bridge
        names = [
            e.name for e in s.sim.events if e.get("Channel") == first and e.name not in ("Newexten", "VarSet")
        ]
        held = names.index("MusicOnHoldStart")
        assert names[held + 1 : held + 3] == ["MusicOnHoldStop", "BridgeEnter"]

        second = await s.sim.inbound_call("+36307654321", "+3612345678", patience_s=600, talk_s=0.2)
        await s.until_state("deaf", AgentState.PAUSED)
        assert s.acd.agent("deaf").pause_reason == "missed 2 rings"
        # the good agent hangs up on the first call, wraps up, then takes the second caller
        await s.until(lambda: s.acd.agent("good").call_id == s.sim.channels[second].uniqueid)
        await s.until_state("good", AgentState.BUSY)
        await s.settled()  # memory says busy before the commit; the answer is counted after it
        assert [a.get("Channel") for a in s.actions("Originate")][2:] == ["PJSIP/2002", "Local/2003@agents"]
        assert s.sample("switchboard_acd_calls_answered_total", queue="support", tier="active") == 2


async def test_a_caller_who_hangs_up_while_waiting_is_counted_abandoned(redis_client: aioredis.Redis) -> None:
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)]))
    async with acd_stack(redis_client, rules, sim_config()) as s:
        caller = await s.sim.inbound_call(CALLER, "+3612345678", patience_s=0.3)
        call_id = s.sim.channels[caller].uniqueid
        await s.until(lambda: s.sample(ABANDONED, queue="support", tier="active") == 1)
        labels = {"queue": "support", "tier": "active", "outcome": "abandoned"}
        assert s.sample("switchboard_acd_wait_seconds_count", **labels) == 1
        assert s.sample("switchboard_acd_wait_seconds_sum", **labels) >= 0.25
        keys = AcdKeys()
        assert await redis_client.zcard(keys.queue("support")) == 0
        assert not await redis_client.sismember(keys.calls, call_id)
        events = await s.acd.events.read()
        assert [(e.type, e.data["call_id"]) for e in events] == [("abandoned", call_id)]
        assert not s.waiting_ids()


async def test_a_caller_who_hangs_up_while_an_agent_rings_releases_the_agent(
    redis_client: aioredis.Redis,
) -> None:
    queue = {**base_rules()["queues"][0], "ring_timeout_seconds": 30}
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)], queues=[queue]))
    async with acd_stack(redis_client, rules, sim_config(**{"2001": AgentPhone(answer_after_s=None)})) as s:
        await s.acd.login("a1")
        caller = await s.sim.inbound_call(CALLER, "+3612345678", patience_s=0.4)
        await s.until_state("a1", AgentState.RINGING)
        leg = next(name for name in s.sim.channels if name.startswith("PJSIP/2001-"))
        await s.until(lambda: s.sample(ABANDONED, queue="support", tier="active") == 1)
        assert caller not in s.sim.channels
        assert [a.get("Channel") for a in s.actions("Hangup")] == [leg]
        await s.sim.wait_for_channel_count(0)
        info = s.acd.agent("a1")
        assert (info.state, info.missed_rings) == ("ready", 0)  # not the agent's fault


async def test_an_agent_who_logs_out_while_rung_hands_the_call_on(redis_client: aioredis.Redis) -> None:
    queue = {**base_rules()["queues"][0], "ring_timeout_seconds": 30}
    agents = [agent("leaver", "PJSIP/2002", tech=2), agent("stayer", "PJSIP/2003", tech=3)]
    rules = make_rules(base_rules(agents=agents, queues=[queue]))
    async with acd_stack(redis_client, rules, sim_config(**{"2002": AgentPhone(answer_after_s=None)})) as s:
        await s.acd.login("leaver")
        await s.sim.inbound_call(CALLER, "+3612345678", patience_s=600)
        await s.until_state("leaver", AgentState.RINGING)
        leg = next(name for name in s.sim.channels if name.startswith("PJSIP/2002-"))
        await s.acd.login("stayer")
        assert s.state("stayer") is AgentState.READY  # the call is with the leaver now
        await s.acd.logout("leaver")
        await s.until_state("stayer", AgentState.BUSY)
        assert [a.get("Channel") for a in s.actions("Hangup")] == [leg]
        assert s.state("leaver") is AgentState.LOGGED_OUT


async def test_the_dialled_number_picks_the_queue(redis_client: aioredis.Redis) -> None:
    billing = {"name": "billing", "skill": "billing", "level": 1}
    rules = make_rules(base_rules(queues=[base_rules()["queues"][0], billing]))
    options = AcdOptions(queues_by_dialled={"06 1 234 5600": "billing"})
    async with acd_stack(redis_client, rules, sim_config(), options=options) as s:
        await s.sim.inbound_call(CALLER, "+3612345600", patience_s=600)
        await s.sim.inbound_call(CALLER, "+3612345678", patience_s=600)
        await s.until(lambda: len(s.waiting_ids()) == 2)
        assert {q.name: len(q.waiting) for q in s.acd.queues()} == {"support": 1, "billing": 1}


async def test_a_stale_ring_timer_never_cuts_a_talk(redis_client: aioredis.Redis) -> None:
    """A ring timer left set for a call that is connected (the answer cancels it, so only a stale
    record leaves one) fires: the talk goes on. The callflow before the table hung the agent's
    leg up (it hung up the legs of any call a ring timer named)."""
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)]))
    config = sim_config(**{"2001": AgentPhone(answer_after_s=0.05)})
    async with acd_stack(redis_client, rules, config) as s:
        await s.acd.login("a1")
        caller = await s.sim.inbound_call(CALLER, "+3612345678", patience_s=600, talk_s=60)
        await s.until_state("a1", AgentState.BUSY)
        call_id = s.sim.channels[caller].uniqueid
        leg = next(name for name in s.sim.channels if name.startswith("PJSIP/2001-"))
        s.acd.ctx.timers.set(Timer(TimerKind.RING, "a1", time.time() - 1, call_id))
        await s.acd.tick(time.time())
        assert s.acd.ctx.timers.get(TimerKind.RING, "a1") is None, "the timer fired"
        assert s.actions("Hangup") == []
        assert caller in s.sim.channels and leg in s.sim.channels
        assert (s.state("a1"), s.acd.ctx.state.calls[call_id].state) == (AgentState.BUSY, "connected")
