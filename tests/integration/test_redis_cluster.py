"""Switchboard on a real 3-primary Redis Cluster (tests/support/redis_cluster.py): the fixture's
cluster itself, then each feature's scripts on it, which must give the answers they give on one Redis."""

from __future__ import annotations

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, ResponseError

from switchboard.private_cluster import PrivateCluster


async def test_the_cluster_spreads_slots_over_three_primaries(
    redis_cluster: PrivateCluster, cluster_client: RedisCluster
) -> None:
    assert len(cluster_client.get_primaries()) == 3
    owners = {getattr(cluster_client.get_node_from_key(f"k{i}"), "port", None) for i in range(50)}
    assert owners == {node.port for node in redis_cluster.nodes}


async def test_a_script_may_only_touch_keys_of_one_slot(cluster_client: RedisCluster) -> None:
    """Why every script receives its keys in KEYS[] under one hash tag: Redis refuses the rest."""
    script = "redis.call('SET', KEYS[1], 1); return redis.call('SET', KEYS[2], 2)"
    assert await cluster_client.eval(script, 2, "{q:a}:x", "{q:a}:y") == b"OK"
    with pytest.raises(RedisClusterException, match="same key slot"):
        await cluster_client.eval(script, 2, "{q:a}:x", "{q:b}:y")
    built = "return redis.call('SET', ARGV[1] .. 'y', 1)"  # a key made inside the script
    with pytest.raises(ResponseError, match=r"non local key|same slot"):
        await cluster_client.eval(built, 1, "{q:a}:x", "{q:b}:")
