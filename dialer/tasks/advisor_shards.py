"""Which ACD shard each advisor belongs to, so a reminder is sent by the engines that know its owner.

In a center split into ACD shards (docs/redis.md) an advisor is an agent of one shard's routing.yaml,
and only that shard's engines know their e-mail address. Every engine's reminder pass publishes its
advisors here (`tasks:advisor-shards`: advisor id -> shard name, '' the default shard) when its list
changed (start, a routing.yaml reload), dropping its shard's entries that are no longer its advisors.
A due reminder then goes to the shard of its owner: an engine that has the owner sends it; one that
does not leaves it to the owner's shard; an owner no shard has (gone from every routing.yaml, or
none) is the default shard's, which marks it `no-address` as an unsharded center always did.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis.asyncio as aioredis

from dialer.audit import text
from dialer.tasks.task_keys import TaskKeys


class AdvisorShards:
    def __init__(self, redis: aioredis.Redis, keys: TaskKeys, shard: str) -> None:
        self.redis = redis
        self.key = keys.advisor_shards
        self.shard = shard
        self._published: frozenset[str] | None = None

    async def publish(self, advisors: Iterable[str]) -> None:
        """This shard's advisors, written when they changed since the last call (idempotent)."""
        mine = frozenset(advisors)
        if mine == self._published:
            return
        listed = await self.redis.hgetall(self.key)
        gone = [text(a) for a, s in listed.items() if text(s) == self.shard and text(a) not in mine]
        async with self.redis.pipeline(transaction=True) as pipe:
            if gone:
                pipe.hdel(self.key, *gone)
            if mine:
                pipe.hset(self.key, mapping=dict.fromkeys(sorted(mine), self.shard))
            await pipe.execute()
        self._published = mine

    async def takes(self, owner: str | None, mine: bool) -> bool:
        """Whether this shard's engines handle a reminder of `owner` (`mine`: in their routing.yaml)."""
        if mine:
            return True
        listed = await self.redis.hget(self.key, owner) if owner else None
        return (text(listed) if listed is not None else "") == self.shard
