"""State that grows with time stays bounded: agent histories and Redis keys over many calls.

Real AMI against the simulated PBX, a private Redis. The occupancy window is set
to a fraction of a second, so a few dozen calls span many windows.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import redis.asyncio as aioredis

from routing.acd.acd_keys import AcdKeys
from routing.acd.context import AcdOptions
from routing.acd.store import AcdStore, Change
from routing.acd.store_records import dump_status, load_history
from routing.agent_events import AgentState
from routing.agents import AgentStatus, occupancy
from routing.rules import Rules
from tests.support.acd_harness import (
    Stack,
    acd_stack,
    agent,
    base_rules,
    make_rules,
    running_engine,
    running_sim,
    sim_config,
)

pytestmark = pytest.mark.integration
S = AgentState
WINDOW_S = 0.3
ANSWERED = "switchboard_acd_calls_answered_total"


def rules() -> Rules:
    data = base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)])
    data["queues"][0]["wrap_up_seconds"] = 0
    data["fairness"] = {"window_minutes": WINDOW_S / 60}
    return make_rules(data)


async def serve_calls(s: Stack, count: int) -> None:
    """`count` calls one after the other, each answered, talked and ended."""
    done = s.sample(ANSWERED, queue="support", tier="active")
    for n in range(count):
        await s.sim.inbound_call(f"+3630{n:07d}", patience_s=600, talk_s=0.02)
        want = done + n + 1
        await s.until(lambda: s.sample(ANSWERED, queue="support", tier="active") == want)  # noqa: B023
        await s.until_state("a1", AgentState.READY)
        await s.settled()  # the call's end is in memory before its commit (Redis: history, the record)


async def lasting_keys(redis: aioredis.Redis) -> set[bytes]:
    """Keys that never expire (ended calls' records expire after a day: case context)."""
    keys = [key async for key in redis.scan_iter()]
    ttls = [await redis.ttl(key) for key in keys]
    return {key for key, ttl in zip(keys, ttls, strict=True) if ttl == -1}


async def test_many_calls_leave_a_bounded_agent_record_and_key_count(redis_client: aioredis.Redis) -> None:
    keys = AcdKeys()
    async with acd_stack(redis_client, rules()) as s:
        await s.acd.login("a1")
        await serve_calls(s, 3)
        await s.until(lambda: not s.acd.ctx.state.calls)
        early_keys = await lasting_keys(redis_client)
        await serve_calls(s, 40)
        await s.until(lambda: not s.acd.ctx.state.calls)

        status_bytes = await redis_client.strlen(keys.agent_status("a1"))
        stored = await redis_client.lrange(keys.agent_history("a1"), 0, -1)
        history = s.acd.ctx.state.status("a1").history
        # 43 calls made about 170 state changes; only the window's stay, in memory and in Redis
        assert status_bytes < 300, "the status record carries no history"
        assert len(stored) == len(history) < 40
        now = s.acd.ctx.clock()
        assert history[1][0] > now - WINDOW_S - 1.0, "older changes are pruned"
        assert await lasting_keys(redis_client) == early_keys
        ended = [k async for k in redis_client.scan_iter(match=keys.call("*"))]
        assert len(ended) == 43 and all([await redis_client.ttl(k) > 0 for k in ended])


async def test_ended_call_records_expire_after_the_configured_ttl(redis_client: aioredis.Redis) -> None:
    """acd.ended_call_ttl sizes Redis (rate x TTL x ~730 B): an ended call's record carries it."""
    async with acd_stack(redis_client, rules(), options=AcdOptions(ended_call_ttl_s=120)) as s:
        await s.acd.login("a1")
        await serve_calls(s, 2)
        await s.until(lambda: not s.acd.ctx.state.calls)
        ended = [k async for k in redis_client.scan_iter(match=AcdKeys().call("*"))]
        ttls = [await redis_client.ttl(k) for k in ended]
        assert len(ended) == 2 and all(100 < ttl <= 120 for ttl in ttls), ttls


async def test_the_history_and_occupancy_survive_a_restart(redis_client: aioredis.Redis) -> None:
    async with running_sim(sim_config()) as sim:
        async with running_engine(sim, redis_client, rules()) as s:
            await s.acd.login("a1")
            await serve_calls(s, 5)
            before = s.acd.ctx.state.status("a1")
        async with running_engine(sim, redis_client, rules()) as again:
            after = again.acd.ctx.state.status("a1")
            assert after.history == before.history
            now = before.since + 0.1
            assert occupancy(after.history, now, WINDOW_S) == occupancy(before.history, now, WINDOW_S) > 0
            await serve_calls(again, 1)  # and the list goes on from there
            stored = await redis_client.lrange(AcdKeys().agent_history("a1"), 0, -1)
            assert load_history(stored, "a1") == again.acd.ctx.state.status("a1").history


async def test_a_status_stored_with_its_history_is_read_and_moved_to_the_list(
    redis_client: aioredis.Redis,
) -> None:
    """A record written before histories had their own list keeps its history."""
    keys, store = AcdKeys(), AcdStore(redis_client)
    history = ((50.0, S.READY), (60.0, S.BUSY), (100.0, S.READY))
    old = AgentStatus("a1", S.READY, 100.0, 100.0, history=history)
    await store.seed_profiles([make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)])).agents[0]])
    await redis_client.set(keys.agent_status("a1"), dump_status(old))
    loaded = (await store.load()).statuses["a1"]
    assert loaded == old
    moved = replace(loaded, history=(*loaded.history, (110.0, S.PAUSED)))
    await store.commit(Change(statuses=[moved]))
    stored = await redis_client.lrange(keys.agent_history("a1"), 0, -1)
    assert load_history(stored, "a1") == moved.history
    assert b"history" not in await redis_client.get(keys.agent_status("a1"))
    assert await AcdStore(redis_client).agent_status("a1") == moved


async def test_a_bad_history_entry_costs_the_history_not_the_agent(redis_client: aioredis.Redis) -> None:
    keys, store = AcdKeys(), AcdStore(redis_client)
    await store.seed_profiles([make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)])).agents[0]])
    await redis_client.set(keys.agent_status("a1"), dump_status(AgentStatus("a1", S.READY, 100.0, 100.0)))
    await redis_client.rpush(keys.agent_history("a1"), "100.0 ready", "garbage")
    loaded = (await store.load()).statuses["a1"]
    assert (loaded.state, loaded.history) == (S.READY, ())
    moved = replace(loaded, history=((110.0, S.PAUSED),))
    await store.commit(Change(statuses=[moved]))
    assert await redis_client.lrange(keys.agent_history("a1"), 0, -1) == [b"110.0 paused"]
