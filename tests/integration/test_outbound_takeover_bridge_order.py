"""Two engines as `switchboard run` wires them on one Redis and one simulated Asterisk over TCP. The
owner rings the advisor held for its answered customer and dies; the advisor answers while no
engine owns the call (their leg waits in [switchboard-agent]), and the grace runs out meanwhile.
At the takeover the new owner's ACD finds the answered leg and bridges the customer to it, and its
dialer plans the call from a channel listing read before that Bridge (the chaos row
`two-engines-owner-frozen` caught this order: a housekeeping pass of the dialer listed the channels
while the takeover's resync ran). The listing says "on hold, past the grace"; the customer is in
fact talking to the advisor. Before, the dialer played them the abandon message out of the talk
(a dropped customer, counted as an abandon); now the dialer plans what the desk did since: the
call is connected, settled once as answered, and the customer ends the talk themselves."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from dialer.calls.resync import LiveCustomer
from dialer.compliance.caps import CallResult
from pbx.sim import AgentPhone, CustomerScript, SimulatedPbx
from routing.acd.outbound import BridgeState
from tests.integration.test_outbound_owner_killed import acd_lease, crash, two_engines
from tests.support.blended_harness import blended_rules
from tests.support.dialer_harness import campaign, campaigns, lead, number, originate_vars, sim_config

pytestmark = pytest.mark.integration

SCALE = 5.0  # simulated seconds per real second: the advisor's leg waits Wait(30), 6 s real
TALK = CustomerScript(outcome="answer", ring_s=1.0, talk_s=15.0, patience_s=2000.0)  # 3 s of talk
CONFIG = sim_config(
    time_scale=SCALE, customer_overrides={number(0): TALK}, default_agent=AgentPhone(answer_after_s=1.0)
)  # the advisor answers 0.2 s after their phone rings
PLAN = campaigns(campaign(ring_timeout_s=60, pacing={"abandon_grace_s": 0.5}))


@pytest.mark.parametrize("answered", ["after-the-bridge", "at-once"])
async def test_a_customer_the_takeover_bridged_is_not_abandoned_on_an_older_listing(
    redis_client: aioredis.Redis, answered: str
) -> None:
    """`after-the-bridge`: the dialer plans from the older listing once the ACD sent its Bridge.
    `at-once`: a housekeeping pass of the dialer gets the older listing before the ACD has even
    reloaded its state: it plans nothing until the ACD's takeover resync is done (before, it
    abandoned the customer on the listing's word, racing the ACD's Bridge)."""
    pbx = SimulatedPbx(CONFIG, seed=17)
    await pbx.start()
    one_lease, two_lease = acd_lease(redis_client, "engine-a"), acd_lease(redis_client, "engine-b")
    try:
        async with two_engines(
            redis_client, blended_rules("1001"), PLAN, pbx, leases=(one_lease, two_lease)
        ) as (one, two):
            await two_lease.stop(release=False)  # the standby takes nothing until the test says so
            await one.acd.login("1001")
            await one.load_leads([lead(0)])
            await one.start()
            dial = await pbx.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
            call_id = originate_vars(dial)["SWITCHBOARD_CALL_ID"]
            await pbx.wait_for_action("Originate", lambda a: "PJSIP/1001" in (a.get("Channel") or ""))
            await crash(one, one_lease)  # the advisor is rung; nobody will bridge them
            await pbx.wait_for_event(
                "UserEvent", lambda e: e.get("UserEvent") == "SwitchboardAgentAnswered", timeout=10
            )
            resyncer = two.dialer.takeover.resyncer
            before = await resyncer.live()  # what a listing read before the takeover's Bridge shows
            assert before[call_id].answered and not before[call_id].bridged, "the customer on hold"
            lists = resyncer.live

            async def listed_before_the_bridge() -> dict[str, LiveCustomer]:
                """The takeover's first listing (its resync's, or a housekeeping pass's): the older one."""
                nonlocal before
                if not before:
                    return await lists()
                older, before = before, {}
                if answered == "after-the-bridge":
                    await two.until(lambda: two.acd.bridge_state(call_id) is not BridgeState.NONE, timeout=10)
                return older

            resyncer.live = listed_before_the_bridge  # type: ignore[method-assign]
            two_lease.start()  # the standby takes the lease once the dead owner's ran out

            [customer] = [r for r in pbx.call_log if r.role == "customer"]
            await two.until(lambda: customer.ended is not None, timeout=20)
            await two.until(lambda: two.acd.owns and not two.dialer.calls(), timeout=10)
            await two.dialer.settled()
            assert not before, "the dialer planned the call from the older listing"
            redirects = [a.get("Context") for a in pbx.actions if a.name == "Redirect"]
            assert customer.bridged is not None and customer.ended_by == "talk", (customer, redirects)
            assert redirects == [], "no abandon message out of a talk"
            records = await two.dialer.attempts.number_attempts(number(0))
            assert [r.result for r in records] == [CallResult.ANSWERED], "settled once, as talked"
            assert two.sample("switchboard_dial_abandoned_total", campaign="c1") == 0
    finally:
        await pbx.stop()
