"""The dialer's Redis records: attempts per number and lead, dial locks, campaign counters, states, leader."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from dialer.calls.attempts import STAT_ABANDONS, STAT_ANSWERS, STAT_MACHINES, AttemptStore, lead_history
from dialer.compliance.caps import CallResult, CapReason, CapsPolicy, lead_retry, number_block
from dialer.dialer_keys import DialerKeys, DialKeys
from dialer.loop.campaign_control import CampaignControl, CampaignState, LeaderLease

T0 = datetime(2026, 11, 18, 11, 0, tzinfo=UTC)
NUMBER = "+36301234567"


async def test_attempts_are_shared_by_every_campaign_and_settled_in_place(
    redis_client: aioredis.Redis,
) -> None:
    store = AttemptStore(redis_client)
    await store.record(call_id="a1", number=NUMBER, campaign="c1", lead_id="L1", at=T0, kind="campaign")
    await store.record(
        call_id="a2", number=NUMBER, campaign="c2", lead_id="L2", at=T0 + timedelta(hours=1), kind="campaign"
    )
    pending = await store.number_attempts(NUMBER)
    assert [(r.call_id, r.campaign, r.result) for r in pending] == [("a1", "c1", None), ("a2", "c2", None)]
    assert pending[0].attempt().result is CallResult.FAILED, "an outcome that never came reads as failed"

    await store.settle(
        call_id="a1", number=NUMBER, campaign="c1", lead_id="L1", result=CallResult.BUSY, at=T0
    )
    await store.settle(
        call_id="a2", number=NUMBER, campaign="c2", lead_id="L2", result=CallResult.ABANDONED, at=T0
    )
    settled = await store.number_attempts(NUMBER)
    assert [(r.call_id, r.result, r.at) for r in settled] == [
        ("a1", CallResult.BUSY, T0),
        ("a2", CallResult.ABANDONED, T0 + timedelta(hours=1)),  # the attempt keeps its dial time
    ]
    held = number_block([r.attempt() for r in settled], CapsPolicy(), T0 + timedelta(hours=2))
    assert held.reason is CapReason.QUARANTINE
    assert held.next_attempt_at == T0 + timedelta(hours=73)
    assert [r.call_id for r in await store.lead_attempts("L2")] == ["a2"]


async def test_a_lost_record_is_added_when_the_outcome_comes(redis_client: aioredis.Redis) -> None:
    store = AttemptStore(redis_client)
    await store.settle(
        call_id="x", number=NUMBER, campaign="c1", lead_id=None, result=CallResult.NO_ANSWER, at=T0
    )
    assert [(r.call_id, r.result) for r in await store.number_attempts(NUMBER)] == [
        ("x", CallResult.NO_ANSWER)
    ]


async def test_old_attempts_are_trimmed_and_the_audit_trail_has_every_step(
    redis_client: aioredis.Redis,
) -> None:
    store = AttemptStore(redis_client, retention=timedelta(days=2))
    await store.record(call_id="old", number=NUMBER, campaign="c1", lead_id=None, at=T0, kind="manual")
    await store.record(
        call_id="new", number=NUMBER, campaign="c1", lead_id=None, at=T0 + timedelta(days=3), kind="manual",
        agent_id="1001",
    )  # fmt: skip
    assert [r.call_id for r in await store.number_attempts(NUMBER)] == ["new"]
    entries = await redis_client.xrange(DialKeys().audit_attempts)
    assert [fields[b"call"] for _, fields in entries] == [b"old", b"new"]
    assert entries[1][1][b"agent"] == b"1001" and entries[1][1][b"kind"] == b"manual"


async def test_lead_history_puts_the_last_disposition_on_the_last_attempt(
    redis_client: aioredis.Redis,
) -> None:
    store = AttemptStore(redis_client)
    for index in range(2):
        at = T0 + timedelta(hours=index)
        await store.record(
            call_id=f"c{index}", number=NUMBER, campaign="c1", lead_id="L1", at=at, kind="campaign"
        )
        await store.settle(
            call_id=f"c{index}", number=NUMBER, campaign="c1", lead_id="L1", result=CallResult.ANSWERED, at=at
        )
    history = lead_history(await store.lead_attempts("L1"), "call_back_later")
    assert [a.disposition for a in history] == [None, "call_back_later"]
    policy = CapsPolicy(retry_after_disposition={"call_back_later": timedelta(days=1)})
    decision = lead_retry(history, policy, T0 + timedelta(hours=2))
    assert decision.next_attempt_at == T0 + timedelta(hours=1, days=1)


async def test_one_dial_at_a_time_per_number(redis_client: aioredis.Redis) -> None:
    store = AttemptStore(redis_client)
    token = await store.lock_number(NUMBER)
    assert token is not None
    assert await store.lock_number(NUMBER) is None
    assert await store.hold_number(NUMBER, token, ttl=timedelta(hours=2))
    assert await redis_client.pttl(DialKeys().dial_lock(NUMBER)) > 3_600_000
    await store.unlock_number(NUMBER, "someone-else")
    assert await store.lock_number(NUMBER) is None, "only the holder releases it"
    await store.unlock_number(NUMBER, token)
    assert await store.lock_number(NUMBER) is not None


async def test_the_dial_lock_comes_with_the_numbers_history_read_under_it(
    redis_client: aioredis.Redis,
) -> None:
    store = AttemptStore(redis_client)
    await store.record(call_id="a1", number=NUMBER, campaign="c1", lead_id=None, at=T0, kind="campaign")
    locked = await store.lock_and_read(NUMBER)
    assert locked is not None
    token, history = locked
    assert [(r.call_id, r.result) for r in history] == [("a1", None)]
    assert await redis_client.pttl(DialKeys().dial_lock(NUMBER)) > 0, "locked with a TTL (a dead engine)"
    assert await store.lock_and_read(NUMBER) is None, "the number is being dialed"
    assert await store.lock_number(NUMBER) is None
    await store.unlock_number(NUMBER, token)
    assert await store.lock_and_read(NUMBER) is not None


async def test_campaign_counters_give_the_abandon_rates_and_drop_old_hours(
    redis_client: aioredis.Redis,
) -> None:
    store = AttemptStore(redis_client)
    now = T0
    await store.count("c1", now - timedelta(days=31), {STAT_ANSWERS: 5, STAT_ABANDONS: 5})  # too old
    await store.count("c1", now - timedelta(days=10), {STAT_ANSWERS: 90, STAT_ABANDONS: 2})
    await store.count(
        "c1", now - timedelta(minutes=30), {STAT_ANSWERS: 10, STAT_ABANDONS: 1, STAT_MACHINES: 3}
    )
    for index in range(4):
        number = f"+3630123450{index}"
        await store.record(
            call_id=f"d{index}", number=number, campaign="c1", lead_id=None, at=now, kind="campaign"
        )
    counts = await store.counts("c1", now)
    window = counts.window.counts(now)
    assert (window.answers_24h, window.abandons_24h) == (10, 1)
    assert (window.answers_30d, window.abandons_30d) == (100, 3)
    assert (counts.recent_dials, counts.recent_answers, counts.dials_24h, counts.machines_24h) == (
        4,
        10,
        4,
        3,
    )
    fields = await redis_client.hkeys(DialKeys().stats("c1"))
    assert len(fields) == 6, "the hour older than 30 days was dropped"


async def test_campaign_states_default_to_stopped_and_are_audited(redis_client: aioredis.Redis) -> None:
    control = CampaignControl(redis_client)
    assert (await control.status("c1")).state is CampaignState.STOPPED
    await control.set_state("c1", CampaignState.RUNNING, actor="sue", now=T0)
    await control.set_state("c1", CampaignState.PAUSED, actor="sue", now=T0, reason="lunch")
    states = await control.states()
    assert states["c1"].state is CampaignState.PAUSED and states["c1"].reason == "lunch"
    audit = await redis_client.xrange(DialKeys().audit_campaigns)
    assert [(f[b"action"], f[b"previous"]) for _, f in audit] == [
        (b"running", b"stopped"),
        (b"paused", b"running"),
    ]


async def test_one_leader_at_a_time_and_a_new_one_when_its_lease_runs_out(
    redis_client: aioredis.Redis,
) -> None:
    keys = DialerKeys(prefix="t:")
    first = LeaderLease(redis_client, "engine-1", keys=keys, ttl_ms=200)
    second = LeaderLease(redis_client, "engine-2", keys=keys, ttl_ms=200)
    assert await first.hold() and not await second.hold()
    assert await first.hold(), "renewing"
    assert await first.holder() == "engine-1"
    assert 0 < await redis_client.pttl(first.key) <= 200, "a lease, not a lock held for ever"
    await redis_client.delete(first.key)  # engine-1 stopped renewing: its lease ran out
    assert await second.hold()
    assert not await first.hold()
    await second.resign()
    assert await first.hold()
