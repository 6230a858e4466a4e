"""Audit trails of the dialer's decisions: Redis streams of flat string records (who, when, what).

Owned here: appending to and reading back the audit streams of leads, Robinson requests and
dispositions. Records that must change together with the data they describe are written from
inside the changing Lua script with the `audit()` Lua helper, shared with the blacklist store
(dialer.lists.store_scripts.AUDIT_LUA), so a change is never seen without its record. Records of steps
that are not one atomic change (e.g. the numbers an approval put on the internal list) are
appended with `AuditTrail.append`. Every record carries `action`, `actor` and `at` (ISO 8601).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis

from dialer.lists.store_scripts import AUDIT_LUA

__all__ = ["AUDIT_LUA", "AuditEntry", "AuditTrail", "maxlen_arg", "text"]


def text(value: Any) -> str:
    """A Redis reply value as text (clients may or may not decode responses)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def maxlen_arg(maxlen: int | None) -> str:
    """The `maxlen` argument of the Lua `audit()` helper ('' = keep everything)."""
    return "" if maxlen is None else str(maxlen)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit record: the stream entry id (time-ordered) and its fields."""

    id: str
    fields: dict[str, str]

    @property
    def action(self) -> str:
        return self.fields.get("action", "")


class AuditTrail:
    """One audit stream: append records, read them back in order."""

    def __init__(self, redis: Redis, stream: str, *, maxlen: int | None = None) -> None:
        self._redis = redis
        self.stream = stream
        self.maxlen = maxlen

    async def append(self, fields: Mapping[str, str]) -> str:
        entry: dict[Any, Any] = dict(fields)
        entry_id = await self._redis.xadd(self.stream, entry, maxlen=self.maxlen, approximate=True)
        return text(entry_id)

    async def read(self, *, after: str = "-", count: int = 1000, **match: str) -> list[AuditEntry]:
        """Records from the oldest (or after entry id `after`), optionally only those whose fields match."""
        start = after if after == "-" else f"({after}"
        replies = cast(
            list[tuple[Any, dict[Any, Any]]],
            await self._redis.xrange(self.stream, min=start, max="+", count=count),
        )
        entries = [
            AuditEntry(text(entry_id), {text(k): text(v) for k, v in fields.items()})
            for entry_id, fields in replies
        ]
        return [e for e in entries if all(e.fields.get(k) == v for k, v in match.items())]
