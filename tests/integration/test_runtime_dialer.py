"""`switchboard run`'s runtime dials: campaigns.yaml loaded and hot-reloaded, leads from the CRM API,
a supervisor starts the campaign over HTTP, and the answered call reaches the advisor the ACD holds
for it (the ACD owns the agents). Real HTTP, AMI over TCP to the simulated PBX, private Redis."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import redis.asyncio as aioredis
from pydantic import SecretStr

from dialer.dialer_keys import DialKeys, LeadKeys
from pbx.sim import AgentPhone, CustomerScript, SimConfig, SimulatedPbx
from routing.acd.events import AcdEvent, AcdEvents
from routing.agent_events import AgentState
from switchboard.api.tokens import TokenStore
from switchboard.private_redis import PrivateRedis
from switchboard.runtime import EXAMPLE_CONFIG, Runtime
from switchboard.settings import AmiSection, HttpSection, RedisSection, RulesSection, Settings
from tests.support.dialer_harness import RunningClock, originate_vars

SECRET = "runtime-secret"
CUSTOMER = "+36301234001"
CAMPAIGNS = """
version: 1
campaigns:
  - id: renewals
    name: Renewals
    mode: progressive
    dial_string: PJSIP/{number}@trunk
    queue: sales
    ring_timeout_s: 20
"""
TOKENS = TokenStore.from_tokens(
    [("crm-token", "crm", "crm"), ("sue-token", "sue", "supervisor"), ("ann-token", "ann", "advisor")]
)


def _settings(redis: PrivateRedis, port: int, rules: Path, campaigns: Path, **more: Path) -> Settings:
    return Settings(
        ami=AmiSection(port=port, secret=SecretStr(SECRET)),
        redis=RedisSection(url=SecretStr(redis.url)),
        http=HttpSection(port=0),
        rules=RulesSection(routing=rules, campaigns=campaigns, **more),
    )


async def _next_event(events: AcdEvents, kind: str) -> AcdEvent:
    """The first ACD event of `kind` (each read blocks on the Redis stream for up to 5 s)."""
    since = "0"
    async with asyncio.timeout(10):
        while True:
            for event in await events.read(since, wait_s=5):
                if event.type == kind:
                    return event
                since = event.id


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_started_campaign_dials_through_the_acd_and_campaigns_yaml_reloads(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    rules, campaigns = tmp_path / "routing.yaml", tmp_path / "campaigns.yaml"
    shutil.copy(EXAMPLE_CONFIG / "routing.yaml", rules)
    campaigns.write_text(CAMPAIGNS)
    sim = SimulatedPbx(
        SimConfig(
            users={"switchboard": SECRET},
            agents={"1008": AgentPhone(answer_after_s=0.2)},
            customer_overrides={CUSTOMER: CustomerScript(outcome="answer", ring_s=0.3, talk_s=30)},
            amd_s=(0.1, 0.2),
        )
    )
    port = await sim.start()
    # what an older version left: a lead's attempt in its `dial:lead` ZSET, the lead not marked
    old_lead, old_log = LeadKeys().lead("OLD1"), DialKeys().lead_attempts("OLD1")
    await redis_client.hset(old_lead, mapping={"lead_id": "OLD1", "status": "done"})
    await redis_client.zadd(old_log, {"old-1|busy|renewals": 1})
    runtime = Runtime(_settings(redis_server, port, rules, campaigns), clock=RunningClock(), tokens=TOKENS)
    try:
        parts = await runtime.start()
        await parts.dialer.background.settled()  # the start-up pass runs in the background
        assert await redis_client.hget(old_lead, "dial_zset") == b"1", "marked at start: the caps read it"
        await parts.acd.login("1008")  # sales 5: the only advisor of the sales queue logged in
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runtime.http_port}") as http:
            lead = {"lead_id": "R1", "customer_id": "C1", "name": "Kiss Anna", "phones": [CUSTOMER]}
            reply = await http.post(
                "/api/v1/leads:bulk",
                json={"campaign_id": "renewals", "leads": [lead]},
                headers=_auth("crm-token"),
            )
            assert reply.status_code == 200 and reply.json()["created"] == 1, reply.text
            stray = lead | {"lead_id": "R2", "campaign_id": "renewal"}  # a typo: never dialed
            reply = await http.post("/api/v1/leads:bulk", json={"leads": [stray]}, headers=_auth("crm-token"))
            [problem] = reply.json()["errors"]
            assert problem["message"].startswith(
                "campaign_id: no such campaign in campaigns.yaml (known: renewals"
            )
            reply = await http.post("/api/v1/campaigns/renewals/start", headers=_auth("sue-token"))
            assert reply.status_code == 200, reply.text

            dial = await sim.wait_for_action(
                "Originate", lambda a: "@trunk" in (a.get("Channel") or ""), timeout=10
            )
            assert originate_vars(dial)["SWITCHBOARD_AGENT_ID"] == "1008"
            ring = await sim.wait_for_action(
                "Originate", lambda a: a.get("Channel") == "PJSIP/1008", timeout=10
            )
            assert originate_vars(ring)["SWITCHBOARD_CALL_ID"] == originate_vars(dial)["SWITCHBOARD_CALL_ID"]
            await sim.wait_for_action("Bridge", timeout=10)
            handover = await _next_event(parts.acd.events, "handover")
            assert handover.agent_id == "1008"
            assert (handover.data["campaign"], handover.data["lead_id"]) == ("renewals", "R1"), (
                "the lead reaches the screen"
            )
            assert parts.acd.agent("1008").state == str(AgentState.BUSY)

            stats = (await http.get("/api/v1/campaigns/renewals/stats", headers=_auth("sue-token"))).json()
            assert stats["state"] == "running" and stats["dials_24h"] == 1

        old_hash = parts.reloader.hash_of("campaigns")
        campaigns.write_text(CAMPAIGNS.replace("ring_timeout_s: 20", "ring_timeout_s: -5"))
        assert await parts.reloader.check_all() == {"campaigns": False}
        assert parts.dialer.campaigns.campaigns[0].ring_timeout_s == 20, "an invalid edit keeps the old ones"
        campaigns.write_text(CAMPAIGNS.replace("ring_timeout_s: 20", "ring_timeout_s: 25"))
        assert await parts.reloader.check_all() == {"campaigns": True}
        assert parts.reloader.hash_of("campaigns") != old_hash
        assert parts.dialer.campaigns.campaigns[0].ring_timeout_s == 25
    finally:
        await runtime.stop()
        await sim.stop()


async def test_leads_take_the_campaign_priority_and_dispositions_reach_the_campaign_and_the_tasks(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    campaigns = tmp_path / "campaigns.yaml"
    campaigns.write_text(
        CAMPAIGNS
        + "    lead_priority:\n      - crm: {segment: [gold]}\n        priority: 90\n"
        + "    caps:\n      retry_after_disposition: {callback_later: 3d}\n"
    )
    sim = SimulatedPbx(SimConfig(users={"switchboard": SECRET}))
    port = await sim.start()
    settings = _settings(
        redis_server, port, EXAMPLE_CONFIG / "routing.yaml", campaigns,
        dispositions=EXAMPLE_CONFIG / "dispositions.yaml", tasks=EXAMPLE_CONFIG / "tasks.yaml",
    )  # fmt: skip
    clock = RunningClock()
    runtime = Runtime(settings, clock=clock, tokens=TOKENS)
    try:
        await runtime.start()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runtime.http_port}") as http:
            leads = [
                {
                    "lead_id": "G1",
                    "customer_id": "C1",
                    "name": "Gold",
                    "phones": [CUSTOMER],
                    "crm": {"segment": "gold"},
                },
                {
                    "lead_id": "S1",
                    "customer_id": "C2",
                    "name": "Std",
                    "phones": ["+36301234002"],
                    "priority": 7,
                },
                {"lead_id": "X1", "customer_id": "C3", "name": "Bad", "phones": ["12"]},
            ]
            reply = await http.post(
                "/api/v1/leads:bulk",
                json={"campaign_id": "renewals", "leads": leads},
                headers=_auth("crm-token"),
            )
            assert reply.json()["created"] == 2 and len(reply.json()["errors"]) == 1, reply.text
            gold = (await http.get("/api/v1/leads/G1", headers=_auth("sue-token"))).json()
            standard = (await http.get("/api/v1/leads/S1", headers=_auth("sue-token"))).json()
            assert (gold["priority"], standard["priority"]) == (90, 7), "lead_priority rules over the CRM's"
            metrics = (await http.get("/metrics")).text
            assert 'switchboard_lead_imports_total{result="created",source="api"} 2.0' in metrics
            assert 'switchboard_lead_imports_total{result="error",source="api"} 1.0' in metrics

            reply = await http.post(
                "/api/v1/dispositions",
                json={"lead_id": "G1", "code": "callback_later", "note": "after 5 pm"},
                headers=_auth("ann-token"),
            )
            assert reply.status_code == 201, reply.text
            gold = (await http.get("/api/v1/leads/G1", headers=_auth("sue-token"))).json()
            retry_at = datetime.fromisoformat(gold["next_attempt_at"])
            assert retry_at - datetime.fromtimestamp(clock(), UTC) > timedelta(days=2, hours=23), (
                "the campaign's 3 d"
            )
            tasks = (await http.get("/api/v1/tasks", headers=_auth("ann-token"))).json()["items"]
            assert [(t["kind"], t["lead_id"], t["owner"]) for t in tasks] == [
                ("callback_requested", "G1", "ann")
            ]
    finally:
        await runtime.stop()
        await sim.stop()
