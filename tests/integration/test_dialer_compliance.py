"""Calling hours in the callee's local time (injected clock) and call caps per number across campaigns."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from dialer.calls.dial_records import DialKind, DialRequest, DialStatus
from pbx.sim import CustomerProfile
from routing.agent_events import AgentState
from tests.support.dialer_harness import campaign, campaigns, lead, number, rig, sim_config

pytestmark = pytest.mark.integration

BUSY = CustomerProfile(answer=0, busy=1, noanswer=0, congestion=0, machine=0, reject=0, signal_s=(0.2, 0.5))
NEW_YORK = "America/New_York"


class SetClock:
    """A clock the test moves by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at.timestamp()

    def __call__(self) -> float:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at.timestamp()


def local(
    year: int, month: int, day: int, hour: int, minute: int, *, zone: str = "Europe/Budapest"
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


@pytest.mark.parametrize(
    ("now", "opens"),
    [
        (local(2026, 11, 22, 3, 0), local(2026, 11, 23, 8, 0)),  # Sunday night -> Monday 08:00
        (local(2026, 12, 25, 10, 0), local(2026, 12, 28, 8, 0)),  # Christmas, then the weekend
    ],
    ids=["sunday-night", "christmas"],
)
async def test_nothing_is_dialed_outside_the_callees_calling_hours(
    redis_client: aioredis.Redis, now: datetime, opens: datetime
) -> None:
    clock = SetClock(now)
    config = campaigns(campaign())
    async with rig(redis_client, config, sim_config(customers=BUSY), clock=clock, engine_ticks=False) as r:
        await r.load_leads([lead(1), lead(2, zone=NEW_YORK)])  # lead 2 lives in New York: its zone wins
        await r.agent("1001")
        await r.start()

        assert await r.dialer.run_once()
        assert r.sim.originated_numbers() == []
        first, second = await r.stores.leads.get("L1"), await r.stores.leads.get("L2")
        assert first.status == second.status == "queued"
        assert first.next_attempt_at == opens
        assert second.next_attempt_at is not None and second.next_attempt_at > opens
        assert r.sample("switchboard_dial_refused_total", campaign="c1", reason="outside-hours") == 2
        assert r.state("1001") is AgentState.READY

        clock.set(opens + timedelta(seconds=30))
        assert await r.dialer.run_once()
        await r.sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
        assert r.dialed() == [number(1)], "08:00 in Budapest is 02:00 in New York"
        assert (await r.stores.leads.get("L2")).next_attempt_at == local(
            2026, opens.month, opens.day, 8, 0, zone=NEW_YORK
        )


async def test_a_manual_dial_outside_calling_hours_is_refused(redis_client: aioredis.Redis) -> None:
    clock = SetClock(local(2026, 11, 18, 22, 30))
    config = campaigns(campaign())
    async with rig(redis_client, config, sim_config(), clock=clock, engine_ticks=False) as r:
        await r.agent("1001")
        outcome = await r.dialer.manual_dial("1001", "c1", number(5))
        assert outcome.status is DialStatus.OUTSIDE_HOURS
        assert outcome.not_before == local(2026, 11, 19, 8, 0)
        assert r.sim.originated_numbers() == []


async def test_the_per_number_cap_counts_attempts_of_every_campaign(redis_client: aioredis.Redis) -> None:
    caps = {"max_attempts_per_number": 2, "cap_window": "24h", "retry_after": {"busy": "1s"}}
    config = campaigns(campaign("c1", caps=caps), campaign("c2", caps=caps))
    async with rig(redis_client, config, sim_config(customers=BUSY)) as r:
        await r.load_leads([lead(1)], campaign_id="c1")
        await r.load_leads([lead(2, phone=number(1))], campaign_id="c2")  # the same person, another campaign
        await r.agent("1001")
        await r.start("c1")

        await r.until(lambda: r.dialed().count(number(1)) == 2, timeout=20)
        await r.until(lambda: r.sample("switchboard_dial_refused_total", campaign="c1", reason="capped") >= 1)
        await r.start("c2")
        await r.until(lambda: r.sample("switchboard_dial_refused_total", campaign="c2", reason="capped") >= 1)

        assert r.dialed() == [number(1), number(1)]
        attempts = await r.dialer.attempts.number_attempts(number(1))
        assert {a.campaign for a in attempts} == {"c1"} and len(attempts) == 2
        held = await r.stores.leads.get("L2")
        assert held.status == "queued"
        assert held.next_attempt_at == min(a.at for a in attempts) + timedelta(hours=24)


async def test_a_second_dial_of_a_number_already_on_a_call_is_refused(redis_client: aioredis.Redis) -> None:
    config = campaigns(campaign())
    async with rig(redis_client, config, sim_config(), engine_ticks=False) as r:
        await r.agent("1001")
        await r.agent("1002")
        first = await r.dialer.manual_dial("1001", "c1", number(9))
        assert first.placed
        second = await r.dialer.pacer.dial_for_agent(
            DialRequest(config.campaigns[0], DialKind.MANUAL, numbers=(number(9),)), "1002", r.now()
        )
        assert second.status is DialStatus.NUMBER_BUSY
        assert r.dialed() == [number(9)]
