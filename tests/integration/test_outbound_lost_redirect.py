"""An abandon Redirect that never reached Asterisk (issue 10: "every outbound customer that is up is
connected or, past the grace, handled as an abandon, never left on hold"), as a real Asterisk
22.10.1 run found it: the grace runs out while the AMI link is down, the engine settles the call as
abandoned and withdraws it, and its Redirect to the abandon message is lost with the link (or never
sent: AMI was not ready). The simulated Asterisk over TCP behind the fault proxy, real Redis, the
engine of `switchboard run`.

After the reconnect the customer, still on hold in [switchboard-outbound], is sent to the abandon
message; the call is counted and recorded as abandoned once; the agent's leg rung for the call
(answered during the outage, or still ringing) is hung up.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from dialer.calls.dial_metrics import DialerMetrics
from dialer.compliance.caps import CallResult
from dialer.loop.background import BackgroundWork, DialerSettings, OwedAction
from pbx.client import AmiClient
from pbx.codec import Event
from pbx.sim import CustomerScript, SimulatedPbx
from pbx.sim.config import AgentPhone
from tests.integration.test_dialer_intents import attempts_on, audit_of, open_ids, stats
from tests.support.acd_harness import running_sim
from tests.support.blended_harness import Blended, blended, blended_rules
from tests.support.dialer_harness import RunningClock, campaign, campaigns, lead, number, sim_config
from tests.support.proxy_harness import behind_proxy

pytestmark = pytest.mark.integration

AMD_S = 1.5  # the dialplan's AMD() listens this long, then announces the verdict (UserEvent)
GRACE_S = 2.0
ABANDON = "switchboard-abandon"
ON_HOLD = CustomerScript(outcome="answer", ring_s=0.5, patience_s=600.0)  # waits as long as it takes


def customer_channel(sim: SimulatedPbx) -> str:
    """The one customer's channel ('' before it is placed)."""
    return next((r.channel for r in sim.call_log if r.role == "customer"), "")


def agent_hangups(sim: SimulatedPbx, leg: str) -> int:
    return sum(1 for a in sim.actions if a.name == "Hangup" and a.get("Channel") == leg)


async def abandon_heard(sim: SimulatedPbx) -> Event:
    """The customer's hang-up at the end of the abandon message (the context it ended in)."""

    def heard(event: Event) -> bool:
        return event.get("Context") == ABANDON and event.get("Channel") == customer_channel(sim)

    return await sim.wait_for_event("Hangup", heard, timeout=30)


async def one_abandon(b: Blended, redis: aioredis.Redis, call_id: str) -> None:
    """Counted, quarantined and recorded once, as decided when the grace ran out (not re-settled)."""
    await b.until(lambda: not b.acd.ctx.state.calls and not b.dialer.calls(), timeout=20)
    await b.dialer.settled()
    assert [a.result for a in await attempts_on(redis, number(1))] == [CallResult.ABANDONED]
    assert b.sample("switchboard_dial_abandoned_total", campaign="c1") == 1
    assert (await stats(redis)).get("x", 0) == 1
    [outcome] = await audit_of(redis, call_id, "outcome")
    assert outcome["result"] == "abandoned" and "in doubt" not in outcome.get("detail", ""), outcome
    assert await open_ids(redis) == []
    resent = {"campaign": "c1", "how": "resent"}
    assert b.sample("switchboard_dial_intents_recovered_total", **resent) == 1


async def test_an_abandon_redirect_lost_with_the_link_is_sent_again_after_the_reconnect(
    redis_client: aioredis.Redis,
) -> None:
    """The grace runs out (the agent does not answer); Asterisk closes the link on the Redirect
    without executing it. After the reconnect the customer, still on hold, hears the abandon
    message; the agent's leg, whose Hangup could not be sent while the link was down, is hung up."""
    config = sim_config(
        time_scale=1.0, amd_s=(AMD_S, AMD_S), customer_overrides={number(1): ON_HOLD},
        default_agent=AgentPhone(answer_after_s=None),
    )  # fmt: skip
    async with behind_proxy(config) as (sim, proxy, ami), blended(
        redis_client, blended_rules("1001"), campaigns(campaign(pacing={"abandon_grace_s": GRACE_S})),
        pbx=sim, ami=ami,
    ) as b:  # fmt: skip
        await b.acd.login("1001")
        await b.load_leads([lead(1)])
        sim.fail_next("Redirect", "close")  # not executed: the customer stays in Wait(86400)
        await b.start()
        hung_up = await abandon_heard(sim)
        call_id = hung_up.chan_variables().get("SWITCHBOARD_CALL_ID") or ""
        redirects = [a for a in sim.actions if a.name == "Redirect" and a.get("Context") == ABANDON]
        assert len(redirects) == 2, "the lost Redirect, then the one sent after the reconnect"
        assert proxy.stats.connections >= 2, "sent again over the new link"

        [leg] = {a.get("Channel") or "" for a in b.agent_originates("1001")}
        await sim.wait_for_channel_count(0, timeout=15)
        [agent] = [r for r in sim.call_log if r.role == "agent"]
        assert agent.answered is None and agent.ended_by == "pbx", "the ringing leg hung up"
        assert agent_hangups(sim, agent.channel) >= 1, leg
        await one_abandon(b, redis_client, call_id or agent.call_id)


async def test_an_agent_leg_answered_while_the_link_was_down_is_hung_up_after_the_reconnect(
    redis_client: aioredis.Redis,
) -> None:
    """The real run's sequence: the abandon Redirect is lost with the link, which stays down a while
    (logins refused); the call is settled as abandoned and withdrawn, the Hangup of the agent's
    ringing leg is not sent (AMI down), and the agent answers in the outage. After the reconnect:
    the customer hears the abandon message, the agent's leg is hung up at once (not left up in its
    dialplan's Wait(30)), one abandon counted."""
    config = sim_config(
        time_scale=1.0, amd_s=(AMD_S, AMD_S), customer_overrides={number(1): ON_HOLD},
        default_agent=AgentPhone(answer_after_s=GRACE_S + 0.5),  # within the ring timeout (3 s)
    )  # fmt: skip
    async with behind_proxy(config) as (sim, _proxy, ami), blended(
        redis_client, blended_rules("1001"), campaigns(campaign(pacing={"abandon_grace_s": GRACE_S})),
        pbx=sim, ami=ami,
    ) as b:  # fmt: skip
        await b.acd.login("1001")
        await b.load_leads([lead(1)])
        sim.fail_next("Redirect", "close")
        sim.refuse_logins()  # the link, once lost, stays down...
        await b.start()
        await sim.wait_for_action("Redirect", timeout=15)
        asyncio.get_running_loop().call_later(2.0, sim.refuse_logins, False)  # ...2 s (the fault's length)
        hung_up = await abandon_heard(sim)
        call_id = hung_up.chan_variables().get("SWITCHBOARD_CALL_ID") or ""
        redirects = [a for a in sim.actions if a.name == "Redirect" and a.get("Context") == ABANDON]
        assert len(redirects) == 2, "the lost Redirect, then the one sent after the reconnect"

        await sim.wait_for_channel_count(0, timeout=15)
        [agent] = [r for r in sim.call_log if r.role == "agent"]
        assert agent.answered is not None and agent.ended is not None, "answered in the outage"
        assert agent_hangups(sim, agent.channel) == 1, "hung up by the engine after the reconnect"
        assert agent.ended - agent.answered < 10.0, "not left up until its dialplan gives up (30 s)"
        await one_abandon(b, redis_client, call_id or agent.call_id)


async def test_a_customer_left_on_hold_by_an_engine_that_stopped_gets_the_message_from_its_restart(
    redis_client: aioredis.Redis,
) -> None:
    """The abandon Redirect is lost with the link and the engine stops before any reconnect (what
    it owed lived in its memory). The restarted engine finds the customer on hold in
    [switchboard-outbound] with the call already settled `abandoned`: it sends the abandon message,
    and settles and counts nothing again."""
    config = sim_config(
        time_scale=1.0, amd_s=(AMD_S, AMD_S), customer_overrides={number(1): ON_HOLD},
        default_agent=AgentPhone(answer_after_s=None),
    )  # fmt: skip
    rules, plans = blended_rules("1001"), campaigns(campaign(pacing={"abandon_grace_s": GRACE_S}))
    clock = RunningClock()  # one time line across the restart
    async with running_sim(config) as sim:
        async with blended(redis_client, rules, plans, pbx=sim, clock=clock) as first:
            await first.acd.login("1001")
            await first.load_leads([lead(1)])
            sim.fail_next("Redirect", "close")  # not executed
            sim.refuse_logins()  # no reconnect before the engine stops
            await first.start()
            await sim.wait_for_action("Redirect", timeout=15)
            await first.until(lambda: not first.dialer.calls(), timeout=10)
            await first.dialer.settled()  # the outcome written
            assert [a.result for a in await attempts_on(redis_client, number(1))] == [CallResult.ABANDONED]
        sim.refuse_logins(False)
        assert [r.ended for r in sim.call_log if r.role == "customer"] == [None], "still on hold"

        async with blended(redis_client, rules, plans, pbx=sim, clock=clock) as second:
            hung_up = await abandon_heard(sim)
            call_id = hung_up.chan_variables().get("SWITCHBOARD_CALL_ID") or ""
            redirects = [a for a in sim.actions if a.name == "Redirect" and a.get("Context") == ABANDON]
            assert len(redirects) == 2, "the lost Redirect, then the restarted engine's"
            await second.dialer.settled()
            resent = {"campaign": "c1", "how": "resent"}
            assert second.sample("switchboard_dial_intents_recovered_total", **resent) == 1
            assert second.sample("switchboard_dial_abandoned_total", campaign="c1") == 0, "not again"
            assert [a.result for a in await attempts_on(redis_client, number(1))] == [CallResult.ABANDONED]
            assert (await stats(redis_client)).get("x", 0) == 1
            [outcome] = await audit_of(redis_client, call_id, "outcome")
            assert outcome["result"] == "abandoned", outcome
            assert await open_ids(redis_client) == []


async def test_a_redirect_never_sent_because_ami_was_not_ready_is_kept_owed_until_asterisk_answers() -> None:
    """The other way the real run lost one: the Redirect is due while the link is down and the
    reconnect takes longer than the action may wait ("never sent: AMI was not ready"). It is kept
    owed like one lost with the link (the resync above sends it again); once Asterisk answers it
    (here: refused, the channel is unknown) it is owed no more."""
    async with behind_proxy(sim_config()) as (sim, proxy, ami):
        client = AmiClient(ami)
        await client.connect()
        try:
            work = BackgroundWork(
                DialerSettings(store_timeout_s=0.3), client, DialerMetrics(CollectorRegistry())
            )
            channel = "PJSIP/trunk-0000000f"
            fields: dict[str, str | int] = {
                "Channel": channel,
                "Context": ABANDON,
                "Exten": "s",
                "Priority": 1,
            }
            owed = OwedAction("call-1", "c1", channel, "Redirect", fields)
            sim.refuse_logins()
            await proxy.drop()
            await client.wait_down(5.0)
            assert await work.ami("Redirect", fields, owed), "not fenced"
            assert list(work.owed.values()) == [owed], "never sent: kept"
            assert not [a for a in sim.actions if a.name == "Redirect"]
            sim.refuse_logins(False)
            await client.wait_ready(10.0)
            assert await work.ami("Redirect", fields, owed)
            assert not work.owed, "answered by Asterisk (a refusal too): done"
        finally:
            await client.close()
