"""What the dialer's endpoints share (switchboard/api/dialer_access.py): stores built on demand, errors."""

from __future__ import annotations

import httpx
import redis.asyncio as aioredis

from tests.support.dialer_api_harness import LEADS, REQUEST, auth, build_app, clock, http, push_leads, stores

__all__ = ["clock", "http", "stores"]  # the fixtures, from the harness


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


async def test_error_messages_never_echo_the_rejected_value(http: httpx.AsyncClient) -> None:
    bad = await http.get("/api/v1/blacklist/internal/hello-there", headers=auth("supervisor"))
    assert bad.status_code == 422 and bad.json()["message"].startswith("not a phone number")
    assert "hello-there" not in bad.text
    request = REQUEST | {"phone": "99 12"}
    filed = await http.post("/api/v1/robinson-requests", json=request, headers=auth("advisor"))
    assert filed.status_code == 422 and "phone: not a possible phone number" in filed.json()["message"]
    assert "99 12" not in filed.text
