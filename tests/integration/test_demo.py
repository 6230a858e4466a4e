"""`switchboard demo` for real, briefly: the engine, the simulated Asterisk and a private Redis;
the story shows the gate's block and the refused rules edit, and the shipped routing.yaml is
never the file the demo edits."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from switchboard.demo import run_demo
from switchboard.private_redis import PrivateRedis
from switchboard.settings import RedisSection, Settings

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "routing.yaml"


async def test_a_short_demo_answers_calls_and_tells_what_the_engine_did(
    redis_server: PrivateRedis, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SWITCHBOARD_SETTINGS_FILE", raising=False)
    before = SHIPPED.read_text(encoding="utf-8")
    settings = Settings(redis=RedisSection(url=SecretStr(redis_server.url)))
    assert await run_demo(settings, 15.0) == 0
    out = capsys.readouterr().out
    assert "Metrics: http://" in out and "(clock runs 10x)" in out
    assert "gate blocked +36205000000 (internal list: asked not to be called)" in out
    assert "edit refused, rules kept: routing.yaml:" in out and "queues[0].level must be <= 5" in out
    assert "Demo finished:" in out and "service level" in out
    assert "\nDemo finished:" in out, "the summary starts a line of its own, also in a pipe"
    assert SHIPPED.read_text(encoding="utf-8") == before
