"""The webhook relay and delivery loop of one engine: stream records in, signed POSTs out.

Each pass (`run_once`, also what the background loop repeats every `interval_s`):
1. relay: for each source stream (the ACD's events, the audit streams of dispositions, Robinson
   requests and tasks), read the records after the source's cursor, turn them into events
   (catalog.from_record), and queue each for the webhooks that want its type while moving the
   cursor, in one step (outbox.enqueue). A source seen for the first time starts at its newest
   record: history from before webhooks were configured is not replayed.
2. deliver: for each webhook, claim the due events for a lease, POST each (sender.post), and
   record it delivered, retry it later (signing.retry_delay) or give it up (permanent refusal,
   or older than `max_age`).
`call.offered` does not come from a stream: as an engine service placed after the ACD, `handle`
sees the `SwitchboardInbound` event the ACD just admitted and notes the offer in memory; the next
pass queues it (so a frozen Redis never stalls the engine's event path).

Faults: a Redis or HTTP failure is logged and counted and the loop goes on; nothing here can
stop a call. Several engines may run it at once: the cursor check and the claim lease keep each
event queued once and posted by one engine at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import httpx
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core.cancellation import raise_if_cancelling, stop_task
from core.clock import Clock
from pbx.call_changes import CallChange, UserEventSeen
from pbx.codec import Event
from pbx.switchboard_events import InboundArrived, decode
from pbx.tracker import CallTracker
from switchboard.webhooks.catalog import WebhookEvent, from_record, offered
from switchboard.webhooks.config import WebhookSection
from switchboard.webhooks.metrics import WebhookMetrics
from switchboard.webhooks.outbox import Claimed, Outbox
from switchboard.webhooks.sender import DeliveryFailedError, post
from switchboard.webhooks.signing import retry_delay

log = logging.getLogger("switchboard.webhooks")

MAX_PENDING_OFFERS = 10_000
PASS_BUDGET_S = 10.0
CaseLookup = Callable[[str], Mapping[str, Any] | None]


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


class WebhookService:
    name = "webhooks"

    def __init__(
        self, redis: aioredis.Redis, hooks: Sequence[WebhookSection], *, sources: Mapping[str, str],
        metrics: WebhookMetrics, clock: Clock, offered_case: CaseLookup | None = None,
        disposition_key: Callable[[str], str] | None = None, client: httpx.AsyncClient | None = None,
        rand: Callable[[], float] = random.random, batch: int = 100, lease_s: float = 60.0,
        interval_s: float = 1.0,
    ) -> None:  # fmt: skip
        self.redis = redis
        self.hooks = tuple(hooks)
        self.sources = dict(sources)
        self.metrics = metrics
        self.outbox = Outbox(redis)
        self._clock = clock
        self._offered_case = offered_case
        self._disposition_key = disposition_key
        self._own_client = client is None
        self._client = client or httpx.AsyncClient()
        self._rand = rand
        self._batch = batch
        self._lease_ms = int(lease_s * 1000)
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._offers: deque[WebhookEvent] = deque(maxlen=MAX_PENDING_OFFERS)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- PbxService: call.offered -----------------------------------------------------------
    async def handle(self, event: Event, changes: Sequence[CallChange]) -> None:
        """Note the offer in memory only: the engine's event path never waits on Redis for a webhook
        (the loop queues it within `interval_s`; offers are lost only if the engine dies first)."""
        for change in changes:
            arrived = decode(change) if isinstance(change, UserEventSeen) else None
            if not isinstance(arrived, InboundArrived):
                continue
            call_id = arrived.call_id
            case = self._offered_case(call_id) if self._offered_case and call_id else None
            if call_id and case is not None:
                if len(self._offers) == self._offers.maxlen:
                    log.error("webhook offers pile up (Redis down?): the oldest is dropped")
                self._offers.append(offered(call_id, case, self._clock()))

    async def resync(self, tracker: CallTracker) -> None:
        return None

    async def tick(self, now: float) -> None:
        return None

    async def flush_offers(self) -> None:
        """Queue the offers noted since the last pass; on a Redis failure they wait for the next."""
        while self._offers:
            event = self._offers[0]
            names = [hook.name for hook in self.hooks if hook.wants(event.type)]
            if names:
                added = await self.outbox.enqueue(self._now_ms(), "", [(event.id, _body(event), names)])
                self.metrics.queued(names if added else [])
            self._offers.popleft()

    # -- the loop ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="webhooks")

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a bug in one pass must not end deliveries for good
                log.exception("webhook pass failed")
            raise_if_cancelling()
            await asyncio.sleep(self._interval_s)

    async def close(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)
        if self._own_client:
            await self._client.aclose()

    async def run_once(self) -> DeliveryReport:
        try:
            await self.flush_offers()
            await self.relay_once()
        except (RedisError, OSError) as exc:
            log.error("webhook relay: Redis failed: %s", exc)
        try:
            return await self.deliver_once()
        except (RedisError, OSError) as exc:
            log.error("webhook delivery: Redis failed: %s", exc)
            return DeliveryReport()

    # -- relay ------------------------------------------------------------------------------
    async def relay_once(self) -> int:
        """Queue the new records of every source; the number of deliveries queued."""
        cursors = await self.outbox.cursors()
        total = 0
        for source, stream in self.sources.items():
            total += await self._relay(source, stream, cursors.get(source))
        return total

    async def _relay(self, source: str, stream: str, cursor: str | None) -> int:
        if cursor is None:
            newest = cast(list[Any], await self.redis.xrevrange(stream, count=1))
            start = _text(newest[0][0]) if newest else "0-0"
            await self.outbox.enqueue(self._now_ms(), source, [], expected="", cursor=start)
            return 0
        entries = cast(
            list[tuple[Any, Mapping[Any, Any]]],
            await self.redis.xrange(stream, min=f"({cursor}", max="+", count=self._batch),
        )
        if not entries:
            return 0
        items, counted = [], []
        for raw_id, raw_fields in entries:
            fields = {_text(k): _text(v) for k, v in raw_fields.items()}
            event = from_record(source, _text(raw_id), fields)
            if event is None:
                continue
            event = await self._enrich(event)
            names = [hook.name for hook in self.hooks if hook.wants(event.type)]
            items.append((event.id, _body(event), names))
            counted.extend(names)
        last = _text(entries[-1][0])
        added = await self.outbox.enqueue(self._now_ms(), source, items, expected=cursor, cursor=last)
        if added < 0:
            return 0  # another engine relayed these meanwhile
        self.metrics.queued(counted)
        return added

    async def _enrich(self, event: WebhookEvent) -> WebhookEvent:
        """Calls remember their case; a disposition carries its record and the case of its call."""
        data = event.data
        if event.type.startswith("call.") and data.get("call_id") and data.get("case_id"):
            await self.outbox.remember_case(str(data["call_id"]), str(data["case_id"]))
        if event.type == "disposition.recorded" and self._disposition_key and data.get("disposition"):
            raw = await self.redis.hgetall(self._disposition_key(str(data["disposition"])))
            record = {_text(k): _text(v) for k, v in raw.items()}
            if record.get("actions"):
                with contextlib.suppress(ValueError):
                    record["actions"] = json.loads(record["actions"])
            call_id = record.get("call_id") or ""
            case_id = record.get("case_id") or (await self.outbox.case_of(call_id) if call_id else None)
            data = {**data, **record, "case_id": case_id or ""}
        return WebhookEvent(event.id, event.type, event.occurred_at, data)

    # -- delivery ---------------------------------------------------------------------------
    async def deliver_once(self) -> DeliveryReport:
        report = DeliveryReport()
        for hook in self.hooks:
            await self._deliver_due(hook, report)
            await self.outbox.trim_delivered(hook.name, self._now_ms())
            self.metrics.depth.labels(webhook=hook.name).set(await self.outbox.depth(hook.name))
        return report

    async def _deliver_due(self, hook: WebhookSection, report: DeliveryReport) -> None:
        """Post the due events in order, a few per claim so that a claim's lease outlasts its posts
        even when each one times out; stop after a failure (the endpoint is in trouble) or when
        the pass has taken `PASS_BUDGET_S` (other webhooks wait)."""
        per_claim = max(1, min(self._batch, int(self._lease_ms / 1000 / hook.timeout / 2)))
        started = time.monotonic()
        while time.monotonic() - started < PASS_BUDGET_S:
            due = await self.outbox.claim(hook.name, self._now_ms(), batch=per_claim, lease_ms=self._lease_ms)
            failures = report.retried + report.failed
            for claimed in due:
                await self._deliver(hook, claimed, report)
            if not due or report.retried + report.failed > failures:
                return

    async def _deliver(self, hook: WebhookSection, claimed: Claimed, report: DeliveryReport) -> None:
        body = claimed.body.encode()
        event_type = str(json.loads(claimed.body).get("type", ""))
        started = self._clock()
        try:
            if started * 1000 - claimed.queued_ms > hook.max_age * 1000:
                too_old = f"not delivered within max_age ({hook.max_age:g} s)"
                raise DeliveryFailedError(too_old, permanent=True)
            await post(self._client, hook, event_id=claimed.id, event_type=event_type, body=body, now=started)
        except DeliveryFailedError as exc:
            await self._failed(hook, claimed, exc, report)
            return
        self.metrics.delivery_seconds.labels(webhook=hook.name).observe(max(0.0, self._clock() - started))
        await self.outbox.delivered(hook.name, claimed.id, self._now_ms())
        report.sent += 1
        self.metrics.result(hook.name, "sent")

    async def _failed(
        self, hook: WebhookSection, claimed: Claimed, exc: DeliveryFailedError, report: DeliveryReport
    ) -> None:
        tries, now_ms = claimed.tries + 1, self._now_ms()
        delay = retry_delay(tries, low=hook.backoff_min, high=hook.backoff_max, rand=self._rand)
        retry_at = now_ms + int(delay * 1000)
        extra = {"webhook": hook.name, "event_id": claimed.id, "tries": tries}
        if exc.permanent or retry_at - claimed.queued_ms > hook.max_age * 1000:
            failure = json.dumps({"body": claimed.body, "error": exc.message, "tries": tries})
            await self.outbox.give_up(hook.name, claimed.id, now_ms, failure)
            report.failed += 1
            self.metrics.result(hook.name, "failed")
            log.error("webhook %s: event %s given up after %d tries: %s", hook.name, claimed.id, tries,
                      exc.message, extra=extra)  # fmt: skip
            return
        await self.outbox.retry(hook.name, claimed.id, now_ms, retry_at, tries)
        report.retried += 1
        self.metrics.result(hook.name, "retry")
        log.warning("webhook %s: event %s not delivered (try %d, next in %.1f s): %s", hook.name, claimed.id,
                    tries, delay, exc.message, extra=extra)  # fmt: skip


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _body(event: WebhookEvent) -> str:
    return json.dumps(event.envelope(), ensure_ascii=False, separators=(",", ":"), default=str)
