"""A real 3-primary Redis Cluster for the tests that need one (switchboard/private_cluster.py).

Session-scoped: started by the first test that asks for `redis_cluster` (no other test pays for
it), stopped at the end of the session. `cluster_client` gives each test an emptied cluster and a
`redis.asyncio.cluster.RedisCluster` client on it (bytes, as the engine's own client).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio.cluster import RedisCluster

from switchboard.private_cluster import PrivateCluster


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[PrivateCluster]:
    with PrivateCluster(3) as cluster:
        yield cluster


@pytest.fixture
async def cluster_client(redis_cluster: PrivateCluster) -> AsyncIterator[RedisCluster]:
    redis_cluster.flush()
    client = RedisCluster.from_url(redis_cluster.url, decode_responses=False)
    await client.initialize()  # learns the slot map, so a test may ask which node owns a key
    try:
        yield client
    finally:
        await client.aclose()
