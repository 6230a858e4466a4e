"""Two engines as `switchboard run` wires them on one Redis and one simulated Asterisk over TCP. The
owner is killed (kill -9) while its customer's answering-machine detection listens; AMD outlasts the
abandon grace (as on a real Asterisk, where AMD on a silent line takes its whole 5 s), and its
verdict comes while no engine owns the call. The standby, logged in to the same AMI, heard the
verdict and takes the call over at the lease failover: the grace counts from the verdict it heard,
not from the placing, so a customer taken over within the grace after the verdict is handed to the
advisor held for them (before, every such customer heard the abandon message at the takeover);
a customer whose verdict came longer than the grace before the takeover is still an abandon,
with the message, counted once."""

from __future__ import annotations

import time

import pytest
import redis.asyncio as aioredis

from core.lease import Lease
from dialer.compliance.caps import CallResult
from dialer.loop.service import DialerSettings
from pbx.codec import Event
from pbx.sim import CustomerScript, SimulatedPbx
from routing.acd.acd_keys import AcdKeys
from tests.integration.test_outbound_owner_killed import ATTEMPTS, crash, two_engines
from tests.support.blended_harness import Blended, blended_rules
from tests.support.dialer_harness import campaign, campaigns, lead, number, sim_config

pytestmark = pytest.mark.integration

# The lease runs out 2.75-3 s after the kill (its last renewal up to 0.25 s before it): a verdict
# 2.2 s after the answer comes while no engine owns the call.
TTL_S, RENEW_S = 3.0, 0.25
SETTINGS = DialerSettings(round_interval_s=0.05, round_timeout_s=2.0, store_timeout_s=0.5)  # heartbeat 9 s
GRACE_S = 2.0
ANSWERING = CustomerScript(outcome="answer", ring_s=2.0, talk_s=20.0, patience_s=2000.0)  # 0.1 s ring
ADOPTED = "switchboard_dial_intents_recovered_total"


def acd_lease(redis: aioredis.Redis, engine_id: str) -> Lease:
    return Lease(redis, AcdKeys().owner, engine_id=engine_id, role="acd", ttl_s=TTL_S, renew_s=RENEW_S)


def is_verdict(event: Event) -> bool:
    return event.get("UserEvent") == "SwitchboardOutboundAnswered"


async def killed_during_amd(
    one: Blended, two: Blended, pbx: SimulatedPbx, one_lease: Lease, two_lease: Lease
) -> tuple[float, float]:
    """One dials; the customer answers and AMD listens; one is killed. The verdict comes while no
    engine owns the call: the standby's attempts at the lease start only once it has come (on a
    loaded machine the kill itself may outlast the lease, and the failover would come first).
    The test's clock when the call was placed and when the verdict came."""
    assert one.acd.owns and not two.acd.owns
    await two_lease.stop(release=False)  # a standby that holds nothing: gives nothing up
    await one.acd.login("1001")
    await one.load_leads([lead(0)])
    await one.start()
    await pbx.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
    placed_at = time.monotonic()
    await pbx.wait_for_event(  # the customer answered: AMD listens
        "Newstate", lambda e: e.get("ChannelState") == "6" and "trunk" in (e.get("Channel") or "")
    )
    await crash(one, one_lease)
    await pbx.wait_for_event("UserEvent", is_verdict, timeout=10)
    verdict_at = time.monotonic()
    assert not two.acd.owns and two.sample(ADOPTED, campaign="c1", how="adopted") == 0, (
        "the verdict came while no engine owned the call"
    )
    two_lease.start()  # the standby tries again: it takes over once the dead owner's lease ran out
    return placed_at, verdict_at


async def test_a_verdict_that_came_while_nobody_owned_the_call_starts_the_grace_of_the_takeover(
    redis_client: aioredis.Redis,
) -> None:
    """AMD takes 2.2 s (longer than the 2 s grace); the takeover comes 0.5-1 s after the verdict:
    the customer is bridged to the advisor held for them, never sent to the abandon message."""
    config = sim_config(customer_overrides={number(0): ANSWERING}, amd_s=(44.0, 44.0))  # AMD: 2.2 s real
    plan = campaigns(campaign(ring_timeout_s=60, pacing={"abandon_grace_s": GRACE_S}))
    pbx = SimulatedPbx(config, seed=17)
    await pbx.start()
    rules = blended_rules("1001")
    one_lease, two_lease = acd_lease(redis_client, "engine-a"), acd_lease(redis_client, "engine-b")
    try:
        leases = (one_lease, two_lease)
        async with two_engines(redis_client, rules, plan, pbx, leases=leases) as (one, two):
            placed_at, verdict_at = await killed_during_amd(one, two, pbx, one_lease, two_lease)

            await two.until(lambda: two.sample(ADOPTED, campaign="c1", how="adopted") == 1, timeout=10)
            taken_at = time.monotonic()
            print(f"placed +{taken_at - placed_at:.2f} s, verdict +{taken_at - verdict_at:.2f} s: taken over")
            assert taken_at > placed_at + GRACE_S, "counted from the placing, the grace had run out"
            bridge = await pbx.wait_for_action("Bridge", timeout=GRACE_S)
            assert [a for a in pbx.actions if a.name == "Redirect"] == [], "no abandon message"
            await two.until(lambda: two.sample(ATTEMPTS, campaign="c1", result="answered") == 1, timeout=20)
            await two.dialer.settled()
            records = await two.dialer.attempts.number_attempts(number(0))
            assert [r.result for r in records] == [CallResult.ANSWERED], "settled once, as talked"
            assert two.sample("switchboard_dial_abandoned_total", campaign="c1") == 0
            assert [a.get("Channel1") for a in pbx.actions if a.name == "Bridge"] == [bridge.get("Channel1")]
            assert len(two.customer_originates()) == 1, "never dialed again"
    finally:
        await pbx.stop()


async def test_a_verdict_heard_longer_than_the_grace_before_the_takeover_is_still_an_abandon(
    redis_client: aioredis.Redis,
) -> None:
    """AMD takes 0.5 s, the grace is 1 s: the takeover comes 2.25 s or more after the verdict, the
    grace since the verdict has passed. The customer hears the abandon message at the takeover,
    counted once; nobody is bridged."""
    config = sim_config(customer_overrides={number(0): ANSWERING}, amd_s=(10.0, 10.0))  # AMD: 0.5 s real
    plan = campaigns(campaign(ring_timeout_s=60, pacing={"abandon_grace_s": 1.0}))
    pbx = SimulatedPbx(config, seed=17)
    await pbx.start()
    rules = blended_rules("1001")
    one_lease, two_lease = acd_lease(redis_client, "engine-a"), acd_lease(redis_client, "engine-b")
    try:
        leases = (one_lease, two_lease)
        async with two_engines(redis_client, rules, plan, pbx, leases=leases) as (one, two):
            _, verdict_at = await killed_during_amd(one, two, pbx, one_lease, two_lease)

            await pbx.wait_for_action(
                "Redirect", lambda a: a.get("Context") == "switchboard-abandon", timeout=10
            )
            print(f"abandon message {time.monotonic() - verdict_at:.2f} s after the verdict")
            await two.until(lambda: two.sample(ATTEMPTS, campaign="c1", result="abandoned") == 1, timeout=10)
            await two.until(lambda: not two.dialer.calls(), timeout=10)
            await two.dialer.settled()
            records = await two.dialer.attempts.number_attempts(number(0))
            assert [r.result for r in records] == [CallResult.ABANDONED], "settled once"
            assert two.sample("switchboard_dial_abandoned_total", campaign="c1") == 1
            redirects = [a.get("Context") for a in pbx.actions if a.name == "Redirect"]
            assert redirects == ["switchboard-abandon"], "the message, once"
            assert [a for a in pbx.actions if a.name == "Bridge"] == [], "nobody connected past the grace"
            assert len(two.customer_originates()) == 1, "never dialed again"
    finally:
        await pbx.stop()
