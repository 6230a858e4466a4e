"""Reading the audit trails together: every stream of the dialer, filtered and paged.

Owned here: which streams are audit trails (`KINDS`), how a record matches a filter (pure:
`matches`), and one keyset page over several streams in time order (`AuditQuery.page`). A
record is `(kind, id, fields)`; the stream entry id is its order; time filters read its `at`. A filter on a
number matches the fields that hold numbers (`number`, `numbers`, `added`), on a customer
`customer`, on an actor `actor` or `advisor`. Streams are read in chunks, so a filter that
matches little still reads at most `scan_limit` records per page and says where it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis

from core.errors import ValidationFailedError
from dialer.audit import text
from dialer.dialer_keys import ConsentKeys, DialerKeys, DialKeys, LeadKeys, TaskKeys

_CHUNK = 500
NUMBER_FIELDS = ("number", "numbers", "added")
ACTOR_FIELDS = ("actor", "advisor")


def stream_keys(keys: DialerKeys | None = None) -> dict[str, str]:
    """kind -> its audit stream."""
    base = keys or DialerKeys()
    lead, dial, tasks = LeadKeys.of(base), DialKeys.of(base), TaskKeys.of(base)
    return {
        "robinson": lead.audit_robinson,
        "blocks": base.audit_dial_blocked,
        "lists": base.audit_blacklist,
        "dispositions": lead.audit_dispositions,
        "leads": lead.audit_leads,
        "tasks": tasks.audit,
        "campaigns": dial.audit_campaigns,
        "attempts": dial.audit_attempts,
        "consent": ConsentKeys.of(base).audit,
    }


KINDS = tuple(stream_keys())


@dataclass(frozen=True, slots=True)
class AuditFilter:
    kinds: tuple[str, ...] = KINDS
    number: str | None = None  # E.164
    customer: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    kind: str
    id: str
    fields: dict[str, str]

    def key(self) -> tuple[int, int, str]:
        ms, _, seq = self.id.partition("-")
        return int(ms), int(seq or 0), self.kind

    def cursor(self) -> str:
        return f"{self.id}~{self.kind}"


def matches(fields: Mapping[str, str], wanted: AuditFilter) -> bool:
    """True when the record passes every filter given (pure)."""
    if wanted.number is not None:
        held = {n for name in NUMBER_FIELDS for n in fields.get(name, "").split(",") if n}
        if wanted.number not in held:
            return False
    if wanted.customer is not None and fields.get("customer", "") != wanted.customer:
        return False
    if (wanted.since or wanted.until) and not _within(fields.get("at", ""), wanted):
        return False
    return wanted.actor is None or wanted.actor in {fields.get(name) for name in ACTOR_FIELDS}


def _within(at: str, wanted: AuditFilter) -> bool:
    """The record's own time (`at`, the engine's clock) is inside [since, until]."""
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return False
    if moment.tzinfo is None:
        return False
    after_since = wanted.since is None or moment >= wanted.since
    return after_since and (wanted.until is None or moment <= wanted.until)


def parse_cursor(value: str | None) -> tuple[tuple[int, int, str], str] | None:
    """`<entry id>~<kind>` -> (sort key, entry id); ValidationFailedError for anything else."""
    if not value:
        return None
    entry_id, _, kind = value.partition("~")
    try:
        record = AuditRecord(kind, entry_id, {})
        key = record.key()
    except ValueError:
        key = None
    if key is None or kind not in KINDS:
        raise ValidationFailedError("cursor: not a cursor from a previous page", field="cursor")
    return key, entry_id


class AuditQuery:
    """The dialer's audit streams, read together."""

    def __init__(self, redis: Redis, keys: DialerKeys | None = None) -> None:
        self._redis = redis
        self.streams = stream_keys(keys)

    async def page(
        self, wanted: AuditFilter, *, cursor: str | None = None, limit: int = 100
    ) -> tuple[list[AuditRecord], str | None]:
        """Up to `limit` matching records, oldest first, after `cursor`; and the next cursor."""
        unknown = [k for k in wanted.kinds if k not in self.streams]
        if unknown:
            raise ValidationFailedError(f"kind: unknown; use {', '.join(KINDS)}", field="kind")
        after = parse_cursor(cursor)
        found: list[AuditRecord] = []
        for kind in wanted.kinds:
            found += await self._take(kind, wanted, after, limit + 1)
        found.sort(key=AuditRecord.key)
        more = len(found) > limit
        items = found[:limit]
        return items, (items[-1].cursor() if more and items else None)

    async def _take(
        self, kind: str, wanted: AuditFilter, after: tuple[tuple[int, int, str], str] | None, count: int
    ) -> list[AuditRecord]:
        low, high = "-", "+"  # time filters read the records' own `at` (the engine's clock)
        if after is not None:
            (_, _, after_kind), entry_id = after
            low = entry_id if kind > after_kind else f"({entry_id}"
        taken: list[AuditRecord] = []
        while len(taken) < count:
            replies = cast(
                list[tuple[Any, dict[Any, Any]]],
                await self._redis.xrange(self.streams[kind], min=low, max=high, count=_CHUNK),
            )
            for entry_id, raw in replies:
                fields = {text(k): text(v) for k, v in raw.items()}
                if matches(fields, wanted):
                    taken.append(AuditRecord(kind, text(entry_id), fields))
            if len(replies) < _CHUNK:
                break
            low = f"({text(replies[-1][0])}"
        return taken[:count]


def as_rows(records: Sequence[AuditRecord]) -> list[dict[str, str]]:
    """Flat rows for an export: kind, id, time, then the record's own fields."""
    return [{"kind": r.kind, "id": r.id, **r.fields} for r in records]
