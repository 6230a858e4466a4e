"""The dialer's grace runs out after the advisor held for the customer answered and Asterisk confirmed
the desk's Bridge, but before the dialer has heard the BridgeEnter that says so (its events come
after the ACD's, and a busy engine can be a step behind). The dialer asks the desk (`abandoning`):
the desk says CONNECTED, so the call is a talk (`AgentConnected`), not an abandon. Were the grace's
end taken as a miss, the customer talking to the advisor would be redirected to the abandon message
and counted as abandoned. One engine as `switchboard run` wires it, on a simulated Asterisk over
TCP; a service between the ACD and the dialer holds the dialer's copy of the BridgeEnter until the
grace is over, so the order is the same every run."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
import redis.asyncio as aioredis

from dialer.calls.lifecycle import Phase
from pbx.call_changes import CallChange
from pbx.codec import Event
from pbx.sim import AgentPhone, CustomerScript
from routing.acd.outbound import BridgeState
from routing.agent_events import AgentState
from tests.support.blended_harness import ServiceProbe, blended, blended_rules
from tests.support.dialer_harness import campaign, campaigns, number, sim_config

pytestmark = pytest.mark.integration

GRACE_S = 1.0
TALK = CustomerScript(outcome="answer", ring_s=2.0, talk_s=600.0, patience_s=2000.0)
CONFIG = sim_config(customer_overrides={number(0): TALK}, default_agent=AgentPhone(answer_after_s=2.0))
PLAN = campaigns(campaign(ring_timeout_s=60, pacing={"abandon_grace_s": GRACE_S}))


class HoldBridgeEnter(ServiceProbe):
    """A service between the ACD and the dialer: the first BridgeEnter waits here until `release`
    (the engine hands events to its services in order, so the dialer has not heard it meanwhile;
    its ticker runs on)."""

    name = "hold-bridge-enter"

    def __init__(self) -> None:
        self.holding = asyncio.Event()
        self.released = asyncio.Event()

    async def handle(self, event: Event, changes: Sequence[CallChange]) -> None:
        if event.name == "BridgeEnter" and not self.released.is_set():
            self.holding.set()
            await self.released.wait()

    def release(self) -> None:
        self.released.set()


async def test_a_grace_ending_after_the_bridge_answered_but_before_its_events_is_a_talk(
    redis_client: aioredis.Redis,
) -> None:
    async with blended(redis_client, blended_rules("1001"), PLAN, CONFIG) as one:
        hold = HoldBridgeEnter()
        one.engine.services.insert(one.engine.services.index(one.dialer), hold)
        call_id = await one.dial_one("1001")

        def phases() -> list[Phase]:
            return [c.phase for c in one.dialer.calls()]

        try:
            async with asyncio.timeout(10):
                await hold.holding.wait()  # the desk's Bridge went out; the dialer is one event behind
            await one.sim.wait_for_action("Bridge", lambda a: True)
            await one.until(lambda: one.acd.bridge_state(call_id) is BridgeState.CONNECTED)  # the answer came
            # the grace ends here: the dialer still has the call WAITING, the desk says they talk
            await one.until(lambda: phases() != [Phase.WAITING], timeout=10)
            assert phases() == [Phase.CONNECTED], "the grace's end found the desk's talk"
        finally:
            hold.release()

        redirects = [a for a in one.sim.actions if a.name == "Redirect"]
        assert redirects == [], "no abandon message played into a talk"
        assert one.state("1001") is AgentState.BUSY
        assert one.sample("switchboard_dial_abandoned_total", campaign="c1") == 0
