"""The campaigns API: who may steer, read and dial; every dial still goes through the gate."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis

from pbx.sim import CustomerProfile
from switchboard.api import AppState, TokenStore, create_app
from switchboard.api.campaigns_api import attach_campaigns, router
from switchboard.metrics import create_metrics
from switchboard.settings import Settings
from tests.support.dialer_harness import Rig, campaign, campaigns, lead, number, rig, sim_config

pytestmark = pytest.mark.integration

TOKENS = {
    "advisor": "advisor-token-000000001",
    "supervisor": "supervisor-token-00001",
    "crm": "crm-token-0000000000001",
}
BUSY = CustomerProfile(answer=0, busy=1, noanswer=0, congestion=0, machine=0, reject=0, signal_s=(0.2, 0.5))


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


@pytest.fixture
async def stack(redis_client: aioredis.Redis) -> AsyncIterator[tuple[Rig, httpx.AsyncClient]]:
    tokens = TokenStore.from_tokens([(token, "1001" if role == "advisor" else f"{role}-user", role)
                                     for role, token in TOKENS.items()])  # type: ignore[misc]  # fmt: skip
    async with rig(redis_client, campaigns(campaign()), sim_config(customers=BUSY)) as r:
        state = AppState(settings=Settings(), tokens=tokens, metrics=create_metrics(process=False))
        app = create_app(state)
        attach_campaigns(app, r.dialer)
        app.include_router(router)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://switchboard") as http:
            yield r, http


async def test_supervisors_steer_campaigns_and_the_crm_reads_stats(
    stack: tuple[Rig, httpx.AsyncClient],
) -> None:
    _, http = stack
    listed = await http.get("/api/v1/campaigns", headers=auth("supervisor"))
    assert listed.status_code == 200
    assert [(c["campaign_id"], c["state"]) for c in listed.json()["items"]] == [("c1", "stopped")]

    assert (await http.post("/api/v1/campaigns/c1/start", headers=auth("advisor"))).status_code == 403
    started = await http.post("/api/v1/campaigns/c1/start", headers=auth("supervisor"), json={"reason": "go"})
    assert started.status_code == 200
    assert started.json() | {"at": ""} == {
        "campaign_id": "c1", "state": "running", "actor": "supervisor-user", "at": "", "reason": "go",
    }  # fmt: skip
    paused = await http.post("/api/v1/campaigns/c1/pause", headers=auth("supervisor"))
    assert paused.json()["state"] == "paused"
    assert (await http.post("/api/v1/campaigns/nope/stop", headers=auth("supervisor"))).status_code == 404

    stats = await http.get("/api/v1/campaigns/c1/stats", headers=auth("crm"))
    assert stats.status_code == 200
    body = stats.json()
    assert body["state"] == "paused" and body["abandon_target"] == 0.03 and body["abandon_rate_30d"] == 0.0
    assert (await http.get("/api/v1/campaigns/c1/stats", headers=auth("advisor"))).status_code == 403


async def test_an_advisor_dials_manually_through_the_gate(stack: tuple[Rig, httpx.AsyncClient]) -> None:
    r, http = stack
    await r.agent("1001")
    await r.stores.internal.add(number(3), reason="asked not to be called", actor="sue", now=r.now())

    blocked = await http.post(
        "/api/v1/campaigns/c1/dial", headers=auth("advisor"), json={"number": "06 30 100 0003"}
    )
    assert blocked.status_code == 200
    assert (blocked.json()["placed"], blocked.json()["status"]) == (False, "blocked")
    assert r.sim.originated_numbers() == []

    placed = await http.post(
        "/api/v1/campaigns/c1/dial", headers=auth("advisor"), json={"number": "06301000004"}
    )
    assert placed.json()["placed"] is True and placed.json()["number"] == number(4)
    assert r.dialed() == [number(4)]
    assert (
        await http.post("/api/v1/campaigns/c1/dial", headers=auth("supervisor"), json={"number": "1"})
    ).status_code == 403
    bad = await http.post("/api/v1/campaigns/c1/dial", headers=auth("advisor"), json={"number": "06 30 12"})
    assert bad.status_code == 422


async def test_the_leads_of_a_started_campaign_are_dialed(stack: tuple[Rig, httpx.AsyncClient]) -> None:
    r, http = stack
    await r.load_leads([lead(1)])
    await r.agent("1001")
    await http.post("/api/v1/campaigns/c1/start", headers=auth("supervisor"))
    await r.until(lambda: r.dialed() == [number(1)], timeout=20)
