"""An inbound call has no lead, yet its advisor records its disposition (from the console: by the
call id): the automation acts on the caller (do_not_call blocks the caller's number), the record
names the call's case and reads back by call and by case; another advisor cannot set it. Real
engine on a private Redis, the simulated PBX over TCP, real HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from switchboard.private_redis import PrivateRedis
from tests.support.console_harness import running_engine

pytestmark = pytest.mark.integration
CALLER = "+36301230042"


async def test_an_inbound_calls_disposition_is_recorded_by_call_id_and_read_back_by_call_and_case(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    async with running_engine(redis_server, tmp_path) as engine:
        await engine.parts.acd.login("1004")  # tech 5, kept for key callers: 1001 takes this one
        await engine.call_api("ann", "POST", "/api/v1/acd/agents/1001/login")
        channel = await engine.sim.inbound_call(CALLER, ivr_choice="1")
        await engine.sim.wait_for_action("Bridge", timeout=10)
        call_id = engine.parts.acd.agent("1001").call_id
        case_id = (await engine.parts.acd.case(call_id)).case_id
        engine.sim.core.hangup(engine.sim.channels[channel], 16)
        body = {"call_id": call_id, "code": "do_not_call", "note": "asked never to be called"}

        async with engine.http("bob") as bob:
            refused = await bob.post("/api/v1/dispositions", json=body)
            assert refused.status_code == 403 and refused.json()["error"] == "forbidden", "not bob's call"
        async with engine.http("ann") as ann:
            neither = await ann.post("/api/v1/dispositions", json={"code": "do_not_call"})
            assert neither.status_code == 422 and "call_id" in neither.json()["message"]
            unknown = await ann.post("/api/v1/dispositions", json={**body, "call_id": "no-such-call"})
            assert unknown.status_code == 404
            reply = await ann.post("/api/v1/dispositions", json=body)
        assert reply.status_code == 201, reply.text
        record = reply.json()
        assert (record["lead_id"], record["call_id"], record["case_id"]) == ("", call_id, case_id)
        assert (record["advisor"], record["number"], record["code"]) == ("1001", CALLER, "do_not_call")
        actions = {a["action"]: a["status"] for a in record["actions"]}
        assert actions == {"blacklist": "done", "close_lead": "skipped"}, "no lead to close"

        check = await engine.call_api("sue", "POST", "/api/v1/blacklist/check", json={"numbers": [CALLER]})
        assert check["results"][0]["blocked"] is True, "the caller's number is blocked at once"
        by_call = await engine.call_api("crm", "GET", "/api/v1/dispositions", params={"call_id": call_id})
        by_case = await engine.call_api("sue", "GET", "/api/v1/dispositions", params={"case_id": case_id})
        assert by_call["items"] == by_case["items"] == [record]
        everything = await engine.call_api("crm", "GET", "/api/v1/dispositions")
        assert record in everything["items"], "the CRM's read-back of all dispositions has it too"
