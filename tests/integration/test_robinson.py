"""Robinson-list requests on a real Redis: validation, decisions, exclusion, blacklisting, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from core.errors import ValidationFailedError
from dialer.audit import AuditTrail
from dialer.leads.robinson import RequestNotFoundError, RequestNotPendingError
from dialer.leads.store import LeadNotClaimedError
from dialer.stores import DialerStores

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
REQUEST = {
    "customer_name": "Kiss Anna",
    "phone": "06 30 123 4567",
    "email": "anna@example.hu",
    "customer_id": "C1",
    "justification": "Registered five times, never reachable; spam lead.",
}


@pytest.fixture
def stores(redis_client: aioredis.Redis) -> DialerStores:
    return DialerStores.build(redis_client, default_region="HU", registry=CollectorRegistry())


async def seed_customer_leads(stores: DialerStores) -> None:
    batch: list[dict[str, Any]] = [
        {"lead_id": "L1", "customer_id": "C1", "phones": ["06 30 123 4567", "06 70 555 0001"]},
        {"lead_id": "L2", "customer_id": "C1", "phones": ["06 20 555 0002"], "priority": 9},
        {"lead_id": "L3", "customer_id": "C2", "phones": ["06 30 999 0003"]},
    ]
    await stores.leads.upsert_many(batch, now=T0, actor="crm", campaign_id="c1")


async def test_a_request_missing_fields_is_refused_naming_all_of_them(stores: DialerStores) -> None:
    incomplete = {"customer_name": "Kiss Anna", "phone": "", "customer_id": "C1", "justification": "  "}
    with pytest.raises(ValidationFailedError) as caught:
        await stores.robinson.file(incomplete, requested_by="anna", now=T0)
    assert caught.value.details["missing"] == ["phone", "email", "justification"]
    assert "missing phone, e-mail, justification" in caught.value.message
    assert await stores.robinson.list_requests() == []


async def test_bad_phone_and_email_are_named_too(stores: DialerStores) -> None:
    bad = REQUEST | {"phone": "12", "email": "anna-at-example"}
    with pytest.raises(ValidationFailedError) as caught:
        await stores.robinson.file(bad, requested_by="anna", now=T0)
    assert set(caught.value.details["invalid"]) == {"phone", "email"}
    assert caught.value.details["missing"] == []


async def test_approval_blacklists_every_known_number_and_excludes_the_customer(stores: DialerStores) -> None:
    await seed_customer_leads(stores)
    filed = await stores.robinson.file(REQUEST, requested_by="anna", now=T0)
    assert (filed.status, filed.phone_e164, filed.requested_by) == ("pending", "+36301234567", "anna")
    approved = await stores.robinson.approve(
        filed.request_id, supervisor="sue", note="agreed", now=T0 + timedelta(hours=1)
    )
    assert (approved.status, approved.decided_by, approved.note) == ("approved", "sue", "agreed")
    numbers = {"+36301234567", "+36705550001", "+36205550002"}
    assert set(approved.numbers) == numbers
    verdicts = await stores.gate.check_many([*sorted(numbers), "+36309990003"])
    assert [v.blocked for v in verdicts] == [True, True, True, False]
    verdict = await stores.gate.check("+36205550002", "c1", "L2", now=T0 + timedelta(hours=2))
    assert not verdict.allowed and verdict.sources == ("internal",)
    entry = await stores.internal.get("+36705550001")
    assert entry is not None and entry.actor == "sue" and filed.request_id in entry.reason
    for lead_id in ("L1", "L2"):
        excluded = await stores.leads.get(lead_id)
        assert (excluded.status, excluded.excluded_by) == ("excluded", filed.request_id)
    claimed = await stores.leads.claim_many("c1", "e1", 10, now=T0 + timedelta(hours=2))
    assert [lead.lead_id for lead in claimed] == ["L3"]


async def test_the_customers_leads_are_never_claimed_again_even_if_resent(stores: DialerStores) -> None:
    await seed_customer_leads(stores)
    claimed = await stores.leads.claim("c1", "e1", now=T0)  # L2 (priority 9) is held by an engine
    assert claimed is not None and claimed.lead_id == "L2"
    filed = await stores.robinson.file(REQUEST, requested_by="anna", now=T0)
    await stores.robinson.approve(filed.request_id, supervisor="sue", now=T0)
    with pytest.raises(LeadNotClaimedError, match="status excluded"):
        await stores.leads.mark_dialing("L2", "e1", now=T0)  # the engine holding it must not dial it
    resent: list[dict[str, Any]] = [
        {"lead_id": "L1", "customer_id": "C1", "phones": ["06 30 123 4567"], "name": "changed"},
        {"lead_id": "L4", "customer_id": "C1", "phones": ["06 30 444 4444"]},
    ]
    report = await stores.leads.upsert_many(resent, now=T0, actor="crm", campaign_id="c1", reopen=True)
    assert report.excluded == 2
    assert (await stores.leads.get("L4")).status == "excluded"
    assert (await stores.gate.check_many(["+36304444444"]))[0].blocked
    claimed_ids = [lead.lead_id for lead in await stores.leads.claim_many("c1", "e2", 10, now=T0)]
    assert claimed_ids == ["L3"]


async def test_rejection_keeps_the_customer_and_leaves_a_note_for_the_advisor(stores: DialerStores) -> None:
    await seed_customer_leads(stores)
    filed = await stores.robinson.file(REQUEST, requested_by="anna", now=T0)
    with pytest.raises(ValidationFailedError, match="needs a note"):
        await stores.robinson.reject(filed.request_id, supervisor="sue", note=" ", now=T0)
    note = "Reachable in the evening; use status handling, not the Robinson list."
    await stores.robinson.reject(filed.request_id, supervisor="sue", note=note, now=T0)
    own = await stores.robinson.list_requests(requested_by="anna")
    assert [(r.request_id, r.status, r.note, r.decided_by) for r in own] == [
        (filed.request_id, "rejected", note, "sue")
    ]
    assert not (await stores.gate.check_many(["+36301234567"]))[0].blocked
    assert len(await stores.leads.claim_many("c1", "e1", 10, now=T0)) == 3
    with pytest.raises(RequestNotPendingError, match="already rejected"):
        await stores.robinson.approve(filed.request_id, supervisor="sue", now=T0)


async def test_every_step_is_audited(stores: DialerStores) -> None:
    await seed_customer_leads(stores)
    first = await stores.robinson.file(REQUEST, requested_by="anna", now=T0)
    second = await stores.robinson.file(REQUEST | {"customer_id": "C2"}, requested_by="bob", now=T0)
    await stores.robinson.approve(
        first.request_id, supervisor="sue", note="ok", now=T0 + timedelta(minutes=5)
    )
    await stores.robinson.reject(
        second.request_id, supervisor="sam", note="no", now=T0 + timedelta(minutes=6)
    )
    trail = [
        (e.action, e.fields["request"], e.fields["actor"], e.fields["at"])
        for e in await stores.robinson.audit.read()
    ]
    assert trail == [
        ("filed", first.request_id, "anna", T0.isoformat()),
        ("filed", second.request_id, "bob", T0.isoformat()),
        ("approved", first.request_id, "sue", (T0 + timedelta(minutes=5)).isoformat()),
        ("numbers-blacklisted", first.request_id, "sue", (T0 + timedelta(minutes=5)).isoformat()),
        ("rejected", second.request_id, "sam", (T0 + timedelta(minutes=6)).isoformat()),
    ]
    blacklisted = (await stores.robinson.audit.read(action="numbers-blacklisted"))[0]
    assert set(blacklisted.fields["numbers"].split(",")) == {"+36301234567", "+36705550001", "+36205550002"}
    internal_trail = await AuditTrail(stores.redis, stores.keys.audit_blacklist).read()
    assert [(e.action, e.fields["actor"]) for e in internal_trail] == [("add", "sue")] * 3


async def test_approving_again_reapplies_the_numbers(stores: DialerStores) -> None:
    await seed_customer_leads(stores)
    filed = await stores.robinson.file(REQUEST, requested_by="anna", now=T0)
    await stores.robinson.approve(filed.request_id, supervisor="sue", now=T0)
    removed = await stores.internal.remove("+36705550001", reason="test outage", actor="ops", now=T0)
    assert removed
    again = await stores.robinson.approve(filed.request_id, supervisor="sam", now=T0 + timedelta(hours=1))
    assert again.decided_by == "sue"
    assert (await stores.gate.check_many(["+36705550001"]))[0].blocked
    with pytest.raises(RequestNotPendingError):
        await stores.robinson.reject(filed.request_id, supervisor="sam", note="late", now=T0)


async def test_listing_by_status_oldest_first(stores: DialerStores) -> None:
    ids = []
    for minute, customer in enumerate(("C1", "C2", "C3")):
        at = T0 + timedelta(minutes=minute)
        request = await stores.robinson.file(REQUEST | {"customer_id": customer}, requested_by="anna", now=at)
        ids.append(request.request_id)
    await stores.robinson.approve(ids[1], supervisor="sue", now=T0)
    pending = await stores.robinson.list_requests(status="pending")
    assert [r.request_id for r in pending] == [ids[0], ids[2]]
    assert [r.request_id for r in await stores.robinson.list_requests(status="approved")] == [ids[1]]
    assert [r.request_id for r in await stores.robinson.list_requests()] == ids
    assert await stores.robinson.list_requests(requested_by="bob") == []
    with pytest.raises(ValidationFailedError):
        await stores.robinson.list_requests(status="maybe")
    with pytest.raises(RequestNotFoundError):
        await stores.robinson.get("rr-999")


async def test_a_customer_id_typed_in_another_case_with_spaces_finds_the_crm_customer(
    stores: DialerStores,
) -> None:
    await seed_customer_leads(stores)
    typed = REQUEST | {"customer_id": " c1 ", "phone": "06 70 555 0001"}
    filed = await stores.robinson.file(typed, requested_by="anna", now=T0)
    assert filed.customer_id == "C1" and filed.warnings == ()
    await stores.robinson.approve(filed.request_id, supervisor="sue", now=T0)
    for lead_id in ("L1", "L2"):  # the customer's other lead too, not only the typed phone
        assert (await stores.leads.get(lead_id)).status == "excluded"
    assert (await stores.gate.check_many(["+36205550002"]))[0].blocked
    assert [lead.lead_id for lead in await stores.leads.claim_many("c1", "e1", 10, now=T0)] == ["L3"]


async def test_the_reviewer_is_warned_when_the_customer_id_matches_no_customer(stores: DialerStores) -> None:
    await seed_customer_leads(stores)
    filed = await stores.robinson.file(REQUEST | {"customer_id": "C-999"}, requested_by="anna", now=T0)
    assert filed.customer_id == "C-999"
    [pending] = await stores.robinson.list_requests(status="pending")
    assert pending.warnings and "C-999 matches no known customer" in pending.warnings[0]
    known = await stores.robinson.file(REQUEST, requested_by="anna", now=T0)
    assert known.warnings == ()


@pytest.mark.parametrize("field", ["customer_name", "customer_id", "email"])
async def test_control_characters_are_refused(stores: DialerStores, field: str) -> None:
    bad = REQUEST | {field: REQUEST[field][:3] + "\x00\x07" + REQUEST[field][3:]}
    with pytest.raises(ValidationFailedError) as caught:
        await stores.robinson.file(bad, requested_by="anna", now=T0)
    assert field in caught.value.details["invalid"]
    assert await stores.robinson.list_requests() == []


async def test_a_lead_held_for_a_call_when_its_customer_is_excluded_is_not_put_back_by_its_release(
    stores: DialerStores,
) -> None:
    """The release after the call checks no list of its own: the approval excluded the held lead."""
    await seed_customer_leads(stores)
    held = await stores.leads.claim_many("c1", "e1", 3, now=T0)
    assert {lead.lead_id for lead in held} == {"L1", "L2", "L3"}
    filed = await stores.robinson.file(REQUEST, requested_by="anna", now=T0)
    await stores.robinson.approve(filed.request_id, supervisor="sue", note="", now=T0 + timedelta(minutes=1))
    for lead_id in ("L1", "L2"):
        with pytest.raises(LeadNotClaimedError):
            await stores.leads.release(lead_id, "e1", now=T0 + timedelta(minutes=2))
        assert (await stores.leads.get(lead_id)).status == "excluded"
    await stores.leads.release("L3", "e1", now=T0 + timedelta(minutes=2))
    again = await stores.leads.claim_many("c1", "e1", 10, now=T0 + timedelta(minutes=3))
    assert [lead.lead_id for lead in again] == ["L3"], "never claimed again"
