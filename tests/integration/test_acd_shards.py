"""A center split into ACD shards (settings `acd.shard`, docs/redis.md "Splitting a center into
shards"): engines of different shards share one Asterisk (the simulated PBX, over TCP) and one Redis,
a single server or a real 3-primary cluster. Each shard's engine owns its own agents, callers
(SWITCHBOARD_SHARD) and campaigns (`shard:` in campaigns.yaml) under its own hash tag; a shard fails
over to its own standby while the other shard keeps serving."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as sync_redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from pbx.codec import Action
from pbx.sim import AgentPhone, CustomerScript, SimConfig, SimulatedPbx
from routing.acd.acd_keys import AcdKeys
from switchboard.api.tokens import TokenStore
from switchboard.private_cluster import PrivateCluster
from switchboard.private_redis import PrivateRedis
from switchboard.runtime import Runtime
from switchboard.settings import Settings
from tests.support.acd_harness import agent, base_rules, originate_vars
from tests.support.dialer_harness import RunningClock
from tests.support.lease_harness import became_owner

SECRET = "runtime-secret"
TOKENS = TokenStore.from_tokens([("crm-token", "crm", "crm"), ("sue-token", "sue", "supervisor")])
CRM, SUE = {"Authorization": "Bearer crm-token"}, {"Authorization": "Bearer sue-token"}
WEST_AGENTS, EAST_AGENTS = ("1001", "1003"), ("1002", "1004")
WEST_CALLER, EAST_CALLER = "+36301110001", "+36301110002"
WEST_CUSTOMER, EAST_CUSTOMER = "+36301234001", "+36301234002"
WEST, EAST = AcdKeys(), AcdKeys.of_shard("east")  # the default shard keeps the keys it always had
CAMPAIGNS = {
    "version": 1,
    "campaigns": [
        {"id": "west-renewals", "name": "West", "mode": "progressive", "queue": "support"},
        {"id": "east-renewals", "name": "East", "mode": "progressive", "queue": "support", "shard": "east"},
    ],
}


@pytest.fixture(params=["redis", "cluster"])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The settings' `redis` section of an emptied single Redis, or of the real cluster."""
    if request.param == "redis":
        server: PrivateRedis = request.getfixturevalue("redis_server")
        with sync_redis.Redis.from_url(server.url) as client:
            client.flushall()
        yield {"url": server.url}
    else:
        cluster: PrivateCluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        yield {"url": cluster.url, "cluster": True}


def _rules(path: Path, agents: tuple[str, ...]) -> Path:
    """A shard's routing.yaml: the same queue name as the other shard's, its own agents."""
    data = {"version": 1, **base_rules(agents=[agent(a, f"PJSIP/{a}", tech=3) for a in agents])}
    path.write_text(json.dumps(data))
    return path


def _sim() -> SimulatedPbx:
    phones = {ext: AgentPhone(answer_after_s=0.2) for ext in (*WEST_AGENTS, *EAST_AGENTS)}
    script = CustomerScript(outcome="answer", ring_s=0.3, talk_s=30)
    customers = {WEST_CUSTOMER: script, EAST_CUSTOMER: script}
    return SimulatedPbx(
        SimConfig(
            users={"switchboard": SECRET}, agents=phones, customer_overrides=customers, amd_s=(0.1, 0.2)
        )
    )


def _engine(backend: dict[str, Any], ami_port: int, tmp_path: Path, engine_id: str, shard: str) -> Runtime:
    agents = EAST_AGENTS if shard else WEST_AGENTS
    campaigns = tmp_path / "campaigns.yaml"  # one file for every shard: each paces its own campaigns
    campaigns.write_text(json.dumps(CAMPAIGNS))
    settings = Settings(
        ami={"port": ami_port, "secret": SECRET},
        redis=backend,
        http={"port": 0},
        rules={
            "routing": _rules(tmp_path / f"routing-{shard or 'default'}.yaml", agents),
            "campaigns": campaigns,
        },
        engine={"id": engine_id, "lease_ttl": 1.0, "lease_renew": 0.25},
        acd={"shard": shard},
    )
    return Runtime(settings, clock=RunningClock(), tokens=TOKENS)


def _agent_legs(actions: list[Action]) -> dict[str, dict[str, str]]:
    """The agents rung for callers: the caller's number -> the agent leg's variables."""
    found = {}
    for action in actions:
        if action.name.lower() == "originate" and (action.get("Channel") or "").startswith("PJSIP/10"):
            found[originate_vars(action)["SWITCHBOARD_CALLER"]] = originate_vars(action)
    return found


async def _call_in(sim: SimulatedPbx, caller: str, shard: str | None = None) -> None:
    channel = await sim.inbound_call(caller, "+3612345678", patience_s=600, talk_s=0.3, shard=shard)
    await sim.wait_for_event("BridgeEnter", lambda event: event.get("Channel") == channel, timeout=15)


async def _lead_and_start(runtime: Runtime, shard: str, customer: str) -> None:
    """A lead for the shard's campaign from the CRM, the campaign started by a supervisor, both
    through the shard's engine's API; the other shard's campaign is not its to start."""
    other = "east" if shard == "west" else "west"
    other_shard = "ACD shard 'east'" if other == "east" else "the default ACD shard"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runtime.http_port}") as http:
        lead = {"lead_id": f"{shard}-1", "customer_id": shard, "name": "Kiss Anna", "phones": [customer]}
        body = {"campaign_id": f"{shard}-renewals", "leads": [lead]}
        reply = await http.post("/api/v1/leads:bulk", json=body, headers=CRM)
        assert reply.status_code == 200 and reply.json()["created"] == 1, reply.text
        refused = await http.post(f"/api/v1/campaigns/{other}-renewals/start", headers=SUE)
        assert refused.status_code == 404 and f"{other_shard} runs it" in refused.text, refused.text
        reply = await http.post(f"/api/v1/campaigns/{shard}-renewals/start", headers=SUE)
        assert reply.status_code == 200, reply.text


async def test_two_shards_route_their_own_callers_and_pace_their_own_campaigns(
    backend: dict[str, Any], tmp_path: Path
) -> None:
    sim = _sim()
    port = await sim.start()
    west = _engine(backend, port, tmp_path, "west-1", "")
    east = _engine(backend, port, tmp_path, "east-1", "east")
    try:
        w, e = await west.start(), await east.start()
        assert w.acd.owns and e.acd.owns, "each shard has its own owner lease: both own at once"
        redis = w.redis
        assert (await redis.get(WEST.owner) or b"").endswith(b"west-1")
        assert (await redis.get(EAST.owner) or b"").endswith(b"east-1")
        assert key_slot(WEST.owner.encode()) != key_slot(EAST.owner.encode())
        if isinstance(redis, RedisCluster):  # {acd} and {acd-east} hash to different primaries
            assert redis.get_node_from_key(WEST.owner).name != redis.get_node_from_key(EAST.owner).name
        for agent_id in WEST_AGENTS:
            await w.acd.login(agent_id)
        for agent_id in EAST_AGENTS:
            await e.acd.login(agent_id)
        assert {m.decode() for m in await redis.smembers(WEST.agents)} == set(WEST_AGENTS)
        assert {m.decode() for m in await redis.smembers(EAST.agents)} == set(EAST_AGENTS)

        mark = len(sim.actions)
        await _call_in(sim, WEST_CALLER)  # no SWITCHBOARD_SHARD: the default shard's caller
        await _call_in(sim, EAST_CALLER, shard="east")
        legs = _agent_legs(sim.actions[mark:])
        assert set(legs) == {WEST_CALLER, EAST_CALLER}, "each caller rung once, by one engine"
        west_leg, east_leg = legs[WEST_CALLER], legs[EAST_CALLER]
        assert (west_leg["SWITCHBOARD_ENGINE"], west_leg["SWITCHBOARD_AGENT_ID"] in WEST_AGENTS) == (
            "west-1",
            True,
        )
        assert (east_leg["SWITCHBOARD_ENGINE"], east_leg["SWITCHBOARD_AGENT_ID"] in EAST_AGENTS) == (
            "east-1",
            True,
        )
        assert "-east-" in east_leg["SWITCHBOARD_CASE_ID"] and "-east-" not in west_leg["SWITCHBOARD_CASE_ID"]
        west_call, east_call = west_leg["SWITCHBOARD_CALL_ID"], east_leg["SWITCHBOARD_CALL_ID"]
        assert await redis.exists(WEST.call(west_call)) and not await redis.exists(EAST.call(west_call))
        assert await redis.exists(EAST.call(east_call)) and not await redis.exists(WEST.call(east_call))

        assert [c.id for c in w.dialer.campaigns.campaigns] == ["west-renewals"]
        assert [c.id for c in e.dialer.campaigns.campaigns] == ["east-renewals"]
        mark = len(sim.actions)
        await _lead_and_start(west, "west", WEST_CUSTOMER)
        await _lead_and_start(east, "east", EAST_CUSTOMER)
        dials = {}
        for customer in (WEST_CUSTOMER, EAST_CUSTOMER):
            dial = await sim.wait_for_action(
                "Originate",
                lambda a, c=customer: f"{c}@trunk" in (a.get("Channel") or ""),
                timeout=10,
                since=mark,
            )
            dials[customer] = originate_vars(dial)
        assert dials[WEST_CUSTOMER]["SWITCHBOARD_CAMPAIGN"] == "west-renewals"
        assert dials[WEST_CUSTOMER]["SWITCHBOARD_AGENT_ID"] in WEST_AGENTS
        assert "SWITCHBOARD_SHARD" not in dials[WEST_CUSTOMER]
        assert dials[EAST_CUSTOMER]["SWITCHBOARD_CAMPAIGN"] == "east-renewals"
        assert dials[EAST_CUSTOMER]["SWITCHBOARD_AGENT_ID"] in EAST_AGENTS
        assert dials[EAST_CUSTOMER]["SWITCHBOARD_SHARD"] == "east"
        assert w.dialer.is_leader and e.dialer.is_leader, "each shard's engine paces its own campaigns"
    finally:
        await west.stop()
        await east.stop()
        await sim.stop()


async def test_a_shard_fails_over_to_its_standby_while_the_other_shard_keeps_serving(
    backend: dict[str, Any], tmp_path: Path
) -> None:
    sim = _sim()
    port = await sim.start()
    west = _engine(backend, port, tmp_path, "west-1", "")
    east_one = _engine(backend, port, tmp_path, "east-1", "east")
    east_two = _engine(backend, port, tmp_path, "east-2", "east")
    try:
        w, _ = await west.start(), await east_one.start()
        standby = await east_two.start()
        assert w.acd.owns and east_one.parts.acd.owns and not standby.acd.owns
        assert await standby.lease.holder() == "east-1"

        await east_one.stop()  # a clean stop releases the shard's lease: its standby takes over at once
        await became_owner(standby.lease, timeout=2.0)
        await standby.acd.take_over()
        assert standby.acd.owns and w.acd.owns and w.lease.owned, "the other shard never changed hands"
        await w.acd.login("1001")
        await standby.acd.login("1002")
        mark = len(sim.actions)
        await _call_in(sim, EAST_CALLER, shard="east")
        await _call_in(sim, WEST_CALLER)
        legs = _agent_legs(sim.actions[mark:])
        assert (legs[EAST_CALLER]["SWITCHBOARD_ENGINE"], legs[EAST_CALLER]["SWITCHBOARD_AGENT_ID"]) == (
            "east-2",
            "1002",
        )
        assert (legs[WEST_CALLER]["SWITCHBOARD_ENGINE"], legs[WEST_CALLER]["SWITCHBOARD_AGENT_ID"]) == (
            "west-1",
            "1001",
        )
    finally:
        await west.stop()
        await east_one.stop()
        await east_two.stop()
        await sim.stop()
