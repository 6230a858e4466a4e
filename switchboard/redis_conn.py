"""The one way the engine opens Redis: `connect_redis(url)`, checked before it is handed out.

redis-py connects lazily, so a wrong URL or a stopped server would otherwise
surface as an odd error deep inside the first feature that touches Redis.
Here the client PINGs once with a timeout and any failure becomes a
StoreUnavailableError that names the URL (password masked) and the cause.

With Sentinel (`connect_sentinel`, settings section `sentinel`) the client asks
the sentinels for the primary's address whenever it opens a connection; a
failover breaks the open connections (the old primary died, or answers
READONLY once demoted), the next command reconnects to the promoted replica.
Until then every command fails with a RedisError, so whatever guards on Redis
(the dial gate) refuses rather than guesses (docs/redis.md).

With a Redis Cluster (`connect_cluster`, `redis.cluster: true`) the client learns which node serves
which slot and sends each command, script and transaction to the node of its keys' slot.

Clients return bytes (decode_responses=False), as the test fixtures do; each
package's key module decides how it encodes values. Whoever calls
connect_redis owns the client and closes it (`await client.aclose()`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import AuthenticationError, RedisClusterException, RedisError, ResponseError

from core.errors import StoreUnavailableError
from switchboard.settings import SentinelSection, Settings, redact_url

DEFAULT_TIMEOUT = 5.0
# Connections one client opens at most; a command that finds them all busy waits for one (up to the
# socket timeout) instead of failing: redis-py's default pool raises MaxConnectionsError past 100,
# which lost settlement writes of a 400-agent campaign (docs/redis.md, "Connections").
MAX_CONNECTIONS = 100


async def connect_redis(url: str, *, wait_s: float = DEFAULT_TIMEOUT) -> aioredis.Redis:
    """A client for `url` that has answered PING; raises StoreUnavailableError otherwise."""
    shown = redact_url(url)
    try:
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=wait_s * 2,
            socket_connect_timeout=wait_s,
            socket_timeout=wait_s * 2,
            health_check_interval=30,
        )
    except (ValueError, RedisError) as exc:
        raise StoreUnavailableError(f"invalid Redis URL {shown}: {exc}", url=shown) from None
    client = aioredis.Redis.from_pool(pool)  # the client owns the pool: closing it closes the pool
    try:
        failure = await ping(client, wait_s)
    except BaseException:  # cancelled while connecting: do not leak the pool
        await client.aclose()
        raise
    if failure is not None:
        await client.aclose()
        raise StoreUnavailableError(f"Redis at {shown} is not reachable: {failure}", url=shown, cause=failure)
    return client


class WaitingSentinelPool(SentinelConnectionPool, aioredis.BlockingConnectionPool):
    """The primary's connections found through the sentinels, waited for when all are busy."""


class SentinelRedis(aioredis.Redis):
    """The primary's client from `Sentinel.master_for`; closing it closes the sentinel clients too."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        pool = self.connection_pool
        if isinstance(pool, SentinelConnectionPool):
            await pool.sentinel_manager.aclose()


async def connect_sentinel(section: SentinelSection, *, wait_s: float = DEFAULT_TIMEOUT) -> aioredis.Redis:
    """A client for the primary named `section.master_name`, found through `section.addresses`, that
    has answered PING; raises StoreUnavailableError otherwise."""
    shown = f"sentinel {section.master_name} at {', '.join(section.addresses)}"
    secret = section.sentinel_password.get_secret_value() if section.sentinel_password else None
    timeouts: dict[str, Any] = {"socket_connect_timeout": section.timeout, "socket_timeout": section.timeout}
    sentinel = Sentinel(section.nodes(), sentinel_kwargs={**timeouts, "password": secret})
    client: aioredis.Redis = sentinel.master_for(
        section.master_name,
        redis_class=SentinelRedis,
        connection_pool_class=WaitingSentinelPool,
        max_connections=MAX_CONNECTIONS,
        timeout=section.timeout,  # for a free connection
        db=section.db,
        username=section.username,
        password=section.password.get_secret_value() if section.password else None,
        health_check_interval=30,
        **timeouts,
    )
    try:
        failure = await ping(client, wait_s)
    except BaseException:
        await client.aclose()
        raise
    if failure is not None:
        await client.aclose()
        raise StoreUnavailableError(f"Redis ({shown}) is not reachable: {failure}", url=shown, cause=failure)
    return client


async def connect_cluster(
    url: str, nodes: Sequence[tuple[str, int]] = (), *, wait_s: float = DEFAULT_TIMEOUT
) -> aioredis.Redis:
    """A Redis Cluster client started from `url` (any node) and `nodes`, that has learnt the slot map
    and answered PING; raises StoreUnavailableError otherwise.

    Typed as the plain client: the engine only sends what a cluster client routes (every script's
    keys in one slot, transactions within one slot; docs/redis.md#redis-cluster), and the cluster
    tests run the engine through it."""
    shown = f"cluster at {redact_url(url)}"
    try:
        client = RedisCluster.from_url(
            url,
            startup_nodes=[ClusterNode(host, port) for host, port in nodes] or None,
            socket_connect_timeout=wait_s,
            socket_timeout=wait_s * 2,
            health_check_interval=30,
        )
    except (ValueError, RedisError) as exc:
        raise StoreUnavailableError(f"invalid Redis Cluster URL ({shown}): {exc}", url=shown) from None
    try:
        async with asyncio.timeout(wait_s):
            await client.initialize()
        failure = await ping(cast(aioredis.Redis, client), wait_s)
    except (TimeoutError, OSError, RedisError, RedisClusterException) as exc:  # the last: not a RedisError
        failure = _cause(exc, wait_s)
    except BaseException:
        await client.aclose()
        raise
    if failure is not None:
        await client.aclose()
        raise StoreUnavailableError(f"Redis ({shown}) is not reachable: {failure}", url=shown, cause=failure)
    return cast(aioredis.Redis, client)


async def open_redis(settings: Settings) -> aioredis.Redis:
    """The engine's client: through the sentinels when `sentinel.addresses` is set, a cluster client
    when `redis.cluster` is, else `redis.url`."""
    if settings.sentinel.enabled:
        return await connect_sentinel(settings.sentinel)
    if settings.redis.url is None:
        raise StoreUnavailableError("no Redis configured: set redis.url or sentinel.addresses")
    if settings.redis.cluster:
        return await connect_cluster(settings.redis.url.get_secret_value(), settings.redis.nodes())
    return await connect_redis(settings.redis.url.get_secret_value())


async def ping(client: aioredis.Redis, wait_s: float = 1.0) -> str | None:
    """None when Redis answered PING within `wait_s` seconds, else a short reason (for /readyz)."""
    try:
        await asyncio.wait_for(client.ping(), wait_s)
    except (TimeoutError, OSError, RedisError) as exc:
        return _cause(exc, wait_s)
    return None


def _cause(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, AuthenticationError) or (isinstance(exc, ResponseError) and "NOAUTH" in str(exc)):
        return f"authentication failed ({exc}); check the password in the URL"
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    return str(exc) or type(exc).__name__


SAFE_POLICIES = ("noeviction",)


async def check_no_eviction(client: aioredis.Redis) -> str | None:
    """Refuse a Redis that may evict keys: an evicted blacklist would silently stop blocking.

    Returns a warning when the server hides its configuration (managed Redis);
    raises StoreUnavailableError when it is set to evict under a memory limit.
    """
    try:
        raw: Mapping[Any, Any] = await client.config_get("maxmemory*")
    except RedisError as exc:
        return f"cannot read maxmemory-policy ({exc}); make sure it is noeviction"
    config = {_text(key): _text(value) for key, value in raw.items()}
    policy = config.get("maxmemory-policy", "noeviction")
    limit = int(config.get("maxmemory", "0") or 0)
    if limit > 0 and policy not in SAFE_POLICIES:
        raise StoreUnavailableError(
            f"Redis evicts keys under memory pressure (maxmemory-policy {policy}, maxmemory {limit}); "
            "an evicted blacklist would stop blocking numbers: set maxmemory-policy noeviction",
            policy=policy, maxmemory=limit,
        )  # fmt: skip
    return None


MIN_REDIS_VERSION = (6, 2)
"""The oldest Redis the engine runs on: the audit retention trims streams with `XTRIM MINID` (6.2).
The tests run on 7.0 and the deploy ships 7.2. Lua scripts are not rolled back, so a command an
older server lacks would fail a script after its first writes: it is refused at start instead."""

_VERSION = re.compile(r"(\d+)\.(\d+)")


def _minimum() -> str:
    return ".".join(map(str, MIN_REDIS_VERSION))


def parse_version(text: str | None) -> tuple[int, int] | None:
    """`redis_version` of INFO server as (major, minor); None when it is not a version."""
    match = _VERSION.match(text or "")
    return None if match is None else (int(match[1]), int(match[2]))


def version_refusal(found: Mapping[str, str | None]) -> str | None:
    """Pure: why the engine must not start on these servers (name -> `redis_version`), or None.
    A version that cannot be read is not refused here (`check_redis_version` warns)."""
    low = [
        f"{v} at {name}"
        for name, v in sorted(found.items())
        if (parse_version(v) or MIN_REDIS_VERSION) < MIN_REDIS_VERSION
    ]
    if not low:
        return None
    return f"Redis {', '.join(low)} is too old: Switchboard needs Redis {_minimum()} or later"


async def check_redis_version(client: aioredis.Redis) -> str | None:
    """Refuse a Redis older than MIN_REDIS_VERSION (every node of a cluster is asked): raises
    StoreUnavailableError naming the version found and the minimum. Returns a warning when a server
    hides its version (a managed Redis may restrict INFO)."""
    found: dict[str, str | None] = {}
    if isinstance(client, RedisCluster):
        for node in client.get_nodes():
            found[node.name] = await _version(client.info("server", target_nodes=node))
    else:
        found["the server"] = await _version(client.info("server"))
    refusal = version_refusal(found)
    if refusal is not None:
        raise StoreUnavailableError(refusal, versions=found, minimum=_minimum())
    unread = [name for name, version in sorted(found.items()) if parse_version(version) is None]
    if unread:
        return f"cannot read the Redis version of {', '.join(unread)}; it must be {_minimum()} or later"
    return None


async def _version(info: Awaitable[Mapping[str, Any]]) -> str | None:
    try:
        version = (await info).get("redis_version")
    except RedisError:
        return None
    return None if version is None else _text(version)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
