"""The durable outbox of CRM webhooks in Redis: what is queued, claimed, delivered or given up.

Keys: switchboard/webhooks/outbox_keys.py.

Rules it keeps: queueing the events of a batch and moving the source's cursor past them is one
script, and only when the cursor is still where the reader found it, so two engines relaying the
same stream never queue an event twice and a crash between the two never loses one. An event id
already queued, delivered or given up is never queued again; a claimed event whose id is recorded
as delivered is dropped, never posted again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis

from switchboard.webhooks.outbox_keys import PREFIX, OutboxKeys

__all__ = ["ANY_CURSOR", "PREFIX", "Claimed", "Outbox"]
DELIVERED_KEEP_MS = 7 * 86_400_000
ANY_CURSOR = "*"

# KEYS of the claim and settle scripts: OutboxKeys.queue(name).
_QUEUE = """
local DUE, BODY, TRIES, QUEUED, DELIVERED, FAILED = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local function purge(id)
  redis.call('ZREM', DUE, id)
  redis.call('HDEL', BODY, id)
  redis.call('HDEL', TRIES, id)
  redis.call('HDEL', QUEUED, id)
end
"""

# KEYS: the cursor, the prefix (each event's webhooks' queues are built from it). ARGV: the prefix (its
# place kept), now ms, source, expected cursor (ANY_CURSOR: don't check), new cursor ('' keeps),
# then per event: id, body, comma-separated webhook names. Returns events queued, -1 if raced.
_ENQUEUE = """
local CURSOR, P, NOW, SOURCE = KEYS[1], KEYS[2], tonumber(ARGV[2]), ARGV[3]
local current = redis.call('HGET', CURSOR, SOURCE) or ''
if ARGV[4] ~= '*' and current ~= ARGV[4] then return -1 end
local added = 0
for i = 6, #ARGV, 3 do
  -- due = now plus the event's place in the batch / 1024, so that events of one millisecond come
  -- out in order (ties sort by member, and 'x-10' before 'x-2'); formatted, as Lua prints %.14g
  local id, body, due = ARGV[i], ARGV[i + 1], NOW + ((i - 6) / 3) / 1024
  for name in string.gmatch(ARGV[i + 2], '[^,]+') do
    local q = P .. name .. ':'
    if not redis.call('ZSCORE', q .. 'delivered', id) and redis.call('HEXISTS', q .. 'failed', id) == 0
       and redis.call('HSETNX', q .. 'body', id, body) == 1 then
      redis.call('ZADD', q .. 'due', string.format('%.6f', due), id)
      redis.call('HSET', q .. 'queued', id, NOW)
      added = added + 1
    end
  end
end
if ARGV[5] ~= '' then redis.call('HSET', CURSOR, SOURCE, ARGV[5]) end
return added
"""

# ARGV: the prefix (its place kept), now ms, name, batch, lease ms. Returns id, body, tries, queued ms
# per claimed event.
_CLAIM = (
    _QUEUE
    + """
local NOW = tonumber(ARGV[2])
-- due before the next millisecond (an event's place in its batch adds a fraction of one)
local ids = redis.call('ZRANGEBYSCORE', DUE, '-inf', '(' .. string.format('%d', NOW + 1), 'LIMIT', 0,
                       tonumber(ARGV[4]))
local out = {}
for _, id in ipairs(ids) do
  local body = redis.call('HGET', BODY, id)
  if (not body) or redis.call('ZSCORE', DELIVERED, id) then
    purge(id)
  else
    redis.call('ZADD', DUE, NOW + tonumber(ARGV[5]), id)
    out[#out + 1] = id
    out[#out + 1] = body
    out[#out + 1] = redis.call('HGET', TRIES, id) or '0'
    out[#out + 1] = redis.call('HGET', QUEUED, id) or ARGV[2]
  end
end
return out
"""
)

# ARGV: the prefix (its place kept), now ms, name, id, outcome (delivered | retry | failed), retry at
# ms, tries, failure
_SETTLE = (
    _QUEUE
    + """
local NOW, id, outcome = tonumber(ARGV[2]), ARGV[4], ARGV[5]
if outcome == 'delivered' then
  purge(id)
  redis.call('ZADD', DELIVERED, NOW, id)
elseif outcome == 'retry' then
  if redis.call('HEXISTS', BODY, id) == 1 then
    redis.call('ZADD', DUE, tonumber(ARGV[6]), id)
    redis.call('HSET', TRIES, id, ARGV[7])
  end
else
  purge(id)
  redis.call('HSET', FAILED, id, ARGV[8])
end
return 1
"""
)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: str
    body: str
    tries: int
    queued_ms: int


class Outbox:
    def __init__(self, redis: aioredis.Redis, prefix: str = PREFIX) -> None:
        self.redis = redis
        self.prefix = prefix
        self.keys = OutboxKeys(prefix)
        self._enqueue = redis.register_script(_ENQUEUE)
        self._claim = redis.register_script(_CLAIM)
        self._settle = redis.register_script(_SETTLE)

    async def cursors(self) -> dict[str, str]:
        raw = await self.redis.hgetall(self.keys.cursor)
        return {_text(k): _text(v) for k, v in raw.items()}

    async def enqueue(
        self, now_ms: int, source: str, items: Sequence[tuple[str, str, Sequence[str]]], *,
        expected: str = ANY_CURSOR, cursor: str = "",
    ) -> int:  # fmt: skip
        """Queue (id, body, webhook names) items and move `source`'s cursor: -1 if it moved meanwhile."""
        args: list[str | int] = [self.prefix, now_ms, source, expected, cursor]
        for event_id, body, names in items:
            if names:
                args.extend([event_id, body, ",".join(names)])
        return int(await self._enqueue(keys=[self.keys.cursor, self.prefix], args=args))

    async def claim(self, name: str, now_ms: int, *, batch: int, lease_ms: int) -> list[Claimed]:
        raw = cast(
            list[Any],
            await self._claim(keys=self.keys.queue(name), args=[self.prefix, now_ms, name, batch, lease_ms]),
        )
        return [
            Claimed(_text(raw[i]), _text(raw[i + 1]), int(raw[i + 2]), int(raw[i + 3]))
            for i in range(0, len(raw), 4)
        ]

    async def delivered(self, name: str, event_id: str, now_ms: int) -> None:
        await self._settle(
            keys=self.keys.queue(name), args=[self.prefix, now_ms, name, event_id, "delivered", "", "", ""]
        )

    async def retry(self, name: str, event_id: str, now_ms: int, at_ms: int, tries: int) -> None:
        await self._settle(
            keys=self.keys.queue(name), args=[self.prefix, now_ms, name, event_id, "retry", at_ms, tries, ""]
        )

    async def give_up(self, name: str, event_id: str, now_ms: int, failure: str) -> None:
        await self._settle(
            keys=self.keys.queue(name), args=[self.prefix, now_ms, name, event_id, "failed", "", "", failure]
        )

    async def trim_delivered(self, name: str, now_ms: int) -> None:
        oldest = now_ms - DELIVERED_KEEP_MS
        await self.redis.zremrangebyscore(self.keys.part(name, "delivered"), "-inf", oldest)

    async def depth(self, name: str) -> int:
        return int(await self.redis.zcard(self.keys.part(name, "due")))

    async def is_delivered(self, name: str, event_id: str) -> bool:
        return await self.redis.zscore(self.keys.part(name, "delivered"), event_id) is not None

    async def failed(self, name: str) -> dict[str, str]:
        raw = await self.redis.hgetall(self.keys.part(name, "failed"))
        return {_text(k): _text(v) for k, v in raw.items()}

    async def remember_case(self, call_id: str, case_id: str) -> None:
        await self.redis.set(self.keys.case(call_id), case_id, ex=2 * 86_400)

    async def case_of(self, call_id: str) -> str | None:
        value = await self.redis.get(self.keys.case(call_id))
        return None if value is None else _text(value)
