"""Switchboard on a real 3-primary Redis Cluster (tests/support/redis_cluster.py): the fixture's
cluster itself, then each feature's scripts on it, which must give the answers they give on one Redis."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, ResponseError

from core.errors import StoreUnavailableError
from dialer.calls.attempts import AttemptStore
from dialer.calls.intents import Intent, IntentStore, LeadStep
from dialer.consent.store import ConsentStore
from dialer.dialer_keys import DialerKeys, DialKeys, LeadKeys
from dialer.leads.store import LeadStore
from dialer.lists.gate import Gate, GateMetrics
from dialer.lists.store import InternalList, PackedStore, campaign_list
from pbx.sim import AgentPhone, CustomerScript, SimConfig, SimulatedPbx
from routing.acd.acd_keys import AcdKeys
from routing.agent_events import AgentState
from switchboard.api.tokens import TokenStore
from switchboard.private_cluster import PrivateCluster
from switchboard.private_redis import PrivateRedis, free_port
from switchboard.redis_conn import connect_cluster
from switchboard.runtime import EXAMPLE_CONFIG, Runtime
from switchboard.settings import Settings
from switchboard.webhooks.outbox import Outbox
from tests.support.acd_harness import acd_stack, agent, base_rules, make_rules, sim_config
from tests.support.dialer_harness import RunningClock, lead, originate_vars


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
T0 = datetime(2026, 11, 18, 11, 0, tzinfo=UTC)
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
        await s.settled()  # an arrived caller is in memory before Redis (written as the step goes on)
        call_id = s.sim.channels[caller].uniqueid
        assert await redis.zrange(keys.queue("support"), 0, -1) == [call_id.encode()]
        stored = json.loads(await redis.get(keys.call(call_id)) or "{}")
        assert stored["facts"]["crm"] == {"segment": "gold"}

        await s.acd.login("a1")
        await s.until_state("a1", AgentState.BUSY)
        await s.settled()  # memory says busy before the commit that carries the handover
        assert [e.agent_id for e in await s.acd.events.read() if e.type == "handover"] == ["a1"]
        await s.until_state("a1", AgentState.WRAP_UP)
        await s.settled()  # memory says wrap-up before the commit that ends the call in Redis
        assert await redis.scard(keys.calls) == 0
        assert await redis.zcard(keys.queue("support")) == 0
        history = await redis.lrange(keys.agent_history("a1"), 0, -1)
        assert [entry.split(b" ")[1] for entry in history][-3:] == [b"ringing", b"busy", b"wrap_up"]

    every = await redis.keys("*", target_nodes=RedisCluster.PRIMARIES)
    tagged = {key for key in every if not key.startswith(keys.prefix.encode() + b"{engine:")}
    assert {cluster_client.keyslot(key) for key in tagged} == {cluster_client.keyslot(keys.base)}


async def test_a_caller_is_offered_on_arrival_by_one_script_on_the_cluster(
    cluster_client: RedisCluster,
) -> None:
    """The arrival's script (routing/acd/store_arrival.py) on the cluster: the CRM record read and
    its rules evaluated, the case numbered, the call stored with the reservation of the agent of
    the tier the record gives; every key of it in the ACD's slot."""
    redis: Any = cluster_client
    keys = AcdKeys()
    data = base_rules(agents=[agent("a2", "PJSIP/2002", tech=2), agent("a4", "PJSIP/2004", tech=4)])
    data["tiers"][0]["crm"] = [{"field": "segment", "values": ["platinum"]}]
    await redis.hset(keys.crm_customer(CALLER), mapping={"segment": "Platinum"})
    config = sim_config(**{"2002": AgentPhone(answer_after_s=None), "2004": AgentPhone(answer_after_s=None)})
    async with acd_stack(redis, make_rules(data), config) as s:
        await s.acd.login("a2")
        await s.acd.login("a4")
        caller = await s.sim.inbound_call(CALLER, "+3612345678", patience_s=600)
        await s.until(lambda: s.state("a4") in {AgentState.RESERVED, AgentState.RINGING})
        call_id = s.sim.channels[caller].uniqueid
        stored = json.loads(await redis.get(keys.call(call_id)) or "{}")
        assert (stored["tier"], stored["facts"]["agent_id"]) == ("key", "a4")
        assert stored["facts"]["crm"] == {"segment": "Platinum"} and stored["facts"]["case_id"]
        assert s.state("a2") is AgentState.READY


# ---- the dialer: a lead claimed, its call's intent written and settled, in the `{dial}` slot ------


async def _claim_dial_settle(redis: Any) -> list[Any]:
    leads = LeadStore(redis, default_region="HU")
    await leads.upsert_many([lead(1), lead(2)], now=T0, actor="crm", campaign_id="c1")
    claimed = await leads.claim("c1", "e1", now=T0)
    assert claimed is not None
    intent = Intent("sbo-1", "a-1", claimed.phones[0], "c1", "campaign", int(T0.timestamp() * 1000), "e1",
                    claimed.lead_id, "e1", "1001")  # fmt: skip
    intents, attempts = IntentStore(redis), AttemptStore(redis)
    assert await intents.open(intent, at=T0, hold=timedelta(hours=2)) is None
    dialing = (await leads.get(claimed.lead_id)).status
    placed = [i.call_id for i in await intents.open_intents()]
    pending = [(a.call_id, a.result) for a in await attempts.number_attempts(intent.number)]
    step = LeadStep("release", "e1", next_attempt_at=T0 + timedelta(hours=1))
    settled = await intents.settle(intent, result="busy", counts={}, step=step, at=T0 + timedelta(seconds=20))
    again = await intents.settle(intent, result="busy", counts={}, step=step, at=T0 + timedelta(seconds=21))
    after = await leads.get(claimed.lead_id)
    done = [(a.call_id, a.result) for a in await attempts.number_attempts(intent.number)]
    return [claimed.lead_id, dialing, placed, pending, settled, again, after.status, after.attempts, done,
            await intents.open_intents(), await leads.queue_sizes("c1")]  # fmt: skip


async def test_a_lead_is_claimed_dialed_and_settled_on_a_cluster_as_on_one_redis(
    redis_client: aioredis.Redis, cluster_client: RedisCluster
) -> None:
    on_cluster = await _claim_dial_settle(cluster_client)
    assert on_cluster == await _claim_dial_settle(redis_client)
    lead_id, dialing, placed, pending, settled, again, status, tries, done, still_open, sizes = on_cluster
    assert (lead_id, dialing, placed, pending) == ("L1", "dialing", ["sbo-1"], [("sbo-1", None)])
    assert (settled, again, status, tries, done, still_open) == (
        True,
        False,
        "queued",
        1,
        [("sbo-1", "busy")],
        [],
    )
    assert sizes["ready"] == 1 and sizes["retry"] == 1
    keys = await cluster_client.keys("*", target_nodes=RedisCluster.PRIMARIES)
    assert {cluster_client.keyslot(key) for key in keys} == {cluster_client.keyslot(LeadKeys().prefix)}


async def _offers(redis: Any) -> dict[str, str | None]:
    leads = LeadStore(redis, default_region="HU")
    await leads.upsert_many([lead(1), lead(2)], now=T0, actor="crm", campaign_id="c1")
    await leads.claim_many("c1", "e1", 2, now=T0)
    await leads.offer("L1", "e1", "anna", now=T0, timeout=timedelta(seconds=30))
    await leads.offer("L2", "e1", "bela", now=T0, timeout=timedelta(seconds=30))
    found = await leads.current_offers(["anna", "bela", "cili"], now=T0)
    return {advisor: offered.lead_id if offered else None for advisor, offered in found.items()}


async def test_the_advisors_offers_are_read_together_on_a_cluster_as_on_one_redis(
    redis_client: aioredis.Redis, cluster_client: RedisCluster
) -> None:
    """The advisor screens' one read of every open screen's offer (switchboard/console/offers.py) is
    two pipelines; their keys share the `{dial}` slot, so a cluster answers them as one Redis."""
    on_cluster = await _offers(cluster_client)
    assert on_cluster == await _offers(redis_client) == {"anna": "L1", "bela": "L2", "cili": None}


# ---- the whole engine: `switchboard run` with `redis.cluster: true` ------------------------------

SECRET = "runtime-secret"


async def test_the_whole_engine_runs_on_the_cluster_and_answers_calls(
    redis_cluster: PrivateCluster, cluster_client: RedisCluster, tmp_path: Path
) -> None:
    rules = tmp_path / "routing.yaml"
    shipped = (EXAMPLE_CONFIG / "routing.yaml").read_text()
    rules.write_text(shipped.replace("wrap_up: 20s", "wrap_up: 1s"))  # as test_redis_sentinel.py does
    phones = {ext: AgentPhone(answer_after_s=0.2) for ext in ("1005", "1006")}
    sim = SimulatedPbx(SimConfig(users={"switchboard": SECRET}, agents=phones))
    settings = Settings(
        ami={"port": await sim.start(), "secret": SECRET},
        redis={"url": redis_cluster.url, "cluster": True, "cluster_nodes": redis_cluster.addresses[1:]},
        http={"port": 0},
        rules={"routing": rules},
    )
    assert settings.redis_display.startswith("cluster at redis://127.0.0.1:")
    runtime = Runtime(settings)
    try:
        parts = await runtime.start()
        assert isinstance(parts.redis, RedisCluster)
        await parts.acd.login("1005")
        await parts.acd.login("1006")
        for caller in ("+36301110001", "+36301110002"):
            channel = await sim.inbound_call(
                caller, "+3612345678", ivr_choice="2", patience_s=600, talk_s=0.3
            )
            await sim.wait_for_event(
                "BridgeEnter", lambda event, c=channel: event.get("Channel") == c, timeout=15
            )
        keys = AcdKeys()
        assert await cluster_client.scard(keys.agents) == len(parts.acd.rules.agents)
        assert (await cluster_client.get(keys.owner) or b"").endswith(runtime.instance_id.encode())
    finally:
        await runtime.stop()
        await sim.stop()


async def test_the_webhook_outbox_queues_claims_and_settles_on_the_cluster(
    cluster_client: RedisCluster,
) -> None:
    outbox = Outbox(cast(aioredis.Redis, cluster_client))
    items = [("1-0", '{"a":1}', ["crm", "bi"]), ("2-0", '{"a":2}', ["crm"])]
    assert await outbox.enqueue(1000, "acd", items, expected="", cursor="2-0") == 3  # queued per webhook
    assert await outbox.enqueue(1001, "acd", items, expected="", cursor="2-0") == -1, "the cursor moved"
    claimed = await outbox.claim("crm", 1002, batch=10, lease_ms=5000)
    assert [(c.id, c.body) for c in claimed] == [("1-0", '{"a":1}'), ("2-0", '{"a":2}')]
    await outbox.delivered("crm", "1-0", 1003)
    await outbox.give_up("crm", "2-0", 1004, "HTTP 400")
    assert await outbox.is_delivered("crm", "1-0") and list(await outbox.failed("crm")) == ["2-0"]
    assert (await outbox.cursors(), await outbox.depth("bi")) == ({"acd": "2-0"}, 1)


CAMPAIGNS = """
version: 1
campaigns:
  - id: renewals
    name: Renewals
    mode: progressive
    dial_string: PJSIP/{number}@trunk
    queue: sales
    ring_timeout_s: 20
"""
CUSTOMER = "+36301234001"
TOKENS = TokenStore.from_tokens([("crm-token", "crm", "crm"), ("sue-token", "sue", "supervisor")])


async def test_the_whole_engine_dials_a_campaign_through_the_cluster(
    redis_cluster: PrivateCluster, cluster_client: RedisCluster, tmp_path: Path
) -> None:
    """A lead from the CRM API, the campaign started over HTTP: the gate, the lead claim, the dial
    intent and the ACD's hold all run on the cluster, and the answered call reaches the advisor."""
    campaigns = tmp_path / "campaigns.yaml"
    campaigns.write_text(CAMPAIGNS)
    script = CustomerScript(outcome="answer", ring_s=0.3, talk_s=30)
    phones = {"1008": AgentPhone(answer_after_s=0.2)}
    config = SimConfig(users={"switchboard": SECRET}, agents=phones, customer_overrides={CUSTOMER: script},
                       amd_s=(0.1, 0.2))  # fmt: skip
    sim = SimulatedPbx(config)
    settings = Settings(
        ami={"port": await sim.start(), "secret": SECRET},
        redis={"url": redis_cluster.url, "cluster": True},
        http={"port": 0},
        rules={"routing": EXAMPLE_CONFIG / "routing.yaml", "campaigns": campaigns},
    )
    runtime = Runtime(settings, clock=RunningClock(), tokens=TOKENS)
    try:
        parts = await runtime.start()
        await parts.acd.login("1008")
        auth = {"crm": {"Authorization": "Bearer crm-token"}, "sue": {"Authorization": "Bearer sue-token"}}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runtime.http_port}") as http:
            lead = {"lead_id": "R1", "customer_id": "C1", "name": "Kiss Anna", "phones": [CUSTOMER]}
            body = {"campaign_id": "renewals", "leads": [lead]}
            reply = await http.post("/api/v1/leads:bulk", json=body, headers=auth["crm"])
            assert reply.status_code == 200 and reply.json()["created"] == 1, reply.text
            reply = await http.post("/api/v1/campaigns/renewals/start", headers=auth["sue"])
            assert reply.status_code == 200, reply.text
            dial = await sim.wait_for_action(
                "Originate", lambda a: "@trunk" in (a.get("Channel") or ""), timeout=10
            )
            assert originate_vars(dial)["SWITCHBOARD_AGENT_ID"] == "1008"
            await sim.wait_for_action("Bridge", timeout=10)
            stats = (await http.get("/api/v1/campaigns/renewals/stats", headers=auth["sue"])).json()
            assert stats["state"] == "running" and stats["dials_24h"] == 1
        assert (await cluster_client.hget(LeadKeys().lead("R1"), "status")) == b"dialing"
        assert await cluster_client.zcard(DialKeys().number_attempts(CUSTOMER)) == 1
    finally:
        await runtime.stop()
        await sim.stop()


async def test_a_cluster_that_cannot_be_reached_or_is_no_cluster_is_refused_by_name(
    redis_server: PrivateRedis,
) -> None:
    with pytest.raises(StoreUnavailableError, match=r"cluster at redis://127\.0\.0\.1:\d+.* not reachable"):
        await connect_cluster(f"redis://127.0.0.1:{free_port()}", wait_s=1.0)
    with pytest.raises(StoreUnavailableError, match="Cluster mode is not enabled"):  # a plain Redis
        await connect_cluster(redis_server.url, wait_s=2.0)


async def test_the_gate_refuses_every_number_while_its_shard_is_down() -> None:
    """The `{gate}` slot's primary killed (no replica to take over): every check is refused with
    `store-unavailable`, none raises, none lets a number through; the other shards keep serving."""
    with PrivateCluster(3) as cluster:
        client = RedisCluster.from_url(cluster.url)
        await client.initialize()
        try:
            gate = await _gate_lists(client)
            assert not (await gate.check(CHECKED[1], "7", None, now=NOW)).allowed
            owner = client.get_node_from_key(DialerKeys().gate)
            assert owner is not None
            node = next(n for n in cluster.nodes if n.port == owner.port)
            node.kill()
            # At once: `cluster-node-timeout` (5 s) after a primary dies, the other nodes mark it failed
            # and, as Redis does by default (cluster-require-full-coverage), stop serving every slot.
            # One after the other, the six checks (each refused at the gate's 1 s timeout) took 6.0 s.
            checks = (gate.check(number, "7", None, now=NOW) for number in CHECKED)
            verdicts = await asyncio.gather(*checks)
            assert {v.sources for v in verdicts} == {("store-unavailable",)}
            other = next(f"k{i}" for i in range(100) if client.get_node_from_key(f"k{i}") != owner)
            assert await client.set(other, "still served")
        finally:
            await client.aclose()
