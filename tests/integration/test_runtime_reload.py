"""The whole runtime (Redis, ACD, HTTP, AMI to the simulated PBX) under rule edits.

An invalid edit of routing.yaml is refused and calls keep being routed by the
old rules; a valid edit is applied to the running ACD.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import redis.asyncio as aioredis
from pydantic import SecretStr

from pbx.sim import AgentPhone, SimConfig, SimulatedPbx
from switchboard.private_redis import PrivateRedis
from switchboard.runtime import EXAMPLE_CONFIG, Runtime
from switchboard.settings import AmiSection, HttpSection, RedisSection, RulesSection, Settings

SECRET = "runtime-secret"


def _settings(redis: PrivateRedis, port: int, rules: Path) -> Settings:
    return Settings(
        ami=AmiSection(port=port, secret=SecretStr(SECRET)),
        redis=RedisSection(url=SecretStr(redis.url)),
        http=HttpSection(port=0),
        rules=RulesSection(routing=rules),
    )


async def _answered(sim: SimulatedPbx, caller: str) -> None:
    channel = await sim.inbound_call(caller, "+3612345678", ivr_choice="2", patience_s=600, talk_s=5)
    await sim.wait_for_event(
        "BridgeEnter", lambda event: event.get("Channel") == channel, timeout=10
    )


async def test_invalid_edit_keeps_routing_with_the_old_rules(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    rules = tmp_path / "routing.yaml"
    shutil.copy(EXAMPLE_CONFIG / "routing.yaml", rules)
    # The runtime runs on real time here: a 1 s wrap-up keeps the test short.
    rules.write_text(rules.read_text().replace("wrap_up_seconds: 20", "wrap_up_seconds: 1", 1))
    phones = {ext: AgentPhone(answer_after_s=0.2) for ext in ("1005", "1006")}
    sim = SimulatedPbx(SimConfig(users={"switchboard": SECRET}, agents=phones))
    port = await sim.start()
    runtime = Runtime(_settings(redis_server, port, rules))
    try:
        parts = await runtime.start()
        # 1005 (tech 4) is kept free for key callers (reserve_top_agents); 1006 (tech 2) takes the calls.
        await parts.acd.login("1005")
        await parts.acd.login("1006")
        await _answered(sim, "+36301110001")
        old_hash = parts.reloader.hash_of("routing")

        text = rules.read_text()
        rules.write_text(text.replace("wrap_up_seconds: 1", "wrap_up_seconds: -1", 1))
        assert await parts.reloader.check_all() == {"routing": False}
        assert parts.reloader.hash_of("routing") == old_hash

        # The agent comes back from wrap-up under the old rules and takes the next caller.
        await _answered(sim, "+36301110002")

        rules.write_text(text.replace("wrap_up_seconds: 1", "wrap_up_seconds: 0", 1))
        assert await parts.reloader.check_all() == {"routing": True}
        assert parts.reloader.hash_of("routing") != old_hash
        assert parts.acd.queues()[0].name == "support"
    finally:
        await runtime.stop()
        await sim.stop()
