"""Callers announced for another ACD shard: counted, and a shard nobody serves warned about.

Every engine hears every SwitchboardInbound; it takes only its own shard's callers
(callflow.inbound). A caller whose SWITCHBOARD_SHARD names a shard no engine runs (a typo in the
dialplan, a shard's engines down) would wait on hold unheard of, so the owning engine of every
other shard counts it (`switchboard_acd_foreign_callers_total{role}`, the role its shard's engines
own: docs/redis.md has the alert) and, at most once per WARN_EVERY_S per role, looks whether that
shard's owner lease is held and logs a warning when it is not (or the name is no shard's).
"""

from __future__ import annotations

import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from routing.acd.acd_keys import AcdKeys
from routing.acd.acd_metrics import AcdMetrics
from routing.acd.routing_keys import shard_tag

log = logging.getLogger("switchboard.acd")

WARN_EVERY_S = 300.0
INVALID = "invalid"
"""The role of a SWITCHBOARD_SHARD that is no shard's name (no engine can run it)."""


def role_of(shard: str) -> str:
    """The lease role whose engines take a shard's callers (`acd`, `acd-east`), or INVALID."""
    try:
        return shard_tag(shard)
    except ValueError:
        return INVALID


class ForeignCallers:
    def __init__(self, redis: aioredis.Redis, metrics: AcdMetrics, prefix: str) -> None:
        self.redis = redis
        self.metrics = metrics
        self.prefix = prefix
        self._looked: dict[str, float] = {}  # role -> when its lease was last looked at

    async def seen(self, shard: str, call_id: str, now: float) -> None:
        role = role_of(shard)
        self.metrics.foreign_caller(role)
        if now < self._looked.get(role, float("-inf")) + WARN_EVERY_S:
            return
        self._looked[role] = now
        if role == INVALID:
            log.warning("caller %s: SWITCHBOARD_SHARD %r is no ACD shard's name; no engine takes the caller "
                        "(fix the DID's dialplan)", call_id, shard, extra={"call_id": call_id})  # fmt: skip
            return
        try:
            served = await self.redis.exists(AcdKeys.of_shard(shard, self.prefix).owner)
        except RedisError:
            return  # unknown: looked at again after WARN_EVERY_S
        if not served:
            log.warning("caller %s: no engine owns ACD shard %r (role %s): its callers wait unrouted "
                        "(start its engines, or fix the DID's SWITCHBOARD_SHARD)", call_id, shard, role,
                        extra={"call_id": call_id})  # fmt: skip
