"""A pacing round places its calls concurrently, and concurrency changes none of the dial's rules.

The simulated Asterisk answers every customer Originate late (0.5 s, `answer_late`), so the
placements of one round overlap for real. Each Originate is checked as it arrives: its dial
intent is already in Redis (nothing of the dial can have happened after the Originate: its
answer has not left yet). Real Redis, the simulated Asterisk over TCP; waits on conditions.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from dialer.calls.intents import IntentStore
from pbx.codec import Action
from pbx.sim import CustomerProfile, SimConfig, SimulatedPbx
from routing.agent_events import AgentState
from tests.support.dialer_harness import (
    DESK_AGENTS,
    campaign,
    campaigns,
    lead,
    originate_vars,
    rig,
    sim_config,
)

pytestmark = pytest.mark.integration

RINGING = CustomerProfile(answer=0, busy=0, noanswer=1, congestion=0, machine=0, reject=0)
LATE_S = 0.5


class CheckingPbx(SimulatedPbx):
    """Notes when each customer Originate arrives and whether its intent was in Redis by then."""

    def __init__(self, config: SimConfig, redis: aioredis.Redis) -> None:
        super().__init__(config, seed=5)
        self.intents = IntentStore(redis)
        self.arrived: dict[str, float] = {}
        self.intent_first: dict[str, bool] = {}
        self.checks: set[asyncio.Task[None]] = set()

    def record_action(self, action: Action) -> None:
        if action.name == "Originate" and "@trunk" in (action.get("Channel") or ""):
            call_id = originate_vars(action)["SWITCHBOARD_CALL_ID"]
            self.arrived[call_id] = time.perf_counter()
            task = asyncio.get_running_loop().create_task(self._check(call_id))
            self.checks.add(task)
            task.add_done_callback(self.checks.discard)
        super().record_action(action)

    async def _check(self, call_id: str) -> None:
        self.intent_first[call_id] = call_id in {i.call_id for i in await self.intents.open_intents()}


async def _round_of_five(redis_client: aioredis.Redis, dials_at_once: int) -> CheckingPbx:
    """Five ready advisors, eight leads, customers that never answer (a long ring): one round of
    five calls. Returns the simulator after the five dials and some more rounds."""
    pbx = CheckingPbx(sim_config(customers=RINGING, time_scale=1.0), redis_client)
    pbx.answer_late("Originate", LATE_S)
    await pbx.start()
    try:
        async with rig(redis_client, campaigns(campaign(ring_timeout_s=60)), pbx=pbx) as r:
            r.dialer.pacer.dials_at_once = dials_at_once
            for agent in DESK_AGENTS:
                await r.agent(agent)
            await r.load_leads(lead(i) for i in range(1, 9))
            await r.start()
            await r.until(lambda: len(pbx.intent_first) == 5, timeout=15)
            rounds = r.dialer.rounds
            await r.until(lambda: r.dialer.rounds >= rounds + 5, timeout=15)

            dials = r.customer_originates()
            assert len(dials) == 5, "five advisors: five calls, however many leads and rounds"
            agents = [originate_vars(d)["SWITCHBOARD_AGENT_ID"] for d in dials]
            assert sorted(agents) == sorted(DESK_AGENTS), "each advisor held for one call"
            for dial in dials:
                held = r.acd.ctx.state.status(originate_vars(dial)["SWITCHBOARD_AGENT_ID"])
                assert held.state is AgentState.RESERVED
                assert held.call_id == originate_vars(dial)["SWITCHBOARD_CALL_ID"]
            assert len({originate_vars(d)["SWITCHBOARD_LEAD"] for d in dials}) == 5, "no lead dialed twice"
            assert len(set(r.dialed())) == 5, "no number dialed twice"
            assert all(pbx.intent_first.values()), "an Originate arrived before its intent was written"
            assert r.sample("switchboard_dial_refused_total", campaign="c1", reason="agent-not-ready") == 0
    finally:
        await pbx.stop()
    return pbx


async def test_a_round_places_its_calls_at_once_each_after_its_intent_and_for_its_own_advisor(
    redis_client: aioredis.Redis,
) -> None:
    pbx = await _round_of_five(redis_client, dials_at_once=16)
    spread = max(pbx.arrived.values()) - min(pbx.arrived.values())
    assert spread < LATE_S, f"the five dials went out one after another ({spread:.2f} s apart)"


async def test_the_placements_under_way_are_bounded(redis_client: aioredis.Redis) -> None:
    """Two at a time: the five dials go out in three waves, each waiting for Asterisk's late answers."""
    pbx = await _round_of_five(redis_client, dials_at_once=2)
    times = sorted(pbx.arrived.values())
    assert times[-1] - times[0] >= 2 * LATE_S
    assert all(later - earlier >= LATE_S * 0.9 for earlier, later in zip(times, times[2:], strict=False))
