"""Two `switchboard run` runtimes on one Redis and one Asterisk: the first owns the ACD and the
pacing, the second is a standby whose API refuses changes (503 `not-owner`); a clean stop hands
over at once (the lease is released). Real HTTP, AMI over TCP to the simulated PBX, private Redis."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from pbx.sim import SimConfig, SimulatedPbx
from switchboard.api.tokens import TokenStore
from switchboard.private_redis import PrivateRedis
from switchboard.runtime import EXAMPLE_CONFIG, Runtime
from switchboard.settings import AmiSection, EngineSection, HttpSection, RedisSection, RulesSection, Settings
from tests.support.lease_harness import became_owner

pytestmark = pytest.mark.integration
SECRET = "runtime-secret"
TOKENS = TokenStore.from_tokens([("sue-token", "sue", "supervisor")])
SUE = {"Authorization": "Bearer sue-token"}


def _settings(redis: PrivateRedis, port: int, rules: Path, engine_id: str) -> Settings:
    return Settings(
        ami=AmiSection(port=port, secret=SecretStr(SECRET)),
        redis=RedisSection(url=SecretStr(redis.url)),
        http=HttpSection(port=0),
        rules=RulesSection(routing=rules),
        engine=EngineSection(id=engine_id, lease_ttl=1.0, lease_renew=0.25),
    )


async def test_a_standby_refuses_changes_and_takes_over_at_once_when_the_owner_stops(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    rules = tmp_path / "routing.yaml"
    shutil.copy(EXAMPLE_CONFIG / "routing.yaml", rules)
    sim = SimulatedPbx(SimConfig(users={"switchboard": SECRET}))
    port = await sim.start()
    one = Runtime(_settings(redis_server, port, rules, "sb-1"), tokens=TOKENS)
    two = Runtime(_settings(redis_server, port, rules, "sb-2"), tokens=TOKENS)
    try:
        await one.start()
        standby = await two.start()
        assert one.parts.acd.owns and one.parts.lease.owned
        assert not standby.acd.owns and await standby.lease.holder() == "sb-1"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{two.http_port}") as http:
            refused = await http.post("/api/v1/acd/agents/1001/login", headers=SUE)
            assert refused.status_code == 503 and refused.json()["error"] == "not-owner", refused.text

            await one.stop()  # a clean stop releases the lease: no TTL to wait for
            await became_owner(standby.lease, timeout=1.0)
            await standby.acd.take_over()  # the takeover under way; idempotent: back once reloaded
            assert standby.acd.owns
            answer = await http.post("/api/v1/acd/agents/1001/login", headers=SUE)
            assert answer.status_code == 200 and answer.json()["state"] == "ready", answer.text
        assert (
            standby.metrics.registry.get_sample_value("switchboard_owner", {"role": "acd", "engine": "sb-2"})
            == 1
        )
    finally:
        await one.stop()
        await two.stop()
        await sim.stop()
