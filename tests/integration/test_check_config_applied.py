"""`switchboard check-config` beside the running engine: what it last applied (Redis) vs the file."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from routing.rules import Rules
from switchboard.cli import EXIT_ERROR, EXIT_OK, main
from switchboard.private_redis import PrivateRedis
from switchboard.reload import ReloadMetrics, RulesReloader
from switchboard.rules_store import LastAppliedStore

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "routing.yaml"


@pytest.fixture
def routing(tmp_path: Path, redis_server: PrivateRedis) -> Path:
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    target = tmp_path / "routing.yaml"
    shutil.copy(EXAMPLE, target)
    return target


def engine_applies(url: str, path: Path) -> str:
    """What `switchboard run` does at start: load the file and keep the applied version in Redis."""

    async def apply() -> str:
        client = aioredis.Redis.from_url(url)
        try:
            reloader = RulesReloader(ReloadMetrics(CollectorRegistry()), store=LastAppliedStore(client))
            reloader.load_initial("routing", path, Rules)
            await reloader.save_applied()
            return reloader.hash_of("routing")
        finally:
            await client.aclose()

    return asyncio.run(apply())


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["check-config", *argv])
    return code, capsys.readouterr().out


def test_it_says_whether_the_engine_runs_the_file_on_disk(
    routing: Path, redis_server: PrivateRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = check(capsys, str(routing), "--redis", redis_server.url)
    assert code == EXIT_OK and "routing: no applied routing rules in Redis" in out
    assert f"the rules the running engine last applied (Redis {redis_server.url}):" in out

    applied = engine_applies(redis_server.url, routing)
    code, out = check(capsys, str(routing), "--redis", redis_server.url)
    assert code == EXIT_OK
    assert f"routing: {routing} is the version the engine last applied ({applied[:12]}, applied " in out

    routing.write_text(routing.read_text().replace("wrap_up: 20s", "wrap_up: 25s", 1))
    code, out = check(capsys, str(routing), "--redis", redis_server.url)
    assert code == EXIT_OK, "an edit not yet reloaded is not a problem"
    assert f"is not the version the engine last applied ({applied[:12]}" in out
    assert "applies it at its next reload" in out

    routing.write_text(routing.read_text().replace("wrap_up: 25s", "wrap_up: soon", 1))
    code, out = check(capsys, str(routing), "--redis", redis_server.url)
    assert code == EXIT_ERROR and "wrap_up" in out
    assert (
        f"routing: {routing} is invalid; the engine runs the version it last applied ({applied[:12]}" in out
    )
    assert "a restart starts on that version" in out


def test_the_redis_of_a_settings_file_is_used_and_its_rule_files_compared(
    routing: Path, redis_server: PrivateRedis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    applied = engine_applies(redis_server.url, routing)
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"redis:\n  url: {redis_server.url}\nrules:\n  routing: {routing}\n")
    code, out = check(capsys, str(settings))
    assert code == EXIT_OK
    assert f"routing: {routing} is the version the engine last applied ({applied[:12]}" in out


def test_without_redis_it_says_so_and_still_checks_the_files(
    routing: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = check(capsys, str(routing))
    assert code == EXIT_OK and f"{routing}: ok (routing" in out
    assert "the running engine's rules were not compared: no Redis given (--redis URL" in out

    code, out = check(capsys, str(routing), "--redis", "redis://127.0.0.1:1/0")
    assert code == EXIT_OK and f"{routing}: ok (routing" in out
    assert (
        "the running engine's rules were not compared (Redis at redis://127.0.0.1:1/0 is not reachable" in out
    )
