"""The engine refuses to start on a Redis older than it needs (6.2), naming the version it found.

Lua scripts are not rolled back: on a server without a command a script sends, the script would
fail after its first writes. The decision is a pure function (checked on version strings); the
real redis-server here (7.0) and every node of a real Redis Cluster are asked for their version,
and the start-up refusal is shown by raising the minimum above the real server's version.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster

from core.errors import StoreUnavailableError
from switchboard import redis_conn
from switchboard.private_cluster import PrivateCluster
from switchboard.private_redis import PrivateRedis, free_port
from switchboard.redis_conn import (
    MIN_REDIS_VERSION,
    check_redis_version,
    connect_redis,
    parse_version,
    version_refusal,
)
from switchboard.runtime import EXAMPLE_CONFIG, Runtime
from switchboard.settings import Settings

pytestmark = pytest.mark.integration


def test_a_server_older_than_6_2_is_refused_naming_its_version_and_the_minimum() -> None:
    assert MIN_REDIS_VERSION == (6, 2)
    refusal = version_refusal({"the server": "6.0.16"})
    assert refusal is not None and "6.0.16" in refusal and "6.2 or later" in refusal
    assert version_refusal({"the server": "5.0.14"}) is not None
    for accepted in ("6.2.0", "6.2.14", "7.0.15", "7.2.4", "10.0.0"):
        assert version_refusal({"the server": accepted}) is None, accepted
    cluster = {"10.0.0.1:7000": "7.2.4", "10.0.0.2:7000": "6.0.9", "10.0.0.3:7000": "7.2.4"}
    refusal = version_refusal(cluster)
    assert refusal is not None and "6.0.9 at 10.0.0.2:7000" in refusal and "10.0.0.1" not in refusal
    assert parse_version("7.2.4") == (7, 2) and parse_version("") is None and parse_version(None) is None
    assert version_refusal({"the server": None}) is None, "unreadable: warned about, not refused"


async def test_the_real_server_and_every_cluster_node_are_asked_and_accepted(
    redis_server: PrivateRedis, redis_cluster: PrivateCluster, cluster_client: RedisCluster
) -> None:
    client = await connect_redis(redis_server.url)
    try:
        found = (await client.info("server"))["redis_version"]
        assert (parse_version(str(found)) or (0, 0)) >= MIN_REDIS_VERSION
        assert await check_redis_version(client) is None
    finally:
        await client.aclose()
    assert await check_redis_version(cluster_client) is None  # type: ignore[arg-type]


async def test_below_the_minimum_the_engine_does_not_start(
    redis_server: PrivateRedis,
    redis_cluster: PrivateCluster,
    cluster_client: RedisCluster,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(redis_conn, "MIN_REDIS_VERSION", (99, 0))  # above the real servers' 7.x
    with pytest.raises(StoreUnavailableError, match=r"Switchboard needs Redis 99\.0 or later") as refused:
        await check_redis_version(cluster_client)  # type: ignore[arg-type]
    assert all(f"at {address}" in refused.value.message for address in redis_cluster.addresses)

    settings = Settings(
        ami={"port": free_port(), "secret": "unused"},
        redis={"url": redis_server.url},
        http={"port": 0},
        rules={"routing": EXAMPLE_CONFIG / "routing.yaml"},
    )
    runtime = Runtime(settings)
    with pytest.raises(StoreUnavailableError, match=r"Redis 7\.\d+\.\d+ at the server is too old"):
        await runtime.start()
