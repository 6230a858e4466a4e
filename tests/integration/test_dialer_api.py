"""The dialer's HTTP API over httpx ASGITransport, a real Redis and one token per role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from dialer.audit import AuditTrail
from dialer.stores import DialerStores
from switchboard.api import AppState, TokenStore, create_app
from switchboard.api.dialer_api import STATUS_OVERRIDES, attach_dialer, router
from switchboard.metrics import create_metrics
from switchboard.settings import Settings

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
TOKENS = {
    "advisor": ("advisor-token-000000001", "anna"),
    "supervisor": ("supervisor-token-00001", "sue"),
    "admin": ("admin-token-00000000001", "ops"),
    "crm": ("crm-token-0000000000001", "crm-sync"),
    "advisor2": ("advisor-token-000000002", "bob"),
}
REQUEST = {
    "customer_name": "Kiss Anna",
    "phone": "06 30 123 4567",
    "email": "anna@example.hu",
    "customer_id": "C1",
    "justification": "Never reachable over eight attempts in three weeks.",
}


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role][0]}"}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def build_app(redis_client: aioredis.Redis, stores: DialerStores | None) -> Any:
    entries = [(token, name, role.rstrip("2")) for role, (token, name) in TOKENS.items()]
    tokens = TokenStore.from_tokens(entries)  # type: ignore[arg-type]
    state = AppState(
        settings=Settings(), tokens=tokens, metrics=create_metrics(process=False), redis=redis_client
    )
    app = create_app(state, status_overrides=STATUS_OVERRIDES)
    if stores is not None:
        attach_dialer(app, stores)
    app.include_router(router)
    return app


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stores(redis_client: aioredis.Redis, clock: Clock) -> DialerStores:
    return DialerStores.build(redis_client, default_region="HU", registry=CollectorRegistry(), clock=clock)


@pytest.fixture
async def http(redis_client: aioredis.Redis, stores: DialerStores) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(redis_client, stores), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://switchboard") as client:
        yield client


async def push_leads(http: httpx.AsyncClient, leads: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    response = await http.post("/api/v1/leads:bulk", json={"leads": leads, **extra}, headers=auth("crm"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


LEADS: list[dict[str, Any]] = [
    {
        "lead_id": "L1",
        "customer_id": "C1",
        "name": "Kiss Anna",
        "phones": ["06 30 123 4567", "06 70 555 0001"],
    },
    {"lead_id": "L2", "customer_id": "C2", "phone": "+36 20 555 0002", "crm": {"do_not_call": False}},
]


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


async def test_do_not_call_disposition_blocks_the_numbers_at_once(http: httpx.AsyncClient) -> None:
    await push_leads(http, LEADS, campaign_id="c1")
    body = {"lead_id": "L1", "code": "do_not_call", "note": "asked not to be called", "call_id": "k-1"}
    response = await http.post("/api/v1/dispositions", json=body, headers=auth("advisor"))
    assert response.status_code == 201, response.text
    record = response.json()
    assert (record["advisor"], record["code"], record["call_id"]) == ("anna", "do_not_call", "k-1")
    assert record["actions"][0]["data"]["numbers"] == ["+36301234567", "+36705550001"]
    numbers = ["06 30 123 4567", "+36705550001", "0036 20 555 0002", "hello"]
    check = await http.post("/api/v1/blacklist/check", json={"numbers": numbers}, headers=auth("crm"))
    assert check.json()["results"] == [
        {
            "input": "06 30 123 4567",
            "e164": "+36301234567",
            "blocked": True,
            "sources": ["internal"],
            "error": None,
        },
        {
            "input": "+36705550001",
            "e164": "+36705550001",
            "blocked": True,
            "sources": ["internal"],
            "error": None,
        },
        {"input": "0036 20 555 0002", "e164": "+36205550002", "blocked": False, "sources": [], "error": None},
        {"input": "hello", "e164": None, "blocked": None, "sources": [], "error": "not a phone number"},
    ]
    unknown = await http.post("/api/v1/dispositions", json=body | {"code": "maybe"}, headers=auth("advisor"))
    assert unknown.status_code == 422 and "known: do_not_call" in unknown.json()["message"]
    assert (await http.post("/api/v1/dispositions", json=body, headers=auth("crm"))).status_code == 403


async def test_the_crm_reads_dispositions_back(http: httpx.AsyncClient, clock: Clock) -> None:
    await push_leads(http, LEADS, campaign_id="c1")
    for minute, lead_id in enumerate(("L1", "L2", "L1")):
        clock.now = T0 + timedelta(minutes=minute)
        body = {"lead_id": lead_id, "code": "do_not_call"}
        assert (
            await http.post("/api/v1/dispositions", json=body, headers=auth("advisor"))
        ).status_code == 201
    by_lead = await http.get("/api/v1/dispositions", params={"lead_id": "L1"}, headers=auth("crm"))
    assert [d["at"] for d in by_lead.json()["items"]] == [
        T0.isoformat(),
        (T0 + timedelta(minutes=2)).isoformat(),
    ]
    since = (T0 + timedelta(minutes=1)).isoformat()
    page = (
        await http.get(
            "/api/v1/dispositions", params={"since": since, "limit": 1}, headers=auth("supervisor")
        )
    ).json()
    assert [d["lead_id"] for d in page["items"]] == ["L2"] and page["next_cursor"]
    rest = await http.get(
        "/api/v1/dispositions",
        params={"since": since, "limit": 1, "cursor": page["next_cursor"]},
        headers=auth("supervisor"),
    )
    assert [d["lead_id"] for d in rest.json()["items"]] == ["L1"] and rest.json()["next_cursor"] is None
    assert (await http.get("/api/v1/dispositions", headers=auth("advisor"))).status_code == 403
    naive = await http.get(
        "/api/v1/dispositions", params={"since": "2025-03-03T10:00:00"}, headers=auth("crm")
    )
    assert naive.status_code == 422


async def test_supervisors_edit_the_internal_list_with_a_reason(
    http: httpx.AsyncClient, stores: DialerStores
) -> None:
    add = {"number": "06 30 765 4321", "reason": "customer complained by e-mail"}
    assert (
        await http.post("/api/v1/blacklist/internal", json=add, headers=auth("advisor"))
    ).status_code == 403
    no_reason = await http.post(
        "/api/v1/blacklist/internal", json={"number": "06307654321"}, headers=auth("supervisor")
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["message"]
    added = await http.post("/api/v1/blacklist/internal", json=add, headers=auth("supervisor"))
    assert added.status_code == 201
    assert added.json() | {"at": None} == {
        "number": "+36307654321",
        "on_list": True,
        "changed": True,
        "reason": "customer complained by e-mail",
        "actor": "sue",
        "at": None,
    }
    shown = await http.get("/api/v1/blacklist/internal/06307654321", headers=auth("supervisor"))
    assert shown.json()["actor"] == "sue"
    refused = await http.delete("/api/v1/blacklist/internal/+36307654321", headers=auth("supervisor"))
    assert refused.status_code == 422 and refused.json()["details"]["missing"] == ["reason"]
    removed = await http.delete(
        "/api/v1/blacklist/internal/+36307654321",
        params={"reason": "added by mistake"},
        headers=auth("supervisor"),
    )
    assert removed.status_code == 200 and removed.json()["changed"] is True
    again = await http.request(
        "DELETE",
        "/api/v1/blacklist/internal/06307654321",
        json={"reason": "twice"},
        headers=auth("supervisor"),
    )
    assert again.json()["changed"] is False
    trail = await AuditTrail(stores.redis, stores.keys.audit_blacklist).read()
    assert [(e.action, e.fields["actor"], e.fields["reason"]) for e in trail] == [
        ("add", "sue", "customer complained by e-mail"),
        ("remove", "sue", "added by mistake"),
    ]
    gone = await http.get("/api/v1/blacklist/internal/06307654321", headers=auth("supervisor"))
    assert gone.status_code == 404


async def test_robinson_request_missing_fields_is_422_naming_all(http: httpx.AsyncClient) -> None:
    body = {"customer_name": "Kiss Anna", "customer_id": "C1"}
    response = await http.post("/api/v1/robinson-requests", json=body, headers=auth("advisor"))
    assert response.status_code == 422
    error = response.json()
    assert error["error"] == "validation-failed"
    assert error["details"]["missing"] == ["phone", "email", "justification"]
    assert "missing phone, e-mail, justification" in error["message"]


async def test_robinson_workflow_over_http(http: httpx.AsyncClient, stores: DialerStores) -> None:
    await push_leads(http, LEADS, campaign_id="c1")
    filed = await http.post("/api/v1/robinson-requests", json=REQUEST, headers=auth("advisor"))
    assert filed.status_code == 201
    request_id = filed.json()["request_id"]
    assert (filed.json()["status"], filed.json()["requested_by"]) == ("pending", "anna")
    forbidden = await http.post(f"/api/v1/robinson-requests/{request_id}/approve", headers=auth("advisor"))
    assert forbidden.status_code == 403
    pending = await http.get(
        "/api/v1/robinson-requests", params={"status": "pending"}, headers=auth("supervisor")
    )
    assert [r["request_id"] for r in pending.json()["items"]] == [request_id]
    approved = await http.post(
        f"/api/v1/robinson-requests/{request_id}/approve", json={"note": "ok"}, headers=auth("supervisor")
    )
    assert approved.status_code == 200, approved.text
    assert sorted(approved.json()["numbers"]) == ["+36301234567", "+36705550001"]
    verdicts = await stores.gate.check_many(["+36301234567", "+36705550001"])
    assert all(v.blocked for v in verdicts)
    assert (await http.get("/api/v1/leads/L1", headers=auth("advisor"))).json()["status"] == "excluded"
    assert [lead.lead_id for lead in await stores.leads.claim_many("c1", "e1", 5, now=T0)] == ["L2"]
    twice = await http.post(
        f"/api/v1/robinson-requests/{request_id}/reject", json={"note": "x"}, headers=auth("supervisor")
    )
    assert twice.status_code == 409 and twice.json()["error"] == "robinson-request-not-pending"
    actions = [e.action for e in await stores.robinson.audit.read(request=request_id)]
    assert actions == ["filed", "approved", "numbers-blacklisted"]


async def test_a_rejection_note_is_read_by_its_advisor_only(http: httpx.AsyncClient) -> None:
    filed = (await http.post("/api/v1/robinson-requests", json=REQUEST, headers=auth("advisor"))).json()
    other = REQUEST | {"customer_id": "C2"}
    bobs = (await http.post("/api/v1/robinson-requests", json=other, headers=auth("advisor2"))).json()
    path = f"/api/v1/robinson-requests/{filed['request_id']}"
    no_note = await http.post(f"{path}/reject", json={"note": ""}, headers=auth("supervisor"))
    assert no_note.status_code == 422
    note = "Customer answers after 18:00; try the evening shift."
    rejected = await http.post(f"{path}/reject", json={"note": note}, headers=auth("supervisor"))
    assert rejected.status_code == 200
    mine = await http.get(path, headers=auth("advisor"))
    assert (mine.json()["status"], mine.json()["note"], mine.json()["decided_by"]) == (
        "rejected",
        note,
        "sue",
    )
    assert (await http.get(path, headers=auth("advisor2"))).status_code == 404
    own_list = await http.get("/api/v1/robinson-requests", headers=auth("advisor2"))
    assert [r["request_id"] for r in own_list.json()["items"]] == [bobs["request_id"]]
    everyone = await http.get("/api/v1/robinson-requests", headers=auth("supervisor"))
    assert len(everyone.json()["items"]) == 2


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


async def test_without_attached_stores_the_router_builds_them_from_app_state(
    redis_client: aioredis.Redis,
) -> None:
    transport = httpx.ASGITransport(app=build_app(redis_client, None), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://switchboard") as client:
        await push_leads(client, LEADS)
        for _ in range(2):
            response = await client.post(
                "/api/v1/blacklist/check", json={"numbers": ["06301234567"]}, headers=auth("advisor")
            )
            assert response.json()["results"][0]["blocked"] is False


async def test_following_cursors_lists_every_disposition_once_even_within_one_millisecond(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    await push_leads(http, LEADS, campaign_id="c1")
    for n in range(7):  # one clock reading for all: every item has the same score
        body = {"lead_id": ("L1", "L2")[n % 2], "code": "do_not_call", "note": f"n{n}"}
        posted = await http.post("/api/v1/dispositions", json=body, headers=auth("advisor"))
        assert posted.status_code == 201
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 2}
    for _ in range(10):
        page = (await http.get("/api/v1/dispositions", params=params, headers=auth("crm"))).json()
        seen += [d["note"] for d in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert sorted(seen) == [f"n{n}" for n in range(7)]
    bad = await http.get("/api/v1/dispositions", params={"cursor": "garbage"}, headers=auth("crm"))
    assert bad.status_code == 422 and "cursor" in bad.json()["message"]


async def test_robinson_requests_page_by_cursor_and_status_is_an_enum(http: httpx.AsyncClient) -> None:
    for n in range(5):
        body = REQUEST | {"customer_id": f"C{n}"}
        assert (
            await http.post("/api/v1/robinson-requests", json=body, headers=auth("advisor"))
        ).status_code == 201
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 2, "status": "pending"}
    for _ in range(5):
        page = (await http.get("/api/v1/robinson-requests", params=params, headers=auth("supervisor"))).json()
        seen += [r["customer_id"] for r in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == [f"C{n}" for n in range(5)]
    bad = await http.get("/api/v1/robinson-requests", params={"status": "maybe"}, headers=auth("supervisor"))
    assert bad.status_code == 422
    spec = (await http.get("/openapi.json")).json()
    parameters = spec["paths"]["/api/v1/robinson-requests"]["get"]["parameters"]
    [status_param] = [p for p in parameters if p["name"] == "status"]
    assert "pending" in str(status_param["schema"])


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


async def test_a_body_that_is_not_utf8_is_a_422_naming_the_body(http: httpx.AsyncClient) -> None:
    raw = b'{"lead_id": "L1", "code": "do_not_call", "note": "\xff\xfe"}'
    response = await http.post(
        "/api/v1/dispositions", content=raw, headers=auth("advisor") | {"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation-failed" and body["details"]["errors"][0]["field"] == "body"


async def test_error_messages_never_echo_the_rejected_value(http: httpx.AsyncClient) -> None:
    bad = await http.get("/api/v1/blacklist/internal/hello-there", headers=auth("supervisor"))
    assert bad.status_code == 422 and bad.json()["message"].startswith("not a phone number")
    assert "hello-there" not in bad.text
    request = REQUEST | {"phone": "99 12"}
    filed = await http.post("/api/v1/robinson-requests", json=request, headers=auth("advisor"))
    assert filed.status_code == 422 and "phone: not a possible phone number" in filed.json()["message"]
    assert "99 12" not in filed.text
