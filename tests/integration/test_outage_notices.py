"""Outage notices end to end: a declared outage, the simulated Asterisk over real AMI playing the
shipped `[switchboard-notice]`, the engine on a private Redis, time from an injected clock.

Only the callers of the outage's segment hear it, only inside its window; a caller who hangs up
after it is served by the notice (not abandoned, never offered); one who holds on is queued and
answered like anyone else, without hearing it twice.
"""

from __future__ import annotations

import time

import pytest
import redis.asyncio as aioredis

from pbx.sim import AgentPhone, SimConfig
from routing.agent_events import AgentState
from routing.outages import OutageSpec
from tests.support.acd_harness import (
    EXIT_DIALPLAN,
    Stack,
    agent,
    base_rules,
    make_rules,
    running_engine,
    running_sim,
)

pytestmark = pytest.mark.integration
LINE = "+3612345678"
DEBRECEN = "+36521234567"  # +3652: the area of the outage
BUDAPEST = "+3613334444"


class SetClock:
    """The engine's clock, set by the test (the outage window is judged by it)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def outage(clock: SetClock, **changes: object) -> OutageSpec:
    data: dict[str, object] = {
        "id": "debrecen-fibre",
        "title": "Fibre cut in Debrecen",
        "segment": {"prefixes": ["+3652"]},
        "recording": "outage-debrecen",
        "starts_at": clock.now - 60,
        "ends_at": clock.now + 3600,
        "leave_window_s": 0.3,
    }
    data.update(changes)
    return OutageSpec.model_validate(data)


def sim() -> SimConfig:
    return SimConfig(
        default_agent=AgentPhone(answer_after_s=0.05), extra_dialplan=EXIT_DIALPLAN, playback_s=0.1
    )


def heard(s: Stack, caller: str) -> bool:
    return any(e.get("Channel") == caller and e.get("Context") == "switchboard-notice" for e in s.sim.events)


async def test_only_the_segment_hears_the_notice_and_a_leaver_is_served_by_it(
    redis_client: aioredis.Redis,
) -> None:
    clock = SetClock()
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2002", tech=2)]))
    async with running_sim(sim()) as pbx, running_engine(pbx, redis_client, rules, clock=clock) as s:
        await s.acd.declare_outage(outage(clock), by="boss")

        leaver = await s.sim.inbound_call(DEBRECEN, LINE, patience_s=0.05)  # hangs up during the message
        await s.until(lambda: leaver not in s.sim.channels)
        assert heard(s, leaver)
        outsider = await s.sim.inbound_call(BUDAPEST, LINE, patience_s=600)
        await s.until(lambda: len(s.waiting_ids()) == 1)
        assert not heard(s, outsider)

        record = await s.acd.outages.get("debrecen-fibre")
        assert (record.played, record.left) == (1, 1)
        assert s.sample("switchboard_acd_outage_notices_total", outage="debrecen-fibre", outcome="left") == 1
        assert s.sample("switchboard_acd_calls_abandoned_total", queue="support", tier="active") == 0
        assert (
            s.sample("switchboard_acd_calls_offered_total", queue="support", tier="active") == 1
        )  # outsider
        assert await redis_client.hlen(s.acd.ctx.store.keys.notices) == 0


async def test_a_caller_who_holds_on_is_queued_after_the_notice_once(redis_client: aioredis.Redis) -> None:
    clock = SetClock()
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2002", tech=2)]))
    async with running_sim(sim()) as pbx, running_engine(pbx, redis_client, rules, clock=clock) as s:
        await s.acd.declare_outage(outage(clock), by="boss")
        await s.acd.login("a1")
        caller = await s.sim.inbound_call(DEBRECEN, LINE, patience_s=600)
        await s.until_state("a1", AgentState.BUSY)
        notices = [a for a in s.actions("Redirect") if a.get("Context") == "switchboard-notice"]
        assert len(notices) == 1 and notices[0].get("Exten") == "recording"
        setvars = {
            a.get("Variable"): a.get("Value") for a in s.actions("Setvar") if a.get("Channel") == caller
        }
        assert (
            setvars["SWITCHBOARD_NOTICE"] == "outage-debrecen"
            and setvars["SWITCHBOARD_OUTAGE"] == "debrecen-fibre"
        )
        record = await s.acd.outages.get("debrecen-fibre")
        assert (record.played, record.left) == (1, 0)
        assert (
            s.sample("switchboard_acd_outage_notices_total", outage="debrecen-fibre", outcome="queued") == 1
        )
        assert s.sample("switchboard_acd_calls_offered_total", queue="support", tier="active") == 1


async def test_no_notice_before_the_start_or_after_the_end(redis_client: aioredis.Redis) -> None:
    clock = SetClock()
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2002", tech=2)]))
    async with running_sim(sim()) as pbx, running_engine(pbx, redis_client, rules, clock=clock) as s:
        start = clock.now + 600
        await s.acd.declare_outage(outage(clock, starts_at=start, ends_at=start + 600), by="boss")
        early = await s.sim.inbound_call(DEBRECEN, LINE, patience_s=600)
        await s.until(lambda: len(s.waiting_ids()) == 1)

        clock.now = start  # in force
        during = await s.sim.inbound_call("+36529998877", LINE, patience_s=600)
        await s.until(lambda: heard(s, during))

        clock.now = start + 600  # ended
        late = await s.sim.inbound_call("+36525556666", LINE, patience_s=600)
        await s.until(lambda: len(s.waiting_ids()) == 3)  # early, during (after its notice), late
        assert not heard(s, early) and not heard(s, late)


async def test_an_outage_ended_early_is_no_longer_announced(redis_client: aioredis.Redis) -> None:
    clock = SetClock()
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2002", tech=2)]))
    async with running_sim(sim()) as pbx, running_engine(pbx, redis_client, rules, clock=clock) as s:
        await s.acd.declare_outage(outage(clock), by="boss")
        record = await s.acd.end_outage("debrecen-fibre")
        assert record.ended_at == clock.now
        caller = await s.sim.inbound_call(DEBRECEN, LINE, patience_s=600)
        await s.until(lambda: len(s.waiting_ids()) == 1)
        assert not heard(s, caller)


async def test_a_restart_during_the_notice_still_counts_the_caller_who_leaves(
    redis_client: aioredis.Redis,
) -> None:
    clock = SetClock()
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2002", tech=2)]))
    config = SimConfig(
        default_agent=AgentPhone(answer_after_s=0.05), extra_dialplan=EXIT_DIALPLAN, playback_s=60
    )
    async with running_sim(config) as pbx:
        async with running_engine(pbx, redis_client, rules, clock=clock) as s:
            await s.acd.declare_outage(outage(clock), by="boss")
            caller = await s.sim.inbound_call(DEBRECEN, LINE, patience_s=600)
            await s.until(lambda: heard(s, caller))
        async with running_engine(pbx, redis_client, rules, clock=clock) as s:
            assert s.acd.notices.playing == {s.sim.channels[caller].uniqueid: "debrecen-fibre"}
            pbx.core.hangup(pbx.channels[caller], 16, "soft")  # the caller hangs up during the message
            await s.until(
                lambda: (
                    s.sample("switchboard_acd_outage_notices_total", outage="debrecen-fibre", outcome="left")
                    == 1
                )
            )
            record = await s.acd.outages.get("debrecen-fibre")
            assert (record.played, record.left) == (1, 1)
            assert not s.waiting_ids()


async def test_a_text_notice_asterisk_cannot_read_out_is_counted_unheard_and_the_caller_answered(
    redis_client: aioredis.Redis,
) -> None:
    """An Asterisk without text-to-speech (app_festival not loaded): the shipped context's TryExec
    tells the engine (SwitchboardNoticeUnheard) and queues the caller, who is answered; nobody is
    cut off or counted as served by a notice they never heard."""
    clock = SetClock()
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2002", tech=2)]))
    no_tts = sim().model_copy(update={"missing_applications": ("Festival",)})
    async with running_sim(no_tts) as pbx, running_engine(pbx, redis_client, rules, clock=clock) as s:
        text = {"recording": None, "text": "Debrecenben szunetel az internet."}
        await s.acd.declare_outage(outage(clock, **text), by="boss")
        await s.acd.login("a1")
        await s.sim.inbound_call(DEBRECEN, LINE, patience_s=600)
        await s.until_state("a1", AgentState.BUSY)
        record = await s.acd.outages.get("debrecen-fibre")
        assert (record.played, record.left, record.unheard) == (1, 0, 1)
        assert (
            s.sample("switchboard_acd_outage_notices_total", outage="debrecen-fibre", outcome="unheard") == 1
        )
        assert (
            s.sample("switchboard_acd_outage_notices_total", outage="debrecen-fibre", outcome="queued") == 1
        )
        assert s.sample("switchboard_acd_calls_offered_total", queue="support", tier="active") == 1
