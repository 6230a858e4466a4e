"""A stalled AMI link whose actions still reach Asterisk afterwards (issue 10, the chaos suite's
`ami-stall` row): simulated Asterisk over TCP behind the fault proxy, real Redis.

Over a frozen network (or a frozen Asterisk) the bytes an engine wrote are not lost: TCP delivers
them when the path comes back, even after the engine timed the action out and dropped the
connection. So an action the engine gave up on may still execute a few seconds later. The
engine must end each call in what Asterisk did: a caller the late Bridge connected is a talk,
never an abandon, and its agent is busy with it, not rung for another call.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from pbx.sim import CallRecord, CustomerScript, SimulatedPbx
from pbx.sim.faultproxy import FaultProxy
from routing.agent_events import AgentState
from tests.support.acd_harness import (
    Stack,
    agent,
    base_rules,
    make_rules,
    running_engine,
    sim_config,
)
from tests.support.blended_harness import blended, blended_rules
from tests.support.dialer_harness import campaign, campaigns, lead, number
from tests.support.dialer_harness import sim_config as dialer_sim_config
from tests.support.proxy_harness import behind_proxy, ended_customers, published

pytestmark = pytest.mark.integration

STALL_S = 2.5  # longer than the keepalive (0.5 s + 1 s) and the action timeout (1 s)


@contextlib.asynccontextmanager
async def stalled_stack(
    redis: aioredis.Redis, *, ping_timeout: float = 1.0
) -> AsyncIterator[tuple[Stack, FaultProxy]]:
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)]))
    async with (
        behind_proxy(sim_config(), ping_timeout=ping_timeout) as (sim, proxy, ami),
        running_engine(sim, redis, rules, ami=ami) as stack,
    ):
        yield stack, proxy


async def events_of(redis: aioredis.Redis, call_id: str) -> list[str]:
    return [event.type for event in await published(redis, call_id)]


def caller_record(sim: SimulatedPbx, channel: str) -> CallRecord:
    return next(r for r in sim.call_log if r.channel == channel)


@pytest.mark.parametrize("action", ["Bridge", "Originate"])
async def test_an_action_delivered_after_a_stall_ends_the_call_as_asterisk_did(
    redis_client: aioredis.Redis, action: str
) -> None:
    async with stalled_stack(redis_client) as (s, proxy):
        await s.acd.login("a1")
        proxy.stall_at(action, STALL_S)
        caller = await s.sim.inbound_call("+36301234567", "+3612345678", patience_s=60, talk_s=2)
        call_id = s.sim.channels[caller].uniqueid
        await s.until(lambda: caller_record(s.sim, caller).ended is not None, timeout=40)
        await s.until(lambda: s.state("a1") in (AgentState.READY, AgentState.WRAP_UP), timeout=10)
        record = caller_record(s.sim, caller)
        history = await events_of(s.redis, call_id)
        assert record.bridged is not None and record.ended_by == "talk", "connected, ended by the talk"
        assert "abandoned" not in history, history
        assert s.sample("switchboard_acd_calls_abandoned_total", queue="support", tier="active") == 0


async def test_a_talk_a_late_bridge_connected_and_that_ended_while_the_link_was_down_is_no_abandon(
    redis_client: aioredis.Redis,
) -> None:
    """The chaos suite's wrong abandon (`ami-stall`, 1 of 2 full runs), step by step: the agent
    answers, the engine's Bridge is caught in the stall and times out (maybe bridged: left to the
    resync), the Bridge reaches Asterisk when the stall ends and connects them, and the whole talk
    is over before the engine is back. At the resync both the caller and the agent's leg are gone."""
    async with stalled_stack(redis_client) as (s, proxy):
        await s.acd.login("a1")
        proxy.stall_at("Bridge", 2.0)
        caller = await s.sim.inbound_call("+36301234567", "+3612345678", patience_s=60, talk_s=1.0)
        call_id = s.sim.channels[caller].uniqueid
        assert await proxy.wait_until(lambda: proxy.stats.stalls == 1, timeout=10)
        s.sim.refuse_logins(True)  # the link stays down after the stall: the talk happens unseen
        await s.sim.wait_for_channel_count(0, timeout=20)
        record = caller_record(s.sim, caller)
        assert record.bridged is not None and record.ended_by == "talk", "the late Bridge connected them"
        s.sim.refuse_logins(False)
        await s.until(lambda: s.engine.ready and not s.acd.ctx.state.calls, timeout=20)
        await s.until(lambda: s.state("a1") in (AgentState.READY, AgentState.WRAP_UP), timeout=10)

        history = await events_of(s.redis, call_id)
        assert "abandoned" not in history, history
        assert history == ["handover", "ended"], "settled as the talk Asterisk had"
        assert s.sample("switchboard_acd_calls_abandoned_total", queue="support", tier="active") == 0
        assert s.acd.agent("a1").missed_rings == 0


async def test_a_bridge_answered_late_over_a_live_link_connects_the_call_and_times_its_talk(
    redis_client: aioredis.Redis,
) -> None:
    """A Bridge whose answer comes after the engine's action timeout while the link stays up (a
    short stall, a slow Asterisk: the keepalive's Ping is answered in time, so nothing reconnects
    and no resync settles the call). The Bridge connects caller and agent when it reaches Asterisk;
    Asterisk reports it (BridgeEnter of both) and the caller hangs up at the end of the talk. The
    call is a talk of that length ended by the caller, the agent wraps up: never an abandon."""
    talk_s = 2.0
    async with stalled_stack(redis_client, ping_timeout=5.0) as (s, proxy):
        await s.acd.login("a1")
        proxy.stall_at("Bridge", 2.0)  # > the action timeout (1 s), < the Ping's timeout (5 s)
        caller = await s.sim.inbound_call("+36301234567", "+3612345678", patience_s=60, talk_s=talk_s)
        call_id = s.sim.channels[caller].uniqueid
        await s.until(lambda: caller_record(s.sim, caller).ended is not None, timeout=30)
        await s.until(lambda: not s.acd.ctx.state.calls, timeout=10)
        await s.settled()  # the call left memory before the commit that carries its `ended`

        record = caller_record(s.sim, caller)
        assert proxy.stats.stalls == 1 and proxy.stats.connections == 1, "the link stayed up: no resync"
        assert s.sample("switchboard_ami_actions_total", action="Bridge", result="timeout") == 1
        assert record.bridged is not None and record.ended_by == "talk", "the late Bridge connected them"
        history = await published(s.redis, call_id)
        assert [e.type for e in history] == ["handover", "ended"], history
        ended = history[-1].data
        assert ended["ended_by"] == "caller"
        assert talk_s - 0.5 <= float(ended["talk"]) <= talk_s + 1.0, "the talk Asterisk had, timed"
        assert s.state("a1") in (AgentState.WRAP_UP, AgentState.READY)
        assert s.acd.agent("a1").missed_rings == 0
        assert s.sample("switchboard_acd_calls_abandoned_total", queue="support", tier="active") == 0
        assert s.sample("switchboard_acd_calls_answered_total", queue="support", tier="active") == 1


@pytest.mark.parametrize("grace_s", [15.0, 1.0], ids=["grace-outlasts-the-doubt", "grace-ends-in-the-doubt"])
async def test_an_outbound_customer_a_late_bridge_connected_over_a_live_link_is_no_abandon(
    redis_client: aioredis.Redis, grace_s: float
) -> None:
    """The same late Bridge on the outbound side: a progressive campaign's answered customer is
    handed to the ACD, its agent answers, the Bridge's answer comes after the action timeout over
    a link that stays up. The customer is connected and ends the talk: the ACD records a talk
    (handover, ended), the dialer an answered attempt; no abandon message, no abandon counted.
    A grace that runs out while the Bridge is in doubt waits for it: a Redirect then would reach
    Asterisk right after the Bridge and pull the connected customer out of the talk."""
    talk_s = 2.0
    script = CustomerScript(outcome="answer", ring_s=0.5, talk_s=talk_s, patience_s=2000.0)
    config = dialer_sim_config(time_scale=1.0, customer_overrides={number(1): script})
    grace = campaign(pacing={"abandon_grace_s": grace_s})
    async with (
        behind_proxy(config, ping_timeout=5.0) as (sim, proxy, ami),
        blended(redis_client, blended_rules("1001"), campaigns(grace), pbx=sim, ami=ami) as b,
    ):
        await b.acd.login("1001")
        await b.load_leads([lead(1)])
        proxy.stall_at("Bridge", 2.0)  # > the action timeout (1 s), < the Ping's timeout (5 s)
        await b.start()
        await b.until(lambda: bool(ended_customers(sim)), timeout=30)
        await b.until(lambda: not b.acd.ctx.state.calls and not b.dialer.calls(), timeout=10)
        await b.dialer.settled()  # its settlement written, and counted
        await b.acd_settled()  # the call left the ACD's memory before the commit that carries its `ended`

        record = ended_customers(sim)[0]
        assert proxy.stats.stalls == 1 and proxy.stats.connections == 1, "the link stayed up"
        assert b.sample("switchboard_ami_actions_total", action="Bridge", result="timeout") == 1
        assert record.bridged is not None and record.ended_by == "talk", "the late Bridge connected"
        history = await published(b.redis, record.call_id)
        assert [e.type for e in history] == ["handover", "ended"], history
        assert talk_s - 0.5 <= float(history[-1].data["talk"]) <= talk_s + 1.0
        assert b.state("1001") in (AgentState.WRAP_UP, AgentState.READY)
        assert b.sample("switchboard_dial_attempts_total", campaign="c1", result="answered") == 1
        assert b.sample("switchboard_dial_abandoned_total", campaign="c1") == 0
        assert not [a for a in sim.actions if a.get("Context") == "switchboard-abandon"]
