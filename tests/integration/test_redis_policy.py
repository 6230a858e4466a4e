"""The engine refuses a Redis that may evict keys (an evicted blacklist would stop blocking)."""

from __future__ import annotations

import pytest

from core.errors import StoreUnavailableError
from switchboard.private_redis import PrivateRedis
from switchboard.redis_conn import check_no_eviction, connect_redis


async def test_default_private_redis_is_accepted(redis_server: PrivateRedis) -> None:
    client = await connect_redis(redis_server.url)
    try:
        assert await check_no_eviction(client) is None
    finally:
        await client.aclose()


async def test_an_evicting_redis_is_refused_with_the_fix() -> None:
    with PrivateRedis(maxmemory="64mb") as server:
        client = await connect_redis(server.url)
        try:
            await client.config_set("maxmemory-policy", "allkeys-lru")
            with pytest.raises(StoreUnavailableError, match="noeviction"):
                await check_no_eviction(client)
            await client.config_set("maxmemory-policy", "noeviction")
            assert await check_no_eviction(client) is None
        finally:
            await client.aclose()
