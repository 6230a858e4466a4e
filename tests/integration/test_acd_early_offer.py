"""An arriving caller is offered in one Redis round trip, whatever their CRM record says: one script
reads the record, evaluates the CRM rules, numbers the case and stores the call with the reservation
of the agent routing chose for the tier the record gives (routing/acd/early_offer.py).

Simulated Asterisk over TCP, the engine's AMI client, a private Redis whose every command
`redis-cli monitor` writes down (bench/bench_cost.py's parser): the test counts the engine's
round trips after the caller arrives.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis
import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from bench.bench_cost import Command, parse_monitor, start_monitor
from pbx.sim import AgentPhone
from routing.acd.acd_keys import AcdKeys
from routing.agent_events import AgentState
from routing.classify import classify
from routing.rules import Rules
from switchboard.private_redis import PrivateRedis
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
MARK = "early-offer-test"
LOGGED = "early-offer-logged"


@dataclass
class Trip:
    """One round trip of the engine: a command, a script with what it ran, or a MULTI...EXEC."""

    name: str
    args: str
    inside: list[Command] = field(default_factory=list)

    def ran(self) -> list[str]:
        return [c.name for c in self.inside]


def trips_after_mark(commands: list[Command]) -> list[Trip]:
    """The engine's round trips after this test's mark. A script's first use (EVALSHA answered
    NOSCRIPT, SCRIPT LOAD, EVALSHA again: redis-py's way of loading it) counts once."""
    start = next(i for i, c in enumerate(commands) if c.name == "ECHO" and MARK in c.args)
    ours = commands[start].client
    found: list[Trip] = []
    for command in commands[start + 1 :]:
        if command.client == ours or command.name == "SCRIPT":
            continue
        if command.client == "lua" and found:
            found[-1].inside.append(command)
        elif found and found[-1].name == "MULTI" and found[-1].args != "done":
            found[-1].inside.append(command)
            if command.name == "EXEC":
                found[-1].args = "done"
        elif found and found[-1].name == "EVALSHA" and not found[-1].inside and command.name == "EVALSHA":
            found[-1] = Trip(command.name, command.args)  # the NOSCRIPT answer's retry
        else:
            found.append(Trip(command.name, command.args))
    return found


class Monitored:
    def __init__(self, server: PrivateRedis, log: Path) -> None:
        self.log = log
        self._mark = sync_redis.Redis(port=server.port)
        self._logged = 0

    def mark(self) -> None:
        self._mark.echo(MARK)

    def trips(self) -> list[Trip]:
        """The engine's round trips since `mark`, once the log has every command Redis ran so far:
        redis-cli writes the MONITOR feed down in its own time, so it can lag behind what the test
        saw done (the simulator's Originate came after the engine's writes). The feed is in Redis's
        order: once a command sent now is written down, so is every one before it."""
        self._logged += 1
        logged = f"{LOGGED}-{self._logged}"
        self._mark.echo(logged)
        deadline = time.monotonic() + 10
        while logged not in (text := self.log.read_text(errors="replace")):
            assert time.monotonic() < deadline, "redis-cli monitor wrote nothing down for 10 s"
            self._mark.ping()  # a round trip: redis-cli has its turn meanwhile
        return trips_after_mark(parse_monitor(text.splitlines()))


@contextlib.contextmanager
def monitored(server: PrivateRedis, tmp_path: Path) -> Iterator[Monitored]:
    log = tmp_path / "monitor"
    process = start_monitor(server.port, log)
    try:
        probe = sync_redis.Redis(port=server.port)
        while "PING" not in log.read_text(errors="replace"):  # the monitor is attached
            probe.ping()
        yield Monitored(server, log)
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


def crm_rules() -> Rules:
    """Tier `key` (min level 4) for a CRM segment, written in mixed case; `active` by default, and
    two more tiers by CRM rules. a2 serves the others (levels 2-3 first), a4 the key clients."""
    data = base_rules(agents=[agent("a2", "PJSIP/2002", tech=2), agent("a4", "PJSIP/2004", tech=4)])
    data["tiers"][0]["crm"] = [{"field": "segment", "values": ["Platinum", "Straße"]}]
    data["tiers"][1]["crm"] = [{"field": "segment", "values": ["active"]}]
    data["tiers"][1:1] = [
        {"name": "important", "priority": 70, "crm": [{"field": "status", "values": ["VIP"]}]}
    ]
    data["tiers"].append(
        {"name": "inactive", "priority": 10, "crm": [{"field": "status", "values": ["churned"]}]}
    )
    return make_rules(data)


@contextlib.asynccontextmanager
async def ringing_stack(redis: aioredis.Redis) -> AsyncIterator[Stack]:
    config = sim_config(**{"2002": AgentPhone(answer_after_s=None), "2004": AgentPhone(answer_after_s=None)})
    async with acd_stack(redis, crm_rules(), config) as s:
        await s.acd.login("a2")
        await s.acd.login("a4")
        yield s


async def arrive_and_ring(s: Stack, watch: Monitored) -> tuple[str, str, dict[str, Any]]:
    """A caller arrives; returns their call id, the agent rung and the call as Redis stored it."""
    watch.mark()
    caller = await s.sim.inbound_call(CALLER, "+3612345678", patience_s=600)
    await s.until(lambda: bool(s.actions("Originate")))
    await s.settled()  # a record that is not UTF-8 is written again after the ring, in the same step
    rung = originate_vars(s.actions("Originate")[0])["SWITCHBOARD_AGENT_ID"]
    call_id = s.sim.channels[caller].uniqueid
    stored = json.loads(await s.redis.get(AcdKeys().call(call_id)) or "{}")
    return call_id, rung, stored


def writes_the_offer(trip: Trip, agent_id: str, call_id: str) -> bool:
    """The round trip wrote the agent's status and the call's record (one MSET, or two SETs)."""
    keys, writes = AcdKeys(), [c.args for c in trip.inside if c.name in ("MSET", "SET")]
    return any(keys.agent_status(agent_id) in w for w in writes) and any(
        keys.call(call_id) in w for w in writes
    )


async def put_record(redis: aioredis.Redis, record: Mapping[str, str | bytes]) -> None:
    mapping: dict[FieldT, EncodableT] = dict(record.items())
    await redis.hset(AcdKeys().crm_customer(CALLER), mapping=mapping)


async def test_a_caller_whose_crm_record_raises_the_tier_gets_its_agent_stored_in_one_round_trip(
    redis_client: aioredis.Redis, redis_server: PrivateRedis, tmp_path: Path
) -> None:
    record = {"segment": "PLATINUM", "name": "Kiss Ánna"}  # Lua's lower() suffices for the rule
    await put_record(redis_client, record)
    with monitored(redis_server, tmp_path) as watch:
        async with ringing_stack(redis_client) as s:
            call_id, rung, stored = await arrive_and_ring(s, watch)
            assert rung == "a4", "the key tier's agent, not the default tier's"
            first = watch.trips()[0]
    expected = classify(CALLER, "support", s.acd.ctx.state.rules, dialled="+3612345678", crm_record=record)
    assert (stored["tier"], stored["needs"]) == ("key", [["tech", 4]])
    facts = stored["facts"]
    assert facts["matched"] == expected.matched == "tiers[0].crm[0]"
    assert (facts["crm"], facts["state"], facts["agent_id"]) == (record, "offered", "a4")
    assert facts["case_id"] == s.acd.ctx.state.calls[call_id].facts.case_id != ""
    assert s.acd.ctx.state.calls[call_id].facts.crm == record, "memory holds what Redis holds"
    assert first.name == "EVALSHA" and writes_the_offer(first, "a4", call_id), "the first round trip"
    assert first.ran() == ["HGETALL", "GET", "INCR", "MSET", "SADD", "HSET", "RPUSH"], (
        "numbered once the agent is free"
    )


async def test_what_the_one_script_stored_is_what_a_restarted_engine_loads(
    redis_client: aioredis.Redis,
) -> None:
    """Write-ahead: a crash right after the script (before the Originate) leaves the caller and
    the agent's reservation in Redis, with its ring timer, as the usual offer would."""
    record = {"segment": "platinum", "name": "Kiss Ánna", "note": 'quotes " and \\ / too'}
    await put_record(redis_client, record)
    async with ringing_stack(redis_client) as s:
        caller = await s.sim.inbound_call(CALLER, "+3612345678", patience_s=600)
        await s.until(lambda: bool(s.actions("Originate")))
        call_id = s.sim.channels[caller].uniqueid
        memory = s.acd.ctx.state.calls[call_id]
        found = await s.acd.ctx.store.load()
    loaded = found.calls[call_id]
    assert loaded.call == memory.call
    assert (loaded.facts.crm, loaded.facts.case_id) == (record, memory.facts.case_id)
    assert (loaded.facts.matched, loaded.facts.agent_id, loaded.facts.action_id) == (
        "tiers[0].crm[0]", "a4", memory.facts.action_id,
    )  # fmt: skip
    assert found.statuses["a4"].call_id == call_id
    assert found.statuses["a4"].state in {AgentState.RESERVED, AgentState.RINGING}
    assert [t.call_id for t in found.timers if t.key == "ring:a4"] == [call_id]


async def test_a_caller_without_a_crm_record_gets_the_default_tiers_agent_in_one_round_trip(
    redis_client: aioredis.Redis, redis_server: PrivateRedis, tmp_path: Path
) -> None:
    with monitored(redis_server, tmp_path) as watch:
        async with ringing_stack(redis_client) as s:
            call_id, rung, stored = await arrive_and_ring(s, watch)
            first = watch.trips()[0]
    assert rung == "a2"
    facts = stored["facts"]
    assert (stored["tier"], facts["matched"], facts["crm"]) == ("active", "default_tier", {})
    assert first.name == "EVALSHA" and writes_the_offer(first, "a2", call_id)


async def test_a_non_ascii_crm_value_is_matched_as_python_casefolds_it_in_a_second_round_trip(
    redis_client: aioredis.Redis, redis_server: PrivateRedis, tmp_path: Path
) -> None:
    """Lua lowers ASCII only: 'STRASSE' would match in both, 'Straße' only by casefold. The script
    sees a non-ASCII value in a rule's field and writes nothing; Python classifies the record and
    the usual offer stores the call with its agent."""
    await put_record(redis_client, {"segment": "Straße"})
    with monitored(redis_server, tmp_path) as watch:
        async with ringing_stack(redis_client) as s:
            call_id, rung, stored = await arrive_and_ring(s, watch)
            read, offer = watch.trips()[:2]
    assert rung == "a4" and stored["tier"] == "key" and stored["facts"]["crm"] == {"segment": "Straße"}
    assert read.name == "EVALSHA" and read.ran() == ["HGETALL", "INCR"], "read only"
    assert offer.name == "EVALSHA" and writes_the_offer(offer, "a4", call_id)


async def test_a_crm_record_that_is_not_utf8_is_stored_again_as_python_reads_it(
    redis_client: aioredis.Redis, redis_server: PrivateRedis, tmp_path: Path
) -> None:
    await put_record(redis_client, {"segment": "active", "name": b"Kiss \xc1nna"})  # Latin-1, not UTF-8
    with monitored(redis_server, tmp_path) as watch:
        async with ringing_stack(redis_client) as s:
            call_id, rung, stored = await arrive_and_ring(s, watch)
            offer, again = watch.trips()[:2]
    assert rung == "a2" and stored["facts"]["crm"] == {"segment": "active", "name": "Kiss \ufffdnna"}
    assert offer.name == "EVALSHA" and writes_the_offer(offer, "a2", call_id)
    assert again.name == "MULTI" and any(AcdKeys().call(call_id) in c.args for c in again.inside)
    assert s.state("a2") in {AgentState.RESERVED, AgentState.RINGING}


@pytest.mark.parametrize(
    "record",
    [
        {"status": "vip"},
        {"status": "VIP", "segment": "platinum"},  # both match: the higher priority wins
        {"status": "churned", "segment": "active"},
        {"status": "churned"},
        {"segment": "gold"},  # no rule matches
        {"segment": "active", "note": "Ügyfél"},  # non-ASCII outside the rules' fields
    ],
)
async def test_the_script_picks_the_tier_classify_gives_the_record(
    redis_client: aioredis.Redis, redis_server: PrivateRedis, tmp_path: Path, record: dict[str, str]
) -> None:
    await put_record(redis_client, record)
    with monitored(redis_server, tmp_path) as watch:
        async with ringing_stack(redis_client) as s:
            call_id, rung, stored = await arrive_and_ring(s, watch)
            first = watch.trips()[0]
    expected = classify(CALLER, "support", s.acd.ctx.state.rules, dialled="+3612345678", crm_record=record)
    assert (stored["tier"], stored["facts"]["matched"]) == (expected.tier, expected.matched)
    assert stored["facts"]["crm"] == record and writes_the_offer(first, rung, call_id), "in one round trip"
