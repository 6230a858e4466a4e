"""The dialer's data endpoints in one app over httpx ASGITransport, a real Redis and one token per
role: what the tests of leads_api, dispositions_api, blacklist_api, robinson_api, dialer_access,
consent_api and audit_api share (import the fixtures `clock`, `stores` and `http` by name)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from dialer.stores import DialerStores
from switchboard.api import (
    AppState,
    TokenStore,
    blacklist_api,
    create_app,
    dispositions_api,
    leads_api,
    robinson_api,
)
from switchboard.api.dialer_access import STATUS_OVERRIDES, attach_dialer
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
    for area in (leads_api, dispositions_api, blacklist_api, robinson_api):
        app.include_router(area.router)
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
