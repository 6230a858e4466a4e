"""The two things a newcomer runs: the demo, and `switchboard run` against an Asterisk."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import redis.asyncio as aioredis
from pydantic import SecretStr

from pbx.sim import SimConfig, SimulatedPbx
from switchboard.demo import run_demo
from switchboard.private_redis import PrivateRedis
from switchboard.settings import RedisSection, Settings

ROOT = Path(__file__).resolve().parents[2]


async def test_the_demo_answers_calls_through_the_simulated_pbx(
    redis_server: PrivateRedis, redis_client: aioredis.Redis
) -> None:
    settings = Settings(redis=RedisSection(url=SecretStr(redis_server.url)))
    # 8 s at 40x: about five simulated minutes of inbound traffic.
    code = await asyncio.wait_for(run_demo(settings, 8.0, time_scale=40.0, seed=3), timeout=60)
    assert code == 0


async def _run_cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "switchboard", *args,
        env={**os.environ, **env}, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_run_with_a_wrong_ami_password_exits_3_naming_the_cause(redis_server: PrivateRedis) -> None:
    sim = SimulatedPbx(SimConfig(users={"switchboard": "right-secret"}))
    port = await sim.start()
    try:
        env = {
            "SWITCHBOARD_AMI_PORT": str(port),
            "SWITCHBOARD_AMI_SECRET": "wrong-secret",
            "SWITCHBOARD_REDIS_URL": redis_server.url,
            "SWITCHBOARD_HTTP_PORT": "0",
            "SWITCHBOARD_LOG_FORMAT": "json",
            "SWITCHBOARD_RULES_ROUTING": str(ROOT / "config/routing.yaml"),
        }
        code, output = await _run_cli(env, "run")
    finally:
        await sim.stop()
    assert code == 3, output
    assert "Authentication failed" in output
    assert "wrong-secret" not in output  # the secret is never printed


async def test_run_without_redis_url_says_what_to_set() -> None:
    code, output = await _run_cli({"SWITCHBOARD_AMI_SECRET": "x", "SWITCHBOARD_REDIS_URL": ""}, "run")
    assert code == 2, output
    assert "SWITCHBOARD_REDIS_URL" in output
