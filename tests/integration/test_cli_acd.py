"""`switchboard explain`: the rule and the agent a caller would get, from a state file or live Redis."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from core.errors import ConfigError
from routing.acd.acd_keys import AcdKeys
from routing.acd.outage_store import OutageStore
from routing.acd.store_records import dump_profile, dump_status
from routing.agents import AgentState, AgentStatus
from routing.outages import OutageSpec
from routing.rules import AgentSpec
from switchboard.cli_acd import register
from switchboard.logs import SecretFilter
from switchboard.private_redis import PrivateRedis
from tests.support.cli_harness import run_command

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "routing.yaml"
MONDAY_NOON = 1_750_068_000.0  # 2025-06-16 12:00 Europe/Budapest


def explain(*argv: str) -> int:
    return run_command(register, "explain", *argv, secrets=SecretFilter())


def test_explain_from_a_state_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state.yaml"
    state.write_text(
        f"now: {MONDAY_NOON}\n"
        "agents:\n"
        f"  - {{id: '1004', state: ready, idle_since: {MONDAY_NOON - 60}}}\n"
        "  - {id: '1005', state: ready}\n"
        "  - {id: '1001', state: paused, pause_reason: lunch}\n",
        encoding="utf-8",
    )
    assert (
        explain(
            "--caller", "06 30 123 4567", "--queue", "support", "--rules", str(EXAMPLE), "--state", str(state)
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "State: from " in out and "3 agents, 0 callers waiting" in out
    assert "Tier: key (matched tiers[0].callers[0]), priority 100 in queue support" in out
    assert "Decision: offer: agent 1004: tech 5 = need 5" in out
    assert "1001: paused (lunch)" in out


def test_explain_a_bad_state_file_names_the_place(tmp_path: Path) -> None:
    state = tmp_path / "state.yaml"
    state.write_text("agents:\n  - {id: '1004', state: asleep}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        explain(
            "--caller", "+36301234567", "--queue", "support", "--rules", str(EXAMPLE), "--state", str(state)
        )
    assert "state.yaml:2" in caught.value.message and "agents[0].state" in caught.value.message


@pytest.mark.parametrize("shard", ["", "east"])
def test_explain_from_live_redis(
    redis_server: PrivateRedis, capsys: pytest.CaptureFixture[str], shard: str
) -> None:
    keys = AcdKeys.of_shard(shard)  # `--shard east`: the live ACD of that shard
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushall()
        agents = (
            ("1004", {"tech": 5, "hungarian": 5}, AgentState.READY),
            ("1005", {"tech": 4, "hungarian": 5}, AgentState.BUSY),
            ("1006", {"tech": 2, "hungarian": 5}, AgentState.READY),
        )
        for agent_id, skills, state in agents:
            spec = AgentSpec(
                id=agent_id, name=f"Agent {agent_id}", interface=f"PJSIP/{agent_id}", skills=skills
            )
            client.set(keys.agent_profile(agent_id), dump_profile(spec, "api"))
            client.set(keys.agent_status(agent_id), dump_status(AgentStatus(agent_id, state)))
            client.sadd(keys.agents, agent_id)
        client.hset(keys.crm_customer("+36309999999"), mapping={"status": "churned"})
    finally:
        client.close()
    assert (
        explain(
            "--caller",
            "+36309999999",
            "--queue",
            "support",
            "--rules",
            str(EXAMPLE),
            "--redis",
            redis_server.url,
            *(["--shard", shard] if shard else []),
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "live from Redis: 3 agents, 0 callers waiting, CRM record found" in out
    assert "Tier: inactive (matched tiers[3].crm[0])" in out
    assert "Decision: offer: agent 1006: tech 2 = need 2" in out
    assert "1005: busy" in out and "1004: tech 5 is outside levels 2-3 accepted now" in out


def test_explain_without_state_assumes_everyone_ready(capsys: pytest.CaptureFixture[str]) -> None:
    assert explain("--caller", "+3617000000", "--queue", "billing", "--rules", str(EXAMPLE)) == 0
    out = capsys.readouterr().out
    assert "assumed ready" in out and "Tier: important (matched tiers[1].prefixes[0])" in out


def test_explain_says_who_hears_an_outage_notice_at_the_state_files_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outage = (
        "outages:\n"
        "  - {id: north-tv, title: TV down in the north, segment: {prefixes: ['+3646']},"
        f" recording: outage-north-tv, starts_at: {MONDAY_NOON - 600}, ends_at: {MONDAY_NOON + 600}}}\n"
    )
    for at, caller, expected in (
        (MONDAY_NOON, "+36461234567", "Outage notice: hears north-tv (TV down in the north) before queueing"),
        (MONDAY_NOON, "+36301112222", "Outage notice: none (1 outages in force, none concerns this caller)"),
        (MONDAY_NOON + 600, "+36461234567", "Outage notice: none (0 outages in force"),  # its end
    ):
        state = tmp_path / "state.yaml"
        state.write_text(f"now: {at}\n{outage}", encoding="utf-8")
        argv = ("--caller", caller, "--queue", "support", "--rules", str(EXAMPLE), "--state", str(state))
        assert explain(*argv) == 0
        assert expected in capsys.readouterr().out


def test_explain_reads_the_declared_outages_from_live_redis(
    redis_server: PrivateRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    async def declare() -> None:
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            await client.flushall()
            await client.hset(AcdKeys().crm_customer("+36309999999"), mapping={"region": "North"})
            segment = {"crm": [{"field": "region", "values": ["north"]}]}
            spec = OutageSpec(id="north", title="Fibre cut", segment=segment, text="We know.",  # type: ignore[arg-type]
                              starts_at=time.time() - 60, ends_at=time.time() + 600)  # fmt: skip
            await OutageStore(client).declare(spec, "boss", time.time())
        finally:
            await client.aclose()

    asyncio.run(declare())
    argv = ("--caller", "+36309999999", "--queue", "support", "--rules", str(EXAMPLE))
    assert explain(*argv, "--redis", redis_server.url) == 0
    assert "Outage notice: hears north (Fibre cut) before queueing" in capsys.readouterr().out
