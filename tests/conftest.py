"""Shared fixtures: one private redis-server per test session (never the machine's own), and a
stand-in engine module for the `switchboard` command's tests."""

from __future__ import annotations

import itertools
import os
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from switchboard.private_redis import PrivateRedis

_counter = itertools.count()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[PrivateRedis]:
    server = PrivateRedis().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis_client(redis_server: PrivateRedis) -> AsyncIterator[aioredis.Redis]:
    """A client on a flushed private database; each test starts from empty."""
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=False)
    await client.flushall()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def own_redis() -> Iterator[PrivateRedis]:
    """A private server of one test alone, which the test may freeze (SIGSTOP) and thaw."""
    server = PrivateRedis().start()
    try:
        yield server
    finally:
        server.resume()
        server.stop()


@pytest.fixture
async def own_client(own_redis: PrivateRedis) -> AsyncIterator[aioredis.Redis]:
    """A client of `own_redis`, the test's own server."""
    client = aioredis.Redis.from_url(own_redis.url, decode_responses=False)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def fake_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    """Writes a stand-in for switchboard/engine.py and returns its module name."""
    names: list[str] = []
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(source: str) -> str:
        name = f"fake_engine_{os.getpid()}_{next(_counter)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        names.append(name)
        return name

    yield make
    for name in names:
        sys.modules.pop(name, None)
