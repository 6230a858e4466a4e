"""Shared harness of the task tests (no tests here): stores on a private Redis, an injected clock,
and a real HTTP server on 127.0.0.1 that plays the notification webhook (scripted answers)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from core.config.loader import load_text
from dialer.compliance.calling_hours import CallingWindow
from dialer.dispositions.rules import DispositionRules
from dialer.stores import DialerStores
from dialer.tasks.rules import DEFAULT_TASK_RULES, TaskRules
from dialer.tasks.store import TaskStore
from dialer.tasks.task_metrics import TaskMetrics

BUDAPEST = ZoneInfo("Europe/Budapest")
MONDAY_10 = datetime(2026, 6, 1, 10, 0, tzinfo=BUDAPEST)  # CEST, UTC+2
DISPOSITIONS = """
dispositions:
  - code: do_not_call
    actions: [{action: blacklist}]
  - code: callback_later
  - code: not_reachable
  - code: sale
    actions: [{action: close_lead}]
"""


class Clock:
    """A settable clock (aware datetimes); `advance` moves it on."""

    def __init__(self, start: datetime = MONDAY_10) -> None:
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, moment: datetime) -> datetime:
        self.now = moment.astimezone(UTC)
        return self.now


def local(year: int, month: int, day: int, *clock: int) -> datetime:
    hour, minute, second, micro = (*clock, 0, 0, 0, 0)[:4]
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=BUDAPEST)


def number(index: int) -> str:
    return f"+3630{1000000 + index:07d}"


def lead(index: int, campaign_id: str = "c1", **extra: Any) -> dict[str, Any]:
    return {
        "lead_id": f"L{index}",
        "customer_id": f"C{index}",
        "name": f"Customer {index}",
        "phones": [number(index)],
        "email": f"customer{index}@example.hu",
        "campaign_id": campaign_id,
        **extra,
    }


def rules(**overrides: Any) -> TaskRules:
    return DEFAULT_TASK_RULES.model_copy(update=overrides)


@dataclass
class Kit:
    redis: aioredis.Redis
    clock: Clock
    stores: DialerStores
    tasks: TaskStore
    registry: CollectorRegistry
    metrics: TaskMetrics

    async def leads(self, *indexes: int, campaign_id: str = "c1") -> None:
        items = [lead(i, campaign_id) for i in indexes]
        report = await self.stores.leads.upsert_many(items, now=self.clock(), actor="crm")
        assert not report.errors, report.errors

    def sample(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value

    async def notices(self) -> list[dict[str, str]]:
        entries = await self.redis.xrange(self.tasks.keys.notify)
        return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]


def build_kit(
    redis: aioredis.Redis,
    clock: Clock | None = None,
    task_rules: TaskRules = DEFAULT_TASK_RULES,
    windows: dict[str, CallingWindow] | None = None,
) -> Kit:
    clock = clock or Clock()
    registry = CollectorRegistry()
    dispositions = load_text(DISPOSITIONS, DispositionRules)
    stores = DialerStores.build(
        redis, default_region="HU", registry=registry, clock=clock, rules=dispositions
    )
    metrics = TaskMetrics(registry)
    found = windows or {}
    tasks = TaskStore(
        redis,
        leads=stores.leads,
        rules=task_rules,
        cc_zone="Europe/Budapest",
        windows=found.get,
        metrics=metrics,
    )
    return Kit(redis, clock, stores, tasks, registry, metrics)


@dataclass
class Received:
    key: str
    body: dict[str, Any]
    status: int


@dataclass
class Webhook:
    """A real HTTP endpoint: answers POSTs with the scripted statuses (then 200) and records them."""

    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/notify"

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if ": " in line)
        lowered = {k.lower(): v for k, v in headers.items()}
        body = await reader.readexactly(int(lowered.get("content-length", "0")))
        status = self.script.pop(0) if self.script else 200
        self.received.append(Received(lowered.get("idempotency-key", ""), json.loads(body), status))
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def webhook(*statuses: int) -> AsyncIterator[Webhook]:
    hook = Webhook(list(statuses))
    server = await asyncio.start_server(hook._serve, "127.0.0.1", 0)
    hook.port = server.sockets[0].getsockname()[1]
    try:
        yield hook
    finally:
        server.close()
        await server.wait_closed()
