"""The dialer's grace runs out while the ACD rings the advisor held for the customer: the dialer asks
the desk how far the call got (`abandoning`), sends the abandon message's Redirect and, once Asterisk
confirmed it, withdraws the call. An advisor who answers in between must not be bridged to the
customer who is hearing the message (before, the ACD bridged them: the Bridge took the customer out
of the message into a talk the dialer had already settled as an abandon). One engine as `switchboard
run` wires it, on a simulated Asterisk over TCP; the test plays the dialer's two steps itself (its
own grace is long), so the advisor's answer comes exactly between them."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import redis.asyncio as aioredis

from pbx.call_changes import CallChange
from pbx.codec import Event
from pbx.sim import AgentPhone, CustomerScript
from routing.acd.outbound import BridgeState
from routing.agent_events import AgentState
from tests.support.blended_harness import ServiceProbe, blended, blended_rules
from tests.support.dialer_harness import campaign, campaigns, number, sim_config

pytestmark = pytest.mark.integration

ON_HOLD = CustomerScript(outcome="answer", ring_s=2.0, talk_s=600.0, patience_s=2000.0)
CONFIG = sim_config(
    customer_overrides={number(0): ON_HOLD}, default_agent=AgentPhone(answer_after_s=2.0)
)  # 0.1 s
PLAN = campaigns(campaign(ring_timeout_s=60, pacing={"abandon_grace_s": 60.0}))  # the test decides
ANSWERED = "SwitchboardAgentAnswered"


class Heard(ServiceProbe):
    """A service after the ACD: what it has in its list, the ACD has handled (services run in order)."""

    name = "heard"

    def __init__(self) -> None:
        self.user_events: list[str] = []

    async def handle(self, event: Event, changes: Sequence[CallChange]) -> None:
        if event.name == "UserEvent":
            self.user_events.append(event.get("UserEvent") or "")


async def test_an_advisor_answering_while_the_abandon_message_goes_out_is_not_bridged(
    redis_client: aioredis.Redis,
) -> None:
    async with blended(redis_client, blended_rules("1001"), PLAN, CONFIG) as one:
        heard = Heard()
        one.engine.services.insert(one.engine.services.index(one.observer), heard)
        call_id = await one.dial_one("1001")
        await one.sim.wait_for_action("Originate", lambda a: "PJSIP/1001" in (a.get("Channel") or ""))

        assert one.dialer.desk.abandoning(call_id) is BridgeState.NONE, "rung, not answered: the grace's end"
        await one.until(lambda: ANSWERED in heard.user_events, timeout=10)  # the ACD handled the answer
        await one.dialer.desk.withdraw(call_id)  # after the Redirect, as the dialer does
        await one.sim.wait_for_action("Hangup", lambda a: "PJSIP/1001" in (a.get("Channel") or ""))

        assert [a for a in one.sim.actions if a.name == "Bridge"] == [], "no talk under the abandon message"
        assert call_id not in one.acd.ctx.state.calls and not one.acd.ctx.abandoning
        await one.until(lambda: one.state("1001") is AgentState.READY, timeout=10)
