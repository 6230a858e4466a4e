"""The Robinson-list request endpoints (switchboard/api/robinson_api.py): filing, deciding, reading."""

from __future__ import annotations

import httpx

from dialer.stores import DialerStores
from tests.support.dialer_api_harness import LEADS, REQUEST, T0, auth, clock, http, push_leads, stores

__all__ = ["clock", "http", "stores"]  # the fixtures, from the harness


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
