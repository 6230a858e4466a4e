"""Two engines as `switchboard run` wires them (ACD + dialer, one lease for both) on one Redis and one
simulated Asterisk over TCP. The owner is killed (kill -9: no renewals, its AMI link gone, its lease
left to run out) while a customer it dialed waits on hold. The standby takes the lease once it ran out
and, having taken it from the dead owner, takes that owner's calls over at once: its customer hears
the abandon message about a lease failover after the kill, not once the dead engine's dialer
heartbeat (3 x lease_ms, 9 s) has run out; a customer whose AMD was listening is handed to the
advisor held for them as soon. Nothing is dialed twice, the call is settled once.
An owner that was merely frozen and wakes up as the standby takes its calls over sends nothing for
them (the new token fences it) and writes no outcome: the customer hears the message once."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from core.lease import Lease
from dialer.calls.intents import IntentStore
from dialer.calls.resync import FRESH_S
from dialer.campaigns.rules import Campaigns
from dialer.compliance.caps import CallResult
from dialer.loop.service import DialerSettings
from pbx.sim import AgentPhone, CustomerScript, SimulatedPbx
from routing.acd.acd_keys import AcdKeys
from routing.rules import Rules
from tests.support.blended_harness import Blended, blended, blended_rules
from tests.support.dialer_harness import (
    RunningClock,
    campaign,
    campaigns,
    lead,
    number,
    originate_vars,
    sim_config,
)
from tests.support.lease_harness import FreezableClock

pytestmark = pytest.mark.integration

TTL_S, RENEW_S = 1.0, 0.25  # the ACD's (and the pacing's) lease
SETTINGS = DialerSettings(round_interval_s=0.05, round_timeout_s=2.0, store_timeout_s=0.5)  # lease_ms 3000
HEARTBEAT_S = 3 * SETTINGS.lease_ms / 1000  # 9 s: when the dead engine's calls were taken over before


ON_HOLD = CustomerScript(outcome="answer", ring_s=2.0, talk_s=600.0, patience_s=2000.0)
CONFIG = sim_config(
    customer_overrides={number(0): ON_HOLD},
    default_agent=AgentPhone(answer_after_s=6000.0),  # the advisor never picks up: the customer waits
)  # fmt: skip
PLAN = campaigns(campaign(ring_timeout_s=60, pacing={"abandon_grace_s": 2.0}))
ATTEMPTS = "switchboard_dial_attempts_total"


@contextlib.asynccontextmanager
async def two_engines(
    redis: aioredis.Redis,
    rules: Rules,
    plan: Campaigns,
    pbx: SimulatedPbx,
    *,
    leases: tuple[Lease, Lease],
    clocks: tuple[RunningClock | None, RunningClock | None] = (None, None),
    settings: DialerSettings = SETTINGS,
) -> AsyncIterator[tuple[Blended, Blended]]:
    """Engines a (the owner: its lease is taken first) and b (the standby) as `switchboard run` wires them."""
    async with (
        blended(redis, rules, plan, pbx=pbx, instance_id="engine-a", lease=leases[0], settings=settings,
                clock=clocks[0]) as one,
        blended(redis, rules, plan, pbx=pbx, instance_id="engine-b", lease=leases[1], settings=settings,
                clock=clocks[1]) as two,
    ):  # fmt: skip
        yield one, two


def acd_lease(redis: aioredis.Redis, engine_id: str, clock: FreezableClock | None = None) -> Lease:
    return Lease(redis, AcdKeys().owner, engine_id=engine_id, role="acd", ttl_s=TTL_S, renew_s=RENEW_S,
                 monotonic=clock or time.monotonic)  # fmt: skip


async def customer_on_hold(one: Blended, pbx: SimulatedPbx) -> str:
    """Engine one dials the customer; they answer, AMD says a person: on hold, within the grace."""
    await one.acd.login("1001")
    await one.load_leads([lead(0)])
    await one.start()
    dial = await pbx.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
    call_id = originate_vars(dial)["SWITCHBOARD_CALL_ID"]
    await pbx.wait_for_event(
        "UserEvent",
        lambda e: e.get("UserEvent") == "SwitchboardOutboundAnswered" and e.get("CallID") == call_id,
        timeout=10,
    )
    return call_id


async def abandoned_once(two: Blended, pbx: SimulatedPbx) -> None:
    """Settled once, as an abandon, by the new owner; the message played once; nobody dialed again."""
    await two.until(lambda: two.sample(ATTEMPTS, campaign="c1", result="abandoned") == 1, timeout=10)
    await two.until(lambda: not two.dialer.calls(), timeout=10)
    await two.dialer.settled()
    records = await two.dialer.attempts.number_attempts(number(0))
    assert [r.result for r in records] == [CallResult.ABANDONED], "settled once"
    assert two.sample("switchboard_dial_abandoned_total", campaign="c1") == 1
    redirects = [a for a in pbx.actions if a.name == "Redirect"]
    assert [a.get("Context") for a in redirects] == ["switchboard-abandon"], "the message, once"
    assert len(two.customer_originates()) == 1, "never dialed again"
    assert [a for a in pbx.actions if a.name == "Bridge"] == [], "nobody connected to a silent line"


async def crash(engine: Blended, lease: Lease) -> None:
    """kill -9: no more renewals (the lease runs out, it is not given up), nothing done on the way
    out, the AMI connection gone. The dialer's heartbeat is left to run out too."""
    await lease.stop(release=False)
    stop = engine.dialer.close

    async def close(*, release: bool = True) -> None:  # a dead process gives nothing up
        await stop(release=False)

    engine.dialer.close = close  # type: ignore[method-assign]
    await engine.dialer.close()
    await engine.engine.stop()


async def test_a_customer_on_hold_when_the_owner_is_killed_is_taken_over_at_the_lease_failover(
    redis_client: aioredis.Redis,
) -> None:
    pbx = SimulatedPbx(CONFIG, seed=17)
    await pbx.start()
    rules = blended_rules("1001")
    one_lease, two_lease = acd_lease(redis_client, "engine-a"), acd_lease(redis_client, "engine-b")
    try:
        leases = (one_lease, two_lease)
        async with two_engines(redis_client, rules, PLAN, pbx, leases=leases) as (one, two):
            assert one.acd.owns and not two.acd.owns
            await customer_on_hold(one, pbx)
            await crash(one, one_lease)
            killed_at = time.monotonic()

            adopted = "switchboard_dial_intents_recovered_total"
            await two.until(lambda: two.sample(adopted, campaign="c1", how="adopted") == 1, HEARTBEAT_S + 10)
            adopted_s = time.monotonic() - killed_at
            await pbx.wait_for_action(
                "Redirect", lambda a: a.get("Context") == "switchboard-abandon", timeout=HEARTBEAT_S + 10
            )
            waited_s = time.monotonic() - killed_at
            heartbeat = await redis_client.exists(IntentStore(redis_client).keys.engine("engine-a"))
            print(f"taken over {adopted_s:.2f} s, abandon message {waited_s:.2f} s after the kill")
            assert heartbeat, "taken over while the dead engine's heartbeat still ran"
            assert waited_s < TTL_S + 2.0 + 1.5, f"{waited_s:.2f} s: the failover and the grace, not 9 s"
            assert two.acd.owns and (await two_lease.holder()) == "engine-b"
            await abandoned_once(two, pbx)
    finally:
        await pbx.stop()


async def test_an_owner_that_wakes_up_after_the_takeover_sends_and_settles_nothing_for_its_calls(
    redis_client: aioredis.Redis,
) -> None:
    """Engine one froze (its renewals stopped) with the customer on hold and wakes up at once, its lease
    lapsed, while engine two takes the lease and the call over: both follow the customer, only the
    owner acts. One's abandon Redirect at the end of the grace is fenced (it lets the call go); two
    plays the message and settles the call once."""
    pbx = SimulatedPbx(CONFIG, seed=17)
    await pbx.start()
    rules, frozen = blended_rules("1001"), FreezableClock()
    one_lease, two_lease = acd_lease(redis_client, "engine-a", frozen), acd_lease(redis_client, "engine-b")
    try:
        leases = (one_lease, two_lease)
        async with two_engines(redis_client, rules, PLAN, pbx, leases=leases) as (one, two):
            await customer_on_hold(one, pbx)
            await one_lease.stop(release=False)  # frozen: no renewals; the key runs out in Redis
            frozen.advance(10.0)  # awake again: its monotonic clock says the lease lapsed
            assert not one_lease.owned

            await abandoned_once(two, pbx)

            def fenced() -> float:
                return one.sample("switchboard_ami_actions_total", action="Redirect", result="fenced")

            await one.until(lambda: fenced() == 1 and not one.dialer.calls(), timeout=10)  # let go
            for result in ("abandoned", "no_answer", "answered", "unknown"):
                assert one.sample(ATTEMPTS, campaign="c1", result=result) == 0, (
                    "the old owner settled nothing"
                )
            assert two.sample("switchboard_dial_intents_recovered_total", campaign="c1", how="adopted") == 1
    finally:
        await pbx.stop()


async def test_a_customer_in_amd_when_the_owner_is_killed_is_handed_to_the_advisor_at_the_failover(
    redis_client: aioredis.Redis,
) -> None:
    """The owner dies while the customer's AMD listens (1 s); the verdict comes with no engine owning,
    the customer waits on hold; the new owner takes the call over at the failover and hands them to
    the advisor held for them (a 30 s grace: no abandon), where before it waited for the heartbeat."""
    answering = CustomerScript(outcome="answer", ring_s=2.0, talk_s=20.0, patience_s=2000.0)
    config = sim_config(customer_overrides={number(0): answering}, amd_s=(20.0, 20.0))  # AMD: 1 s real
    plan = campaigns(campaign(ring_timeout_s=60, pacing={"abandon_grace_s": 30.0}))
    pbx = SimulatedPbx(config, seed=17)
    await pbx.start()
    rules = blended_rules("1001")
    one_lease, two_lease = acd_lease(redis_client, "engine-a"), acd_lease(redis_client, "engine-b")
    try:
        leases = (one_lease, two_lease)
        async with two_engines(redis_client, rules, plan, pbx, leases=leases) as (one, two):
            await one.acd.login("1001")
            await one.load_leads([lead(0)])
            await one.start()
            await pbx.wait_for_event(  # the customer answered: AMD listens
                "Newstate", lambda e: e.get("ChannelState") == "6" and "trunk" in (e.get("Channel") or "")
            )
            await crash(one, one_lease)
            killed_at = time.monotonic()

            bridge = await pbx.wait_for_action("Bridge", timeout=HEARTBEAT_S + 10)
            handed_s = time.monotonic() - killed_at
            print(f"handed over {handed_s:.2f} s after the kill")
            assert await redis_client.exists(IntentStore(redis_client).keys.engine("engine-a")), (
                "taken over while the dead engine's heartbeat still ran"
            )
            assert handed_s < TTL_S + 1.0 + 2.0, f"{handed_s:.2f} s: the failover and AMD, not 9 s"
            await two.until(lambda: two.sample(ATTEMPTS, campaign="c1", result="answered") == 1, timeout=20)
            await two.dialer.settled()
            records = await two.dialer.attempts.number_attempts(number(0))
            assert [r.result for r in records] == [CallResult.ANSWERED], "settled once"
            assert [a.get("Channel1") for a in pbx.actions if a.name == "Bridge"] == [bridge.get("Channel1")]
            assert [a for a in pbx.actions if a.name == "Redirect"] == [], "nobody abandoned"
            assert len(two.customer_originates()) == 1, "never dialed again"
    finally:
        await pbx.stop()


class JumpingClock(RunningClock):
    """The engine's clock, which the test may move on (a process waking up from a long freeze)."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0

    def __call__(self) -> float:
        return super().__call__() + self.offset


async def test_an_owner_that_wakes_up_past_a_ring_timeout_does_not_settle_the_call_it_lost(
    redis_client: aioredis.Redis,
) -> None:
    """Engine one froze while its customer was still ringing and wakes up past the call's ring timeout
    plus the margin, its lease lapsed, engine two owning the call. The timeout would settle the call
    `unknown` (the settlement is written once, unfenced: the first writer wins); only the owner decides
    on what Asterisk did not say: two follows the customer, who answers, and settles the abandon."""
    ringing = CustomerScript(outcome="answer", ring_s=50.0, talk_s=600.0, patience_s=2000.0)  # 2.5 s real
    config = sim_config(
        customer_overrides={number(0): ringing}, default_agent=AgentPhone(answer_after_s=6000.0)
    )
    pbx = SimulatedPbx(config, seed=17)
    await pbx.start()
    rules, frozen, woken = blended_rules("1001"), FreezableClock(), JumpingClock()
    one_lease, two_lease = acd_lease(redis_client, "engine-a", frozen), acd_lease(redis_client, "engine-b")
    try:
        async with two_engines(
            redis_client, rules, PLAN, pbx, leases=(one_lease, two_lease), clocks=(woken, None)
        ) as (one, two):
            await one.acd.login("1001")
            await one.load_leads([lead(0)])
            await one.start()
            await pbx.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
            await one_lease.stop(release=False)  # frozen: no renewals; the key runs out in Redis
            frozen.advance(10.0)
            adopted = "switchboard_dial_intents_recovered_total"
            await two.until(lambda: two.sample(adopted, campaign="c1", how="adopted") == 1, timeout=10)
            assert one.dialer.calls(), "the woken engine still follows its customer"
            woken.offset = 60 + SETTINGS.answer_margin_s + 5.0  # past the ring timeout and the margin

            await abandoned_once(two, pbx)  # the customer answers, the grace ends: two's abandon
            assert one.sample(ATTEMPTS, campaign="c1", result="unknown") == 0, "the old owner decided nothing"
    finally:
        await pbx.stop()


def vanish(pbx: SimulatedPbx, call_id: str) -> None:
    """The customer's channel is gone from Asterisk's listing with no event any engine saw (as for
    an engine whose link was down meanwhile, and an owner whose events have not come yet)."""
    gone = [c for c in pbx.channels.values() if c.var("SWITCHBOARD_CALL_ID") == call_id]
    assert gone, "the customer's channel"
    for channel in gone:
        channel.cancel_timers()
        pbx.core.channels.remove(channel)


@pytest.mark.parametrize(
    "settled_by", ["engine-b", "engine-a"], ids=["the-owner", "the-old-owner-owning-again"]
)
async def test_an_old_owner_back_on_its_link_settles_nothing_for_a_call_gone_from_its_listing(
    redis_client: aioredis.Redis, settled_by: str
) -> None:
    """Engine one froze while its customer rang; engine two took the lease and the call over. One's
    link comes back and it resyncs (CoreShowChannels) while the customer's channel is no longer
    listed, before two has written anything: what Asterisk did not say (`unknown`) is the owner's to
    decide, and the settlement is unfenced (the first writer wins), so one settles nothing and keeps
    following the call. Then either two's resync settles it, once; or two dies first and one, owning
    again, plans the call it kept at its takeover's resync and settles it, once."""
    ringing = CustomerScript(outcome="answer", ring_s=2000.0, talk_s=600.0, patience_s=2000.0)
    config = sim_config(
        customer_overrides={number(0): ringing}, default_agent=AgentPhone(answer_after_s=6000.0)
    )
    plan = campaigns(campaign(ring_timeout_s=120, pacing={"abandon_grace_s": 2.0}))  # 6 s in the simulator
    pbx = SimulatedPbx(config, seed=17)
    await pbx.start()
    rules, frozen, one_clock, two_clock = (
        blended_rules("1001"),
        FreezableClock(),
        JumpingClock(),
        JumpingClock(),
    )
    one_lease, two_lease = acd_lease(redis_client, "engine-a", frozen), acd_lease(redis_client, "engine-b")
    try:
        async with two_engines(
            redis_client, rules, plan, pbx, leases=(one_lease, two_lease), clocks=(one_clock, two_clock)
        ) as (one, two):
            await one.acd.login("1001")
            await one.load_leads([lead(0)])
            await one.start()
            dial = await pbx.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
            call_id = originate_vars(dial)["SWITCHBOARD_CALL_ID"]
            await one_lease.stop(release=False)  # frozen: no renewals; the key runs out in Redis
            frozen.advance(10.0)
            adopted = "switchboard_dial_intents_recovered_total"
            await two.until(lambda: two.sample(adopted, campaign="c1", how="adopted") == 1, timeout=10)
            assert not one_lease.owned and two.acd.owns

            vanish(pbx, call_id)
            one_clock.offset = two_clock.offset = FRESH_S + 1.0  # no longer a call too young to be listed
            await one.engine.resync()  # what its login runs when its link is back
            await one.dialer.settled()
            for result in ("unknown", "no_answer", "abandoned", "answered"):
                assert one.sample(ATTEMPTS, campaign="c1", result=result) == 0, (
                    "the old owner guessed nothing"
                )
            assert await IntentStore(redis_client).settled(call_id) is None, "nothing written"
            assert [c.call_id for c in one.dialer.calls()] == [call_id], (
                "still followed, for its next ownership"
            )

            if settled_by == "engine-b":
                await two.engine.resync()  # the owner's view of the same listing
                settler = two
            else:
                await crash(two, two_lease)  # before it resynced: nobody settled the call
                one_lease.start()  # one takes the lease once two's ran out: the ACD's takeover resyncs
                await one.until(lambda: one.acd.owns, timeout=10)
                settler = one
            await settler.until(
                lambda: settler.sample(ATTEMPTS, campaign="c1", result="unknown") == 1, timeout=10
            )
            await settler.dialer.settled()
            assert await IntentStore(redis_client).settled(call_id) == "unknown"
            records = await settler.dialer.attempts.number_attempts(number(0))
            assert [r.result for r in records] == [CallResult.UNKNOWN], "settled once, by the owner"
            assert not settler.dialer.calls(), "no longer followed"
            assert len(settler.customer_originates()) == 1, "never dialed again"
    finally:
        await pbx.stop()


async def test_a_talk_that_ends_after_the_takeover_is_counted_once_over_both_engines(
    redis_client: aioredis.Redis,
) -> None:
    """Engine one bridged its customer to the advisor, then froze (its lease lapsed) and woke up while
    engine two took the call over. When the talk ends, both follow the hang-up and both settle it
    `answered`: one settlement is written (the first writer wins), and only the engine whose it is
    counts it in its metrics, so a dashboard summing the engines sees one answered call, not two
    (on a real Asterisk the woken owner counted it too)."""
    talking = CustomerScript(outcome="answer", ring_s=2.0, talk_s=40.0, patience_s=2000.0)  # 2 s of talk
    pbx = SimulatedPbx(sim_config(customer_overrides={number(0): talking}), seed=17)
    await pbx.start()
    rules, frozen = blended_rules("1001"), FreezableClock()
    one_lease, two_lease = acd_lease(redis_client, "engine-a", frozen), acd_lease(redis_client, "engine-b")
    try:
        async with two_engines(redis_client, rules, PLAN, pbx, leases=(one_lease, two_lease)) as (one, two):
            await one.acd.login("1001")
            await one.load_leads([lead(0)])
            await one.start()
            await pbx.wait_for_event("BridgeEnter", lambda e: "trunk" in (e.get("Channel") or ""), timeout=10)
            await one_lease.stop(release=False)  # frozen: no renewals; the key runs out in Redis
            frozen.advance(10.0)  # awake again: its monotonic clock says the lease lapsed
            await two.until(lambda: two.acd.owns, timeout=10)

            def answered(engine: Blended) -> float:
                return engine.sample(ATTEMPTS, campaign="c1", result="answered")

            await two.until(lambda: not two.dialer.calls() and not one.dialer.calls(), timeout=20)
            await one.dialer.settled()
            await two.dialer.settled()
            records = await two.dialer.attempts.number_attempts(number(0))
            assert [r.result for r in records] == [CallResult.ANSWERED], "one settlement"
            assert answered(one) + answered(two) == 1, "counted once over both engines"
    finally:
        await pbx.stop()
