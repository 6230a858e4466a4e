"""The case summary stays editable in wrap-up (the console's advisor finishes it after the caller
hangs up) and is final once the agent is ready again; a later wrap-up opens only its own call.
Simulated PBX over TCP, private Redis."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from core.errors import NotFoundError
from pbx.sim import AgentPhone
from routing.agent_events import AgentState
from tests.support.acd_harness import acd_stack, agent, base_rules, make_rules, sim_config


async def test_the_summary_is_editable_during_wrap_up_and_final_after_it(
    redis_client: aioredis.Redis,
) -> None:
    data = base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)])
    data["queues"][0]["wrap_up_seconds"] = 1.0
    config = sim_config(**{"2001": AgentPhone(answer_after_s=0.05)})
    async with acd_stack(redis_client, make_rules(data), config) as s:
        await s.acd.login("a1")
        await s.sim.inbound_call("+36301234567", "+3612345678", ivr_choice="2", patience_s=600, talk_s=0.3)
        await s.until_state("a1", AgentState.BUSY)
        call_id = s.acd.agent("a1").call_id
        await s.acd.set_summary(call_id, "modem reset")
        await s.until_state("a1", AgentState.WRAP_UP)  # the caller hung up
        case = await s.acd.set_summary(call_id, "modem reset; technician booked")
        assert (case.state, case.summary) == ("ended", "modem reset; technician booked")
        assert (await s.acd.case(call_id)).summary == "modem reset; technician booked", "kept in Redis"
        await s.until_state("a1", AgentState.READY)
        with pytest.raises(NotFoundError):
            await s.acd.set_summary(call_id, "too late")
        assert (await s.acd.case(call_id)).summary == "modem reset; technician booked"
        # the wrap-up of the next call opens that call's summary, not the earlier one's
        await s.sim.inbound_call("+36301234568", "+3612345678", patience_s=600, talk_s=0.3)
        await s.until(lambda: s.acd.agent("a1").call_id not in ("", call_id))
        await s.until_state("a1", AgentState.WRAP_UP)
        with pytest.raises(NotFoundError):
            await s.acd.set_summary(call_id, "overwritten from another wrap-up")
        assert (await s.acd.case(call_id)).summary == "modem reset; technician booked"
