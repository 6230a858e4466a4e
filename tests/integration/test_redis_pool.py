"""More commands in flight than the engine's Redis connections: they wait for a connection, none
fails (a big outbound campaign ran into redis-py's "Too many connections" and lost settlement writes).
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from switchboard.private_redis import PrivateRedis
from switchboard.private_sentinels import MASTER_NAME, PrivateSentinels
from switchboard.redis_conn import MAX_CONNECTIONS, connect_redis, open_redis
from switchboard.settings import Settings

pytestmark = pytest.mark.integration


async def _more_commands_than_connections(client: aioredis.Redis) -> None:
    # Each BLPOP holds its connection until Redis times it out (0.1 s): half again as many as the
    # pool holds are in flight at once.
    waits = [client.blpop([f"pool:nothing:{n}"], timeout=0.1) for n in range(MAX_CONNECTIONS * 3 // 2)]
    answers = await asyncio.gather(*waits, return_exceptions=True)
    assert [a for a in answers if a is not None] == [], "every command ran and found nothing"
    assert len(client.connection_pool._in_use_connections) == 0  # all handed back
    assert await client.ping()


async def test_commands_beyond_the_pool_wait_for_a_connection_instead_of_failing(
    redis_server: PrivateRedis,
) -> None:
    client = await connect_redis(redis_server.url)
    try:
        await _more_commands_than_connections(client)
    finally:
        await client.aclose()


async def test_the_same_through_the_sentinels() -> None:
    with PrivateSentinels() as sentinels:
        section = {"addresses": sentinels.addresses, "master_name": MASTER_NAME, "timeout": 1.0}
        client = await open_redis(Settings(sentinel=section))
        try:
            await _more_commands_than_connections(client)
        finally:
            await client.aclose()
