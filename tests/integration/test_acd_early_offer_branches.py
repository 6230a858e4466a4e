"""The one-step arrival's other branches (routing/acd/early_offer.py, the ARRIVE_OFFER script): a
CRM tier against other evidence of equal and higher priority, two CRM rules of equal priority, a
CRM rule of the default tier, a CRM tier nobody can take while the base tier could, an agent
taken between the decision and the script, a caller id holding a placeholder's text, and the
lease lost under the second write of a record that is not UTF-8.

Simulated Asterisk over TCP, a private Redis, the engine's real script; each test checks what
the caller gets (tier, matched rule, agent) and that Redis holds what memory holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from pbx.sim import AgentPhone
from routing.acd.acd_keys import AcdKeys
from routing.acd.calls import ActiveCall
from routing.acd.early_offer import facts_of
from routing.acd.held import HeldCaller
from routing.acd.store_arrival import HOLES, ArrivalScript, CrmChoice, Speculation
from routing.agent_events import AgentState
from routing.classify import admit, classify, crm_outcomes
from routing.rules import Rules
from switchboard.private_redis import PrivateRedis
from tests.integration.test_acd_early_offer import CALLER, crm_rules, monitored, put_record
from tests.integration.test_acd_owner import owned_engine, rings
from tests.support.acd_harness import Stack, acd_stack, agent, base_rules, make_rules, running_sim, sim_config
from tests.support.lease_harness import FreezableClock

pytestmark = pytest.mark.integration
DIALLED, VIP_LINE = "+3612345678", "+3612345679"
NO_EVIDENCE, KEY_CALLER = "+36701234567", "+36201111111"


def evidence_rules() -> Rules:
    """CRM tiers around a prefix tier (70), a VIP line (80) and a key caller (100); `active`, the
    default tier, has a CRM rule too. One agent serves every tier."""
    data = base_rules(agents=[agent("a2", "PJSIP/2002", tech=2)])
    data["tiers"] = [
        {"name": "key", "priority": 100, "callers": [KEY_CALLER]},
        {"name": "crm90", "priority": 90, "crm": [{"field": "status", "values": ["gold"]}]},
        {"name": "tie_a", "priority": 80, "crm": [{"field": "a", "values": ["x"]}]},
        {"name": "tie_b", "priority": 80, "crm": [{"field": "b", "values": ["y"]}]},
        {"name": "line", "priority": 80, "dialled": [VIP_LINE]},
        {"name": "pref", "priority": 70, "prefixes": ["+3630"]},
        {"name": "crm70", "priority": 70, "crm": [{"field": "status", "values": ["VIP"]}]},
        {"name": "active", "priority": 40, "crm": [{"field": "status", "values": ["act"]}]},
    ]
    return make_rules(data)


def one_agent(answer: bool = False) -> Any:
    return sim_config(**{"2002": AgentPhone(answer_after_s=0.05 if answer else None)})


async def redis_holds_what_memory_holds(s: Stack, call_id: str) -> None:
    loaded = (await s.acd.ctx.store.load()).calls[call_id]
    assert loaded == s.acd.ctx.state.calls[call_id], "Redis holds what memory holds"


@pytest.mark.parametrize(
    ("caller", "dialled", "record", "expected"),
    [
        (
            CALLER,
            DIALLED,
            {"status": "VIP"},
            ("pref", "tiers[5].prefixes[0]"),
        ),  # a tie: the prefix came first
        (CALLER, DIALLED, {"status": "gold"}, ("crm90", "tiers[1].crm[0]")),  # higher than the prefix
        (CALLER, DIALLED, {"a": "x", "b": "y"}, ("tie_a", "tiers[2].crm[0]")),  # two CRM rules tie: the first
        (CALLER, DIALLED, {"b": "Y", "a": "X"}, ("tie_a", "tiers[2].crm[0]")),  # rules' order, not record's
        (CALLER, DIALLED, {"b": "y"}, ("tie_b", "tiers[3].crm[0]")),
        (CALLER, DIALLED, {"status": "act"}, ("pref", "tiers[5].prefixes[0]")),  # lower than the prefix
        (CALLER, DIALLED, {"status": ""}, ("pref", "tiers[5].prefixes[0]")),
        (NO_EVIDENCE, VIP_LINE, {"a": "x"}, ("line", "tiers[4].dialled[0]")),  # a tie with the dialled line
        (NO_EVIDENCE, VIP_LINE, {"status": "gold"}, ("crm90", "tiers[1].crm[0]")),
        (KEY_CALLER, DIALLED, {"status": "gold"}, ("key", "tiers[0].callers[0]")),  # nothing beats the number
        (NO_EVIDENCE, DIALLED, {"status": "VIP"}, ("crm70", "tiers[6].crm[0]")),  # no evidence: any CRM match
        (NO_EVIDENCE, DIALLED, {"status": "act"}, ("active", "tiers[7].crm[0]")),  # the default tier's rule
        (NO_EVIDENCE, DIALLED, {}, ("active", "default_tier")),
    ],
)
async def test_the_one_step_arrival_gives_the_tier_classify_gives_against_other_evidence(
    redis_client: aioredis.Redis, caller: str, dialled: str, record: dict[str, str], expected: tuple[str, str]
) -> None:
    if record:
        mapping: dict[FieldT, EncodableT] = dict(record.items())
        await redis_client.hset(AcdKeys().crm_customer(caller), mapping=mapping)
    async with acd_stack(redis_client, evidence_rules(), one_agent()) as s:
        await s.acd.login("a2")
        channel = await s.sim.inbound_call(caller, dialled, patience_s=600)
        await s.until(lambda: bool(s.actions("Originate")))
        call_id = s.sim.channels[channel].uniqueid
        stored = json.loads(await s.redis.get(AcdKeys().call(call_id)) or "{}")
        await redis_holds_what_memory_holds(s, call_id)
    found = classify(caller, "support", s.acd.ctx.state.rules, dialled=dialled, crm_record=record or None)
    assert (stored["tier"], stored["facts"]["matched"]) == expected == (found.tier, found.matched)
    facts = stored["facts"]
    assert (facts["state"], facts["agent_id"], facts["crm"]) == ("offered", "a2", record), "rung in one step"


async def test_a_crm_rule_of_the_default_tier_sends_its_offer_once(
    redis_client: aioredis.Redis, redis_server: PrivateRedis, tmp_path: Path
) -> None:
    """No other evidence: the default tier's CRM rule would give the same offer as no match."""
    data = base_rules(agents=[agent("a2", "PJSIP/2002", tech=2)])
    data["tiers"][1]["crm"] = [{"field": "status", "values": ["act"]}]  # `active`, the default tier
    await redis_client.hset(AcdKeys().crm_customer(NO_EVIDENCE), mapping={"status": "act"})
    with monitored(redis_server, tmp_path) as watch:
        async with acd_stack(redis_client, make_rules(data), one_agent()) as s:
            await s.acd.login("a2")
            watch.mark()
            channel = await s.sim.inbound_call(NO_EVIDENCE, DIALLED, patience_s=600)
            await s.until(lambda: bool(s.actions("Originate")))
            first = watch.trips()[0]
            call = s.acd.ctx.state.calls[s.sim.channels[channel].uniqueid]
    assert (call.call.tier, call.facts.matched, call.facts.agent_id) == ("active", "tiers[1].crm[0]", "a2")
    assert first.name == "EVALSHA" and first.ran()[-4:] == ["MSET", "SADD", "HSET", "RPUSH"]
    assert first.args.count(AcdKeys().agent_status("a2")) == 1, "one alternative, not two alike"


async def test_a_crm_tier_nobody_can_take_waits_though_the_base_tiers_agent_is_ready(
    redis_client: aioredis.Redis,
) -> None:
    """The record gives `key` (level 4; its agent is logged out): the ready level-2 agent who would
    take the caller without the record is not rung."""
    await put_record(redis_client, {"segment": "platinum"})
    config = sim_config(**{"2002": AgentPhone(answer_after_s=None)})
    async with acd_stack(redis_client, crm_rules(), config) as s:
        await s.acd.login("a2")
        channel = await s.sim.inbound_call(CALLER, DIALLED, patience_s=600)
        await s.until(lambda: bool(s.actions("Setvar")))  # after the call is stored
        call_id = s.sim.channels[channel].uniqueid
        stored = json.loads(await s.redis.get(AcdKeys().call(call_id)) or "{}")
        await redis_holds_what_memory_holds(s, call_id)
        assert not s.actions("Originate") and s.state("a2") is AgentState.READY
    assert (stored["tier"], stored["facts"]["matched"], stored["facts"]["state"]) == (
        "key", "tiers[0].crm[0]", "waiting",
    )  # fmt: skip


async def test_an_agent_taken_between_the_decision_and_the_script_is_not_rung(
    redis_client: aioredis.Redis,
) -> None:
    """Redis says the agent is paused (another engine, say) while memory still has them ready: the
    script reserves nobody, the usual offer believes Redis, the caller is stored waiting with the
    case the script numbered (one number, not two)."""
    async with acd_stack(redis_client, crm_rules(), one_agent()) as s:
        await s.acd.login("a2")
        key = AcdKeys().agent_status("a2")
        status = json.loads(await redis_client.get(key) or "{}")
        await redis_client.set(key, json.dumps({**status, "state": "paused"}))
        channel = await s.sim.inbound_call(CALLER, DIALLED, patience_s=600)
        await s.until(lambda: bool(s.actions("Setvar")))
        call_id = s.sim.channels[channel].uniqueid
        stored = json.loads(await s.redis.get(AcdKeys().call(call_id)) or "{}")
        await redis_holds_what_memory_holds(s, call_id)
        assert not s.actions("Originate") and s.state("a2") is AgentState.PAUSED, "memory believes Redis"
        assert int(await redis_client.get(AcdKeys().case_seq) or 0) == 1
    assert (stored["tier"], stored["facts"]["state"], stored["facts"]["agent_id"]) == (
        "active",
        "waiting",
        "",
    )
    assert stored["facts"]["case_id"].endswith("000001")


@pytest.mark.parametrize("hole", ["matched", "crm"])  # the holes after the caller's fields
async def test_a_caller_id_holding_a_placeholders_text_is_stored_as_it_came(
    redis_client: aioredis.Redis, hole: str
) -> None:
    """The script fills the call record's placeholders; a caller id equal to one (a CallerIDNum is
    the caller's to send) would get the rule or the CRM record in its place, and the placeholder
    stay in the record. The arrival takes the usual way instead: the call is stored as it came."""
    async with acd_stack(redis_client, crm_rules(), one_agent()) as s:
        await s.acd.login("a2")
        channel = await s.sim.inbound_call(HOLES[hole], DIALLED, patience_s=600)
        await s.until(lambda: bool(s.actions("Originate")))
        call_id = s.sim.channels[channel].uniqueid
        stored = json.loads(await s.redis.get(AcdKeys().call(call_id)) or "{}")
        await redis_holds_what_memory_holds(s, call_id)
    facts = stored["facts"]
    assert (facts["caller"], facts["agent_id"], facts["matched"], facts["crm"]) == (
        HOLES[hole], "a2", "default_tier", {},
    )  # fmt: skip


async def test_a_record_not_utf8_offered_as_the_lease_lapses_keeps_its_ring_and_is_written_back(
    redis_client: aioredis.Redis,
) -> None:
    """The script stores the offer, then the lease lapses in Redis before the record is written
    again as Python reads it: that write is refused. The agent is rung all the same (before that
    write) and the call counted; memory is marked ahead of Redis, and owning again writes the record
    back as Python reads it."""
    await redis_client.hset(AcdKeys().crm_customer("+36301234567"), mapping={"name": b"Kiss \xc1nna"})
    clock = FreezableClock()
    config = sim_config(**{"2001": AgentPhone(answer_after_s=None)})
    async with running_sim(config) as sim, owned_engine(sim, redis_client, "engine-a", clock=clock) as one:
        await one.acd.login("a1")
        await one.lease.stop(release=False)  # no renewals from here on
        early = one.acd.flow.early
        arrival = early.script

        async def lapsing_after(*args: Any, **kwargs: Any) -> Any:
            answer = await arrival(*args, **kwargs)
            await redis_client.delete(
                AcdKeys().owner
            )  # Redis's TTL ran out; this engine's clock says not yet
            return answer

        early.script = lapsing_after  # type: ignore[assignment]
        channel = await sim.inbound_call("+36301234567", patience_s=600, talk_s=600)
        await one.until(lambda: bool(rings(sim)) and not one.acd.owns and one.acd.dispatcher.dirty)
        call_id = sim.channels[channel].uniqueid
        assert len(rings(sim)) == 1
        assert one.sample("switchboard_acd_calls_offered_total", queue="support", tier="active") == 1
        memory = one.acd.ctx.state.calls[call_id]
        assert (memory.facts.crm, memory.facts.agent_id) == ({"name": "Kiss \ufffdnna"}, "a1")

        one.lease.start()
        await one.until(lambda: one.acd.owns and not one.acd.dispatcher.dirty, timeout=5)
        stored = json.loads(await redis_client.get(AcdKeys().call(call_id)) or "{}")
        assert (stored["facts"]["crm"], stored["facts"]["agent_id"]) == ({"name": "Kiss \ufffdnna"}, "a1")
        assert len(rings(sim)) == 1, "rung once"


@pytest.mark.parametrize(("evidence", "matched"), [(70, "tiers[5].prefixes[0]"), (None, "tiers[6].crm[0]")])
async def test_the_script_lets_a_crm_rule_win_only_over_evidence_of_lower_priority(
    redis_client: aioredis.Redis, evidence: int | None, matched: str
) -> None:
    """The script's own check, behind the engine's (which sends no rule that could not win): a
    rule of the priority of the caller's other evidence (the prefix, 70) loses to it, as in
    `classify`; with no other evidence it wins."""
    await put_record(redis_client, {"status": "VIP"})
    async with acd_stack(redis_client, evidence_rules(), one_agent()) as s:
        await s.acd.login("a2")
        ctx, now = s.acd.ctx, s.acd.ctx.clock()
        base, _ = crm_outcomes(CALLER, "support", ctx.state.rules, dialled=DIALLED)
        held = HeldCaller("call-x", "call-x", "PJSIP/trunk-x", caller=CALLER, dialled=DIALLED)
        facts = facts_of(ctx, held, CALLER, base.matched, crm=None, case_id="")
        prepared = s.acd.dispatcher.prepare(ActiveCall(admit("call-x", base, now), facts), "a2", now)
        assert prepared is not None
        rule = CrmChoice("status", frozenset({"vip"}), 70, 1, "tiers[6].crm[0]")  # the same offer: 1
        spec = Speculation("call-x", CALLER, 1, base.matched, evidence, [rule], [prepared])
        answer = await ArrivalScript(ctx.store)(spec, now)
        stored = json.loads(await redis_client.get(AcdKeys().call("call-x")) or "{}")
    assert (answer.outcome, answer.chosen, answer.matched, stored["facts"]["matched"]) == (
        "offered", 1, matched, matched,
    )  # fmt: skip
