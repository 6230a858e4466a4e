"""Dispositions and their automation on a real Redis, including the seed 001 scenario at store level."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from core.config.loader import load_text
from core.errors import ValidationFailedError
from dialer.dispositions.rules import DispositionRules, load_dispositions
from dialer.stores import DialerStores

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
RULES = load_dispositions(Path(__file__).resolve().parents[2] / "config" / "dispositions.yaml")


def lead(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "lead_id": f"L{n}",
        "customer_id": f"C{n}",
        "name": f"Klient {n}",
        "email": f"k{n}@example.pl",
        "phones": [f"+48 512 {n:03d} {n % 1000:03d}"],
        "crm": {"do_not_call": False},
        **extra,
    }


@pytest.fixture
async def stores(redis_client: aioredis.Redis) -> DialerStores:
    built = DialerStores.build(redis_client, default_region="PL", registry=CollectorRegistry(), rules=RULES)
    await built.leads.upsert_many([lead(n) for n in range(1, 4)], now=T0, actor="crm", campaign_id="c1")
    return built


async def test_do_not_call_puts_the_numbers_on_the_internal_list_at_once(stores: DialerStores) -> None:
    claimed = await stores.leads.claim("c1", "e1", now=T0)
    assert claimed is not None
    number = claimed.phones[0]
    assert (await stores.gate.check(number, "c1", claimed.lead_id, now=T0)).allowed
    record = await stores.dispositions.record(
        lead_id=claimed.lead_id, code="do_not_call", advisor="ola", note="nie dzwonić", now=T0, number=number
    )
    assert [(a.action, a.status) for a in record.actions] == [("blacklist", "done"), ("close_lead", "done")]
    verdict = await stores.gate.check(number, "c1", claimed.lead_id, now=T0 + timedelta(seconds=1))
    assert not verdict.allowed and verdict.sources == ("internal",)
    entry = await stores.internal.get(number)
    assert entry is not None and entry.actor == "ola" and record.disposition_id in entry.reason
    closed = await stores.leads.get(claimed.lead_id)
    assert (closed.status, closed.last_disposition) == ("closed", "do_not_call")


async def test_retry_after_sets_the_next_attempt(stores: DialerStores) -> None:
    record = await stores.dispositions.record(lead_id="L2", code="no_answer", advisor="ola", now=T0)
    assert record.actions[0].status == "done"
    updated = await stores.leads.get("L2")
    assert updated.next_attempt_at == T0 + timedelta(hours=2)
    early = await stores.leads.claim_many("c1", "e1", 10, now=T0 + timedelta(hours=1))
    assert "L2" not in [x.lead_id for x in early]
    late = await stores.leads.claim("c1", "e1", now=T0 + timedelta(hours=2))
    assert late is not None and late.lead_id == "L2"


async def test_retry_after_on_a_held_lead_binds_its_release(stores: DialerStores) -> None:
    await stores.leads.claim_many("c1", "e1", 3, now=T0)
    await stores.dispositions.record(lead_id="L1", code="callback_later", advisor="ola", now=T0)
    await stores.leads.release("L1", "e1", now=T0, next_attempt_at=T0 + timedelta(minutes=10))
    assert await stores.leads.claim("c1", "e2", now=T0 + timedelta(hours=23)) is None
    again = await stores.leads.claim("c1", "e2", now=T0 + timedelta(days=1))
    assert again is not None and again.lead_id == "L1"


async def test_close_lead_closes(stores: DialerStores) -> None:
    record = await stores.dispositions.record(lead_id="L3", code="sale", advisor="ola", now=T0)
    assert [(a.action, a.status, a.detail) for a in record.actions] == [("close_lead", "done", "sale")]
    assert (await stores.leads.get("L3")).status == "closed"
    assert "L3" not in [x.lead_id for x in await stores.leads.claim_many("c1", "e", 10, now=T0)]
    audit = await stores.leads.audit.read(action="closed")
    assert [(e.fields["lead"], e.fields["actor"]) for e in audit] == [("L3", "ola")]


async def test_robinson_request_action_opens_a_pending_request_once(stores: DialerStores) -> None:
    first = await stores.dispositions.record(
        lead_id="L1", code="spam_lead", advisor="ola", note="fake sign-ups", now=T0
    )
    action = first.actions[0]
    assert (action.action, action.status) == ("robinson_request", "done")
    request = await stores.robinson.get(action.data["request_id"])
    assert (request.status, request.requested_by, request.source) == ("pending", "ola", "automation")
    assert (request.justification, request.lead_id, request.customer_id) == ("fake sign-ups", "L1", "C1")
    assert not (await stores.gate.check_many([request.phone_e164]))[0].blocked  # never automatic
    second = await stores.dispositions.record(lead_id="L1", code="never_reachable", advisor="ewa", now=T0)
    assert second.actions[0].status == "skipped" and request.request_id in second.actions[0].detail


async def test_robinson_request_action_needs_the_missing_fields_filed_by_hand(stores: DialerStores) -> None:
    await stores.leads.upsert_many([lead(9, email="")], now=T0, actor="crm", campaign_id="c1")
    record = await stores.dispositions.record(lead_id="L9", code="spam_lead", advisor="ola", now=T0)
    action = record.actions[0]
    assert (action.status, action.data["missing"]) == ("needs-input", ["email"])
    assert "no request opened; file it by hand" in action.detail, "the result never claims a request"
    assert await stores.robinson.list_requests() == []
    held = await stores.leads.get("L9")
    assert (held.status, held.held_for) == ("held", None), "held all the same, awaiting the request"

    data = {"customer_name": "Klient 9", "phone": held.phones[0], "email": "k9@example.pl",
            "customer_id": "c9", "justification": "spam lead"}  # fmt: skip
    filed = await stores.robinson.file(data, requested_by="ola", now=T0)
    assert filed.customer_id == "C9" and (await stores.leads.get("L9")).held_for == filed.request_id
    await stores.robinson.reject(filed.request_id, supervisor="sue", note="a real customer", now=T0)
    assert (await stores.leads.get("L9")).status == "queued"


async def test_a_spam_lead_is_held_not_closed_until_a_supervisor_decides_and_a_rejection_requeues_it(
    stores: DialerStores,
) -> None:
    claimed = await stores.leads.claim("c1", "e1", now=T0)
    assert claimed is not None and claimed.lead_id == "L1"
    record = await stores.dispositions.record(lead_id="L1", code="spam_lead", advisor="ola", now=T0)
    [robinson] = record.actions
    request_id = robinson.data["request_id"]
    assert robinson.status == "done" and f"request {request_id} opened" in robinson.detail
    held = await stores.leads.get("L1")
    assert (held.status, held.held_for) == ("held", request_id)
    # the dialer's own end of the call does not put it back, nor does the CRM re-sending it
    with pytest.raises(Exception, match="status held"):
        await stores.leads.release("L1", "e1", now=T0)
    await stores.leads.upsert_many([lead(1, name="changed")], now=T0, actor="crm", campaign_id="c1")
    later = T0 + timedelta(days=3)
    assert "L1" not in [x.lead_id for x in await stores.leads.claim_many("c1", "e2", 10, now=later)]
    assert (await stores.leads.get("L1")).status == "held", "not dialed, not closed"

    await stores.robinson.reject(request_id, supervisor="sue", note="call him in the evenings", now=later)
    back = await stores.leads.get("L1")
    assert (back.status, back.held_for) == ("queued", None), "a rejection returns it to distribution"
    again = await stores.leads.claim("c1", "e2", now=later)
    assert again is not None and again.lead_id == "L1"
    released = await stores.leads.audit.read(action="released")
    assert [(e.fields["lead"], e.fields["request"], e.fields["actor"]) for e in released] == [
        ("L1", request_id, "sue")
    ]


async def test_an_approval_excludes_the_held_lead(stores: DialerStores) -> None:
    record = await stores.dispositions.record(lead_id="L2", code="never_reachable", advisor="ola", now=T0)
    request_id = record.actions[0].data["request_id"]
    await stores.robinson.approve(request_id, supervisor="sue", now=T0)
    excluded = await stores.leads.get("L2")
    assert (excluded.status, excluded.excluded_by) == ("excluded", request_id)
    assert (await stores.gate.check_many([excluded.phones[0]]))[0].blocked


async def test_a_rule_that_also_closes_does_not_close_a_held_lead_and_says_why(
    redis_client: aioredis.Redis,
) -> None:
    text = """
dispositions:
  - code: do_not_call
    actions: [{action: blacklist}]
  - code: spam_lead
    actions:
      - {action: robinson_request, justification: spam}
      - {action: close_lead, reason: spam lead (Robinson-list request opened)}
"""
    rules = load_text(text, DispositionRules, "dispositions.yaml")
    built = DialerStores.build(redis_client, default_region="PL", registry=CollectorRegistry(), rules=rules)
    await built.leads.upsert_many([lead(4)], now=T0, actor="crm", campaign_id="c1")
    record = await built.dispositions.record(lead_id="L4", code="spam_lead", advisor="ola", now=T0)
    request_id = record.actions[0].data["request_id"]
    close = record.actions[1]
    assert (close.action, close.status) == ("close_lead", "skipped")
    assert f"held until a supervisor decides {request_id}" in close.detail
    assert (await built.leads.get("L4")).status == "held"


async def test_unknown_codes_and_leads_are_refused(stores: DialerStores) -> None:
    with pytest.raises(ValidationFailedError, match="unknown disposition 'do_not_cal'; known: do_not_call"):
        await stores.dispositions.record(lead_id="L1", code="do_not_cal", advisor="ola", now=T0)
    with pytest.raises(ValidationFailedError, match="not a possible phone number"):
        await stores.dispositions.record(lead_id="L1", code="sale", advisor="ola", now=T0, number="12")
    with pytest.raises(Exception, match="no lead 'L77'"):
        await stores.dispositions.record(lead_id="L77", code="sale", advisor="ola", now=T0)
    assert await stores.dispositions.list_since(T0 - timedelta(days=1)) == []


async def test_the_crm_reads_dispositions_back_by_lead_and_since(stores: DialerStores) -> None:
    for minute, (lead_id, code) in enumerate((("L1", "no_answer"), ("L2", "busy"), ("L1", "sale"))):
        at = T0 + timedelta(minutes=minute)
        await stores.dispositions.record(
            lead_id=lead_id, code=code, advisor="ola", now=at, call_id=f"call-{minute}"
        )
    by_lead = await stores.dispositions.list_for_lead("L1")
    assert [(d.code, d.call_id) for d in by_lead] == [("no_answer", "call-0"), ("sale", "call-2")]
    since = await stores.dispositions.list_since(T0 + timedelta(minutes=1))
    assert [(d.lead_id, d.code) for d in since] == [("L2", "busy"), ("L1", "sale")]
    assert [d.code for d in await stores.dispositions.list_since(T0, limit=1)] == ["no_answer"]
    trail = await stores.dispositions.audit.read()
    assert [(e.fields["lead"], e.fields["code"], e.fields["results"]) for e in trail] == [
        ("L1", "no_answer", "retry_after:done"),
        ("L2", "busy", "retry_after:done"),
        ("L1", "sale", "close_lead:done"),
    ]


async def test_seed_001_crm_wipes_do_not_call_flags_and_the_gate_still_blocks_all(
    stores: DialerStores,
) -> None:
    contacts = [lead(n) for n in range(100, 200)]
    await stores.leads.upsert_many(contacts, now=T0, actor="crm", campaign_id="seed001")
    claimed = await stores.leads.claim_many("seed001", "e1", 100, now=T0)
    assert len(claimed) == 100
    for held in claimed:
        await stores.dispositions.record(lead_id=held.lead_id, code="do_not_call", advisor="ola", now=T0)
    # Overnight the CRM re-sends every contact for calling, its "nie dzwonić" flags wiped.
    night = T0 + timedelta(hours=14)
    resent = [lead(n, name=f"Klient {n} (sync)", crm={"do_not_call": False}) for n in range(100, 200)]
    report = await stores.leads.upsert_many(
        resent, now=night, actor="crm", campaign_id="seed001", reopen=True
    )
    assert report.updated == 100 and report.errors == []
    requeued = await stores.leads.claim_many("seed001", "e2", 200, now=night)
    assert len(requeued) == 100  # the CRM got them back into the campaign...
    verdicts = [await stores.gate.check(x.phones[0], "seed001", x.lead_id, now=night) for x in requeued]
    assert sum(1 for v in verdicts if v.allowed) == 0  # ...and the gate lets none of them through
    batch = await stores.gate.check_many([x.phones[0] for x in requeued], "seed001")
    assert all(v.blocked and v.sources == ("internal",) for v in batch)
