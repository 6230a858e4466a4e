"""`switchboard run` with `mail` in the settings: an advisor's reminder and morning digest reach a
real SMTP server (aiosmtpd) from the engine's own tick, the address and language from routing.yaml.
Real HTTP, AMI over TCP to the simulated PBX, private Redis, a clock that jumps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from pbx.sim import SimConfig, SimulatedPbx
from switchboard.api.tokens import TokenStore
from switchboard.private_redis import PrivateRedis
from switchboard.runtime import EXAMPLE_CONFIG, Runtime
from switchboard.settings import AmiSection, HttpSection, MailSection, RedisSection, RulesSection, Settings
from tests.support.dialer_harness import WEDNESDAY_NOON, RunningClock
from tests.support.smtp_server import Received, smtp_server

pytestmark = pytest.mark.integration

SECRET = "runtime-secret"
ANNA = "anna.kovacs@example.hu"  # agent 1001 of the example routing.yaml, language hu
TOKENS = TokenStore.from_tokens([("crm-token", "crm", "crm"), ("anna-token", "1001", "advisor")])


class JumpClock(RunningClock):
    def __init__(self) -> None:
        super().__init__(WEDNESDAY_NOON)
        self.offset = 0.0

    def __call__(self) -> float:
        return super().__call__() + self.offset


def _keys(received: list[Received], kind: str) -> list[str]:
    return [m.header("X-Switchboard-Key") for m in received if m.header("X-Switchboard-Key").startswith(kind)]


async def test_the_running_engine_mails_the_digest_and_the_reminder_to_the_advisor(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    sim = SimulatedPbx(SimConfig(users={"switchboard": SECRET}))
    port = await sim.start()
    clock = JumpClock()
    clock.offset = -6 * 3600.0  # 06:00 in Budapest: the day's digest (07:00) is not due yet
    async with smtp_server() as smtp:
        settings = Settings(
            ami=AmiSection(port=port, secret=SecretStr(SECRET)),
            redis=RedisSection(url=SecretStr(redis_server.url)),
            http=HttpSection(port=0),
            rules=RulesSection(routing=EXAMPLE_CONFIG / "routing.yaml", tasks=EXAMPLE_CONFIG / "tasks.yaml"),
            mail=MailSection(host="127.0.0.1", port=smtp.port, security="none", sender="cc@example.hu"),
        )
        runtime = Runtime(settings, clock=clock, tokens=TOKENS)
        try:
            await runtime.start()
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runtime.http_port}") as http:
                lead = {"lead_id": "M1", "customer_id": "C1", "name": "Kiss Béla", "phones": ["+36301234001"],
                        "email": "bela@example.hu"}  # fmt: skip
                reply = await http.post("/api/v1/leads:bulk", json={"leads": [lead]},
                                        headers={"Authorization": "Bearer crm-token"})  # fmt: skip
                assert reply.status_code == 200, reply.text
                own = datetime.fromtimestamp(clock() - clock.offset, UTC) + timedelta(hours=2)
                body = {"lead_id": "M1", "kind": "callback_requested", "own_time": own.isoformat(),
                        "reminder": {"before": "1h"}}  # fmt: skip
                anna = {"Authorization": "Bearer anna-token"}
                reply = await http.post("/api/v1/tasks", json=body, headers=anna)
                assert reply.status_code == 201, reply.text
                task_id = reply.json()["task_id"]

            # 12:00 in Budapest, past the 07:00 digest hour: today's digest lists the task due at 14:00
            # (the task exists before the hour comes, so no engine pass can find the advisor idle first)
            clock.offset = 0.0
            await smtp.wait_for(lambda got: bool(_keys(got, "digest:1001:")) and bool(_keys(got, "own:")))
            [digest] = [m for m in smtp.to(ANNA) if m.header("X-Switchboard-Key").startswith("digest:")]
            assert digest.subject.startswith("Mai feladataid") and task_id in digest.body
            assert smtp.to("bela@example.hu")[0].subject.startswith("Visszahívás időpontja:")
            assert _keys(smtp.received, "remind:") == [], "not before its instant"

            clock.offset = 3600.0  # one hour on: the reminder is due
            await smtp.wait_for(lambda got: bool(_keys(got, "remind:")))
            [reminder] = [m for m in smtp.to(ANNA) if m.header("X-Switchboard-Key").startswith("remind:")]
            label = "Callback requested (visszahívás)"  # the rule's label in the example tasks.yaml
            assert reminder.subject == f"Emlékeztető: {label} - Kiss Béla, 2026-11-18 14:00 Europe/Budapest"
            assert reminder.header("Content-Language") == "hu"
        finally:
            await runtime.stop()
            await sim.stop()
