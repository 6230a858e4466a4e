"""A lead's attempts kept in its own hash (issue 15 figure 7): what its holder's dials write there
instead of the `dial:lead` ZSET still counts at once, settles with its result and dial time, is
undone by a cancelled dial, and reads together with what older versions left in the ZSET (a user
upgrading keeps every lead's attempt count and retry). The ZSET is read only for a lead whose hash
says it may hold attempts (`dial_zset`): every write of it says so, and a start-up pass marks the
leads whose ZSET an older version wrote. Real Redis.
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
from pbx.sim import CustomerProfile
from tests.support.dialer_harness import campaign, campaigns, lead, number, rig, sim_config

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


async def test_every_write_of_a_leads_zset_marks_the_lead_so_the_caps_read_it(
    redis_client: aioredis.Redis,
) -> None:
    """The caps read the `dial:lead` ZSET only when the lead's hash has `dial_zset`: a holder's dial
    writes no ZSET and sets nothing; a callback's dial (the lead not held), its settlement, an older
    intent's settlement and the tools' `record` each write the ZSET and mark the lead."""
    leads, attempts = await claimed(redis_client), AttemptStore(redis_client)
    intents = IntentStore(redis_client)
    lead_key, zset = LeadKeys().lead("L1"), DialKeys().lead_attempts("L1")
    assert await intents.open(intent("sbo-1", T0), at=T0, hold=HOLD) is None
    held = await leads.get("L1")
    assert not held.attempt_zset and not await redis_client.exists(zset), "no ZSET, nothing to read"
    logged = held.attempt_log
    assert seen(await attempts.lead_attempts("L1", logged=logged, zset=False)) == [("sbo-1", None, T0)]
    step = LeadStep("release", "e1", next_attempt_at=T0 + timedelta(hours=1))
    assert await intents.settle(intent("sbo-1", T0), result="busy", counts={}, step=step, at=T0)
    assert not (await leads.get("L1")).attempt_zset

    later = T0 + timedelta(minutes=5)  # a callback dials the lead without holding it
    assert await intents.open(intent("cb-2", later, holder=""), at=later, hold=HOLD) is None
    marked = await leads.get("L1")
    assert marked.attempt_zset and await redis_client.exists(zset)
    both = [("sbo-1", CallResult.BUSY, T0), ("cb-2", None, later)]
    read = await attempts.lead_attempts("L1", logged=marked.attempt_log, zset=marked.attempt_zset)
    assert seen(read) == both

    await redis_client.hdel(lead_key, "dial_zset")  # what an older version's settlement found
    callback = intent("cb-2", later, holder="")
    assert await intents.settle(callback, result="busy", counts={}, step=None, at=later)
    assert (await leads.get("L1")).attempt_zset, "the settlement wrote the ZSET: marked"

    await redis_client.hdel(lead_key, "dial_zset")
    await attempts.record(call_id="t-3", number=number(1), campaign="c1", lead_id="L1", at=later, kind="tool")
    assert (await leads.get("L1")).attempt_zset, "the tools' record marks it too"
    await attempts.record(call_id="t-4", number=number(1), campaign="c1", lead_id="L9", at=later, kind="tool")
    assert not await redis_client.exists(LeadKeys().lead("L9")), "no lead hash made for an unknown lead"


async def test_a_start_up_pass_marks_the_leads_whose_zset_an_older_version_wrote(
    redis_client: aioredis.Redis,
) -> None:
    """An older version wrote the ZSET without marking the lead: one attempt of the lead's one allowed.
    Until the start-up pass (`mark_lead_zsets`, in the background of `switchboard run`) is done,
    every ZSET is read; the pass marks the lead, so the caps keep counting that attempt and the lead
    is not dialed again; without the pass it would be (the ZSET unread). Leads without a hash are
    not made, and a second pass changes nothing."""
    config = campaigns(campaign(caps={"max_attempts_per_lead": 1}))
    busy = CustomerProfile(answer=0, busy=1, noanswer=0, congestion=0, machine=0, reject=0)
    sim = sim_config(customers=busy)
    async with rig(redis_client, config, sim, clock=T0.timestamp, engine_ticks=False) as r:
        await r.stores.leads.upsert_many([lead(1), lead(2)], now=T0, actor="crm", campaign_id="c1")
        earlier = ms(T0 - timedelta(days=2))
        await redis_client.zadd(DialKeys().lead_attempts("L1"), {"old-1|no_answer|c1": earlier})
        await redis_client.zadd(DialKeys().lead_attempts("gone"), {"old-2|busy|c1": earlier})
        assert not (await r.stores.leads.get("L1")).attempt_zset
        unmarked = await r.dialer.attempts.lead_attempts("L1", logged="", zset=False)
        assert [a[0] for a in seen(unmarked)] == ["old-1"], "until the pass is done, every ZSET is read"

        assert await r.dialer.attempts.mark_lead_zsets() == 2
        assert await r.dialer.attempts.mark_lead_zsets() == 2, "idempotent"
        assert (await r.stores.leads.get("L1")).attempt_zset
        skipped = await r.dialer.attempts.lead_attempts("L1", logged="", zset=False)
        assert skipped == [], "once it is done, a lead without the marker has no ZSET read"
        assert not (await r.stores.leads.get("L2")).attempt_zset, "no ZSET: not marked"
        assert not await redis_client.exists(LeadKeys().lead("gone")), "no hash made for it"

        await r.agent("1001")
        await r.start()
        assert await r.dialer.run_once()
        await r.until(lambda: len(r.dialed()) >= 1, timeout=10)
        assert r.dialed() == [number(2)], "L1 used its one attempt under the older version"
