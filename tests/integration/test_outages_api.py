"""Outages over HTTP: a supervisor declares one, the affected caller hears it (simulated Asterisk over
TCP, private Redis), and the list shows what the notice did; who may do what; bad input refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from pbx.sim import AgentPhone, SimConfig
from switchboard.api import AppState, TokenStore, create_app, outages_api
from switchboard.api.acd_api import install
from switchboard.metrics import create_metrics
from switchboard.settings import Settings
from tests.support.acd_harness import (
    EXIT_DIALPLAN,
    Stack,
    agent,
    base_rules,
    make_rules,
    running_engine,
    running_sim,
)

pytestmark = pytest.mark.integration
TOKENS = {"a1": ("advisor-a1-token-0001", "advisor"), "boss": ("supervisor-token-0003", "supervisor")}
NOW = datetime.now(UTC)


def _auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name][0]}"}


def body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "north-internet",
        "title": "Internet down in the north",
        "segment": {"crm": [{"field": "region", "values": ["north"]}]},
        "text": "We know about the internet fault in your area. It is fixed by six this evening.",
        "starts_at": (NOW - timedelta(minutes=5)).isoformat(),
        "ends_at": (NOW + timedelta(hours=2)).isoformat(),
        "leave_window_s": 0.2,
    }
    data.update(changes)
    return data


@asynccontextmanager
async def api(redis: aioredis.Redis) -> AsyncIterator[tuple[httpx.AsyncClient, Stack]]:
    rules = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)]))
    tokens = TokenStore.from_tokens([(token, name, role) for name, (token, role) in TOKENS.items()])  # type: ignore[misc]
    state = AppState(settings=Settings(), tokens=tokens, metrics=create_metrics(process=False))
    app = create_app(state, status_overrides=outages_api.STATUS_OVERRIDES)
    config = SimConfig(
        default_agent=AgentPhone(answer_after_s=0.05), extra_dialplan=EXIT_DIALPLAN, playback_s=0.1
    )
    async with running_sim(config) as sim, running_engine(sim, redis, rules) as stack:
        install(app, stack.acd)
        app.include_router(outages_api.router)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://switchboard") as http:
            yield http, stack


async def test_a_declared_outage_is_heard_by_its_segment_and_counted(redis_client: aioredis.Redis) -> None:
    async with api(redis_client) as (http, s):
        declared = await http.post("/api/v1/acd/outages", json=body(), headers=_auth("boss"))
        assert declared.status_code == 201, declared.text
        assert declared.json()["declared_by"] == "boss" and declared.json()["in_force"] is True

        await s.acd.put_customer("+36301110000", {"region": "North"})
        await s.acd.put_customer("+36302220000", {"region": "south"})
        north = await s.sim.inbound_call("+36301110000", "+3612345678", patience_s=0.05)
        await s.until(lambda: north not in s.sim.channels)
        await s.sim.inbound_call("+36302220000", "+3612345678", patience_s=600)
        await s.until(lambda: len(s.waiting_ids()) == 1)

        listed = await http.get("/api/v1/acd/outages", headers=_auth("a1"))
        assert listed.status_code == 200
        (item,) = listed.json()["items"]
        assert (item["id"], item["played"], item["left"]) == ("north-internet", 1, 1)
        notice = next(a for a in s.actions("Redirect") if a.get("Context") == "switchboard-notice")
        assert (notice.get("Channel"), notice.get("Exten")) == (north, "text")  # read out: no recording


async def test_ending_an_outage_and_who_may(redis_client: aioredis.Redis) -> None:
    async with api(redis_client) as (http, _):
        refused = await http.post("/api/v1/acd/outages", json=body(), headers=_auth("a1"))
        assert refused.status_code == 403
        assert (await http.post("/api/v1/acd/outages", json=body(), headers=_auth("boss"))).status_code == 201
        again = await http.post("/api/v1/acd/outages", json=body(), headers=_auth("boss"))
        assert (again.status_code, again.json()["error"]) == (409, "outage-exists")

        assert (
            await http.post("/api/v1/acd/outages/north-internet/end", headers=_auth("a1"))
        ).status_code == 403
        ended = await http.post("/api/v1/acd/outages/north-internet/end", headers=_auth("boss"))
        assert ended.status_code == 200 and ended.json()["in_force"] is False
        assert ended.json()["ended_at"] is not None
        assert (await http.get("/api/v1/acd/outages/nothing", headers=_auth("boss"))).status_code == 404


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"segment": {}}, "names no callers"),
        ({"text": None}, "needs a message"),
        ({"ends_at": (NOW - timedelta(minutes=1)).isoformat()}, "already past"),
        ({"starts_at": "1750000000"}, "ISO 8601"),
        ({"segment": {"callers": ["06 20 98"]}}, "segment.callers[0] is not a possible phone number"),
    ],
)
async def test_a_bad_declaration_says_why_and_stores_nothing(
    redis_client: aioredis.Redis, changes: dict[str, Any], reason: str
) -> None:
    async with api(redis_client) as (http, _):
        answer = await http.post("/api/v1/acd/outages", json=body(**changes), headers=_auth("boss"))
        assert answer.status_code == 422 and reason in answer.text, answer.text
        assert (await http.get("/api/v1/acd/outages", headers=_auth("boss"))).json()["items"] == []
