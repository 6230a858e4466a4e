"""The audit trails over HTTP: filtered by number, customer, actor, kind and time, paged, exported."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from dialer.stores import DialerStores
from switchboard.api import audit_api
from tests.support.dialer_api_harness import (
    LEADS,
    REQUEST,
    T0,
    Clock,
    auth,
    build_app,
    clock,
    push_leads,
    stores,
)

__all__ = ["clock", "stores"]  # the fixtures, from the harness


@pytest.fixture
async def http(redis_client: aioredis.Redis, stores: DialerStores) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(redis_client, stores)
    app.include_router(audit_api.router)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://switchboard") as client:
        yield client


async def audit(http: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await http.get("/api/v1/audit", params=params, headers=auth("supervisor"))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def story(http: httpx.AsyncClient, clock: Clock) -> None:
    """A disposition blacklists L1's numbers; at T0+1h a Robinson request for C2 is filed and approved."""
    await push_leads(http, LEADS, campaign_id="c1")
    body = {"lead_id": "L1", "code": "do_not_call", "number": "06 30 123 4567"}
    assert (await http.post("/api/v1/dispositions", json=body, headers=auth("advisor"))).status_code == 201
    clock.now = T0 + timedelta(hours=1)
    request = REQUEST | {"customer_id": "C2", "phone": "+36 20 555 0002"}
    filed = (await http.post("/api/v1/robinson-requests", json=request, headers=auth("advisor"))).json()
    approve = f"/api/v1/robinson-requests/{filed['request_id']}/approve"
    assert (await http.post(approve, json={"note": "ok"}, headers=auth("supervisor"))).status_code == 200


async def test_audit_filters_by_number_customer_actor_and_kind(http: httpx.AsyncClient, clock: Clock) -> None:
    await story(http, clock)
    by_number = await audit(http, number="06 30 123 4567")
    assert {(r["kind"], r["fields"]["action"]) for r in by_number} >= {
        ("dispositions", "disposition"),
        ("lists", "add"),
    }
    assert all("+36301234567" in json.dumps(r["fields"]) for r in by_number)
    by_customer = await audit(http, customer="C2", kind="robinson")
    assert [r["fields"]["action"] for r in by_customer] == ["filed", "approved", "numbers-blacklisted"]
    by_sue = await audit(http, actor="sue")
    assert {r["kind"] for r in by_sue} == {"robinson", "lists"} and all(
        r["fields"]["actor"] == "sue" for r in by_sue
    )
    early = await audit(http, until=(T0 + timedelta(minutes=30)).isoformat())
    assert early and all(r["fields"].get("customer") != "C2" for r in early)
    assert (await http.get("/api/v1/audit", headers=auth("advisor"))).status_code == 403
    bad = await http.get("/api/v1/audit", params={"kind": "gossip"}, headers=auth("supervisor"))
    assert bad.status_code == 422


async def test_audit_pages_by_cursor_across_trails_and_exports_everything(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    await story(http, clock)
    everything = await audit(http, limit=1000)
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    for _ in range(50):
        page = (await http.get("/api/v1/audit", params=params, headers=auth("admin"))).json()
        seen += [f"{r['kind']}/{r['id']}" for r in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == [f"{r['kind']}/{r['id']}" for r in everything] and len(seen) == len(set(seen)) > 4
    exported = await http.get("/api/v1/audit/export", params={"format": "csv"}, headers=auth("supervisor"))
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [f"{r['kind']}/{r['id']}" for r in rows] == seen
    lines = (
        await http.get(
            "/api/v1/audit/export", params={"format": "ndjson", "customer": "C2"}, headers=auth("admin")
        )
    ).text.splitlines()
    assert [json.loads(line)["action"] for line in lines if '"robinson"' in line] == [
        "filed",
        "approved",
        "numbers-blacklisted",
    ]
