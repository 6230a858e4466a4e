"""The last applied version of each rule file, kept in Redis: a restart survives a bad edit.

A refused hot reload keeps the running rules; without this, the next restart would
read the same broken file and exit. So every applied version (its text and content
hash) is written to `sb:rules:last:{kind}` (an ACD shard's engines, which run their own
routing.yaml, to `sb:rules:last:{kind}@{shard}`), and at start an invalid file falls back to
it (the reloader logs that loudly and sets `switchboard_rules_file_invalid{kind}`).
Redis must not evict (switchboard/redis_conn.py checks), so the copy stays.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

log = logging.getLogger("switchboard.rules_store")

PREFIX = "sb:rules:last:"


@dataclass(frozen=True)
class AppliedRules:
    kind: str
    text: str
    hash: str
    file: str
    applied_at: float


def key(kind: str, shard: str = "") -> str:
    return PREFIX + kind + (f"@{shard}" if shard else "")


class LastAppliedStore:
    """Reads and writes the last applied rule texts; a Redis failure is logged, never raised."""

    def __init__(self, redis: aioredis.Redis, *, shard: str = "") -> None:
        self._redis = redis
        self._shard = shard

    async def fetch(
        self, kinds: list[str] | tuple[str, ...], *, strict: bool = False
    ) -> dict[str, AppliedRules]:
        """The applied versions kept; a Redis failure skips the kind (logged), or raises when `strict`."""
        found: dict[str, AppliedRules] = {}
        for kind in kinds:
            try:
                raw = await self._redis.hgetall(key(kind, self._shard))
            except RedisError as exc:
                if strict:
                    raise
                log.warning("cannot read the last applied %s rules from Redis: %s", kind, exc)
                continue
            fields = {_text(k): _text(v) for k, v in raw.items()}
            if {"text", "hash", "file", "applied_at"} <= fields.keys():
                found[kind] = AppliedRules(
                    kind, fields["text"], fields["hash"], fields["file"], float(fields["applied_at"])
                )
        return found

    async def save(self, applied: AppliedRules) -> None:
        fields = {"text": applied.text, "hash": applied.hash, "file": applied.file,
                  "applied_at": repr(applied.applied_at)}  # fmt: skip
        mapping: dict[FieldT, EncodableT] = dict(fields.items())
        try:
            await self._redis.hset(key(applied.kind, self._shard), mapping=mapping)
        except RedisError as exc:
            log.warning("cannot keep the applied %s rules in Redis (a restart on a bad file would fail): %s",
                        applied.kind, exc)  # fmt: skip


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
