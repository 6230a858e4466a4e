"""The durable outbox of CRM webhooks in Redis: what is queued, claimed, delivered or given up.

Keys (prefix `sb:webhooks:{outbox}:`: one hash tag, so on a Redis Cluster the outbox is one slot and
its scripts, which find the webhooks' queues by name as they run, stay in it; each script declares
the prefix as its one KEY; `<name>` is a webhook's name from the settings):
- `cursor`              HASH source -> the last stream entry relayed (acd, dispositions, ...)
- `case:<call id>`      STRING the case id of a call (2 days), so a disposition can name its case
- `<name>:due`          ZSET event id -> when to (re)try, ms; a claimed event is pushed a lease ahead
- `<name>:body`         HASH event id -> the exact JSON body (the same bytes on every try)
- `<name>:tries`, `<name>:queued`   HASH event id -> tries so far, and when it was queued (ms)
- `<name>:delivered`    ZSET event id -> when it was delivered (kept `DELIVERED_KEEP_MS`)
- `<name>:failed`       HASH event id -> {body, error, tries}: given up, for an operator to look at

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

PREFIX = "sb:webhooks:{outbox}:"
DELIVERED_KEEP_MS = 7 * 86_400_000
ANY_CURSOR = "*"

_PURGE = """
local function purge(q, id)
  redis.call('ZREM', q .. 'due', id)
  redis.call('HDEL', q .. 'body', id)
  redis.call('HDEL', q .. 'tries', id)
  redis.call('HDEL', q .. 'queued', id)
end
"""

# KEYS: the prefix. ARGV: the prefix (its place kept), now ms, source, expected cursor (ANY_CURSOR:
# don't check), new cursor ('' keeps),
# then per event: id, body, comma-separated webhook names. Returns events queued, -1 if raced.
_ENQUEUE = """
local P, NOW, SOURCE = KEYS[1], tonumber(ARGV[2]), ARGV[3]
local current = redis.call('HGET', P .. 'cursor', SOURCE) or ''
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
if ARGV[5] ~= '' then redis.call('HSET', P .. 'cursor', SOURCE, ARGV[5]) end
return added
"""

# KEYS: the prefix. ARGV: the prefix (its place kept), now ms, name, batch, lease ms. Returns id, body,
# tries, queued ms per claimed event.
_CLAIM = (
    _PURGE
    + """
local P, NOW = KEYS[1], tonumber(ARGV[2])
local q = P .. ARGV[3] .. ':'
-- due before the next millisecond (an event's place in its batch adds a fraction of one)
local ids = redis.call('ZRANGEBYSCORE', q .. 'due', '-inf', '(' .. string.format('%d', NOW + 1), 'LIMIT', 0,
                       tonumber(ARGV[4]))
local out = {}
for _, id in ipairs(ids) do
  local body = redis.call('HGET', q .. 'body', id)
  if (not body) or redis.call('ZSCORE', q .. 'delivered', id) then
    purge(q, id)
  else
    redis.call('ZADD', q .. 'due', NOW + tonumber(ARGV[5]), id)
    out[#out + 1] = id
    out[#out + 1] = body
    out[#out + 1] = redis.call('HGET', q .. 'tries', id) or '0'
    out[#out + 1] = redis.call('HGET', q .. 'queued', id) or ARGV[2]
  end
end
return out
"""
)

# KEYS: the prefix. ARGV: the prefix (its place kept), now ms, name, id, outcome (delivered | retry |
# failed), retry at ms, tries, failure
_SETTLE = (
    _PURGE
    + """
local P, NOW, id, outcome = KEYS[1], tonumber(ARGV[2]), ARGV[4], ARGV[5]
local q = P .. ARGV[3] .. ':'
if outcome == 'delivered' then
  purge(q, id)
  redis.call('ZADD', q .. 'delivered', NOW, id)
elseif outcome == 'retry' then
  if redis.call('HEXISTS', q .. 'body', id) == 1 then
    redis.call('ZADD', q .. 'due', tonumber(ARGV[6]), id)
    redis.call('HSET', q .. 'tries', id, ARGV[7])
  end
else
  purge(q, id)
  redis.call('HSET', q .. 'failed', id, ARGV[8])
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
        self._enqueue = redis.register_script(_ENQUEUE)
        self._claim = redis.register_script(_CLAIM)
        self._settle = redis.register_script(_SETTLE)

    async def cursors(self) -> dict[str, str]:
        raw = await self.redis.hgetall(self.prefix + "cursor")
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
        return int(await self._enqueue(keys=[self.prefix], args=args))

    async def claim(self, name: str, now_ms: int, *, batch: int, lease_ms: int) -> list[Claimed]:
        raw = cast(
            list[Any],
            await self._claim(keys=[self.prefix], args=[self.prefix, now_ms, name, batch, lease_ms]),
        )
        return [
            Claimed(_text(raw[i]), _text(raw[i + 1]), int(raw[i + 2]), int(raw[i + 3]))
            for i in range(0, len(raw), 4)
        ]

    async def delivered(self, name: str, event_id: str, now_ms: int) -> None:
        await self._settle(
            keys=[self.prefix], args=[self.prefix, now_ms, name, event_id, "delivered", "", "", ""]
        )

    async def retry(self, name: str, event_id: str, now_ms: int, at_ms: int, tries: int) -> None:
        await self._settle(
            keys=[self.prefix], args=[self.prefix, now_ms, name, event_id, "retry", at_ms, tries, ""]
        )

    async def give_up(self, name: str, event_id: str, now_ms: int, failure: str) -> None:
        await self._settle(
            keys=[self.prefix], args=[self.prefix, now_ms, name, event_id, "failed", "", "", failure]
        )

    async def trim_delivered(self, name: str, now_ms: int) -> None:
        oldest = now_ms - DELIVERED_KEEP_MS
        await self.redis.zremrangebyscore(f"{self.prefix}{name}:delivered", "-inf", oldest)

    async def depth(self, name: str) -> int:
        return int(await self.redis.zcard(f"{self.prefix}{name}:due"))

    async def is_delivered(self, name: str, event_id: str) -> bool:
        return await self.redis.zscore(f"{self.prefix}{name}:delivered", event_id) is not None

    async def failed(self, name: str) -> dict[str, str]:
        raw = await self.redis.hgetall(f"{self.prefix}{name}:failed")
        return {_text(k): _text(v) for k, v in raw.items()}

    async def remember_case(self, call_id: str, case_id: str) -> None:
        await self.redis.set(f"{self.prefix}case:{call_id}", case_id, ex=2 * 86_400)

    async def case_of(self, call_id: str) -> str | None:
        value = await self.redis.get(f"{self.prefix}case:{call_id}")
        return None if value is None else _text(value)
