"""A Bridge refused because the agent's answered leg was gone, the caller still holding: the agent's
phone hung up the leg before the Bridge came (Asterisk 22.10.1: `Response: Error`, "Channel2 does
not exist: <leg>"). The agent missed the call and the caller is rung to the next agent at once,
not left until the ring safety net (the queue's ring timeout + the grace: 35 s here).

Seen on a real Asterisk after a takeover: the owner died just before the agent answered, so its
OriginateResponse and SwitchboardAgentAnswered reached no engine; the new owner's resync found the
answered leg and bridged it, and the phone hung up as the Bridge went out. Simulated Asterisk over
TCP (its `vanish_before("Bridge")`: the phone's hangup and its events, then the refusal), real Redis.
"""

from __future__ import annotations

import time

import pytest
import redis.asyncio as aioredis

from pbx.sim import AgentPhone, SimulatedPbx
from routing.agent_events import AgentState
from tests.support.acd_harness import (
    Stack,
    agent,
    base_rules,
    make_rules,
    running_engine,
    running_sim,
    sim_config,
)

pytestmark = pytest.mark.integration
CALLER, LINE = "+36301234567", "+3612345678"
BOUND_S = 3.0  # the caller is rung again well within this; the safety net fires only after 35 s
QUEUE = {**base_rules()["queues"][0], "ring_timeout_seconds": 30, "missed_rings_before_pause": 3}
RULES = make_rules(
    base_rules(agents=[agent("a1", "PJSIP/2001", tech=2), agent("a2", "PJSIP/2002", tech=2)], queues=[QUEUE])
)


def bridges(sim: SimulatedPbx, since: int = 0) -> list[tuple[str, str]]:
    return [
        (a.get("Channel1") or "", a.get("Channel2") or "") for a in sim.actions[since:] if a.name == "Bridge"
    ]


async def a1_rung_then_a2_ready(s: Stack, sim: SimulatedPbx) -> str:
    """The caller arrives, agent a1 is rung; agent a2 logs in meanwhile. The caller's channel."""
    await s.acd.login("a1")
    caller = await sim.inbound_call(CALLER, LINE, patience_s=600, talk_s=600)
    await s.until_state("a1", AgentState.RINGING)
    await s.acd.login("a2")
    return caller


async def rung_again_and_nobody_lost(s: Stack, sim: SimulatedPbx, caller: str, leg: str, since: int) -> None:
    """Within the bound a2 talks to the caller; a1 missed the call once; one handover, no abandon."""
    started = time.monotonic()
    await s.until_state("a2", AgentState.BUSY, timeout=BOUND_S)
    assert time.monotonic() - started < BOUND_S
    await s.settled()  # memory says busy before the commit that carries the handover (and the count)
    done = bridges(sim, since)
    assert done[0] == (caller, leg) and done[1][0] == caller and done[1][1].startswith("PJSIP/2002-")
    assert leg not in sim.channels and caller in sim.channels and done[1][1] in sim.channels
    call_id = sim.channels[caller].uniqueid
    assert s.acd.agent("a1").missed_rings == 1 and s.state("a1") is AgentState.READY
    events = [
        (e.type, e.agent_id) for e in await s.acd.events.read(count=100) if e.data.get("call_id") == call_id
    ]
    assert events == [("handover", "a2")]
    case = await s.acd.case(call_id)
    assert (case.state, case.agent_id) == ("connected", "a2")
    assert s.sample("switchboard_acd_calls_abandoned_total", queue="support", tier="active") == 0


async def test_a_leg_gone_at_the_new_owners_bridge_rings_the_caller_to_another_agent_at_once(
    redis_client: aioredis.Redis,
) -> None:
    config = sim_config(**{"2001": AgentPhone(answer_after_s=1.0)})
    async with running_sim(config) as sim:
        async with running_engine(sim, redis_client, RULES) as s:
            caller = await a1_rung_then_a2_ready(s, sim)
        # the owner is gone before a1 answers: the OriginateResponse and the answer reach no engine
        answered = await sim.wait_for_event(
            "UserEvent", lambda e: e.get("UserEvent") == "SwitchboardAgentAnswered", timeout=5
        )
        leg = answered.get("Channel") or ""
        sim.vanish_before("Bridge")  # a1 hangs up the answered leg as the new owner's Bridge goes out
        mark = len(sim.actions)
        async with running_engine(sim, redis_client, RULES) as s:
            await rung_again_and_nobody_lost(s, sim, caller, leg, mark)
            assert s.sample("switchboard_acd_calls_answered_total", queue="support", tier="active") == 1


async def test_a_leg_its_engine_saw_answer_gone_at_the_bridge_is_one_miss_and_the_caller_rung_again(
    redis_client: aioredis.Redis,
) -> None:
    """The ordinary path: the engine knows the leg; its Hangup comes before the Bridge's refusal. One
    miss (the Hangup's), never two, and the refusal that follows leaves the new offer alone."""
    config = sim_config(**{"2001": AgentPhone(answer_after_s=1.0)})
    async with running_sim(config) as sim, running_engine(sim, redis_client, RULES) as s:
        sim.vanish_before("Bridge")
        caller = await a1_rung_then_a2_ready(s, sim)
        answered = await sim.wait_for_event(
            "UserEvent", lambda e: e.get("UserEvent") == "SwitchboardAgentAnswered", timeout=5
        )
        await rung_again_and_nobody_lost(s, sim, caller, answered.get("Channel") or "", 0)
