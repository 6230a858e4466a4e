"""A stalled AMI link whose actions still reach Asterisk afterwards (issue 10, the chaos suite's
`ami-stall` row): simulated Asterisk over TCP behind the fault proxy, real Redis.

Over a frozen network (or a frozen Asterisk) the bytes an engine wrote are not lost: TCP delivers
them when the path comes back, even after the engine timed the action out and dropped the
connection. So an action the engine gave up on may still execute a few seconds later. The
engine must end each call in what Asterisk did: a caller the late Bridge connected is a talk,
never an abandon, and its agent is busy with it, not rung for another call.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from pbx.client import AmiSettings
from pbx.sim import CallRecord, SimulatedPbx
from pbx.sim.faultproxy import FaultProxy
from routing.acd.acd_keys import AcdKeys
from routing.agent_events import AgentState
from tests.support.acd_harness import (
    SECRET,
    Stack,
    agent,
    base_rules,
    make_rules,
    running_engine,
    running_sim,
    sim_config,
)

pytestmark = pytest.mark.integration

STALL_S = 2.5  # longer than the keepalive (0.5 s + 1 s) and the action timeout (1 s)


@contextlib.asynccontextmanager
async def stalled_stack(redis: aioredis.Redis) -> AsyncIterator[tuple[Stack, FaultProxy]]:
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)]))
    async with running_sim(sim_config()) as sim:
        proxy = FaultProxy("127.0.0.1", sim.port, seed=1)
        port = await proxy.start()
        ami = AmiSettings("127.0.0.1", port, "switchboard", SECRET, action_timeout=1.0,
                          connect_timeout=0.5, reconnect_min=0.05, reconnect_max=0.2, ping_interval=0.5,
                          ping_timeout=1.0)  # fmt: skip
        try:
            async with running_engine(sim, redis, rules, ami=ami) as stack:
                yield stack, proxy
        finally:
            await proxy.stop()


async def events_of(redis: aioredis.Redis, call_id: str) -> list[str]:
    entries = await redis.xrange(AcdKeys().events)
    found = []
    for _id, fields in entries:
        if call_id.encode() in fields.get(b"data", b""):
            found.append(fields[b"type"].decode())
    return found


def caller_record(sim: SimulatedPbx, channel: str) -> CallRecord:
    return next(r for r in sim.call_log if r.channel == channel)


@pytest.mark.parametrize("action", ["Bridge", "Originate"])
async def test_an_action_delivered_after_a_stall_ends_the_call_as_asterisk_did(
    redis_client: aioredis.Redis, action: str
) -> None:
    async with stalled_stack(redis_client) as (s, proxy):
        await s.acd.login("a1")
        proxy.stall_at(action, STALL_S)
        caller = await s.sim.inbound_call("+36301234567", "+3612345678", patience_s=60, talk_s=2)
        call_id = s.sim.channels[caller].uniqueid
        await s.until(lambda: caller_record(s.sim, caller).ended is not None, timeout=40)
        await s.until(lambda: s.state("a1") in (AgentState.READY, AgentState.WRAP_UP), timeout=10)
        record = caller_record(s.sim, caller)
        history = await events_of(s.redis, call_id)
        assert record.bridged is not None and record.ended_by == "talk", "connected, ended by the talk"
        assert "abandoned" not in history, history
        assert s.sample("switchboard_acd_calls_abandoned_total", queue="support", tier="active") == 0


async def test_a_talk_a_late_bridge_connected_and_that_ended_while_the_link_was_down_is_no_abandon(
    redis_client: aioredis.Redis,
) -> None:
    """The chaos suite's wrong abandon (`ami-stall`, 1 of 2 full runs), step by step: the agent
    answers, the engine's Bridge is caught in the stall and times out (maybe bridged: left to the
    resync), the Bridge reaches Asterisk when the stall ends and connects them, and the whole talk
    is over before the engine is back. At the resync both the caller and the agent's leg are gone."""
    async with stalled_stack(redis_client) as (s, proxy):
        await s.acd.login("a1")
        proxy.stall_at("Bridge", 2.0)
        caller = await s.sim.inbound_call("+36301234567", "+3612345678", patience_s=60, talk_s=1.0)
        call_id = s.sim.channels[caller].uniqueid
        assert await proxy.wait_until(lambda: proxy.stats.stalls == 1, timeout=10)
        s.sim.refuse_logins(True)  # the link stays down after the stall: the talk happens unseen
        await s.sim.wait_for_channel_count(0, timeout=20)
        record = caller_record(s.sim, caller)
        assert record.bridged is not None and record.ended_by == "talk", "the late Bridge connected them"
        s.sim.refuse_logins(False)
        await s.until(lambda: s.engine.ready and not s.acd.ctx.state.calls, timeout=20)
        await s.until(lambda: s.state("a1") in (AgentState.READY, AgentState.WRAP_UP), timeout=10)

        history = await events_of(s.redis, call_id)
        assert "abandoned" not in history, history
        assert history == ["handover", "ended"], "settled as the talk Asterisk had"
        assert s.sample("switchboard_acd_calls_abandoned_total", queue="support", tier="active") == 0
        assert s.acd.agent("a1").missed_rings == 0
