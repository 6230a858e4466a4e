"""Audit streams are bounded by age and count per stream; abandon records stay two years by default
and can be exported (a real Redis: stream ids are its milliseconds)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import redis.exceptions
from prometheus_client import CollectorRegistry

from switchboard.audit_retention import AuditMetrics, AuditRetention, stream_key
from switchboard.audit_retention import stop as stop_retention
from switchboard.cli import main
from switchboard.private_redis import PrivateRedis
from switchboard.settings import DEFAULT_AUDIT_STREAMS, Settings, StreamRetention

DAY_MS = 86_400_000


async def add_aged(redis: aioredis.Redis, stream: str, days_ago: float, **fields: str) -> None:
    at = int(time.time() * 1000 - days_ago * DAY_MS)
    await redis.xadd(stream_key(stream), {"action": "x", **fields}, id=f"{at}-*")


async def test_age_and_count_bounds_per_stream(redis_client: aioredis.Redis) -> None:
    await redis_client.flushdb()
    for days in (800, 700, 400, 10):
        await add_aged(redis_client, "dial-attempts", days, result="abandoned")
        await add_aged(redis_client, "dial-blocked", days)
    for _ in range(3000):
        await add_aged(redis_client, "tasks", 1)
    policies = {**Settings().audit.streams, "tasks": StreamRetention(max_entries=1000)}
    registry = CollectorRegistry()
    dropped = await AuditRetention(redis_client, policies, AuditMetrics(registry)).trim_once()
    assert dropped["dial-attempts"] == 1, "abandon records: two years by default"
    assert dropped["dial-blocked"] == 3, "a year"
    assert await redis_client.xlen(stream_key("dial-attempts")) == 3
    assert 1000 <= await redis_client.xlen(stream_key("tasks")) < 3000, "approximately capped"
    assert registry.get_sample_value("switchboard_audit_trimmed_total", {"stream": "dial-blocked"}) == 3
    assert registry.get_sample_value("switchboard_audit_entries", {"stream": "dial-attempts"}) == 3


def test_every_stream_has_a_bound_and_settings_may_change_one(tmp_path: Path) -> None:
    assert all(p.max_age_days or p.max_entries for p in DEFAULT_AUDIT_STREAMS.values())
    assert DEFAULT_AUDIT_STREAMS["dial-attempts"] == StreamRetention(max_age_days=730)
    settings = tmp_path / "settings.yaml"
    settings.write_text("audit:\n  streams:\n    tasks: {max_age_days: 30}\n")
    from switchboard.settings import load_settings  # noqa: PLC0415

    streams = load_settings(settings, use_env=False).audit.streams
    assert streams["tasks"] == StreamRetention(max_age_days=30)
    assert streams["dial-attempts"] == DEFAULT_AUDIT_STREAMS["dial-attempts"], "the others keep their default"
    settings.write_text("audit:\n  streams:\n    dial-atempts: {max_age_days: 30}\n")
    with pytest.raises(Exception, match="unknown audit stream"):
        load_settings(settings, use_env=False)


async def test_export_the_abandon_records(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    await redis_client.flushdb()
    await add_aged(redis_client, "dial-attempts", 3, action="outcome", result="abandoned", number="+3611")
    await add_aged(redis_client, "dial-attempts", 2, action="outcome", result="answered", number="+3622")
    await add_aged(redis_client, "dial-attempts", 1, action="dial", number="+3633")
    monkeypatch.setenv("SWITCHBOARD_REDIS_URL", redis_server.url)
    code = await _main_in_thread(["audit-streams", "export", "dial-attempts", "--where", "result=abandoned"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["number"] for line in lines] == ["+3611"]


async def _main_in_thread(argv: list[str]) -> int:
    import asyncio  # noqa: PLC0415

    return await asyncio.to_thread(main, argv)


class CancelTurnsIntoRedisError(aioredis.Redis):
    """The fault: a cancel that lands mid-command comes back as a RedisError (as redis-py may do)."""

    sent = asyncio.Event()  # one test uses this class

    async def time(self, **kwargs: Any) -> tuple[int, int]:
        self.sent.set()
        try:
            return await super().time(**kwargs)
        finally:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise redis.exceptions.ConnectionError("connection closed by a cancelled command")


async def test_stopping_the_trim_loop_mid_command_does_not_hang(redis_server: PrivateRedis) -> None:
    client = CancelTurnsIntoRedisError.from_url(redis_server.url)
    try:
        retention = AuditRetention(client, Settings().audit.streams, AuditMetrics(CollectorRegistry()))
        task = asyncio.create_task(retention.run(interval_s=300))
        await CancelTurnsIntoRedisError.sent.wait()  # the loop's first command is under way
        stopping = asyncio.create_task(stop_retention(task))
        done, _ = await asyncio.wait([stopping], timeout=5)  # before: it slept 300 s more
        assert stopping in done and task.cancelled()
    finally:
        await client.aclose()
