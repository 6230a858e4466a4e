"""The whole runtime (Redis, ACD, HTTP, AMI to the simulated PBX) under rule edits.

An invalid edit of routing.yaml is refused and calls keep being routed by the
old rules; a valid edit is applied to the running ACD.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from core.errors import ConfigError
from pbx.sim import AgentPhone, SimConfig, SimulatedPbx
from switchboard.private_redis import PrivateRedis
from switchboard.runtime import EXAMPLE_CONFIG, Parts, Runtime
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
    rules.write_text(rules.read_text().replace("wrap_up: 20s", "wrap_up: 1s", 1))
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
        rules.write_text(text.replace("wrap_up: 1s", "wrap_up: -1", 1))
        assert await parts.reloader.check_all() == {"routing": False}
        assert parts.reloader.hash_of("routing") == old_hash

        # The agent comes back from wrap-up under the old rules and takes the next caller.
        await _answered(sim, "+36301110002")

        rules.write_text(text.replace("wrap_up: 1s", "wrap_up: 0s", 1))
        assert await parts.reloader.check_all() == {"routing": True}
        assert parts.reloader.hash_of("routing") != old_hash
        assert parts.acd.queues()[0].name == "support"
    finally:
        await runtime.stop()
        await sim.stop()


async def test_a_restart_on_a_refused_edit_runs_the_last_applied_rules(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    """A bad edit is refused while running; after a restart the engine starts on the last applied
    version (kept in Redis), says so on /readyz and in a gauge, and takes the fixed file."""
    rules = tmp_path / "routing.yaml"
    shutil.copy(EXAMPLE_CONFIG / "routing.yaml", rules)
    good = rules.read_text()
    sim = SimulatedPbx(SimConfig(users={"switchboard": SECRET}))
    port = await sim.start()
    try:
        first = Runtime(_settings(redis_server, port, rules))
        parts = await first.start()
        applied = parts.reloader.hash_of("routing")
        rules.write_text(good.replace("wrap_up: 20s", "wrap_up: -1", 1))
        assert await parts.reloader.check_all() == {"routing": False}
        assert _gauge(parts, "routing") == 1.0
        await first.stop()

        second = Runtime(_settings(redis_server, port, rules))
        parts = await second.start()  # before: ConfigError, exit 2
        try:
            assert parts.reloader.hash_of("routing") == applied
            assert _gauge(parts, "routing") == 1.0
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{second.http_port}") as http:
                ready = (await http.get("/readyz")).json()
            warning = ready["warnings"]["rules.routing"]
            assert "file invalid, running the last applied version" in warning
            assert "wrap_up" in warning, "it says what is wrong in the file"

            rules.write_text(good.replace("wrap_up: 20s", "wrap_up: 5s", 1))
            assert await parts.reloader.check_all() == {"routing": True}
            assert _gauge(parts, "routing") == 0.0 and parts.reloader.invalid_files() == {}
        finally:
            await second.stop()
    finally:
        await sim.stop()


async def test_a_bad_file_without_a_kept_version_still_stops_the_start(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    await redis_client.flushdb()
    rules = tmp_path / "routing.yaml"
    rules.write_text("queues: [")
    with pytest.raises(ConfigError, match=r"routing\.yaml"):
        await Runtime(_settings(redis_server, 1, rules)).start()


def _gauge(parts: Parts, kind: str) -> float | None:
    return parts.metrics.registry.get_sample_value("switchboard_rules_file_invalid", {"kind": kind})


async def test_the_start_refuses_rule_files_that_refer_to_each_other_wrongly(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    await redis_client.flushdb()
    for kind in ("routing", "dispositions", "tasks"):
        shutil.copy(EXAMPLE_CONFIG / f"{kind}.yaml", tmp_path / f"{kind}.yaml")
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(tasks.read_text().replace("[callback_later]", "[call_back_later]"))
    routing, dispositions = tmp_path / "routing.yaml", tmp_path / "dispositions.yaml"
    rules = RulesSection(routing=routing, dispositions=dispositions, tasks=tasks)
    settings = _settings(redis_server, 1, tmp_path / "routing.yaml").model_copy(update={"rules": rules})
    with pytest.raises(ConfigError, match="refer to each other wrongly") as exc:
        await Runtime(settings).start()
    assert "did you mean 'callback_later'" in exc.value.message
