"""Keyset pages over Redis sorted sets: the cursor every list endpoint hands back.

A cursor names the last item of a page by (score, member), the order Redis keeps a sorted set
in; the next page starts strictly after it, so following cursors never repeats or skips an
item, even when many items share one score (one millisecond) or items are added meanwhile.
Cursors are opaque text to clients (`<score>:<member>`).
"""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from redis.asyncio import Redis

from core.errors import ValidationFailedError
from dialer.audit import text

T = TypeVar("T")
_BATCH = 200


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    score: float
    member: str

    def encode(self) -> str:
        score = int(self.score) if float(self.score).is_integer() else self.score
        return f"{score}:{self.member}"

    @classmethod
    def decode(cls, value: str | None) -> Cursor | None:
        if value is None or value == "":
            return None
        score, sep, member = value.partition(":")
        try:
            if not sep or not member:
                raise ValueError(value)
            return cls(float(score), member)
        except ValueError:
            raise ValidationFailedError(
                "cursor: not a cursor from a previous page (pass next_cursor back as it is)", field="cursor"
            ) from None


async def walk(
    redis: Redis, key: str, after: Cursor | None, low: float | None = None, below: float | None = None
) -> AsyncIterator[Cursor]:
    """The members of `key` in order, strictly after `after` (from score `low` on, and under
    score `below` when given)."""
    start: str | float = "-inf" if low is None else low
    stop: str = "+inf" if below is None else f"({below}"
    if after is not None and (low is None or after.score >= low):
        if below is None or after.score < below:
            same = await redis.zrangebyscore(key, after.score, after.score, withscores=True)
            for member, score in cast(list[tuple[Any, float]], same):
                if text(member) > after.member:
                    yield Cursor(float(score), text(member))
        start = f"({after.score}"
    offset = 0
    while True:
        chunk = await redis.zrangebyscore(key, start, stop, start=offset, num=_BATCH, withscores=True)
        if not chunk:
            return
        offset += len(chunk)
        for member, score in cast(list[tuple[Any, float]], chunk):
            yield Cursor(float(score), text(member))


async def page(
    redis: Redis,
    keys: Sequence[str],
    after: Cursor | None,
    limit: int,
    load: Callable[[list[str]], Awaitable[list[T | None]]],
    *,
    low: float | None = None,
    below: float | None = None,
) -> tuple[list[T], Cursor | None]:
    """Up to `limit` items after `after`, merged over `keys` in (score, member) order; `load`
    turns members into items (None: skip it, e.g. filtered out). Scores from `low` on and under
    `below` when given. The cursor is None on the last page."""
    found: list[tuple[Cursor, T]] = []
    for key in keys:
        found += await _take(redis, key, after=after, wanted=limit + 1, load=load, low=low, below=below)
    merged = heapq.nsmallest(limit + 1, found, key=lambda pair: pair[0])
    items = merged[:limit]
    more = len(merged) > limit
    return [item for _, item in items], (items[-1][0] if more and items else None)


async def _take(
    redis: Redis,
    key: str,
    *,
    after: Cursor | None,
    wanted: int,
    load: Callable[[list[str]], Awaitable[list[T | None]]],
    low: float | None,
    below: float | None = None,
) -> list[tuple[Cursor, T]]:
    taken: list[tuple[Cursor, T]] = []
    batch: list[Cursor] = []

    async def flush() -> None:
        loaded = await load([c.member for c in batch])
        taken.extend((c, item) for c, item in zip(batch, loaded, strict=True) if item is not None)
        batch.clear()

    async for cursor in walk(redis, key, after, low, below):
        batch.append(cursor)
        if len(batch) >= _BATCH:
            await flush()
            if len(taken) >= wanted:
                break
    if batch and len(taken) < wanted:
        await flush()
    return taken[:wanted]


def page_in_memory(
    items: Sequence[T], key: Callable[[T], str], after: Cursor | None, limit: int
) -> tuple[list[T], Cursor | None]:
    """The same pages over a list the engine holds in memory (agents, queues, campaigns), ordered
    by `key` (an id, unique): cursors look like the sorted sets' ones (score 0, member the id)."""
    ordered = sorted(items, key=key)
    if after is not None:
        ordered = [item for item in ordered if (0.0, key(item)) > (after.score, after.member)]
    taken = ordered[:limit]
    more = len(ordered) > limit
    return taken, (Cursor(0.0, key(taken[-1])) if more and taken else None)
