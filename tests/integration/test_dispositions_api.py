"""The dispositions endpoints (switchboard/api/dispositions_api.py): recording one, reading them back."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.support.dialer_api_harness import LEADS, T0, Clock, auth, clock, http, push_leads, stores

__all__ = ["clock", "http", "stores"]  # the fixtures, from the harness


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


async def test_a_body_that_is_not_utf8_is_a_422_naming_the_body(http: httpx.AsyncClient) -> None:
    raw = b'{"lead_id": "L1", "code": "do_not_call", "note": "\xff\xfe"}'
    response = await http.post(
        "/api/v1/dispositions", content=raw, headers=auth("advisor") | {"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation-failed" and body["details"]["errors"][0]["field"] == "body"
