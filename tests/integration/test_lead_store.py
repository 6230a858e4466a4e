"""Lead store on a real Redis: idempotent upsert, atomic claims (also across two clients), requeue, offers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from dialer.leads.store import LeadNotClaimedError, LeadStore, OfferRefusedError
from dialer.stores import DialerStores
from switchboard.private_redis import PrivateRedis

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def lead(n: int, **extra: Any) -> dict[str, Any]:
    return {"lead_id": f"L{n}", "customer_id": f"C{n}", "phones": [f"06 30 {n:03d} {n:04d}"], **extra}


@pytest.fixture
def stores(redis_client: aioredis.Redis) -> DialerStores:
    return DialerStores.build(redis_client, default_region="HU", registry=CollectorRegistry())


@pytest.fixture
def leads(stores: DialerStores) -> LeadStore:
    return stores.leads


async def test_upsert_normalizes_numbers_keeps_originals_and_crm_flags(leads: LeadStore) -> None:
    item = lead(1, name="Kiss Anna", email="anna@example.hu", crm={"do_not_call": False, "segment": "B"})
    item["phones"] = ["06 30 123 4567", "+36301234567", "0036-1-234-5678"]
    report = await leads.upsert_many([item], now=T0, actor="crm", campaign_id="spring")
    assert (report.created, report.updated, report.unchanged, report.errors) == (1, 0, 0, [])
    stored = await leads.get("L1")
    assert stored.phones == ("+36301234567", "+3612345678")
    assert stored.phones_raw == ("06 30 123 4567", "+36301234567", "0036-1-234-5678")
    assert stored.crm == {"do_not_call": False, "segment": "B"}
    assert (stored.status, stored.campaign_id, stored.attempts) == ("queued", "spring", 0)


async def test_bulk_upsert_is_idempotent_by_lead_id(leads: LeadStore) -> None:
    batch = [lead(n, campaign_id="c1") for n in range(1, 6)]
    first = await leads.upsert_many(batch, now=T0, actor="crm")
    again = await leads.upsert_many(batch, now=T0 + timedelta(hours=1), actor="crm")
    assert (first.created, again.created, again.updated, again.unchanged) == (5, 0, 0, 5)
    assert (await leads.queue_sizes("c1"))["ready"] == 5
    changed = [lead(3, campaign_id="c1", name="New Name")]
    report = await leads.upsert_many(changed, now=T0 + timedelta(hours=2), actor="crm")
    assert (report.updated, report.created) == (1, 0)
    assert (await leads.get("L3")).name == "New Name"
    assert (await leads.queue_sizes("c1"))["ready"] == 5


async def test_invalid_leads_are_reported_by_index_and_the_rest_stored(leads: LeadStore) -> None:
    batch = [
        lead(1),
        {"lead_id": "L2", "phones": ["06301112222"]},
        lead(3, phones=["12"]),
        lead(4, colour="red"),
        lead(5),
    ]
    report = await leads.upsert_many(batch, now=T0, actor="crm", campaign_id="c1")
    assert report.created == 2
    errors = {problem.index: (problem.lead_id, problem.message) for problem in report.errors}
    assert set(errors) == {1, 2, 3}
    assert errors[1] == ("L2", "customer_id: is required")
    assert errors[2][0] == "L3" and errors[2][1].startswith("phones[0]: not a possible phone number: '12'")
    assert errors[3] == ("L4", "colour 'red': is not a lead field")
    assert await leads.find("L2") is None


async def test_claims_follow_priority_then_age(leads: LeadStore) -> None:
    batch = [lead(1), lead(2, priority=5), lead(3), lead(4, priority=5), lead(5, priority=9)]
    await leads.upsert_many(batch, now=T0, actor="crm", campaign_id="c1")
    order = []
    while (claimed := await leads.claim("c1", "engine-a", now=T0)) is not None:
        order.append(claimed.lead_id)
        assert claimed.status == "claimed" and claimed.claimed_by == "engine-a"
    assert order == ["L5", "L2", "L4", "L1", "L3"]


async def test_priority_change_moves_a_queued_lead(leads: LeadStore) -> None:
    await leads.upsert_many([lead(1), lead(2)], now=T0, actor="crm", campaign_id="c1")
    await leads.upsert_many([lead(2, priority=3)], now=T0, actor="crm", campaign_id="c1")
    first = await leads.claim("c1", "e", now=T0)
    assert first is not None and first.lead_id == "L2"


async def _drain(store: LeadStore, owner: str) -> list[str]:
    got = []
    while (claimed := await store.claim("race", owner, now=T0)) is not None:
        got.append(claimed.lead_id)
    return got


async def test_concurrent_claims_from_two_engines_never_share_a_lead(
    redis_server: PrivateRedis, leads: LeadStore
) -> None:
    await leads.upsert_many([lead(n) for n in range(300)], now=T0, actor="crm", campaign_id="race")
    engine_a = aioredis.Redis.from_url(redis_server.url)
    engine_b = aioredis.Redis.from_url(redis_server.url)
    try:
        store_a = LeadStore(engine_a, default_region="HU")
        store_b = LeadStore(engine_b, default_region="HU")
        tasks = [_drain(store_a, f"a{i}") for i in range(12)] + [_drain(store_b, f"b{i}") for i in range(12)]
        results = await asyncio.gather(*tasks)
    finally:
        await engine_a.aclose()
        await engine_b.aclose()
    claimed = [lead_id for result in results for lead_id in result]
    assert len(claimed) == 300
    assert len(set(claimed)) == 300
    assert sum(1 for result in results[:12] for _ in result) > 0
    assert sum(1 for result in results[12:] for _ in result) > 0


async def test_claim_many_takes_distinct_leads(leads: LeadStore) -> None:
    await leads.upsert_many([lead(n) for n in range(10)], now=T0, actor="crm", campaign_id="c1")
    first = await leads.claim_many("c1", "e1", 4, now=T0)
    second = await leads.claim_many("c1", "e2", 10, now=T0)
    assert len(first) == 4 and len(second) == 6
    assert not {x.lead_id for x in first} & {x.lead_id for x in second}


async def test_release_with_next_attempt_waits_until_then(leads: LeadStore) -> None:
    await leads.upsert_many([lead(1)], now=T0, actor="crm", campaign_id="c1")
    claimed = await leads.claim("c1", "e1", now=T0)
    assert claimed is not None
    await leads.mark_dialing("L1", "e1", now=T0)
    later = T0 + timedelta(minutes=30)
    assert await leads.release("L1", "e1", now=T0, next_attempt_at=later) == "queued"
    assert await leads.claim("c1", "e1", now=T0 + timedelta(minutes=29)) is None
    again = await leads.claim("c1", "e2", now=later)
    assert again is not None and again.attempts == 1 and again.claimed_by == "e2"


async def test_only_the_holder_can_release(leads: LeadStore) -> None:
    await leads.upsert_many([lead(1)], now=T0, actor="crm", campaign_id="c1")
    await leads.claim("c1", "e1", now=T0)
    with pytest.raises(LeadNotClaimedError):
        await leads.release("L1", "e2", now=T0)
    with pytest.raises(LeadNotClaimedError):
        await leads.mark_dialing("L1", "e2", now=T0)
    await leads.finish("L1", "e1", now=T0, reason="sale")
    assert (await leads.get("L1")).status == "done"
    with pytest.raises(LeadNotClaimedError):
        await leads.release("L1", "e1", now=T0)


async def test_expired_claims_of_a_dead_engine_are_requeued(leads: LeadStore) -> None:
    await leads.upsert_many([lead(1), lead(2)], now=T0, actor="crm", campaign_id="c1")
    await leads.claim_many("c1", "dead", 2, now=T0, lease=timedelta(minutes=5))
    assert await leads.requeue_expired(now=T0 + timedelta(minutes=4)) == []
    assert sorted(await leads.requeue_expired(now=T0 + timedelta(minutes=6))) == ["L1", "L2"]
    assert len(await leads.claim_many("c1", "alive", 5, now=T0 + timedelta(minutes=6))) == 2


async def test_resent_finished_leads_stay_finished_unless_reopened(leads: LeadStore) -> None:
    await leads.upsert_many([lead(1), lead(2)], now=T0, actor="crm", campaign_id="c1")
    await leads.close("L1", reason="sale", actor="anna", now=T0)
    changed = [lead(1, name="x"), lead(2, name="y")]
    await leads.upsert_many(changed, now=T0, actor="crm", campaign_id="c1")
    assert (await leads.get("L1")).status == "closed"
    report = await leads.upsert_many(changed, now=T0, actor="crm", campaign_id="c1", reopen=True)
    assert report.updated == 1 and report.unchanged == 1
    reopened = await leads.get("L1")
    assert (reopened.status, reopened.closed_reason) == ("queued", None)


async def test_a_crm_do_not_call_flag_is_copied_to_the_internal_list(stores: DialerStores) -> None:
    batch = [lead(1, crm={"do_not_call": True}), lead(2, crm={"do_not_call": False}), lead(3, crm={})]
    report = await stores.leads.upsert_many(batch, now=T0, actor="crm-sync", campaign_id="c1")
    assert report.numbers_blocked == 1
    verdicts = await stores.gate.check_many(["+36300010001", "+36300020002", "+36300030003"])
    assert [v.blocked for v in verdicts] == [True, False, False]
    entry = await stores.internal.get("+36300010001")
    assert entry is not None and entry.actor == "crm:crm-sync" and "do_not_call" in entry.reason


async def test_preview_offer_goes_to_one_advisor_at_a_time(leads: LeadStore) -> None:
    await leads.upsert_many([lead(1), lead(2)], now=T0, actor="crm", campaign_id="p")
    await leads.claim_many("p", "e1", 2, now=T0)
    await leads.offer("L1", "e1", "anna", now=T0, timeout=timedelta(seconds=30))
    with pytest.raises(OfferRefusedError, match="already-offered"):
        await leads.offer("L1", "e1", "bela", now=T0, timeout=timedelta(seconds=30))
    with pytest.raises(OfferRefusedError, match="advisor-busy"):
        await leads.offer("L2", "e1", "anna", now=T0, timeout=timedelta(seconds=30))
    current = await leads.current_offer("anna", now=T0)
    assert current is not None and current.lead_id == "L1"
    with pytest.raises(OfferRefusedError, match="not-offered"):
        await leads.accept_offer("L1", "bela", now=T0)
    await leads.decline_offer("L1", "anna", now=T0)
    await leads.offer("L1", "e1", "bela", now=T0, timeout=timedelta(seconds=30))
    await leads.offer("L2", "e1", "anna", now=T0, timeout=timedelta(seconds=30))
    assert await leads.expire_offers(now=T0 + timedelta(seconds=29)) == []
    await leads.accept_offer("L1", "bela", now=T0 + timedelta(seconds=29))
    assert (await leads.get("L1")).offer_state == "accepted"
    assert await leads.expire_offers(now=T0 + timedelta(seconds=31)) == ["L2"]
    assert await leads.current_offer("anna", now=T0 + timedelta(seconds=31)) is None
    with pytest.raises(OfferRefusedError, match="not-offered"):
        await leads.accept_offer("L2", "anna", now=T0 + timedelta(seconds=31))


async def test_the_offers_of_many_advisors_are_read_together(
    leads: LeadStore, redis_client: aioredis.Redis
) -> None:
    """What every advisor screen of an engine shows, in one read: each advisor's own live offer,
    none for an expired offer, an offer since made to someone else, a lead deleted since or a
    damaged one (it must not fail the other advisors' screens)."""
    await leads.upsert_many([lead(n) for n in (1, 2, 3, 4)], now=T0, actor="crm", campaign_id="p")
    await leads.claim_many("p", "e1", 4, now=T0)
    await leads.offer("L1", "e1", "anna", now=T0, timeout=timedelta(seconds=30))
    await leads.offer("L2", "e1", "bela", now=T0, timeout=timedelta(seconds=5))
    await leads.offer("L3", "e1", "cili", now=T0, timeout=timedelta(seconds=30))
    await leads.offer("L4", "e1", "dora", now=T0, timeout=timedelta(seconds=30))
    await leads.decline_offer("L3", "cili", now=T0)
    await leads.offer("L3", "e1", "ede", now=T0, timeout=timedelta(seconds=30))
    await redis_client.delete(leads.keys.lead("L4"))  # deleted while offered
    await leads.upsert_many([lead(5)], now=T0, actor="crm", campaign_id="p")
    await leads.claim_many("p", "e1", 1, now=T0)
    await leads.offer("L5", "e1", "fanni", now=T0, timeout=timedelta(seconds=30))
    await redis_client.hdel(leads.keys.lead("L5"), "lead_id")  # a damaged record: one advisor's

    advisors = ["anna", "bela", "cili", "dora", "fanni", "nobody"]
    found = await leads.current_offers(advisors, now=T0 + timedelta(seconds=10))

    assert {a: x.lead_id if x else None for a, x in found.items()} == {
        "anna": "L1", "bela": None, "cili": None, "dora": None, "fanni": None, "nobody": None,
    }  # fmt: skip
    assert await leads.current_offers([], now=T0) == {}
    assert (await leads.current_offer("ede", now=T0)) == (await leads.current_offers(["ede"], now=T0))["ede"]


async def test_offer_needs_the_claim(leads: LeadStore) -> None:
    await leads.upsert_many([lead(1)], now=T0, actor="crm", campaign_id="p")
    with pytest.raises(OfferRefusedError, match="not-claimed"):
        await leads.offer("L1", "e1", "anna", now=T0, timeout=timedelta(seconds=30))


async def test_lead_without_campaign_is_new_and_never_claimed(leads: LeadStore) -> None:
    await leads.upsert_many([lead(1)], now=T0, actor="crm")
    assert (await leads.get("L1")).status == "new"
    await leads.upsert_many([lead(1)], now=T0, actor="crm", campaign_id="c9")
    assert (await leads.get("L1")).status == "queued"
    claimed = await leads.claim("c9", "e", now=T0)
    assert claimed is not None and claimed.lead_id == "L1"
