"""Shared fixtures: one private redis-server per test session (never the machine's own)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from switchboard.private_redis import PrivateRedis


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
