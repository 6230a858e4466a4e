"""Two engines as `switchboard run` wires them (ACD + dialer, one lease for both) on one Redis and
one simulated Asterisk, with inbound and outbound traffic: one engine owns the calls and the pacing;
the other sees every event and touches nothing. Real AMI over TCP (one connection per engine)."""

from __future__ import annotations

from collections import Counter

import pytest
import redis.asyncio as aioredis

from core.lease import Lease
from dialer.compliance.caps import CallResult
from pbx.sim import AgentPhone, CustomerProfile, CustomerScript, SimulatedPbx
from routing.acd.acd_keys import AcdKeys
from routing.agent_events import AgentState
from tests.support.blended_harness import INBOUND_LINE, Blended, blended, blended_rules
from tests.support.dialer_harness import campaign, campaigns, lead, number, originate_vars, sim_config
from tests.support.lease_harness import FreezableClock

pytestmark = pytest.mark.integration

HUMANS = CustomerProfile(
    answer=1,
    busy=0,
    noanswer=0,
    congestion=0,
    machine=0,
    reject=0,
    ring_s=(1.0, 2.0),
    talk_s=(4.0, 8.0),
    patience_s=(600.0, 600.0),
)  # fmt: skip  (simulated seconds, x20)
AGENTS = ("1001", "1002", "1003")


def acd_lease(redis: aioredis.Redis, engine_id: str) -> Lease:
    return Lease(redis, AcdKeys().owner, engine_id=engine_id, role="acd", ttl_s=1.0, renew_s=0.25)


async def test_inbound_and_outbound_calls_are_handled_once_and_never_cut_with_two_engines(
    redis_client: aioredis.Redis,
) -> None:
    config = sim_config(customers=HUMANS, default_agent=AgentPhone(answer_after_s=1.0))
    pbx = SimulatedPbx(config, seed=17)
    await pbx.start()
    rules, dialing = blended_rules(*AGENTS, wrap_up_s=0.1), campaigns(campaign())
    try:
        async with (
            blended(redis_client, rules, dialing, pbx=pbx, instance_id="engine-a",
                    lease=acd_lease(redis_client, "engine-a")) as one,
            blended(redis_client, rules, dialing, pbx=pbx, instance_id="engine-b",
                    lease=acd_lease(redis_client, "engine-b")) as two,
        ):  # fmt: skip
            assert one.acd.owns and not two.acd.owns
            for agent_id in AGENTS:
                await one.acd.login(agent_id)
            await one.load_leads(lead(i) for i in range(12))
            await one.start()
            callers = [await pbx.inbound_call(f"+3620555{i:04d}", INBOUND_LINE, patience_s=600, talk_s=6.0)
                       for i in range(6)]  # fmt: skip
            await one.until(lambda: _all_done(one), timeout=60)
            await one.acd_settled()  # the last call left the ACD's memory before the commit with its `ended`
            await _handled_once(one, callers)
            assert two.dialer.rounds == 0 and not two.dialer.is_leader, "the standby never paced"
    finally:
        await pbx.stop()


def _all_done(b: Blended) -> bool:
    inbound = b.sample("switchboard_acd_calls_answered_total", queue="sales", tier="active")
    return len(b.dialed()) == 12 and inbound == 6 and not b.dialer.calls() and not b.acd.ctx.state.calls


async def _handled_once(b: Blended, callers: list[str]) -> None:
    actions = b.sim.actions
    agent_rings = [
        originate_vars(a)
        for a in actions
        if a.name == "Originate" and a.get("Channel", "").startswith("PJSIP/100")
    ]
    assert {v["SWITCHBOARD_ENGINE"] for v in agent_rings} == {"engine-a"}, "only the owner rings agents"
    assert set(Counter(v["SWITCHBOARD_CALL_ID"] for v in agent_rings).values()) == {1}, "each call rung once"
    bridged = Counter(a.get("Channel1") for a in actions if a.name == "Bridge")
    assert len(bridged) == 18 and set(bridged.values()) == {1}, "18 calls, each bridged once"
    assert set(callers) <= set(bridged)
    assert [a for a in actions if a.name == "Hangup"] == [], "no engine hung a leg up"
    ended = Counter(str(e.data["ended_by"]) for e in await b.acd.events.read() if e.type == "ended")
    assert ended == {"caller": 18}, "every call ran until the customer hung up"


async def test_an_answered_customer_the_engine_could_not_serve_without_its_lease_is_taken_on_again(
    redis_client: aioredis.Redis,
) -> None:
    """The engine's lease lapses while a customer it dialed rings (Redis out of reach, a freeze). The
    customer answers: no agent can be rung (the ACD is not owned) and the abandon Redirect after the
    grace is fenced, so the dialer lets the call go and writes no outcome. The lease comes back
    (nobody else owned): the takeover's resync adopts the customer from the dial intent and
    settles it once: answered long past the grace, they hear the abandon message (never left on hold)."""
    clock = FreezableClock()
    lease = Lease(redis_client, AcdKeys().owner, engine_id="engine-a", role="acd", ttl_s=1.0, renew_s=0.25,
                  monotonic=clock)  # fmt: skip
    ringing = CustomerScript(outcome="answer", ring_s=10.0, talk_s=600.0, patience_s=600.0)  # 0.5 s real
    config = sim_config(customer_overrides={number(0): ringing})
    async with blended(redis_client, blended_rules("1001"), campaigns(campaign()), config,
                       instance_id="engine-a", lease=lease) as one:  # fmt: skip
        await one.acd.login("1001")
        await one.load_leads([lead(0)])
        await one.start()
        await one.until(lambda: bool(one.customer_originates()), timeout=10)  # the customer's phone rings
        await lease.stop(release=False)
        clock.advance(10.0)  # past its lease: it owns nothing now
        fenced = lambda: one.sample(  # noqa: E731
            "switchboard_ami_actions_total", action="Redirect", result="fenced"
        )
        await one.until(lambda: fenced() == 1 and not one.dialer.calls(), timeout=15)
        records = await one.dialer.attempts.number_attempts(number(0))
        assert [r.result for r in records if r.result is not None] == [], "no outcome without the lease"
        assert not [a for a in one.sim.actions if a.name == "Redirect"], "the fenced Redirect never left"

        lease.start()  # the lease is back: the takeover's resync adopts the customer from the intent
        abandoned = lambda: one.sample(  # noqa: E731
            "switchboard_dial_attempts_total", campaign="c1", result="abandoned"
        )
        await one.until(lambda: abandoned() == 1 and not one.dialer.calls(), timeout=15)
        await one.dialer.settled()
        records = await one.dialer.attempts.number_attempts(number(0))
        assert [r.result for r in records] == [CallResult.ABANDONED], "answered past the grace: settled once"
        redirects = [(a.get("Context"), a.get("Channel")) for a in one.sim.actions if a.name == "Redirect"]
        assert [context for context, _ in redirects] == ["switchboard-abandon"], "the message, once"
        await one.until(lambda: one.state("1001") is AgentState.READY)
