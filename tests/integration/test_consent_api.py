"""The consent register's HTTP API over httpx ASGITransport, a real Redis and one token per role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from dialer.stores import DialerStores
from switchboard.api import consent_api
from tests.support.dialer_api_harness import T0, Clock, auth, build_app

pytestmark = pytest.mark.integration


def consent(index: int, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "customer_id": f"C{index}",
        "number": f"06 30 {1000000 + index}",
        "purpose": "marketing",
        "source": "web-form",
        "given_at": (T0 - timedelta(days=1)).isoformat(),
    }
    data.update(changes)
    return data


def e164(index: int) -> str:
    return f"+3630{1000000 + index}"


@pytest.fixture
async def http(redis_client: aioredis.Redis) -> AsyncIterator[tuple[httpx.AsyncClient, Clock]]:
    clock = Clock()
    stores = DialerStores.build(redis_client, default_region="HU", registry=CollectorRegistry(), clock=clock)
    app = build_app(redis_client, stores)
    app.include_router(consent_api.router)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://switchboard") as client:
        yield client, clock


async def test_the_crm_syncs_consents_and_reads_them_back_page_by_page(
    http: tuple[httpx.AsyncClient, Clock],
) -> None:
    client, clock = http
    one = await client.post("/api/v1/consents", json=consent(1), headers=auth("crm"))
    assert one.status_code == 201, one.text
    assert one.json()["status"] == "given"
    assert one.json()["consent"] | {"recorded_at": None} == {
        "number": e164(1), "customer_id": "C1", "purpose": "marketing", "source": "web-form",
        "reference": "", "given_at": "2025-03-02T10:00:00+00:00", "expires_at": None,
        "withdrawn_at": None, "withdrawn_by": "", "withdrawal_source": "", "recorded_by": "crm-sync",
        "recorded_at": None, "state": "valid",
    }  # fmt: skip

    clock.now += timedelta(minutes=1)
    bulk = await client.post(
        "/api/v1/consents:bulk",
        json={"consents": [consent(i) for i in range(1, 6)]},
        headers=auth("crm"),
    )
    assert bulk.json() == {"received": 5, "given": 4, "updated": 0, "unchanged": 1, "errors": []}

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/consents", params=params, headers=auth("crm"))).json()
        seen += [item["number"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [e164(i) for i in range(1, 6)]
    since = (T0 + timedelta(seconds=30)).isoformat()
    later = (await client.get("/api/v1/consents", params={"since": since}, headers=auth("crm"))).json()
    assert [item["number"] for item in later["items"]] == [e164(i) for i in range(2, 6)]


async def test_bad_consents_are_named_by_index_and_the_good_ones_stored(
    http: tuple[httpx.AsyncClient, Clock],
) -> None:
    client, _ = http
    bulk = await client.post(
        "/api/v1/consents:bulk",
        json={
            "consents": [
                consent(1),
                consent(2, given_at="yesterday"),
                consent(3, purpose="Marketing"),
                consent(4, number="12"),
                consent(5, expires_at=(T0 - timedelta(days=2)).isoformat()),
            ]
        },
        headers=auth("crm"),
    )
    body = bulk.json()
    assert bulk.status_code == 200 and body["given"] == 1
    assert [(e["index"], e["message"].split(":")[0]) for e in body["errors"]] == [
        (1, "given_at"), (2, "purpose"), (3, "number"), (4, "expires_at"),
    ]  # fmt: skip
    assert "'yesterday'" in body["errors"][0]["message"]
    single = await client.post("/api/v1/consents", json=consent(6, source=""), headers=auth("crm"))
    assert single.status_code == 422 and "source" in single.json()["message"]


async def test_withdrawal_evidence_and_who_may_do_what(http: tuple[httpx.AsyncClient, Clock]) -> None:
    client, clock = http
    assert (
        await client.post("/api/v1/consents", json=consent(1), headers=auth("advisor"))
    ).status_code == 403
    await client.post("/api/v1/consents", json=consent(1), headers=auth("crm"))
    shown = await client.get(f"/api/v1/consents/{e164(1)}", headers=auth("advisor"))
    assert [c["state"] for c in shown.json()["consents"]] == ["valid"]
    assert (
        await client.get(f"/api/v1/consents/{e164(1)}/evidence", headers=auth("advisor"))
    ).status_code == 403

    clock.now += timedelta(hours=1)
    gone = await client.post(
        "/api/v1/consents/06301000001/withdraw",
        json={"source": "e-mail", "reason": "asked by e-mail"},
        headers=auth("supervisor"),
    )
    assert gone.json() == {"number": e164(1), "withdrawn": ["marketing"]}
    again = await client.post("/api/v1/consents", json=consent(1), headers=auth("crm"))
    assert again.status_code == 422 and "withdrawn at 2025-03-03T11:00:00+00:00" in again.json()["message"]

    evidence = (await client.get(f"/api/v1/consents/{e164(1)}/evidence", headers=auth("supervisor"))).json()
    assert [c["state"] for c in evidence["consents"]] == ["withdrawn"]
    assert [(h["action"], h["actor"]) for h in evidence["history"]] == [
        ("given", "crm-sync"),
        ("withdrawn", "sue"),
    ]
    assert evidence["dials"] == []
