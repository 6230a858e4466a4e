"""The engine through AMI cuts while it resynchronises (simulated Asterisk over TCP, real Redis).

Measured before the fix: a cut during the resync kept the engine away from Asterisk for 955 s
(the ACD counted as ready during the resync: route -> ring "never sent" after the 5 s action
timeout -> release -> route, recursing until RecursionError). Here: nothing is routed until the
resync has finished, a cut during it starts it over, and failing rings never recurse.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

import pytest
import redis.asyncio as aioredis

from core.errors import AmiError
from pbx.call_changes import CallChange
from pbx.codec import Event
from pbx.sim import SimulatedPbx
from pbx.tracker import CallTracker
from routing.acd import AcdOptions
from routing.agent_events import AgentState
from switchboard.engine import Engine
from tests.support.acd_harness import acd_stack, agent, base_rules, make_rules, sim_config

pytestmark = pytest.mark.integration


class Cutter:
    """A service resynced before the ACD: cuts the AMI link in the middle of the next `cuts` resyncs."""

    name = "cutter"

    def __init__(self, sim: SimulatedPbx, engine: Engine, cuts: int) -> None:
        self.sim, self.engine, self.cuts = sim, engine, cuts
        self.before_cut: Callable[[], Awaitable[object]] | None = None

    async def handle(self, event: Event, changes: Sequence[CallChange]) -> None:
        pass

    async def resync(self, tracker: CallTracker) -> None:
        if self.cuts <= 0:
            return
        self.cuts -= 1
        if self.before_cut is not None:
            await self.before_cut()
            self.before_cut = None
        await self.sim.drop_connections()
        with contextlib.suppress(AmiError):  # returns once the client has seen the cut
            await self.engine.client.send("Ping", timeout=1.0)

    async def tick(self, now: float) -> None:
        pass


async def test_cuts_during_the_resync_start_it_over_and_nothing_is_routed_before_it_ends(
    redis_client: aioredis.Redis,
) -> None:
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)]))
    async with acd_stack(redis_client, rules, sim_config()) as s:
        await s.sim.inbound_call("+36301234567", "+3612345678", patience_s=600, talk_s=600)
        await s.until(lambda: len(s.waiting_ids()) == 1)
        cutter = Cutter(s.sim, s.engine, cuts=3)
        cutter.before_cut = lambda: s.acd.login("a1")  # ready while the engine is not: a call to route
        s.engine.services.insert(0, cutter)
        loop = asyncio.get_running_loop()
        cut_at = loop.time()
        await s.sim.drop_connections()
        await s.until_state("a1", AgentState.BUSY, timeout=15)
        took = loop.time() - cut_at
        assert took < 4.0, f"back to serving calls after {took:.1f}s (one AMI action timeout is 5 s)"
        assert cutter.cuts == 0
        assert [a.get("Channel") for a in s.actions("Originate")] == ["PJSIP/2001"]  # rung once, when ready
        assert s.sample("switchboard_ami_actions_total", action="Originate", result="success") == 1
        for result in ("timeout", "disconnected", "error"):
            assert s.sample("switchboard_ami_actions_total", action="Originate", result=result) == 0
        assert s.sample("switchboard_ami_reconnects_total") == 1  # three cut resyncs, one reconnect
        assert s.engine.stats.service_errors == 0
        assert s.acd.agent("a1").missed_rings == 0


async def test_a_run_of_refused_rings_is_a_loop_over_ticks_not_a_recursion(
    redis_client: aioredis.Redis,
) -> None:
    agents = [agent(f"a{n:03}", f"PJSIP/{2000 + n}", tech=2) for n in range(150)]
    rules = make_rules(base_rules(agents=agents))
    options = AcdOptions(agent_context="no-such-context")  # Asterisk answers every ring with Error
    async with acd_stack(redis_client, rules, sim_config(), options=options) as s:
        for each in agents:
            await s.acd.login(each["id"])
        await s.sim.inbound_call("+36301234567", "+3612345678", patience_s=600, talk_s=600)
        await s.until(lambda: len(s.actions("Originate")) >= len(agents), timeout=30)
        rung = [a.get("Channel") for a in s.actions("Originate")[: len(agents)]]
        assert sorted(rung) == sorted(each["interface"] for each in agents), "each rung once, in turn"
        await s.until(lambda: all(s.acd.agent(a["id"]).missed_rings >= 1 for a in agents))
        assert s.engine.stats.service_errors == 0  # no RecursionError on the way
        # the caller is still the ACD's, for an agent Asterisk can ring (the refusals are settled as
        # their answers come, apart from the events: the next tick may already ring one again)
        assert len(s.acd.ctx.state.calls) == 1


async def test_a_cut_right_after_a_bridge_keeps_the_talk_and_the_resync_settles_it(
    redis_client: aioredis.Redis,
) -> None:
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)]))
    async with acd_stack(redis_client, rules, sim_config()) as s:
        await s.acd.login("a1")
        s.sim.fail_next("Bridge", "close", execute=True)  # bridged, then the link drops before the answer
        caller = await s.sim.inbound_call("+36301234567", "+3612345678", patience_s=600, talk_s=600)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await s.until_state("a1", AgentState.BUSY, timeout=10)
        took = loop.time() - started
        assert took < 3.0, f"talking after {took:.1f}s (one AMI action timeout is 5 s)"
        # the BridgeEnter events that beat the cut may connect it first; the resync follows
        await s.until(lambda: s.engine.ready and s.sample("switchboard_ami_reconnects_total") >= 1)
        assert s.actions("Hangup") == []  # a maybe-bridged talk is never hung up
        assert caller in s.sim.channels
        assert len(s.actions("Bridge")) == 1  # the resync saw the talk already bridged: not bridged again
        assert s.sample("switchboard_ami_actions_total", action="Bridge", result="disconnected") == 1
        assert s.sample("switchboard_ami_reconnects_total") == 1
        assert s.engine.stats.service_errors == 0
