"""Service-level aware escalation in the running ACD: the queue's average talk time is fed when a
call ends (and kept by the periodic rebuild), and a caller nobody of their level can take in time
is offered the agent of the wider window at once, not at the escalation step.

Simulated Asterisk over TCP, the engine's AMI client and tracker, a private Redis.
"""

from __future__ import annotations

import time

import pytest
import redis.asyncio as aioredis

from pbx.sim import AgentPhone
from routing.agent_events import AgentState
from tests.support.acd_harness import acd_stack, agent, base_rules, make_rules, sim_config

pytestmark = pytest.mark.integration
CALLER = "+36301234567"


def _rules(*agents: dict[str, object]) -> dict[str, object]:
    data = base_rules(agents=list(agents))
    queue = data["queues"][0]
    queue["escalation"] = [{"after_seconds": 300, "widen": 2}]
    queue["service_level"] = {"within_seconds": 20, "target_percent": 80, "widen_early": True}
    return data


async def test_the_queue_average_talk_is_fed_when_a_call_ends(redis_client: aioredis.Redis) -> None:
    rules = make_rules(_rules(agent("a1", "PJSIP/2001", tech=2)))
    config = sim_config(**{"2001": AgentPhone(answer_after_s=0.05)})
    async with acd_stack(redis_client, rules, config) as s:
        await s.acd.login("a1")
        await s.sim.inbound_call(CALLER, "+3612345678", patience_s=600, talk_s=0.3)
        await s.until_state("a1", AgentState.WRAP_UP)
        state = s.acd.ctx.state
        talk = state.snapshot.talk_seconds["support"]
        assert 0.2 <= talk < 5.0
        state.rebuild(time.time())
        assert state.snapshot.talk_seconds == {"support": talk}  # the rebuild keeps the average
        assert state.snapshot.agents["a1"].since > 0  # the forecast reads when the wrap-up began


async def test_a_caller_who_would_miss_the_target_gets_the_wider_window_at_once(
    redis_client: aioredis.Redis,
) -> None:
    # a1 (level 2, the caller's level) is logged out: nobody staffed in the window 2-3, so waiting the
    # 300 s to the escalation step would miss 20 s; a0 (level 1) is offered the call at once.
    rules = make_rules(_rules(agent("a0", "PJSIP/2000", tech=1), agent("a1", "PJSIP/2001", tech=2)))
    config = sim_config(**{"2000": AgentPhone(answer_after_s=0.05)})
    async with acd_stack(redis_client, rules, config) as s:
        await s.acd.login("a0")
        await s.sim.inbound_call(CALLER, "+3612345678", patience_s=600, talk_s=600)
        await s.until_state("a0", AgentState.BUSY)
        ring = s.actions("Originate")[0]
        assert ring.get("Channel") == "PJSIP/2000"
