"""How long the audit streams keep their records: per stream, by age and by count.

Redis must not evict (switchboard/redis_conn.py), so every stream needs a bound.
Each stream (`sb:dialer:audit:<name>`, dialer/dialer_keys.py) has a retention from
the settings (`audit.streams.<name>`: `max_age_days`, `max_entries`); the engine
trims them every `audit.trim_interval` seconds. Age is measured on the stream ids,
which are Redis server milliseconds, against the server's own clock (TIME), so
entries are dropped exactly when they are older than the age. A count cap trims
approximately (whole macro nodes, cheap). `audit:dial-attempts` holds the abandon
records regulators ask for: kept 730 days (2 years) by default and never capped
by count; `switchboard audit export` writes any stream's records as JSON lines.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, cast

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.exceptions import RedisError

from core.cancellation import raise_if_cancelling, stop_task
from dialer.dialer_keys import ConsentKeys, DialerKeys, DialKeys, LeadKeys, TaskKeys
from switchboard.settings import StreamRetention

log = logging.getLogger("switchboard.audit_retention")
DAY_MS = 86_400_000


def stream_key(name: str, keys: DialerKeys | None = None) -> str:
    """The key of the audit stream `name` (the settings' `audit.streams` names), from the key modules."""
    base = keys or DialerKeys()
    lead, dial = LeadKeys.of(base), DialKeys.of(base)
    streams = {
        "dial-attempts": dial.audit_attempts, "dial-blocked": base.audit_dial_blocked,
        "blacklist": base.audit_blacklist, "robinson": lead.audit_robinson,
        "dispositions": lead.audit_dispositions, "leads": lead.audit_leads,
        "campaigns": dial.audit_campaigns, "tasks": TaskKeys.of(base).audit,
        "consent": ConsentKeys.of(base).audit,
    }  # fmt: skip
    return streams[name]


class AuditMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.trimmed = Counter(
            "switchboard_audit_trimmed", "Audit records dropped by retention", ["stream"], registry=registry
        )
        self.entries = Gauge(
            "switchboard_audit_entries", "Records in each audit stream (at the last trim)", ["stream"],
            registry=registry,
        )  # fmt: skip


class AuditRetention:
    """Trims the audit streams to their retention; see the module docstring."""

    def __init__(
        self,
        redis: aioredis.Redis,
        policies: Mapping[str, StreamRetention],
        metrics: AuditMetrics,
        *,
        keys: DialerKeys | None = None,
    ) -> None:
        self._redis = redis
        self._policies = dict(policies)
        self._metrics = metrics
        self._keys = keys or DialerKeys()

    async def trim_once(self) -> dict[str, int]:
        """Drop what each stream's retention no longer keeps; returns stream -> records dropped."""
        seconds, micros = await self._redis.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        dropped: dict[str, int] = {}
        for name, policy in self._policies.items():
            key = stream_key(name, self._keys)
            removed = 0
            if policy.max_age_days is not None:
                oldest = now_ms - int(policy.max_age_days * DAY_MS)
                removed += int(await self._redis.xtrim(key, minid=f"{max(oldest, 0)}-0", approximate=False))
            if policy.max_entries is not None:
                removed += int(await self._redis.xtrim(key, maxlen=policy.max_entries, approximate=True))
            dropped[name] = removed
            self._metrics.trimmed.labels(stream=name).inc(removed)
            self._metrics.entries.labels(stream=name).set(int(await self._redis.xlen(key)))
        return dropped

    async def run(self, interval_s: float) -> None:
        """Trim now and every `interval_s` seconds; a Redis outage is logged and retried."""
        while True:
            try:
                await self.trim_once()
            except RedisError as exc:
                log.warning("audit retention: trimming failed, retrying in %.0f s: %s", interval_s, exc)
            raise_if_cancelling()
            await asyncio.sleep(interval_s)


async def export(
    redis: aioredis.Redis, name: str, *, since_ms: int | None = None, until_ms: int | None = None,
    match: Mapping[str, str] | None = None, batch: int = 1000,
) -> AsyncIterator[dict[str, str]]:  # fmt: skip
    """One stream's records in order (with their `id`), optionally in a time range and matching fields."""
    key = stream_key(name)
    start = f"{since_ms}-0" if since_ms is not None else "-"
    end = f"{until_ms}-18446744073709551615" if until_ms is not None else "+"
    while True:
        reply = await redis.xrange(key, min=start, max=end, count=batch)
        replies = cast(list[tuple[Any, dict[Any, Any]]], reply)
        for entry_id, fields in replies:
            record = {"id": _text(entry_id), **{_text(k): _text(v) for k, v in fields.items()}}
            if all(record.get(k) == v for k, v in (match or {}).items()):
                yield record
        if len(replies) < batch:
            return
        start = f"({_text(replies[-1][0])}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def stop(task: asyncio.Task[None] | None) -> None:
    await stop_task(task)  # bounded: a Redis command may swallow the cancel
