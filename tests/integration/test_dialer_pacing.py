"""Progressive and predictive dialing end to end: real TCP to the simulated PBX, a private Redis."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from dialer.calls.lifecycle import Phase
from dialer.compliance.caps import CallResult, CapReason, CapsPolicy, number_block
from pbx.sim import AgentPhone, CustomerScript
from routing.agent_events import AgentState
from tests.support.dialer_harness import (
    campaign,
    campaigns,
    lead,
    number,
    originate_vars,
    rig,
    sim_config,
)

pytestmark = pytest.mark.integration


def answers(*indexes: int, talk_s: float = 40.0) -> dict[str, CustomerScript]:
    return {number(i): CustomerScript(outcome="answer", ring_s=1.0, talk_s=talk_s) for i in indexes}


async def test_progressive_dials_only_for_a_reserved_agent_and_connects_the_call_to_them(
    redis_client: aioredis.Redis,
) -> None:
    sim = sim_config(customer_overrides=answers(1, 2, 3))
    async with rig(redis_client, campaigns(campaign()), sim) as r:
        await r.load_leads(lead(i) for i in (1, 2, 3))
        await r.start()
        rounds = r.dialer.rounds
        await r.until(lambda: r.dialer.rounds >= rounds + 5)
        assert r.customer_originates() == [], "no agent is ready: nothing may be dialed"

        await r.agent("1001")
        first = await r.sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
        call_id = originate_vars(first)["SWITCHBOARD_CALL_ID"]
        assert originate_vars(first)["SWITCHBOARD_AGENT_ID"] == "1001"
        leg = await r.sim.wait_for_action("Originate", lambda a: a.get("Channel") == "PJSIP/1001", timeout=10)
        assert originate_vars(leg)["SWITCHBOARD_CALL_ID"] == call_id
        bridge = await r.sim.wait_for_action("Bridge", timeout=10)
        assert bridge.get("Channel1", "").startswith("PJSIP/trunk-")
        assert bridge.get("Channel2", "").startswith("PJSIP/1001-")
        await r.until(lambda: any(c.phase is Phase.CONNECTED for c in r.dialer.calls()))

        rounds = r.dialer.rounds
        await r.until(lambda: r.dialer.rounds >= rounds + 5)
        assert len(r.customer_originates()) == 1, "the only agent is talking: no second call"
        assert r.sample("switchboard_dial_refused_total", campaign="c1", reason="blocked") == 0

        # The call ends (the customer hangs up after talking): the agent is free, the next lead is dialed.
        await r.sim.wait_for_action(
            "Originate", lambda a: "@trunk" in (a.get("Channel") or ""), since=len(r.sim.actions)
        )
        await r.dialer.settled()
        done = await r.stores.leads.get("L1")
        assert done.status == "done"
        assert r.sample("switchboard_dial_attempts_total", campaign="c1", result="answered") == 1


async def test_predictive_abandons_an_answered_call_no_agent_took_within_the_grace(
    redis_client: aioredis.Redis,
) -> None:
    config = campaigns(
        campaign(mode="predictive", pacing={"abandon_grace_s": 0.5}),
        campaign("c2", mode="progressive"),
    )
    sim = sim_config(customer_overrides=answers(1), agents={"1001": AgentPhone(answer_after_s=None)})
    async with rig(redis_client, config, sim) as r:
        await r.load_leads([lead(1)])
        await r.load_leads([lead(2, phone=number(1))], campaign_id="c2")  # the same number, another campaign
        await r.agent("1001")  # ready, but their phone is never answered
        await r.start()

        dial = await r.sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
        call_id = originate_vars(dial)["SWITCHBOARD_CALL_ID"]
        assert r.dialer.sample("c1").ring_times.answers == 0
        redirect = await r.sim.wait_for_action(
            "Redirect", lambda a: a.get("Context") == "switchboard-abandon", timeout=10
        )
        assert redirect.get("Channel", "").startswith("PJSIP/trunk-")
        assert redirect.get("Exten") == "s"
        await r.until(lambda: not r.dialer.calls())
        await r.dialer.settled()

        assert r.sample("switchboard_dial_abandoned_total", campaign="c1") == 1
        ring = r.dialer.sample("c1").ring_times  # pacing's answer-timing curves learn the 1 s ring
        assert ring.answers == 1 and sum(ring.answered[:3]) == 1 and ring.unanswered == ()
        assert r.sample("switchboard_dial_attempts_total", campaign="c1", result="abandoned") == 1
        stats = await r.dialer.stats("c1")
        assert (stats["live_answers_24h"], stats["abandons_24h"], stats["abandon_rate_24h"]) == (1, 1, 1.0)

        records = await r.dialer.attempts.number_attempts(number(1))
        assert [(rec.call_id, rec.result) for rec in records] == [(call_id, CallResult.ABANDONED)]
        held = number_block([rec.attempt() for rec in records], CapsPolicy(), r.now())
        assert held.reason is CapReason.QUARANTINE
        assert held.next_attempt_at is not None and held.next_attempt_at > r.now() + timedelta(hours=71)
        parked = await r.stores.leads.get("L1")
        assert parked.status == "queued" and parked.next_attempt_at is not None
        assert parked.next_attempt_at > r.now() + timedelta(hours=71)

        # Quarantined for every campaign: c2's lead for the same number is not dialed.
        await r.start("c2")
        await r.agent("1002")
        rounds = r.dialer.rounds
        await r.until(lambda: r.dialer.rounds >= rounds + 5)
        assert r.dialed() == [number(1)]
        assert r.sample("switchboard_dial_refused_total", campaign="c2", reason="capped") >= 1


@pytest.mark.parametrize("rule", ["hangup", "message"])
async def test_an_answering_machine_follows_the_campaigns_rule(
    redis_client: aioredis.Redis, rule: str
) -> None:
    config = campaigns(campaign(answering_machine={"action": rule}))
    sim = sim_config(customer_overrides={number(1): CustomerScript(outcome="machine", ring_s=1.0)})
    async with rig(redis_client, config, sim) as r:
        await r.load_leads([lead(1)])
        await r.agent("1001")
        await r.start()

        dial = await r.sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
        if rule == "hangup":
            ended = await r.sim.wait_for_action("Hangup", timeout=10)
            assert ended.get("Channel", "").startswith("PJSIP/trunk-")
        else:
            sent = await r.sim.wait_for_action("Redirect", timeout=10)
            assert sent.get("Context") == "switchboard-machine-message"
        await r.until(lambda: not r.dialer.calls())
        await r.dialer.settled()

        assert not [a for a in r.sim.actions if a.name == "Originate" and a.get("Channel") == "PJSIP/1001"]
        assert r.state("1001") is AgentState.READY, "the reserved agent is free again"
        records = await r.dialer.attempts.number_attempts(number(1))
        assert [(rec.call_id, rec.result) for rec in records] == [
            (originate_vars(dial)["SWITCHBOARD_CALL_ID"], CallResult.ANSWERING_MACHINE)
        ]
        retry = await r.stores.leads.get("L1")
        assert retry.status == "queued" and retry.next_attempt_at is not None
        assert retry.next_attempt_at > r.now() + timedelta(hours=3, minutes=59)
        stats = await r.dialer.stats("c1")
        assert (stats["answering_machines_24h"], stats["live_answers_24h"]) == (1, 0)
