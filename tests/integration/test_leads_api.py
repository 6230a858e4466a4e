"""The leads endpoints (switchboard/api/leads_api.py): bulk upsert, one lead, the preview offer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from dialer.stores import DialerStores
from tests.support.dialer_api_harness import LEADS, T0, auth, clock, http, push_leads, stores

__all__ = ["clock", "http", "stores"]  # the fixtures, from the harness


async def test_bulk_upsert_is_idempotent_and_reports_bad_leads_by_index(http: httpx.AsyncClient) -> None:
    first = await push_leads(
        http, [*LEADS, {"lead_id": "L3", "customer_id": "C3", "phones": ["12"]}], campaign_id="c1"
    )
    assert (first["received"], first["created"], first["unchanged"]) == (3, 2, 0)
    assert [(e["index"], e["lead_id"]) for e in first["errors"]] == [(2, "L3")]
    again = await push_leads(http, LEADS, campaign_id="c1")
    assert (again["created"], again["updated"], again["unchanged"], again["errors"]) == (0, 0, 2, [])
    lead = (await http.get("/api/v1/leads/L1", headers=auth("advisor"))).json()
    assert lead["phones"] == ["+36301234567", "+36705550001"] and lead["status"] == "queued"
    assert lead["phones_raw"] == ["06 30 123 4567", "06 70 555 0001"]
    assert (await http.get("/api/v1/leads/L2", headers=auth("crm"))).json()["crm"] == {"do_not_call": False}


async def test_lead_endpoints_check_roles_and_report_unknown_leads(http: httpx.AsyncClient) -> None:
    refused = await http.post("/api/v1/leads:bulk", json={"leads": LEADS}, headers=auth("advisor"))
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    missing = await http.get("/api/v1/leads/nope", headers=auth("advisor"))
    assert missing.status_code == 404 and missing.json()["error"] == "lead-not-found"
    assert (await http.get("/api/v1/leads/nope")).status_code == 401
    empty = await http.post("/api/v1/leads:bulk", json={"leads": []}, headers=auth("crm"))
    assert empty.status_code == 422
    # `reopen` is a JSON boolean: 0 or "no" is refused, not read as false (found by the OpenAPI fuzz)
    for garbage in (0, 1, "no", "true"):
        body = {"leads": LEADS, "campaign_id": "c1", "reopen": garbage}
        loose = await http.post("/api/v1/leads:bulk", json=body, headers=auth("crm"))
        assert loose.status_code == 422 and "reopen" in loose.text, garbage


async def test_preview_offer_endpoints(http: httpx.AsyncClient, stores: DialerStores) -> None:
    await push_leads(http, LEADS, campaign_id="p")
    held = await stores.leads.claim("p", "e1", now=T0)
    assert held is not None
    assert (await http.get("/api/v1/offer", headers=auth("advisor"))).json() == {"lead": None}
    await stores.leads.offer(held.lead_id, "e1", "anna", now=T0, timeout=timedelta(seconds=20))
    offered = (await http.get("/api/v1/offer", headers=auth("advisor"))).json()["lead"]
    assert offered["lead_id"] == held.lead_id
    wrong = await http.post(f"/api/v1/offer/{held.lead_id}/accept", headers=auth("advisor2"))
    assert wrong.status_code == 409 and wrong.json()["error"] == "lead-offer-refused"
    assert (
        await http.post(f"/api/v1/offer/{held.lead_id}/accept", headers=auth("advisor"))
    ).status_code == 204
    assert (await stores.leads.get(held.lead_id)).offer_state == "accepted"


async def test_a_region_per_lead_or_per_batch_reads_national_numbers_and_invalid_ones_are_refused_by_index(
    http: httpx.AsyncClient,
) -> None:
    leads: list[dict[str, Any]] = [
        {"lead_id": "P1", "customer_id": "K1", "phones": ["601 234 567"], "region": "PL"},
        {"lead_id": "P2", "customer_id": "K2", "phones": ["601 234 567"]},
    ]
    report = await push_leads(http, leads, campaign_id="c1")
    assert report["created"] == 1
    [problem] = report["errors"]
    assert problem["index"] == 1 and problem["message"].startswith(
        "phones[0]: not a valid phone number in HU: '601 234 567'"
    ), "the offending number is quoted with the lead's index"
    assert (await http.get("/api/v1/leads/P1", headers=auth("crm"))).json()["phones"] == ["+48601234567"]
    batch = await push_leads(http, leads[1:], campaign_id="c1", region="PL")
    assert batch["created"] == 1 and batch["errors"] == []
    assert (await http.get("/api/v1/leads/P2", headers=auth("crm"))).json()["phones"] == ["+48601234567"]


async def test_a_nested_crm_value_is_named_without_validation_internals(http: httpx.AsyncClient) -> None:
    lead = {"lead_id": "N1", "customer_id": "K1", "phones": ["06 30 123 4567"], "crm": {"a": {"b": 1}}}
    [problem] = (await push_leads(http, [lead]))["errors"]
    assert problem["message"] == "crm.a: must be text, a number, true/false or null (flags are flat)"
