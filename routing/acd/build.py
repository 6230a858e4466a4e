"""Building the ACD for an engine: its metrics, its options and the state it reloads from Redis.

The composition root (switchboard/runtime.py) calls `build_acd` and registers what it returns; the
routing rules come from the caller (it loads and watches routing.yaml).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from core.clock import Clock
from core.lease import Lease
from pbx.service import ActionSender
from routing.acd.acd_keys import AcdKeys
from routing.acd.acd_metrics import AcdMetrics
from routing.acd.context import AcdOptions
from routing.acd.routing_keys import DEFAULT_SHARD
from routing.acd.service import AcdService
from routing.rules import Rules


async def build_acd(
    redis: aioredis.Redis,
    sender: ActionSender,
    rules: Rules,
    registry: CollectorRegistry,
    *,
    clock: Clock,
    instance_id: str,
    lease: Lease,
    ended_call_ttl_s: int,
    on_owned: Callable[[], Awaitable[object]],
    shard: str = DEFAULT_SHARD,
) -> AcdService:
    """The ACD of `shard` (its keys, its callers) over the engine's AMI client (`sender`), its state
    loaded from Redis. `on_owned` runs after a takeover (the engine's resync: it adopts what
    Asterisk holds, as after a reconnect). `lease` must be the shard's (`AcdKeys.of_shard().owner`)."""
    thresholds = [q.service_level.within_seconds for q in rules.queues]  # wait buckets
    acd = AcdService(
        redis, sender, rules, AcdMetrics(registry, service_level_seconds=thresholds), clock=clock,
        instance_id=instance_id, lease=lease, keys=AcdKeys.of_shard(shard), on_owned=on_owned,
        options=AcdOptions(shard=shard, ended_call_ttl_s=ended_call_ttl_s),
    )  # fmt: skip
    await acd.load()
    return acd
