"""The blacklist store: the engine's own internal list and the packed lists (national, per campaign).

Rules it keeps (DESIGN.md 2.1):
- The internal list is the engine's own copy of every "do not call", independent of the CRM:
  a HASH E.164 -> {reason, actor, at}; every add and remove needs a reason and an actor and
  writes an audit record in the same Lua call (nothing changes unaudited).
- Packed lists (dialer/lists/packed.py layout) hold millions of numbers at ~5 bytes each. A list's
  live HASH only ever changes in whole-bucket steps: `swap_in` replaces the whole HASH in one
  Lua call (a list is never seen empty or half-built), `_apply` rewrites buckets with a
  compare-and-set per bucket (an append never loses a concurrent change to the same bucket).
- Every packed list is registered in one SET, which the gate reads in the same Lua call as the
  lists themselves, so a newly imported list is consulted from its first dial on.
The client must be created with decode_responses=False (bucket values are binary).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from redis.asyncio import Redis

from core.errors import NotFoundError, SwitchboardError, ValidationFailedError
from core.redis_cluster_support import connection_option
from dialer.dialer_keys import DialerKeys
from dialer.lists import packed
from dialer.lists import store_scripts as lua

T = TypeVar("T")
CAMPAIGN_PREFIX = "campaign:"
_LIST_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}|campaign:[A-Za-z0-9._-]{1,64}")
_E164_LINES = re.compile(r"(?:\+[1-9][0-9]{1,14}\n)*")
_BATCH = 2000
LOOKUP_BATCH = 1000  # numbers per Lua call (Lua's unpack() takes a few thousand at most)
_ONE = ord("1")
_CAS_ROUNDS = 8


class ListBusyError(SwitchboardError):
    """Another import or change of the same list is running."""

    error_id = "blacklist-list-busy"


class ListConflictError(SwitchboardError):
    """A bucket kept changing under a compare-and-set; nothing was lost, retry later."""

    error_id = "blacklist-list-conflict"


class ExportInterruptedError(SwitchboardError):
    """The list was replaced while it was being exported; the output mixes two versions."""

    error_id = "blacklist-export-interrupted"


@dataclass(frozen=True, slots=True)
class InternalEntry:
    number: str
    reason: str
    actor: str
    at: str


@dataclass(frozen=True, slots=True)
class ListInfo:
    name: str
    count: int
    generation: int
    meta: dict[str, str]


def check_list_name(name: str) -> str:
    if name == "internal" or not _LIST_NAME.fullmatch(name):
        raise ValidationFailedError(
            f"invalid list name {name!r}: lowercase letters, digits, '.', '_', '-' "
            "(e.g. hu-robinson), or campaign:<id>",
            list=name,
        )
    return name


def campaign_list(campaign_id: str) -> str:
    return check_list_name(f"{CAMPAIGN_PREFIX}{campaign_id}")


def e164_digits(numbers: Sequence[str]) -> list[int]:
    """E.164 strings as ints, all validated in one regex pass; ValidationFailedError names the bad ones."""
    joined = "".join(map("{}\n".format, numbers))
    if _E164_LINES.fullmatch(joined) and joined.count("\n") == len(numbers):
        return list(map(int, numbers))
    bad = [i for i, n in enumerate(numbers) if not _E164_LINES.fullmatch(f"{n}\n")]
    raise ValidationFailedError(
        f"{len(bad)} value(s) are not E.164 numbers",
        invalid=[{"index": i, "input": numbers[i]} for i in bad[:20]],
    )


def require_binary(redis: Redis) -> Redis:
    if connection_option(redis, "decode_responses"):
        raise ValidationFailedError("the blacklist needs a Redis client with decode_responses=False")
    return redis


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _require(**fields: str) -> None:
    missing = [name for name, value in fields.items() if not value or not value.strip()]
    if missing:
        raise ValidationFailedError(f"missing: {', '.join(missing)}", missing=missing)


def _maxlen(value: int | None) -> str:
    return "" if value is None else str(value)


class InternalList:
    """The engine's own list: small, changed one number at a time, every change audited."""

    def __init__(
        self, redis: Redis, keys: DialerKeys | None = None, *, audit_maxlen: int | None = None
    ) -> None:
        self._redis = redis
        self._keys = keys or DialerKeys()
        self._maxlen = _maxlen(audit_maxlen)
        self._script = redis.register_script(lua.INTERNAL)

    async def add(self, number: str, *, reason: str, actor: str, now: datetime) -> bool:
        """Put an E.164 number on the list; False when it was already there (then nothing changes)."""
        return await self._change("add", number, reason, actor, now)

    async def remove(self, number: str, *, reason: str, actor: str, now: datetime) -> bool:
        """Take a number off the list; False when it was not on it."""
        return await self._change("remove", number, reason, actor, now)

    async def _change(self, action: str, number: str, reason: str, actor: str, now: datetime) -> bool:
        e164_digits([number])
        _require(reason=reason, actor=actor)
        at = now.isoformat()
        entry = json.dumps({"reason": reason, "actor": actor, "at": at})
        keys = [self._keys.blacklist_internal, self._keys.audit_blacklist]
        args = [number, entry, reason, actor, at, self._maxlen, action]
        return bool(await self._script(keys=keys, args=args))

    async def get(self, number: str) -> InternalEntry | None:
        raw = await self._redis.hget(self._keys.blacklist_internal, number)
        return None if raw is None else InternalEntry(number=number, **json.loads(raw))

    async def count(self) -> int:
        return int(await self._redis.hlen(self._keys.blacklist_internal))

    async def export(self) -> AsyncIterator[InternalEntry]:
        async for field, raw in self._redis.hscan_iter(self._keys.blacklist_internal, count=1000):
            yield InternalEntry(number=_text(field), **json.loads(raw))


class PackedStore:
    """Named packed lists: read, export, change bucket-wise, and swap in whole."""

    def __init__(
        self, redis: Redis, keys: DialerKeys | None = None, *, audit_maxlen: int | None = None
    ) -> None:
        self._redis = require_binary(redis)
        self.keys = keys or DialerKeys()
        self._maxlen = audit_maxlen
        self._contains = redis.register_script(lua.CONTAINS)
        self._swap = redis.register_script(lua.SWAP)
        self._cas = redis.register_script(lua.CAS)
        self._drop = redis.register_script(lua.DROP)
        self._unlock = redis.register_script(lua.UNLOCK)
        self._relock = redis.register_script(lua.RELOCK)

    async def names(self) -> list[str]:
        return sorted(_text(name) for name in await self._redis.smembers(self.keys.blacklist_registry))

    async def info(self, name: str) -> ListInfo:
        if not await self._redis.sismember(self.keys.blacklist_registry, check_list_name(name)):
            raise NotFoundError(f"no blacklist named {name!r}", list=name)
        meta = {
            _text(k): _text(v) for k, v in (await self._redis.hgetall(self.keys.blacklist_meta(name))).items()
        }
        return ListInfo(name, int(meta.get("count", 0)), int(meta.get("generation", 0)), meta)

    async def count(self, name: str) -> int:
        return (await self.info(name)).count

    async def contains_many(self, name: str, numbers: Sequence[str]) -> list[bool]:
        """Exact membership of E.164 numbers in one list, searched inside Redis (one call a 1,000)."""
        digits = e164_digits(numbers)
        key = self.keys.blacklist_list(check_list_name(name))
        answers = b""
        for start in range(0, len(digits), LOOKUP_BATCH):
            blob = packed.lookup_blob(digits[start : start + LOOKUP_BATCH])
            answers += await self._contains(keys=[key], args=[blob])
        return list(map(_ONE.__eq__, answers))

    async def export(self, name: str) -> AsyncIterator[str]:
        """Every number of a list in E.164, in storage order; raises if a replace ran meanwhile."""
        generation = (await self.info(name)).generation
        seen: set[bytes] = set()
        async for field, blob in self._redis.hscan_iter(self.keys.blacklist_list(name), count=500):
            if field not in seen:  # HSCAN may repeat a field while the hash rehashes
                seen.add(field)
                for digits in packed.numbers_of(int(field), blob):
                    yield f"+{digits}"
        if (await self.info(name)).generation != generation:
            raise ExportInterruptedError(f"list {name!r} was replaced during the export", list=name)

    async def add(self, name: str, numbers: Sequence[str]) -> int:
        """Add E.164 numbers to a packed list (e.g. a campaign list); returns how many were new."""
        builder = packed.BucketBuilder()
        builder.add(e164_digits(numbers))
        async with self.lock(check_list_name(name)):
            return await self.merge(name, list(builder.buckets()))

    async def remove(self, name: str, numbers: Sequence[str]) -> int:
        """Remove E.164 numbers from a packed list; returns how many were there."""
        by_bucket: dict[int, list[int]] = {}
        for digits in e164_digits(numbers):
            bucket, remainder = packed.split(digits)
            by_bucket.setdefault(bucket, []).append(remainder)
        async with self.lock(check_list_name(name)):
            return -await self._apply(name, list(by_bucket.items()), packed.subtract)

    async def merge(
        self, name: str, buckets: Sequence[tuple[int, bytes]], progress: Callable[[int], None] | None = None
    ) -> int:
        """Union packed buckets into a list, bucket by bucket (compare-and-set); returns numbers added."""
        return await self._apply(name, buckets, packed.merge, progress)

    async def _apply(
        self,
        name: str,
        changes: Sequence[tuple[int, T]],
        combine: Callable[[bytes | None, T], bytes],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        delta = 0
        for start in range(0, len(changes), _BATCH):
            batch = dict(changes[start : start + _BATCH])
            for _ in range(_CAS_ROUNDS):
                replies = await self._redis.hmget(self.keys.blacklist_list(name), list(batch))
                current = cast(list[bytes | None], replies)
                args: list[Any] = [name]
                for (bucket, change), old in zip(batch.items(), current, strict=True):
                    args += [bucket, old or b"", combine(old, change)]
                keys = [
                    self.keys.blacklist_list(name),
                    self.keys.blacklist_meta(name),
                    self.keys.blacklist_registry,
                ]
                added, conflicts = await self._cas(keys=keys, args=args)
                delta += int(added)
                batch = {int(bucket): batch[int(bucket)] for bucket in conflicts}
                if not batch:
                    break
            else:
                raise ListConflictError(f"buckets of {name!r} kept changing", list=name, buckets=len(batch))
            if progress is not None:
                progress(min(start + _BATCH, len(changes)))
        return delta

    async def write_build(
        self,
        name: str,
        token: str,
        buckets: Iterable[tuple[int, bytes]],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Write a list's new content under its build key (TTL'd); returns the number of buckets."""
        key = self.keys.blacklist_build(name, token)
        written = 0
        batch: dict[int, bytes] = {}
        for bucket, blob in buckets:
            batch[bucket] = blob
            if len(batch) == _BATCH:
                written += await self._write(key, batch)
                batch = {}
                if progress is not None:
                    progress(written)
        written += await self._write(key, batch)
        if progress is not None:
            progress(written)
        return written

    async def _write(self, key: str, batch: dict[int, bytes]) -> int:
        if batch:
            pipe = self._redis.pipeline(transaction=False)
            pipe.hset(key, mapping=batch)  # type: ignore[arg-type]
            pipe.expire(key, 6 * 3600)  # an abandoned build frees itself
            await pipe.execute()
        return len(batch)

    async def swap_in(self, name: str, token: str, *, buckets: int, count: int, meta: dict[str, str]) -> int:
        """Make the build key the live list in one step; returns the list's new generation."""
        k = self.keys
        keys = [
            k.blacklist_build(name, token),
            k.blacklist_list(name),
            k.blacklist_retired(name, token),
            k.blacklist_meta(name),
            k.blacklist_registry,
        ]
        args: list[Any] = [name, buckets, count]
        for field, value in meta.items():
            args += [field, value]
        generation = int(await self._swap(keys=keys, args=args))
        await self._redis.unlink(k.blacklist_retired(name, token))  # freed in the background
        return generation

    async def discard_build(self, name: str, token: str) -> None:
        await self._redis.unlink(self.keys.blacklist_build(name, token))

    async def drop(self, name: str, *, actor: str, reason: str, now: datetime) -> bool:
        """Delete a whole packed list (audited); False when there was no such list."""
        _require(actor=actor, reason=reason)
        token = secrets.token_hex(8)
        k = self.keys
        async with self.lock(check_list_name(name)):
            keys = [
                k.blacklist_list(name),
                k.blacklist_retired(name, token),
                k.blacklist_meta(name),
                k.blacklist_registry,
            ]
            existed = bool(await self._drop(keys=keys, args=[name]))
            await self._redis.unlink(k.blacklist_retired(name, token))
        if existed:
            await self.audit(
                {"action": "drop", "list": name, "actor": actor, "reason": reason, "at": now.isoformat()}
            )
        return existed

    async def set_meta(self, name: str, fields: dict[str, str]) -> None:
        """Record facts about a list (last import, source file) and make sure it is registered."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self.keys.blacklist_meta(name), mapping=fields)  # type: ignore[arg-type]
        pipe.sadd(self.keys.blacklist_registry, name)
        await pipe.execute()

    async def audit(self, fields: dict[str, str]) -> None:
        entry = cast(dict[Any, Any], fields)
        await self._redis.xadd(self.keys.audit_blacklist, entry, maxlen=self._maxlen, approximate=True)

    @asynccontextmanager
    async def lock(self, name: str, ttl_ms: int = 600_000) -> AsyncIterator[Callable[[], Awaitable[None]]]:
        """Hold the list's change lock; yields a coroutine function that extends it."""
        token = secrets.token_hex(16)
        key = self.keys.blacklist_lock(name)
        if not await self._redis.set(key, token, nx=True, px=ttl_ms):
            left = max(0, int(await self._redis.pttl(key))) // 1000
            raise ListBusyError(
                f"list {name!r} is being changed by another import (lock expires within {left} s)",
                list=name,
                seconds_left=left,
            )

        async def refresh() -> None:
            await self._relock(keys=[key], args=[token, ttl_ms])

        try:
            yield refresh
        finally:
            await self._unlock(keys=[key], args=[token])
