"""Asterisk is the truth about what exists; Redis about what was decided (DESIGN.md 2.7).

The engine stops or loses its AMI link while Asterisk goes on: callers arrive
and hang up, agents answer. After the restart or reconnect the engine adopts the
callers held meanwhile in their arrival order, bridges only the agent's own leg
(never the `;2` half of a Local channel), and gives every call that vanished one
outcome, recorded once however often it restarts. Real Redis, simulated PBX over TCP.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from pbx.sim import AgentPhone, SimConfig, SimulatedPbx
from pbx.sim.rawclient import RawAmiClient
from routing.acd import AcdOptions
from routing.acd.calls import ActiveCall, CallFacts
from routing.acd.store import AcdStore, Change
from routing.agent_events import AgentState
from routing.queue import WaitingCall
from tests.support.acd_harness import (
    EXIT_DIALPLAN,
    SECRET,
    Stack,
    agent,
    base_rules,
    make_rules,
    running_engine,
    running_sim,
    sim_config,
)

pytestmark = pytest.mark.integration
LINE = "+3612345678"
VIP = "+36201111111"


async def hang_up(sim: SimulatedPbx, *channels: str) -> None:
    """Someone else hangs these channels up (the caller, the agent) while the engine is away."""
    other = await RawAmiClient.connect("127.0.0.1", sim.port)
    try:
        await other.login("switchboard", SECRET)
        for name in channels:
            assert (await other.request("Hangup", [("Channel", name)])).ok
    finally:
        await other.close()


def outcomes(events: list[tuple[str, str]], call_id: str) -> list[str]:
    return [kind for kind, cid in events if cid == call_id]


async def recorded(s: Stack) -> list[tuple[str, str]]:
    return [(e.type, str(e.data.get("call_id"))) for e in await s.acd.events.read(count=1000)]


async def test_callers_held_while_the_engine_was_stopped_are_answered_in_arrival_order(
    redis_client: aioredis.Redis,
) -> None:
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)]))
    async with running_sim(sim_config()) as sim:
        async with running_engine(sim, redis_client, rules) as s:
            before = [
                await sim.inbound_call(f"+363022200{i:02d}", LINE, patience_s=600, talk_s=0.05)
                for i in range(2)
            ]
            await s.until(lambda: len(s.waiting_ids()) == 2)
            await s.settled()  # memory has an arrived caller before Redis: written before the engine stops
            since = {c: a.call.since for c, a in s.acd.ctx.state.calls.items()}
        during = [
            await sim.inbound_call(f"+363033300{i:02d}", LINE, patience_s=600, talk_s=0.05) for i in range(3)
        ]
        await sim.wait_for_event("MusicOnHoldStart", lambda e: e.get("Channel") == during[-1])
        ids = [sim.channels[name].uniqueid for name in before + during]

        async with running_engine(sim, redis_client, rules) as s:
            await s.until(lambda: s.engine.stats.resyncs == 1)
            assert s.waiting_ids() == ids  # the two who waited first keep their place
            calls = s.acd.ctx.state.calls
            assert {c: calls[c].call.since for c in ids[:2]} == since
            for name, call_id in zip(during, ids[2:], strict=True):
                assert calls[call_id].call.since == pytest.approx(sim.channels[name].created, abs=0.01)
                assert calls[call_id].facts.case_id  # a case was opened for them
            assert s.sample("switchboard_acd_calls_offered_total", queue="support", tier="active") == 3

            await s.acd.login("a1")
            await s.until(lambda: len(s.actions("Bridge")) == 5, timeout=20)
            assert [b.get("Channel1") for b in s.actions("Bridge")] == before + during


async def test_an_adopted_caller_keeps_queue_tier_and_ivr_choice(redis_client: aioredis.Redis) -> None:
    billing = {**base_rules()["queues"][0], "name": "billing", "skill": "billing"}
    rules = make_rules(base_rules(queues=[base_rules()["queues"][0], billing]))
    async with running_sim(sim_config()) as sim:
        vip = await sim.inbound_call(VIP, LINE, patience_s=600)
        other = await sim.inbound_call(
            "+36301234567", "+3619999999", ivr_choice="2", patience_s=600, queue="billing"
        )
        await sim.wait_for_event("MusicOnHoldStart", lambda e: e.get("Channel") == other)
        async with running_engine(sim, redis_client, rules) as s:
            await s.until(lambda: s.engine.stats.resyncs == 1)
            calls = s.acd.ctx.state.calls
            first, second = calls[sim.channels[vip].uniqueid], calls[sim.channels[other].uniqueid]
            assert (first.call.queue, first.call.tier, first.facts.number) == ("support", "key", VIP)
            assert (second.call.queue, second.facts.dialled, second.facts.ivr) == (
                "billing",
                "+3619999999",
                "2",
            )
            await s.until(lambda: len(s.actions("Setvar")) == 2)  # sent; their answers are not awaited
            setvars = {(a.get("Channel"), a.get("Value")) for a in s.actions("Setvar")}
            assert setvars == {(vip, first.facts.case_id), (other, second.facts.case_id)}


async def test_a_cut_while_a_local_agent_leg_rings_never_bridges_its_second_half(
    redis_client: aioredis.Redis,
) -> None:
    queue = {**base_rules()["queues"][0], "ring_timeout_seconds": 30}
    rules = make_rules(base_rules(agents=[agent("a1", "Local/2001@agents", tech=2)], queues=[queue]))
    config = SimConfig(
        agents={"2001": AgentPhone(answer_after_s=0.2)},
        extra_dialplan=EXIT_DIALPLAN,
        local_answer_lag_s=2.0,  # Dial behind ;2: the phone's answer reaches ;1 later
    )
    async with running_sim(config) as sim, running_engine(sim, redis_client, rules, reconnect_min=0.05) as s:
        await s.acd.login("a1")
        caller = await sim.inbound_call("+36301234567", LINE, patience_s=600)
        await s.until_state("a1", AgentState.RINGING)
        two = await sim.wait_for_event(
            "Newstate", lambda e: (e.get("Channel") or "").endswith(";2") and e.get("ChannelState") == "6"
        )
        await sim.drop_connections()  # the agent answered; ;1 has not seen it yet
        await s.until(lambda: s.engine.stats.resyncs == 2)
        assert not s.actions("Bridge")  # ;2 is up, but it is not the agent's leg

        await s.until_state("a1", AgentState.BUSY)
        one = (two.get("Channel") or "")[:-2] + ";1"
        assert [(b.get("Channel1"), b.get("Channel2")) for b in s.actions("Bridge")] == [(caller, one)]
        assert caller in sim.channels and one in sim.channels and not s.actions("Hangup")


async def test_a_caller_gone_while_the_engine_was_down_is_recorded_once(redis_client: aioredis.Redis) -> None:
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)]))
    async with running_sim(sim_config()) as sim:
        async with running_engine(sim, redis_client, rules) as s:
            await s.acd.login("a1")
            talking = await sim.inbound_call("+36301234567", LINE, patience_s=600, talk_s=600)
            await s.until_state("a1", AgentState.BUSY)
            waiting = await sim.inbound_call("+36309876543", LINE, patience_s=600)
            await s.until(lambda: len(s.waiting_ids()) == 1)
            await s.settled()  # memory has an arrived caller before Redis: written before the engine stops
            ids = [sim.channels[talking].uniqueid, sim.channels[waiting].uniqueid]
        await hang_up(sim, talking, waiting)  # both leave while no engine runs

        counted = []
        for _ in range(2):  # restart twice: still one outcome each
            async with running_engine(sim, redis_client, rules) as s:
                await s.until(lambda: s.engine.stats.resyncs == 1)
                events = await recorded(s)
                assert outcomes(events, ids[0]) == ["handover", "ended"]
                assert outcomes(events, ids[1]) == ["abandoned"]
                stored = [await s.acd.ctx.store.call(call_id) for call_id in ids]
                assert [c.facts.outcome if c else None for c in stored] == ["ended", "abandoned"]
                assert s.state("a1") is not AgentState.BUSY and not s.acd.ctx.state.calls
                counted.append(
                    s.sample("switchboard_acd_calls_abandoned_total", queue="support", tier="active")
                )
        assert counted == [1, 0]


async def test_a_caller_gone_while_their_agent_rang_frees_the_agent_and_hangs_up_only_the_leg(
    redis_client: aioredis.Redis,
) -> None:
    queue = {**base_rules()["queues"][0], "ring_timeout_seconds": 30}
    rules = make_rules(base_rules(agents=[agent("a1", "Local/2001@agents", tech=2)], queues=[queue]))
    options = AcdOptions(ring_grace_s=60)
    async with running_sim(sim_config(**{"2001": AgentPhone(answer_after_s=None)})) as sim:
        async with running_engine(sim, redis_client, rules, options=options) as s:
            await s.acd.login("a1")
            caller = await sim.inbound_call("+36301234567", LINE, patience_s=600)
            await s.until_state("a1", AgentState.RINGING)
            call_id = sim.channels[caller].uniqueid
        one = next(name for name in sim.channels if name.endswith(";1"))
        await hang_up(sim, caller)
        mark = len(sim.actions)

        async with running_engine(sim, redis_client, rules, options=options) as s:
            await s.until(lambda: s.engine.stats.resyncs == 1)
            assert [a.get("Channel") for a in s.actions("Hangup", since=mark)] == [one]
            await sim.wait_for_channels(lambda channels: not channels)
            assert s.state("a1") is AgentState.READY and s.acd.agent("a1").missed_rings == 0
            assert outcomes(await recorded(s), call_id) == ["abandoned"]


async def test_while_ami_is_down_no_action_waits_for_it(redis_client: aioredis.Redis) -> None:
    """An event handled after the link dropped must not hold the ACD (and the resync) for seconds."""
    rules = make_rules(base_rules())
    async with (
        running_sim(sim_config()) as sim,
        running_engine(sim, redis_client, rules, reconnect_min=4.0) as s,
    ):
        caller = await sim.inbound_call("+36301234567", LINE, patience_s=600)
        await s.until(lambda: len(s.waiting_ids()) == 1)
        await sim.drop_connections()
        async with asyncio.timeout(5):  # the client notices the closed socket (no service hears of it)
            while s.engine.ready:
                await s.engine.client._changed.wait()  # the client's own state-change signal
        async with asyncio.timeout(1.0):  # the client would wait its 5 s action timeout for `ready`
            assert not await s.acd.ctx.executor.bridge(caller, "PJSIP/2001-00000001")
            assert not await s.acd.ctx.executor.hangup(caller)


async def test_without_the_channelvars_the_engine_asks_asterisk(redis_client: aioredis.Redis) -> None:
    billing = {**base_rules()["queues"][0], "name": "billing", "skill": "billing"}
    rules = make_rules(base_rules(queues=[base_rules()["queues"][0], billing]))
    config = SimConfig(
        channelvars=("SWITCHBOARD_CALL_ID",), extra_dialplan=EXIT_DIALPLAN
    )  # an older manager.conf
    async with running_sim(config) as sim:
        caller = await sim.inbound_call(
            "+36301234567", "+3619999999", ivr_choice="3", patience_s=600, queue="billing"
        )
        await sim.wait_for_event("MusicOnHoldStart", lambda e: e.get("Channel") == caller)
        async with running_engine(sim, redis_client, rules) as s:
            await s.until(lambda: s.engine.stats.resyncs == 1)
            adopted = s.acd.ctx.state.calls[sim.channels[caller].uniqueid]
            assert (adopted.call.queue, adopted.facts.dialled, adopted.facts.ivr) == (
                "billing",
                "+3619999999",
                "3",
            )
            assert adopted.call.since == pytest.approx(sim.channels[caller].created, abs=0.01)
            assert {a.get("Variable") for a in s.actions("Getvar")} == {
                "SWITCHBOARD_DIALLED", "SWITCHBOARD_IVR", "SWITCHBOARD_QUEUE", "SWITCHBOARD_ARRIVED",
                "SWITCHBOARD_SHARD",
            }  # fmt: skip


@pytest.mark.parametrize("listed", [True, False], ids=["channelvars", "getvar"])
async def test_an_engine_adopts_only_the_held_callers_of_its_acd_shard(
    redis_client: aioredis.Redis, listed: bool
) -> None:
    """Callers who arrived while no engine listened: the engine of shard `east` takes its own
    (SWITCHBOARD_SHARD=east, from the listing or asked with Getvar) and leaves the default shard's."""
    shipped = SimConfig().channelvars
    config = SimConfig(
        channelvars=shipped if listed else ("SWITCHBOARD_CALL_ID",), extra_dialplan=EXIT_DIALPLAN
    )
    async with running_sim(config) as sim:
        west = await sim.inbound_call("+36301234567", LINE, patience_s=600)
        east = await sim.inbound_call("+36301234568", LINE, patience_s=600, shard="east")
        for caller in (west, east):
            await sim.wait_for_event("MusicOnHoldStart", lambda e, c=caller: e.get("Channel") == c)
        async with running_engine(
            sim, redis_client, make_rules(base_rules()), options=AcdOptions(shard="east")
        ) as s:
            await s.until(lambda: s.engine.stats.resyncs == 1)
            assert list(s.acd.ctx.state.calls) == [sim.channels[east].uniqueid]
            assert s.sample("switchboard_acd_calls_offered_total", queue="support", tier="active") == 1


async def test_a_caller_whose_shard_asterisk_did_not_tell_is_left_for_the_next_resync(
    redis_client: aioredis.Redis,
) -> None:
    """manager.conf's channelvars lack SWITCHBOARD_SHARD and its Getvar fails: the default shard's
    engine must not take the caller for its own (it may be east's, whose engine adopts it too: two
    ACDs would route one caller). It counts it, and the next resync, whose Getvar answers, adopts
    the default shard's caller and still leaves east's."""
    shipped = tuple(v for v in SimConfig().channelvars if v != "SWITCHBOARD_SHARD")
    async with running_sim(SimConfig(channelvars=shipped, extra_dialplan=EXIT_DIALPLAN)) as sim:
        west = await sim.inbound_call("+36301234567", LINE, patience_s=600)
        east = await sim.inbound_call("+36301234568", LINE, patience_s=600, shard="east")
        for caller in (west, east):
            await sim.wait_for_event("MusicOnHoldStart", lambda e, c=caller: e.get("Channel") == c)
        sim.fail_next("Getvar", "garbage")
        sim.fail_next("Getvar", "garbage")
        rules = make_rules(base_rules())
        async with running_engine(sim, redis_client, rules, reconnect_min=0.05) as s:
            await s.until(lambda: s.engine.stats.resyncs == 1)
            assert not s.acd.ctx.state.calls
            assert s.sample("switchboard_acd_adoptions_deferred_total") == 2
            assert s.sample("switchboard_acd_calls_offered_total", queue="support", tier="active") == 0

            await sim.drop_connections()
            await s.until(lambda: s.engine.stats.resyncs == 2)
            assert list(s.acd.ctx.state.calls) == [sim.channels[west].uniqueid]
            assert [a.get("Variable") for a in s.actions("Getvar")] == ["SWITCHBOARD_SHARD"] * 4
            assert s.sample("switchboard_acd_adoptions_deferred_total") == 2


async def test_a_caller_redis_shows_routed_out_is_sent_to_the_exit_again(
    redis_client: aioredis.Redis,
) -> None:
    """The engine stopped between deciding the exit (written) and the Redirect (never sent)."""
    rules = make_rules(base_rules())
    async with running_sim(sim_config()) as sim:
        caller = await sim.inbound_call("+36301234567", LINE, patience_s=600)
        await sim.wait_for_event("MusicOnHoldStart", lambda e: e.get("Channel") == caller)
        call_id = sim.channels[caller].uniqueid
        store = AcdStore(redis_client)
        call = WaitingCall(call_id, "support", "active", 40, (("tech", 2),), entered_at=1.0)
        facts = CallFacts("case-1", call_id, caller, outcome="routed_out", exit_to="voicemail")
        await store.commit(Change(ended=[ActiveCall(call, facts)]))

        async with running_engine(sim, redis_client, rules) as s:
            await s.until(lambda: s.engine.stats.resyncs == 1)
            redirect = s.actions("Redirect")
            assert [(a.get("Channel"), a.get("Context"), a.get("Exten")) for a in redirect] == [
                (caller, "switchboard-exit", "voicemail")
            ]
            assert not s.acd.ctx.state.calls
            assert s.sample("switchboard_acd_calls_offered_total", queue="support", tier="active") == 0
