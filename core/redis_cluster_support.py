"""What differs when the engine's Redis is a Redis Cluster, kept to one place.

A pipeline on a cluster client (redis-py's ClusterPipeline) sends EVALSHA without loading the script
first, so a script run inside a pipeline fails with NOSCRIPT on a node that has not seen it yet:
`ensure_loaded` loads it on every primary first (a plain client loads it itself).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.cluster import RedisCluster


def is_cluster(redis: Any) -> bool:
    return isinstance(redis, RedisCluster)


async def ensure_loaded(redis: Any, *scripts: Any) -> None:
    """Before running `scripts` (redis-py Script objects) inside a pipeline of `redis`."""
    if is_cluster(redis):
        for script in scripts:
            await redis.script_load(script.script)


def connection_option(redis: Any, name: str) -> Any:
    """A connection option (`decode_responses`, `socket_timeout`) of a plain or a cluster client."""
    options: dict[str, Any] = redis.get_connection_kwargs()
    return options.get(name)
