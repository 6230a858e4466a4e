"""A lead's attempts kept in its own hash (issue 15 figure 7): what its holder's dials write there
instead of the `dial:lead` ZSET still counts at once, settles with its result and dial time, is
undone by a cancelled dial, and reads together with what older versions left in the ZSET (a user
upgrading keeps every lead's attempt count and retry). Real Redis.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from dialer.calls.attempts import AttemptRecord, AttemptStore
from dialer.calls.intents import Intent, IntentStore, LeadStep
from dialer.compliance.caps import CallResult
from dialer.dialer_keys import DialKeys, LeadKeys
from dialer.leads.store import LeadStore
from tests.support.dialer_harness import lead, number

T0 = datetime(2026, 11, 18, 11, 0, tzinfo=UTC)
HOLD = timedelta(hours=2)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def intent(call_id: str, at: datetime, holder: str = "e1") -> Intent:
    return Intent(call_id, "a-1", number(1), "c1", "campaign", ms(at), "e1", "L1", holder or None, "1001")


async def claimed(redis: aioredis.Redis) -> LeadStore:
    leads = LeadStore(redis, default_region="HU")
    await leads.upsert_many([lead(1)], now=T0, actor="crm", campaign_id="c1")
    assert await leads.claim("c1", "e1", now=T0) is not None
    return leads


def seen(records: Sequence[AttemptRecord]) -> list[tuple[str, CallResult | None, datetime]]:
    return [(r.call_id, r.result, r.at) for r in records]


async def test_a_holders_dial_keeps_the_leads_attempt_in_its_hash_counted_at_once_and_settled_there(
    redis_client: aioredis.Redis,
) -> None:
    leads, attempts, intents = (
        await claimed(redis_client),
        AttemptStore(redis_client),
        IntentStore(redis_client),
    )
    assert await intents.open(intent("sbo-1", T0), at=T0, hold=HOLD) is None

    assert not await redis_client.exists(DialKeys().lead_attempts("L1")), "no ZSET written"
    assert seen(await attempts.lead_attempts("L1")) == [("sbo-1", None, T0)], "pending counts at once"
    held = await leads.get("L1")
    assert held.status == "dialing" and held.attempt_log
    assert seen(await attempts.lead_attempts("L1", logged=held.attempt_log)) == [("sbo-1", None, T0)]
    assert "attempt_log" not in held.as_dict(), "not part of the lead's view"

    later = T0 + timedelta(seconds=40)
    step = LeadStep("release", "e1", next_attempt_at=later + timedelta(minutes=30))
    assert await intents.settle(intent("sbo-1", T0), result="busy", counts={}, step=step, at=later)
    assert seen(await attempts.lead_attempts("L1")) == [("sbo-1", CallResult.BUSY, T0)], "at the dial's time"
    assert seen(await attempts.number_attempts(number(1))) == [("sbo-1", CallResult.BUSY, T0)]
    assert (await leads.get("L1")).status == "queued"


async def test_a_cancelled_dial_takes_its_attempt_out_of_the_leads_hash(redis_client: aioredis.Redis) -> None:
    leads, attempts, intents = (
        await claimed(redis_client),
        AttemptStore(redis_client),
        IntentStore(redis_client),
    )
    assert await intents.open(intent("sbo-1", T0), at=T0, hold=HOLD) is None
    assert await intents.cancel(intent("sbo-1", T0), at=T0, detail="refused")
    assert await attempts.lead_attempts("L1") == []
    back = await leads.get("L1")
    assert (back.status, back.attempts) == ("claimed", 0)


async def test_a_settlement_whose_lead_has_a_new_holder_still_records_the_attempts_result(
    redis_client: aioredis.Redis,
) -> None:
    """A call longer than the claim's lease: the lead went back and another engine holds it now."""
    leads, attempts, intents = (
        await claimed(redis_client),
        AttemptStore(redis_client),
        IntentStore(redis_client),
    )
    assert await intents.open(intent("sbo-1", T0), at=T0, hold=HOLD) is None
    await redis_client.hset(LeadKeys().lead("L1"), mapping={"status": "claimed", "claimed_by": "e2"})

    later = T0 + timedelta(minutes=20)
    step = LeadStep("release", "e1", next_attempt_at=later + timedelta(minutes=30))
    assert await intents.settle(intent("sbo-1", T0), result="no_answer", counts={}, step=step, at=later)
    assert seen(await attempts.lead_attempts("L1")) == [("sbo-1", CallResult.NO_ANSWER, T0)]
    assert (await leads.get("L1")).claimed_by == "e2", "the new holder keeps the lead"


async def test_attempts_an_older_version_stored_in_the_zset_still_count_and_its_intents_settle_there(
    redis_client: aioredis.Redis,
) -> None:
    leads, attempts, intents = (
        await claimed(redis_client),
        AttemptStore(redis_client),
        IntentStore(redis_client),
    )
    # what an older version left: a settled attempt and an intent in flight, both in the ZSETs,
    # the intent's record without `attempt_ms` / `lead_log`, the lead hash without a log
    earlier = T0 - timedelta(hours=3)
    await attempts.record(
        call_id="old-1", number=number(1), campaign="c1", lead_id="L1", at=earlier, kind="campaign"
    )
    await attempts.settle(
        call_id="old-1", number=number(1), campaign="c1", lead_id="L1", result=CallResult.BUSY, at=earlier
    )
    assert await intents.open(intent("old-2", T0), at=T0, hold=HOLD) is None
    call, lead_key = DialKeys().call("old-2"), LeadKeys().lead("L1")
    await redis_client.hdel(call, "attempt_ms", "lead_log")
    await redis_client.hdel(lead_key, "dial_attempts")
    await redis_client.zadd(DialKeys().lead_attempts("L1"), {"old-2|pending|c1": ms(T0)})

    assert seen(await attempts.lead_attempts("L1")) == [
        ("old-1", CallResult.BUSY, earlier),
        ("old-2", None, T0),
    ]
    later = T0 + timedelta(seconds=30)
    step = LeadStep("release", "e1", next_attempt_at=later + timedelta(minutes=30))
    assert await intents.settle(intent("old-2", T0), result="busy", counts={}, step=step, at=later)
    both = [("old-1", CallResult.BUSY, earlier), ("old-2", CallResult.BUSY, T0)]
    assert seen(await attempts.lead_attempts("L1")) == both

    # the next dial (by this version) adds its attempt to the lead's hash: all three count
    assert await leads.claim("c1", "e1", now=later + timedelta(hours=1)) is not None
    again = later + timedelta(hours=1)
    assert await intents.open(intent("sbo-3", again), at=again, hold=HOLD) is None
    assert seen(await attempts.lead_attempts("L1")) == [*both, ("sbo-3", None, again)]
    logged = (await leads.get("L1")).attempt_log
    assert seen(await attempts.lead_attempts("L1", logged=logged)) == [*both, ("sbo-3", None, again)]
