"""Switchboard on a real 3-primary Redis Cluster (tests/support/redis_cluster.py): the fixture's
cluster itself, then each feature's scripts on it, which must give the answers they give on one Redis."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, ResponseError

from dialer.consent.store import ConsentStore
from dialer.dialer_keys import DialerKeys
from dialer.lists.gate import Gate, GateMetrics
from dialer.lists.store import InternalList, PackedStore, campaign_list
from pbx.sim import AgentPhone
from routing.acd.acd_keys import AcdKeys
from routing.agent_events import AgentState
from switchboard.private_cluster import PrivateCluster
from tests.support.acd_harness import acd_stack, agent, base_rules, make_rules, sim_config


async def test_the_cluster_spreads_slots_over_three_primaries(
    redis_cluster: PrivateCluster, cluster_client: RedisCluster
) -> None:
    assert len(cluster_client.get_primaries()) == 3
    owners = {getattr(cluster_client.get_node_from_key(f"k{i}"), "port", None) for i in range(50)}
    assert owners == {node.port for node in redis_cluster.nodes}


async def test_a_script_may_only_touch_keys_of_one_slot(cluster_client: RedisCluster) -> None:
    """Why every script receives its keys in KEYS[] under one hash tag: Redis refuses the rest."""
    script = "redis.call('SET', KEYS[1], 1); return redis.call('SET', KEYS[2], 2)"
    assert await cluster_client.eval(script, 2, "{q:a}:x", "{q:a}:y") == b"OK"
    with pytest.raises(RedisClusterException, match="same key slot"):
        await cluster_client.eval(script, 2, "{q:a}:x", "{q:b}:y")
    built = "return redis.call('SET', ARGV[1] .. 'y', 1)"  # a key made inside the script
    with pytest.raises(ResponseError, match=r"non local key|same slot"):
        await cluster_client.eval(built, 1, "{q:a}:x", "{q:b}:")


# ---- the dial gate: the lists and the consent register in the `{gate}` slot ----------------------

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CHECKED = ["+36301111111", "+36302222222", "+48601234567", "+36303333333", "+36304444444", "+36305555555"]


async def _gate_lists(redis: Any) -> Gate:
    """internal: ...111; hu-robinson: ...222 and ...111; pl-psmb; campaign 7: ...333; a marketing
    consent for ...555 (customer C5)."""
    await InternalList(redis).add("+36301111111", reason="do_not_call", actor="agent:1", now=NOW)
    store = PackedStore(redis)
    await store.add("hu-robinson", ["+36302222222", "+36301111111"])
    await store.add("pl-psmb", ["+48601234567"])
    await store.add(campaign_list("7"), ["+36303333333"])
    consent = ConsentStore(redis, default_region="HU")
    given = {"customer_id": "C5", "number": "+36305555555", "purpose": "marketing", "source": "web-form",
             "given_at": (NOW - timedelta(days=30)).isoformat()}  # fmt: skip
    assert (await consent.give_many([given], actor="crm", now=NOW)).given == 1
    return Gate(redis, GateMetrics(CollectorRegistry()), default_region="HU")


async def _answers(redis: Any) -> list[Any]:
    gate = await _gate_lists(redis)
    answers: list[Any] = [await gate.check(number, "7", None, now=NOW) for number in CHECKED]
    for number in CHECKED:
        verdict = await gate.check(number, "7", None, now=NOW, consent_purpose="marketing", customer_id="C5")
        answers.append(verdict)
    answers.append(await gate.check_many(CHECKED, "7"))
    await PackedStore(redis).add("late-list", ["+36304444444"])  # registered after the gate's first check
    answers.append(await gate.check("+36304444444", None, None, now=NOW))
    entries: Any = await redis.xrange(DialerKeys().audit_dial_blocked)
    answers.append([{k: v for k, v in fields.items()} for _, fields in entries])
    return answers


async def test_the_gate_answers_on_a_cluster_as_on_one_redis(
    redis_client: aioredis.Redis, cluster_client: RedisCluster
) -> None:
    on_cluster = await _answers(cluster_client)
    assert on_cluster == await _answers(redis_client)
    by_number = {verdict.number: verdict.sources for verdict in on_cluster[: len(CHECKED)]}
    assert by_number == {
        "+36301111111": ("internal", "hu-robinson"), "+36302222222": ("hu-robinson",),
        "+48601234567": ("pl-psmb",), "+36303333333": ("campaign:7",), "+36304444444": (), "+36305555555": (),
    }  # fmt: skip
    consented = [verdict.allowed for verdict in on_cluster[len(CHECKED) : 2 * len(CHECKED)]]
    assert consented == [False, False, False, False, False, True]
    assert on_cluster[-2].sources == ("late-list",)
    assert len(on_cluster[-1]) == 10  # every refusal audited: 4 listed + 5 without consent + 1 late
    keys = await cluster_client.keys("*", target_nodes=RedisCluster.PRIMARIES)
    slots = {cluster_client.keyslot(key) for key in keys}
    assert slots == {cluster_client.keyslot(DialerKeys().gate)}, "every gate key in the one {gate} slot"


# ---- inbound routing: one ACD's keys in its `{acd}` slot ------------------------------------------

CALLER = "+36301234567"


async def test_a_queue_routes_its_callers_through_the_cluster(cluster_client: RedisCluster) -> None:
    """The ACD's scripts (arrival, reserve, hold, fenced commits) on the cluster: a caller waits in
    the queue, is stored there, an agent logs in, takes the call, and the call ends in wrap-up."""
    redis: Any = cluster_client
    keys = AcdKeys()
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)]))
    await redis.hset(keys.crm_customer(CALLER), mapping={"segment": "gold"})
    config = sim_config(**{"2001": AgentPhone(answer_after_s=0.05)})
    async with acd_stack(redis, rules, config) as s:
        caller = await s.sim.inbound_call(CALLER, "+3612345678", ivr_choice="2", patience_s=600, talk_s=0.3)
        await s.until(lambda: len(s.waiting_ids()) == 1)
        call_id = s.sim.channels[caller].uniqueid
        assert await redis.zrange(keys.queue("support"), 0, -1) == [call_id.encode()]
        stored = json.loads(await redis.get(keys.call(call_id)) or "{}")
        assert stored["facts"]["crm"] == {"segment": "gold"}

        await s.acd.login("a1")
        await s.until_state("a1", AgentState.BUSY)
        assert [e.agent_id for e in await s.acd.events.read() if e.type == "handover"] == ["a1"]
        await s.until_state("a1", AgentState.WRAP_UP)
        assert await redis.scard(keys.calls) == 0
        assert await redis.zcard(keys.queue("support")) == 0
        history = await redis.lrange(keys.agent_history("a1"), 0, -1)
        assert [entry.split(b" ")[1] for entry in history][-3:] == [b"ringing", b"busy", b"wrap_up"]

    every = await redis.keys("*", target_nodes=RedisCluster.PRIMARIES)
    tagged = {key for key in every if not key.startswith(keys.prefix.encode() + b"{engine:")}
    assert {cluster_client.keyslot(key) for key in tagged} == {cluster_client.keyslot(keys.base)}
