"""A dial's Redis writes, made with fewer commands (issue 15 figure 7), still leave every record right.

The write-ahead intent trims an attempt history only when the caps' read of it found entries past
the retention; the settlement replaces the pending attempt where the intent recorded it, and an
intent an older engine wrote (without that record) still settles right; a claim hands the lead's
hash over with it, and a new follow-up task comes back as stored. Real Redis.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from dialer.audit import text
from dialer.calls.attempts import AttemptStore
from dialer.calls.intents import LOCK_LOST, Intent, IntentStore, LeadStep
from dialer.compliance.caps import CallResult
from dialer.dialer_keys import DialKeys
from dialer.leads.store import LeadStore
from dialer.tasks.rules import DEFAULT_TASK_RULES
from dialer.tasks.store import TaskStore
from dialer.tasks.task_metrics import TaskMetrics
from tests.support.dialer_harness import lead, number

T0 = datetime(2026, 11, 18, 11, 0, tzinfo=UTC)
HOLD = timedelta(hours=2)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def claimed(redis: aioredis.Redis, index: int = 1) -> LeadStore:
    leads = LeadStore(redis, default_region="HU")
    await leads.upsert_many([lead(index)], now=T0, actor="crm", campaign_id="c1")
    assert await leads.claim("c1", "e1", now=T0) is not None
    return leads


def intent(call_id: str, at: datetime, index: int = 1) -> Intent:
    return Intent(call_id, "a-1", number(index), "c1", "campaign", ms(at), "e1", f"L{index}", "e1", "1001")


async def test_a_dial_drops_history_past_the_retention_only_where_the_caps_found_some(
    redis_client: aioredis.Redis,
) -> None:
    attempts, intents = AttemptStore(redis_client), IntentStore(redis_client, retention=timedelta(days=2))
    await attempts.record(
        call_id="old", number=number(1), campaign="c1", lead_id="L1", at=T0, kind="campaign"
    )
    await claimed(redis_client)
    later = T0 + timedelta(days=3)

    # the caps' read saw the number's old entry but (wrongly, for the test) not the lead's
    assert await intents.open(intent("sbo-1", later), at=later, hold=HOLD, stale=(True, False)) is None
    assert [r.call_id for r in await attempts.number_attempts(number(1))] == ["sbo-1"]
    assert [r.call_id for r in await attempts.lead_attempts("L1")] == ["old", "sbo-1"], "not read: kept"

    # a write whose caps' read is unknown trims every history it touches
    assert await intents.cancel(intent("sbo-1", later), at=later, detail="test")
    assert await intents.open(intent("sbo-2", later), at=later, hold=HOLD) is None
    assert [r.call_id for r in await attempts.lead_attempts("L1")] == ["sbo-2"]
    key = DialKeys().number_attempts(number(1))
    assert await redis_client.pttl(key) > timedelta(days=1).total_seconds() * 1000, "kept alive by the write"


async def test_a_settlement_keeps_the_dial_time_and_settles_an_older_engines_intent_too(
    redis_client: aioredis.Redis,
) -> None:
    leads, attempts, intents = (
        await claimed(redis_client),
        AttemptStore(redis_client),
        IntentStore(redis_client),
    )
    await leads.upsert_many([lead(2)], now=T0, actor="crm", campaign_id="c1")
    assert await leads.claim("c1", "e1", now=T0) is not None
    dialed = T0 + timedelta(minutes=1)
    for call_id, index in (("sbo-new", 1), ("sbo-old", 2)):
        assert await intents.open(intent(call_id, dialed, index), at=dialed, hold=HOLD) is None
    # an intent as engines before `attempt_ms` wrote it: its pending attempt is found by call id
    await redis_client.hdel(DialKeys().call("sbo-old"), "attempt_ms")

    settled_at = dialed + timedelta(seconds=40)
    for call_id, index in (("sbo-new", 1), ("sbo-old", 2)):
        step = LeadStep("release", "e1", next_attempt_at=settled_at + timedelta(minutes=30))
        call = intent(call_id, dialed, index)
        assert await intents.settle(call, result="busy", counts={}, step=step, at=settled_at)
        assert not await intents.settle(call, result="busy", counts={}, step=step, at=settled_at), "once"
        for records in (
            await attempts.number_attempts(number(index)),
            await attempts.lead_attempts(f"L{index}"),
        ):
            assert [(r.call_id, r.result, r.at) for r in records] == [(call_id, CallResult.BUSY, dialed)]
        found = await leads.get(f"L{index}")
        assert (found.status, found.claimed_by, found.attempts) == ("queued", None, 1)
    retry = await redis_client.zrange(f"{DialKeys().prefix}leads:retry:c1", 0, -1, withscores=True)
    assert [(text(i), int(score)) for i, score in retry] == [
        (f"L{i}", ms(settled_at + timedelta(minutes=30))) for i in (1, 2)
    ]


async def test_a_claim_returns_the_lead_as_stored(redis_client: aioredis.Redis) -> None:
    leads = LeadStore(redis_client, default_region="HU")
    await leads.upsert_many([lead(1), lead(2)], now=T0, actor="crm", campaign_id="c1")
    got = await leads.claim_many("c1", "e1", 2, now=T0)
    assert [g.lead_id for g in got] == ["L1", "L2"]
    assert got == [await leads.get("L1"), await leads.get("L2")]
    assert got[0].status == "claimed" and got[0].claimed_by == "e1"


async def test_a_new_follow_up_task_is_returned_as_stored(redis_client: aioredis.Redis) -> None:
    leads = LeadStore(redis_client, default_region="HU")
    await leads.upsert_many([lead(1)], now=T0, actor="crm", campaign_id="c1")
    metrics = TaskMetrics(CollectorRegistry())
    tasks = TaskStore(
        redis_client, leads=leads, rules=DEFAULT_TASK_RULES, cc_zone="Europe/Budapest", metrics=metrics
    )
    created = await tasks.record_result(result="busy", now=T0, lead_id="L1", campaign_id="c1", owner="1001",
                                        call_id="sbo-1")  # fmt: skip
    assert created is not None and created == await tasks.get(created.task_id)
    again = await tasks.record_result(result="busy", now=T0, lead_id="L1", campaign_id="c1", owner="1001",
                                      call_id="sbo-1")  # fmt: skip
    assert again is not None and again.task_id == created.task_id, "one task per call"


async def test_the_intent_holds_the_numbers_lock_for_the_call_and_writes_nothing_once_it_is_lost(
    redis_client: aioredis.Redis,
) -> None:
    attempts, intents = AttemptStore(redis_client), IntentStore(redis_client)
    leads = await claimed(redis_client)
    lock = DialKeys().dial_lock(number(1))
    token = await attempts.lock_number(number(1))
    assert token is not None
    ours = replace(intent("sbo-1", T0), lock_token=token)
    assert await intents.open(ours, at=T0, hold=HOLD) is None
    assert text(await redis_client.get(lock)) == token
    assert await redis_client.pttl(lock) > timedelta(hours=1).total_seconds() * 1000, "held for the call"
    assert await intents.cancel(ours, at=T0, detail="test")
    before = {key: await redis_client.dump(key) for key in await redis_client.keys("*")}

    # our lock ran out and another dialer took the number meanwhile: nothing is written, theirs stays
    await redis_client.set(lock, "theirs", px=15_000)
    assert await intents.open(replace(ours, call_id="sbo-2"), at=T0, hold=HOLD) == LOCK_LOST
    assert text(await redis_client.get(lock)) == "theirs"
    assert 0 < await redis_client.pttl(lock) <= 15_000, "their lock keeps its own expiry"
    await attempts.unlock_number(number(1), "theirs")
    assert await redis_client.get(lock) is None, "they release it as before"
    # ... and when it ran out with nobody taking it, the call is not placed without a lock either
    assert await intents.open(replace(ours, call_id="sbo-3"), at=T0, hold=HOLD) == LOCK_LOST
    assert await redis_client.get(lock) is None
    after = {key: await redis_client.dump(key) for key in await redis_client.keys("*")}
    assert after == {k: v for k, v in before.items() if k != lock.encode()}, "nothing written"
    assert (await leads.get("L1")).status == "claimed", "the lead is its holder's to give back"
