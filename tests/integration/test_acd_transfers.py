"""Transfers with the case (seed 004), end to end: the engine over real TCP AMI against the
simulated PBX, a private Redis. Blind to a queue (the tier keeps its priority there, the case and
the summary completed in wrap-up reach the next agent), warm (consult, then complete or cancel),
and a transfer made on the phone (the engine sees only Asterisk's events)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import redis.asyncio as aioredis

from pbx.sim import EventOrder
from pbx.sim.rawclient import RawAmiClient
from routing.acd.calls import CallState
from routing.agent_events import AgentState
from tests.support.acd_harness import SECRET, Stack, acd_stack, agent, base_rules, make_rules, sim_config
from tests.support.recordings import TRANSFERS, recorded_events, transfer_sequence

KEY = "+36201111111"  # the key tier of base_rules


def rules() -> Any:
    data = base_rules(
        agents=[
            agent("a1", "PJSIP/2001", tech=4),
            agent("a2", "PJSIP/2002", billing=4),
            agent("a3", "PJSIP/2003", billing=4),
        ]
    )
    support = data["queues"][0]
    support["wrap_up_seconds"] = 60.0  # long enough to finish the summary inside it
    data["queues"].append(
        {**support, "name": "billing", "skill": "billing", "level": 1, "wrap_up_seconds": 0.2}
    )
    return make_rules(data)


async def talking(s: Stack, caller: str = KEY) -> tuple[str, str]:
    """Agent a1 talks to a new caller of `support`: (call id, caller's channel)."""
    await s.acd.login("a1")
    channel = await s.sim.inbound_call(caller, "+3612345678", patience_s=600, queue="support")
    await s.until_state("a1", AgentState.BUSY)
    return s.acd.agent("a1").call_id, channel


async def handovers(s: Stack, agent_id: str) -> list[dict[str, Any]]:
    """The handovers published to `agent_id`, once there is one. The engine publishes a handover
    after Asterisk's events say the caller is bridged, so the simulator's bridge can be there first."""
    found: list[dict[str, Any]] = []
    since = "0"
    async with asyncio.timeout(10):
        while not found:
            events = await s.acd.events.read(since, count=1000, wait_s=5)
            since = events[-1].id if events else since
            found += [e.data for e in events if e.type == "handover" and e.agent_id == agent_id]
    return found


def bridged_with(s: Stack, caller: str, interface: str) -> bool:
    channel = s.sim.channels.get(caller)
    members = channel.bridge.members if channel is not None and channel.bridge is not None else []
    return any(m.name.startswith(interface + "-") for m in members)


async def test_blind_transfer_to_a_queue_keeps_the_tier_priority_and_the_case(
    redis_client: aioredis.Redis,
) -> None:
    async with acd_stack(redis_client, rules(), sim_config()) as s:
        call_id, caller = await talking(s)
        case_id = (await s.acd.case(call_id)).case_id
        await s.acd.set_summary(call_id, "no sync since the storm")
        earlier = await s.sim.inbound_call("+36305550000", "+3612345678", patience_s=600, queue="billing")
        await s.until(lambda: len(s.waiting_ids()) == 1)  # an active-tier caller already waits in billing
        sent = len(s.sim.actions)

        case = await s.acd.transfer(call_id, "queue:billing")

        assert (case.state, case.queue, case.tier, case.transfer_target) == (
            "waiting",
            "billing",
            "key",
            "queue:billing",
        )
        transfer = s.actions("BlindTransfer", sent)
        assert [(a.get("Exten"), a.get("Context")) for a in transfer] == [
            ("queue-billing", "switchboard-transfer")
        ]
        await s.until(lambda: s.sim.channels[caller].context == "switchboard-transfer")
        status = s.acd.ctx.state.status("a1")
        assert (status.state, status.call_id) == (AgentState.WRAP_UP, call_id), "a1 wraps up this very call"
        billing = next(q for q in s.acd.queues() if q.name == "billing")
        assert next(w.call_id for w in billing.waiting) == call_id, (
            "the key tier waits ahead of an earlier caller"
        )
        assert s.sim.channels[earlier].bridge is None

        # a1 completes the summary in wrap-up, after the caller left them
        await s.acd.set_summary(call_id, "no sync since the storm; refund the outage days")
        await s.acd.login("a2")
        await s.until(lambda: bridged_with(s, caller, "PJSIP/2002"))
        [handed] = await handovers(s, "a2")
        assert (handed["call_id"], handed["case_id"], handed["tier"]) == (call_id, case_id, "key")
        assert handed["summary"] == "no sync since the storm; refund the outage days"
        assert handed["transfer"] == {"from": "a1", "to": "queue:billing", "mode": "blind"}
        assert handed["opened_by"] == "a1", "the first advisor opened the case"
        assert s.sample("switchboard_acd_calls_answered_total", queue="support", tier="key") == 1
        assert s.sample("switchboard_acd_calls_answered_total", queue="billing", tier="key") == 0, (
            "counted once"
        )
        assert s.sample("switchboard_acd_transfers_total", queue="support", tier="key", mode="blind") == 1


async def test_warm_transfer_consult_then_complete(redis_client: aioredis.Redis) -> None:
    async with acd_stack(redis_client, rules(), sim_config()) as s:
        call_id, caller = await talking(s)
        await s.acd.set_summary(call_id, "wants a second line")
        await s.acd.login("a2")

        consulting = await s.acd.transfer(call_id, "queue:billing", warm=True)

        assert (consulting.state, consulting.transferer) == ("consulting", "a1")
        await s.until_state("a2", AgentState.BUSY)  # the consulted agent answered and talks to a1
        await s.until(
            lambda: s.sim.channels[caller].bridge is None and s.sim.channels[caller].moh_class is not None
        )
        [handed] = await handovers(s, "a2")
        assert handed["summary"] == "wants a second line" and handed["transfer"]["mode"] == "warm"

        done = await s.acd.complete_transfer(call_id)

        assert (done.state, done.agent_id, done.transferred_from) == ("connected", "a2", "a1")
        await s.until(lambda: bridged_with(s, caller, "PJSIP/2002"))
        await s.until(lambda: not any(c.startswith("PJSIP/2001-") for c in s.sim.channels))
        status = s.acd.ctx.state.status("a1")
        assert (status.state, status.call_id) == (AgentState.WRAP_UP, call_id)
        assert s.acd.agent("a2").call_id == call_id


def split_at_consult(sequence: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """A warm transfer's events from its first BridgeLeave: the dual Redirect's part (its two
    channels leave and start music in either order, two threads in Asterisk: sorted), then the
    rest from the consult on (the advisor's music stops), in order."""
    start = next(i for i, item in enumerate(sequence) if item[0] == "BridgeLeave")
    consult = sequence.index(("MusicOnHoldStop", "agent"), start)
    return sorted(sequence[start:consult]), sequence[consult:]


async def test_warm_transfer_events_as_asterisk_gave_them(redis_client: aioredis.Redis) -> None:
    """The engine's warm transfer (dual Redirect, consult, complete) on the simulator raises the
    caller's, the advisor's and the colleague's bridge, music and hangup events in the order the
    same engine got from Asterisk 22.10.1 (tests/fixtures/ami/transfers/engine-warm-complete.txt)."""
    async with acd_stack(redis_client, rules(), sim_config()) as s:
        call_id, caller = await talking(s)
        await s.acd.login("a2")
        leg = s.acd.ctx.state.calls[call_id].facts.agent_channel
        start = len(s.sim.events)
        await s.acd.transfer(call_id, "queue:billing", warm=True)
        await s.until_state("a2", AgentState.BUSY)
        await s.acd.complete_transfer(call_id)
        await s.until(lambda: leg not in s.sim.channels)
        events = [dict(e.fields) for e in s.sim.events[start:]]
        colleague = next(e["Channel"] for e in events if e.get("Channel", "").startswith("PJSIP/2002-"))
        simulated = transfer_sequence(events, {caller: "caller", leg: "agent", colleague: "colleague"})

    roles = {
        "Local/36201112233@customers": "caller",
        "Local/1003@agents": "agent",
        "Local/1002@agents": "colleague",
    }
    recorded = transfer_sequence(recorded_events(TRANSFERS / "engine-warm-complete.txt"), roles)
    assert split_at_consult(simulated) == split_at_consult(recorded)


async def test_warm_transfer_cancelled_returns_the_caller_to_the_first_agent(
    redis_client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with acd_stack(redis_client, rules(), sim_config()) as s:
        call_id, caller = await talking(s)
        await s.acd.login("a2")
        await s.acd.transfer(call_id, "agent:a2", warm=True)
        await s.until_state("a2", AgentState.BUSY)

        back = await s.acd.cancel_transfer(call_id)

        assert (back.state, back.agent_id, back.transferer) == ("connected", "a1", "")
        await s.until(lambda: bridged_with(s, caller, "PJSIP/2001"))
        await s.until(lambda: not any(c.startswith("PJSIP/2002-") for c in s.sim.channels))
        await s.until_state("a2", AgentState.READY)
        assert s.state("a1") is AgentState.BUSY
        assert s.acd.ctx.state.calls[call_id].state is CallState.CONNECTED
        # The colleague's leg, let out of the consult, ends in its own dialplan before the engine's
        # Hangup reaches it (as on Asterisk 22.10.1): that is no warning for an admin to chase.
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "refused" in r.getMessage()]


async def test_a_transfer_made_on_the_phone_is_tracked_from_asterisks_events(
    redis_client: aioredis.Redis,
) -> None:
    async with acd_stack(redis_client, rules(), sim_config()) as s:
        call_id, caller = await talking(s)
        leg = s.acd.ctx.state.calls[call_id].facts.agent_channel
        phone = await RawAmiClient.connect("127.0.0.1", s.sim.port)  # the phone's own feature, not the engine
        try:
            await phone.login("switchboard", SECRET)
            fields = [("Channel", leg), ("Exten", "queue-billing"), ("Context", "switchboard-transfer")]
            assert (await phone.request("BlindTransfer", fields)).ok
        finally:
            await phone.close()

        await s.until(lambda: s.acd.ctx.state.calls[call_id].state is CallState.WAITING)
        case = await s.acd.case(call_id)
        assert (case.queue, case.transfers, case.transferred_from) == ("billing", 1, "a1")
        await s.until_state("a1", AgentState.WRAP_UP)
        await s.acd.login("a3")
        await s.until(lambda: bridged_with(s, caller, "PJSIP/2003"))
        [handed] = await handovers(s, "a3")
        assert handed["transfer"]["from"] == "a1"


@pytest.mark.parametrize(
    "hangup_first", [False, True], ids=["transfer-reported-first", "hangup-reported-first"]
)
async def test_an_attended_transfer_made_on_the_phone_is_tracked_out_of_the_acd(
    redis_client: aioredis.Redis, hangup_first: bool
) -> None:
    """Whichever Asterisk reports first, the advisor's hang-up or the AttendedTransfer, the call is
    recorded as transferred to the desk the phone called, and counted once."""
    # The other order, the advisor's hang-up reported before the AttendedTransfer, was seen on
    # Asterisk 22.10.1 with a Local agent leg (docs/transfers.md); the simulator gives it on demand.
    order = EventOrder(hangup_before_attended_transfer=1.0 if hangup_first else 0.0)
    async with acd_stack(redis_client, rules(), sim_config().model_copy(update={"order": order})) as s:
        call_id, caller = await talking(s)
        leg = s.acd.ctx.state.calls[call_id].facts.agent_channel
        phone = await RawAmiClient.connect("127.0.0.1", s.sim.port)
        try:
            await phone.login("switchboard", SECRET)
            fields = [("Channel", leg), ("Exten", "3100"), ("Context", "agents")]  # a desk outside the ACD
            assert (await phone.request("Atxfer", fields)).ok
            consult = await phone.wait_event(
                "BridgeEnter", lambda e: (e.get("Channel") or "").startswith("Local/3100@agents-")
            )
            assert s.acd.ctx.state.calls[call_id].state is CallState.CONNECTED, (
                "a consult alone moves nothing"
            )
            assert (await phone.request("Hangup", [("Channel", leg)])).ok  # the advisor hangs up: done
            hangup = await phone.wait_event("Hangup", lambda e: e.get("Channel") == leg)
            transfer = await phone.wait_event("AttendedTransfer")
            assert (phone.events.index(hangup) < phone.events.index(transfer)) is hangup_first
        finally:
            await phone.close()

        def counted() -> float:
            return s.sample("switchboard_acd_transfers_total", queue="support", tier="key", mode="attended")

        await s.until(lambda: call_id not in s.acd.ctx.state.calls and counted() == 1)
        await s.until_state("a1", AgentState.WRAP_UP)
        moved = [e for e in await s.acd.events.read("0", count=1000) if e.type == "transferred"]
        assert [(e.agent_id, e.data["mode"], e.data["to"]) for e in moved] == [
            ("a1", "attended", consult.get("Channel"))
        ]
        stored = await s.acd.ctx.store.call(call_id)
        assert stored is not None
        assert (stored.facts.outcome, stored.facts.exit_to) == ("transferred", consult.get("Channel"))
        assert s.sim.channels[caller].bridge is not None, "the caller talks to the desk they were handed to"


async def test_a_blind_transfer_on_the_phone_to_elsewhere_takes_the_call_out_of_the_acd_tracked(
    redis_client: aioredis.Redis,
) -> None:
    async with acd_stack(redis_client, rules(), sim_config()) as s:
        call_id, _ = await talking(s)
        leg = s.acd.ctx.state.calls[call_id].facts.agent_channel
        phone = await RawAmiClient.connect("127.0.0.1", s.sim.port)
        try:
            await phone.login("switchboard", SECRET)
            fields = [("Channel", leg), ("Exten", "voicemail"), ("Context", "switchboard-exit")]
            assert (await phone.request("BlindTransfer", fields)).ok
        finally:
            await phone.close()

        await s.until(lambda: call_id not in s.acd.ctx.state.calls)
        await s.until_state("a1", AgentState.WRAP_UP)
        await s.settled()  # memory let the call go before the commit that records it; counted after it
        stored = await s.acd.ctx.store.call(call_id)
        assert stored is not None
        assert (stored.facts.outcome, stored.facts.exit_to) == ("transferred", "voicemail@switchboard-exit")
        assert s.sample("switchboard_acd_transfers_total", queue="support", tier="key", mode="blind") == 1
        await s.acd.set_summary(call_id, "left a voicemail for the back office")  # still in a1's wrap-up
        assert (await s.acd.case(call_id)).summary == "left a voicemail for the back office"
