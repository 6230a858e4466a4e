"""Redis behind Sentinel: the engine finds the primary through the sentinels and follows a failover.

Real processes (switchboard/private_sentinels.py): a primary, its replica, three
`redis-server --sentinel`. The primary is killed with SIGKILL; the sentinels
judge it down after 0.5 s and promote the replica. Meanwhile the engine's
client fails (never answers from a stale or half-promoted node), the dial gate
refuses every number it cannot check, and once the replica is promoted the same
client works again.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from redis.exceptions import RedisError

from dialer.lists.gate import SOURCE_STORE_UNAVAILABLE, Gate, GateMetrics, Verdict
from dialer.lists.store import InternalList
from pbx.sim import AgentPhone, SimConfig, SimulatedPbx
from routing.acd.acd_keys import AcdKeys
from routing.agent_events import AgentState
from switchboard.private_sentinels import MASTER_NAME, PrivateSentinels
from switchboard.redis_conn import open_redis
from switchboard.runtime import EXAMPLE_CONFIG, Runtime
from switchboard.settings import Settings
from tests.support.acd_harness import Observer, acd_stack, agent, base_rules, make_rules, sim_config

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
LISTED, CLEAN = "+36301111111", "+36304444444"
FAILOVER_BOUND_S = 15.0  # down-after 0.5 s + election + promotion: about 2 s here
RETRY_S = 0.02
SECRET = "runtime-secret"


@pytest.fixture
def sentinels() -> Iterator[PrivateSentinels]:
    with PrivateSentinels(down_after_ms=500, failover_timeout_ms=3000) as harness:
        yield harness


@pytest.fixture
async def client(sentinels: PrivateSentinels) -> AsyncIterator[aioredis.Redis]:
    section = {"addresses": sentinels.addresses, "master_name": MASTER_NAME, "timeout": 0.5}
    redis = await open_redis(Settings(sentinel=section))
    try:
        yield redis
    finally:
        await redis.aclose()


async def _replicated(client: aioredis.Redis) -> None:
    assert await client.wait(1, 2000) == 1, "the replica has every write"


async def test_the_engine_connects_through_the_sentinels_and_follows_a_failover(
    sentinels: PrivateSentinels, client: aioredis.Redis
) -> None:
    assert (await client.info("server"))["tcp_port"] == sentinels.primary.port
    await client.set("sb:test:before", b"1")
    await _replicated(client)

    sentinels.primary.kill()
    killed, failures = time.monotonic(), 0
    while True:
        try:
            await client.set("sb:test:after", b"2")
            break
        except RedisError:
            failures += 1  # the old primary is gone and the replica not yet promoted
            assert time.monotonic() - killed < FAILOVER_BOUND_S, "no new primary within the bound"
            await asyncio.sleep(RETRY_S)  # a caller's back-off between attempts, not a synchronisation
    took = time.monotonic() - killed

    assert failures > 0
    assert took < FAILOVER_BOUND_S
    assert (await client.info("server"))["tcp_port"] == sentinels.replica.port
    assert (await client.info("replication"))["role"] == "master"
    assert await client.mget("sb:test:before", "sb:test:after") == [b"1", b"2"]


async def test_the_gate_refuses_dials_while_the_primary_fails_over(
    sentinels: PrivateSentinels, client: aioredis.Redis
) -> None:
    await InternalList(client).add(LISTED, reason="do_not_call", actor="agent:1", now=NOW)
    await _replicated(client)
    gate = Gate(client, GateMetrics(CollectorRegistry()), default_region="HU", timeout=0.5)
    assert (await gate.check(LISTED, None, None, now=NOW)).sources == ("internal",)
    assert await gate.check(CLEAN, None, None, now=NOW) == Verdict(True, (), CLEAN)

    sentinels.primary.kill()
    killed = time.monotonic()
    listed: list[Verdict] = []
    clean: list[Verdict] = []
    while not (clean and clean[-1].allowed):
        assert time.monotonic() - killed < FAILOVER_BOUND_S, "the gate did not recover within the bound"
        listed.append(await gate.check(LISTED, None, None, now=NOW))
        clean.append(await gate.check(CLEAN, None, None, now=NOW))
        await asyncio.sleep(RETRY_S)  # the dialer's next attempt, not a synchronisation

    assert not any(v.allowed for v in listed), "a listed number was let through during the failover"
    refused = [v for v in clean if not v.allowed]
    assert refused, "the gate answered throughout: no failover was observed"
    assert {v.sources for v in refused} == {(SOURCE_STORE_UNAVAILABLE,)}
    assert {v.sources for v in listed} <= {("internal",), (SOURCE_STORE_UNAVAILABLE,)}
    # listed[-1] was checked before clean[-1]: the failover may have ended between the two checks
    after = await gate.check(LISTED, None, None, now=NOW)
    assert after.sources == ("internal",), "after the failover the list is still there"
    # Where the gate reads now (a sentinel that has not yet heard of the failover may still name the old
    # primary: they share the new configuration within a couple of seconds, on their own schedule).
    assert (await client.info("server"))["tcp_port"] == sentinels.replica.port
    assert (await client.info("replication"))["role"] == "master"


async def test_the_acd_serves_a_call_through_a_failover_and_its_state_lands_on_the_new_primary(
    sentinels: PrivateSentinels, client: aioredis.Redis
) -> None:
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)]))
    async with acd_stack(client, rules, sim_config()) as s:
        await s.acd.login("a1")
        await _replicated(client)
        sentinels.primary.kill()
        caller = await s.sim.inbound_call("+36301234567", "+3612345678", patience_s=600, talk_s=600)
        await s.until_state("a1", AgentState.BUSY, timeout=FAILOVER_BOUND_S)
        assert s.acd.dispatcher.dirty, "the call was served from memory while there was no primary"
        await s.until(lambda: not s.acd.dispatcher.dirty, timeout=FAILOVER_BOUND_S)
        call_id = s.sim.channels[caller].uniqueid
        stored = json.loads(await client.get(AcdKeys().call(call_id)) or "{}")
        assert (stored["facts"]["state"], stored["facts"]["agent_id"]) == ("connected", "a1")
        status = json.loads(await client.get(AcdKeys().agent_status("a1")) or "{}")
        assert (status["state"], status["call_id"]) == ("busy", call_id)
        assert (await client.info("server"))["tcp_port"] == sentinels.replica.port


async def test_the_whole_engine_starts_through_the_sentinels_and_answers_calls_across_a_failover(
    sentinels: PrivateSentinels, tmp_path: Path
) -> None:
    rules = tmp_path / "routing.yaml"
    shutil.copy(EXAMPLE_CONFIG / "routing.yaml", rules)
    # Short wrap-ups: the callers need `tech: 2`, which only 1006 matches before the 30 s escalation.
    shipped = rules.read_text()
    rules.write_text(shipped.replace("wrap_up: 20s", "wrap_up: 1s"))
    assert rules.read_text() != shipped, "the shipped routing.yaml no longer spells its wrap-up this way"
    phones = {ext: AgentPhone(answer_after_s=0.2) for ext in ("1005", "1006")}
    sim = SimulatedPbx(SimConfig(users={"switchboard": SECRET}, agents=phones))
    settings = Settings(
        ami={"port": await sim.start(), "secret": SECRET},
        sentinel={"addresses": sentinels.addresses, "master_name": MASTER_NAME, "timeout": 0.5},
        http={"port": 0},
        rules={"routing": rules},
    )
    runtime = Runtime(settings)
    try:
        parts = await runtime.start()
        observer = Observer()
        parts.engine.services.append(observer)
        assert (await parts.redis.info("server"))["tcp_port"] == sentinels.primary.port
        await parts.acd.login("1005")
        await parts.acd.login("1006")
        await _answered(sim, "+36301110001")
        sentinels.primary.kill()
        await _answered(sim, "+36301110002")  # during the failover or just after it
        await _answered(sim, "+36301110003")
        async with asyncio.timeout(FAILOVER_BOUND_S), observer.changed:  # woken on every engine tick
            await observer.changed.wait_for(lambda: not parts.acd.dispatcher.dirty)  # state written back
        assert (await parts.redis.info("server"))["tcp_port"] == sentinels.replica.port
        assert await parts.redis.scard(AcdKeys().agents) == len(parts.acd.rules.agents)
    finally:
        await runtime.stop()
        await sim.stop()


async def _answered(sim: SimulatedPbx, caller: str) -> None:
    channel = await sim.inbound_call(caller, "+3612345678", ivr_choice="2", patience_s=600, talk_s=0.3)
    await sim.wait_for_event("BridgeEnter", lambda event: event.get("Channel") == channel, timeout=15)
