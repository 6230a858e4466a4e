"""The ACD's HTTP API against a running ACD (simulated Asterisk over TCP, private Redis)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import redis.asyncio as aioredis

from pbx.sim import AgentPhone
from routing.acd.acd_keys import AcdKeys
from routing.acd.views import queues_info
from routing.agent_events import AgentState
from switchboard.api import AppState, TokenStore, create_app
from switchboard.api.acd_api import install
from switchboard.metrics import create_metrics
from switchboard.settings import Settings
from tests.support.acd_harness import Stack, acd_stack, agent, base_rules, make_rules, sim_config

pytestmark = pytest.mark.integration
TOKENS = {
    "a1": ("advisor-a1-token-0001", "advisor"),
    "a2": ("advisor-a2-token-0002", "advisor"),
    "boss": ("supervisor-token-0003", "supervisor"),
    "crm": ("crm-sync-token-000004", "crm"),
}


def _auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name][0]}"}


@asynccontextmanager
async def api(redis: aioredis.Redis, **phones: AgentPhone) -> AsyncIterator[tuple[httpx.AsyncClient, Stack]]:
    tiers = [
        *base_rules()["tiers"],
        {"name": "gold", "priority": 90, "crm": [{"field": "segment", "values": ["gold"]}]},
    ]
    agents = [agent("a1", "PJSIP/2001", tech=2), agent("a2", "PJSIP/2002", tech=3)]
    rules = make_rules(base_rules(agents=agents, tiers=tiers))
    tokens = TokenStore.from_tokens([(token, name, role) for name, (token, role) in TOKENS.items()])  # type: ignore[misc]
    state = AppState(settings=Settings(), tokens=tokens, metrics=create_metrics(process=False))
    app = create_app(state)
    async with acd_stack(redis, rules, sim_config(**phones)) as stack:
        install(app, stack.acd)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://switchboard") as http:
            yield http, stack


async def test_an_advisor_manages_their_own_presence_only(redis_client: aioredis.Redis) -> None:
    async with api(redis_client) as (http, s):
        answer = await http.post("/api/v1/acd/agents/a1/login", headers=_auth("a1"))
        assert answer.status_code == 200 and answer.json()["state"] == "ready"
        answer = await http.post("/api/v1/acd/agents/a1/pause", json={"reason": "lunch"}, headers=_auth("a1"))
        assert (answer.json()["state"], answer.json()["pause_reason"]) == ("paused", "lunch")
        assert (await http.post("/api/v1/acd/agents/a1/ready", headers=_auth("a1"))).json()[
            "state"
        ] == "ready"

        other = await http.post("/api/v1/acd/agents/a2/login", headers=_auth("a1"))
        assert other.status_code == 403 and other.json()["error"] == "forbidden"
        listed = (await http.get("/api/v1/acd/agents", headers=_auth("a1"))).json()
        assert [a["id"] for a in listed["items"]] == ["a1"] and listed["next_cursor"] is None
        twice = await http.post("/api/v1/acd/agents/a1/login", headers=_auth("a1"))
        assert twice.status_code == 409 and twice.json()["error"] == "agent-transition-invalid"
        assert (await http.post("/api/v1/acd/agents/a1/logout", headers=_auth("a1"))).json()[
            "state"
        ] == "logged_out"
        assert (await http.get("/api/v1/acd/agents")).status_code == 401
        assert s.state("a1") is AgentState.LOGGED_OUT


async def test_a_supervisor_sees_everyone_and_edits_skills(redis_client: aioredis.Redis) -> None:
    async with api(redis_client) as (http, _):
        await http.post("/api/v1/acd/agents/a2/login", headers=_auth("boss"))
        page = (await http.get("/api/v1/acd/agents", headers=_auth("boss"))).json()
        listed = {a["id"]: a for a in page["items"]}
        first = (await http.get("/api/v1/acd/agents", params={"limit": 1}, headers=_auth("boss"))).json()
        params = {"limit": 1, "cursor": first["next_cursor"]}
        second = (await http.get("/api/v1/acd/agents", params=params, headers=_auth("boss"))).json()
        assert [a["id"] for a in first["items"] + second["items"]] == ["a1", "a2"], "by id, none repeated"
        assert second["next_cursor"] is None
        assert (listed["a1"]["state"], listed["a2"]["state"]) == ("logged_out", "ready")
        assert listed["a2"]["skills"] == {"tech": 3} and listed["a2"]["source"] == "rules"

        edited = await http.put(
            "/api/v1/acd/agents/a2/skills", json={"skills": {"tech": 5}}, headers=_auth("boss")
        )
        assert edited.status_code == 200 and edited.json()["skills"] == {"tech": 5}
        stored = json.loads(await redis_client.get(AcdKeys().agent_profile("a2")) or "{}")
        assert (stored["skills"], stored["source"]) == ({"tech": 5}, "api")
        bad = await http.put(
            "/api/v1/acd/agents/a2/skills", json={"skills": {"tech": 6}}, headers=_auth("boss")
        )
        assert bad.status_code == 422
        unknown = await http.put(
            "/api/v1/acd/agents/a2/skills", json={"skills": {"cooking": 2}}, headers=_auth("boss")
        )
        assert unknown.status_code == 422 and "cooking" in unknown.json()["message"]
        body = {"name": "New Agent", "interface": "PJSIP/2009", "skills": {"billing": 2}}
        created = await http.put("/api/v1/acd/agents/a9", json=body, headers=_auth("boss"))
        assert created.status_code == 200 and created.json()["state"] == "logged_out"
        advisor = await http.put(
            "/api/v1/acd/agents/a1/skills", json={"skills": {"tech": 5}}, headers=_auth("a1")
        )
        assert advisor.status_code == 403
        assert (await http.get("/api/v1/acd/agents/nobody", headers=_auth("boss"))).status_code == 404


async def test_queue_view_case_context_and_events(redis_client: aioredis.Redis) -> None:
    async with api(redis_client, **{"2001": AgentPhone(answer_after_s=0.05)}) as (http, s):
        number = "+36301234567"
        pushed = await http.put(
            f"/api/v1/acd/customers/{number}", json={"segment": "gold"}, headers=_auth("crm")
        )
        assert pushed.status_code == 200
        await s.sim.inbound_call("+36309999999", "+3612345678", patience_s=600)
        caller = await s.sim.inbound_call("06 30 123 4567", "+3612345678", ivr_choice="1", patience_s=600)
        await s.until(lambda: len(s.waiting_ids()) == 2)
        view = (await http.get("/api/v1/acd/queues", headers=_auth("boss"))).json()["items"]
        waiting = view[0]["waiting"]
        assert [(w["position"], w["tier"]) for w in waiting] == [(1, "gold"), (2, "active")]
        assert (
            waiting[0]["priority"] >= 90 and waiting[0]["waited"] >= 0 and waiting[0]["needs"] == {"tech": 2}
        )
        assert view[0]["agents"] == {"logged_out": 2}

        call_id = s.sim.channels[caller].uniqueid
        since = (await http.get("/api/v1/acd/events", headers=_auth("a1"))).json()["last_id"]
        poll = asyncio.create_task(
            http.get("/api/v1/acd/events", params={"since": since, "wait": 5}, headers=_auth("a1"))
        )
        await http.post("/api/v1/acd/agents/a1/login", headers=_auth("a1"))
        events = (await poll).json()["events"]
        assert [(e["type"], e["data"]["call_id"], e["data"]["tier"]) for e in events] == [
            ("handover", call_id, "gold")
        ]
        assert events[0]["data"]["customer"] == {"segment": "gold"}

        case = await http.get(f"/api/v1/acd/calls/{call_id}/case", headers=_auth("a1"))
        assert case.status_code == 200
        body = case.json()
        assert (body["caller"], body["ivr"], body["agent_id"], body["state"]) == (
            number,
            "1",
            "a1",
            "connected",
        )
        wrote = await http.put(
            f"/api/v1/acd/calls/{call_id}/case",
            json={"summary": "no internet since 9am"},
            headers=_auth("a1"),
        )
        assert wrote.json()["summary"] == "no internet since 9am"
        assert (await http.get(f"/api/v1/acd/calls/{call_id}/case", headers=_auth("a2"))).status_code == 403
        assert (await http.get("/api/v1/acd/calls/nope/case", headers=_auth("boss"))).status_code == 404
        bad = await http.get("/api/v1/acd/events", params={"since": "x"}, headers=_auth("boss"))
        assert bad.status_code == 422


async def test_the_queue_view_tells_connected_calls_from_ringing_ones_with_live_figures(
    redis_client: aioredis.Redis,
) -> None:
    async with api(redis_client, **{"2001": AgentPhone(answer_after_s=0.05)}) as (http, s):
        await s.sim.inbound_call("+36309999999", "+3612345678", patience_s=600)
        await s.until(lambda: len(s.waiting_ids()) == 1)
        before = (await http.get("/api/v1/acd/queues", headers=_auth("boss"))).json()["items"][0]
        assert before["oldest_wait"] == before["waiting"][0]["waited"] and before["connected"] == []
        assert before["service_level"] is None  # no call answered or lost yet
        await http.post("/api/v1/acd/agents/a1/login", headers=_auth("a1"))
        await s.until(lambda: any(q.connected for q in s.acd.queues()))
        await s.settled()  # memory says connected before its commit; the answer (service level) after it
        view = (await http.get("/api/v1/acd/queues", headers=_auth("boss"))).json()["items"][0]
        assert view["ringing"] == [] and view["waiting"] == [] and view["oldest_wait"] == 0
        [talking] = view["connected"]
        assert (talking["state"], talking["agent_id"]) == ("connected", "a1")
        assert view["service_level"] == 1.0  # answered within the target
        later = queues_info(s.acd.ctx.state, s.acd.ctx.clock() + 600)  # ten minutes into the talk
        assert later[0].connected[0].waited == talking["waited"], "the wait stops at the answer"


async def test_an_advisor_transfers_their_call_over_http_and_finishes_its_summary_in_wrap_up(
    redis_client: aioredis.Redis,
) -> None:
    async with api(redis_client) as (http, s):
        await http.post("/api/v1/acd/agents/a1/login", headers=_auth("a1"))
        await s.sim.inbound_call("+36309999999", "+3612345678", patience_s=600)
        await s.until_state("a1", AgentState.BUSY)
        call_id = s.acd.agent("a1").call_id
        path = f"/api/v1/acd/calls/{call_id}/transfer"

        others = await http.post(path, json={"to": "queue:support"}, headers=_auth("a2"))
        assert others.status_code == 403, "not a2's call"
        bad = await http.post(path, json={"to": "billing"}, headers=_auth("a1"))
        assert (bad.status_code, bad.json()["error"]) == (422, "validation-failed")
        assert "queue:<name>" in bad.json()["message"]
        unknown = await http.post(path, json={"to": "queue:sales"}, headers=_auth("a1"))
        assert unknown.status_code == 422 and "no queue 'sales'" in unknown.json()["message"]
        early = await http.post(f"{path}/complete", headers=_auth("a1"))
        assert (early.status_code, early.json()["error"]) == (409, "transfer-not-possible")
        busy = await http.post(path, json={"to": "agent:a2", "mode": "warm"}, headers=_auth("a1"))
        assert busy.status_code == 409 and "a consult needs a ready agent" in busy.json()["message"]

        moved = await http.post(path, json={"to": "skill:tech", "level": 3}, headers=_auth("a1"))
        assert moved.status_code == 200
        assert (moved.json()["state"], moved.json()["transfer_target"]) == ("waiting", "skill:tech")
        await s.until_state("a1", AgentState.WRAP_UP)
        me = (await http.get("/api/v1/acd/agents/a1", headers=_auth("a1"))).json()
        assert (me["state"], me["call_id"]) == ("wrap_up", call_id), (
            "the console finds the call after a reload"
        )
        wrote = await http.put(
            f"/api/v1/acd/calls/{call_id}/case",
            json={"summary": "needs a level-3 technician"},
            headers=_auth("a1"),
        )
        assert wrote.status_code == 200 and wrote.json()["summary"] == "needs a level-3 technician"
        await http.post("/api/v1/acd/agents/a2/login", headers=_auth("a2"))
        await s.until_state("a2", AgentState.BUSY)
        case = (await http.get(f"/api/v1/acd/calls/{call_id}/case", headers=_auth("a2"))).json()
        assert (case["agent_id"], case["summary"], case["transferred_from"]) == (
            "a2", "needs a level-3 technician", "a1"
        )  # fmt: skip
