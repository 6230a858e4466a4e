"""Customer notifications of a promised callback time: the event, and its webhook delivery.

Owned here: what a notification carries (`customer_notice`) and `NotificationWorker`, which
delivers the ones queued for a webhook. Rules it keeps (issue 5, seed 002: "the customer gets an
e-mail about the date"):
- The event is written by the task store's own-time script, in the same step as the change, to
  the `tasks:notify` stream (for the e-mail / SMS senders): exactly one entry per change, whose
  `idempotency_key` is the task id and the own-time version (`t-12:v2`). Re-sending the same own
  time is not a change and notifies no one.
- Webhook delivery is at least once with an idempotency key the receiver can rely on: the
  `Idempotency-Key` header repeats it. A worker claims a queued notification for a lease (so two
  engines never post it at the same time), posts it, and only then records it as sent; a key
  recorded as sent is never posted again. Failures are retried with exponential backoff up to
  `retries`; after that, or on a refusal that retrying cannot fix (HTTP 4xx other than 408/429),
  it is given up and kept in `tasks:notify:failed`. When the own time changes again before
  delivery, only the newest version is delivered (the customer needs the latest time).
- The webhook is posted with urllib in a worker thread: no HTTP client dependency at runtime.
- `OutboxWorker` is that one delivery mechanism for any queue: `tasks:notify` (the webhook) and
  `tasks:mail` (e-mail by SMTP, dialer/tasks/mail.py: advisors' reminders and digests, and the
  customer's e-mail of the promised time, `customer_mail`), each with its sender and retries.
  When the server cannot be reached, the rest of the pass waits one backoff without a try counted:
  a pass spends at most one timeout on a server that is down.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as phone_timezone
from redis.asyncio import Redis

from core.errors import SwitchboardError
from dialer.audit import text
from dialer.dialer_keys import DialerKeys, TaskKeys
from dialer.leads.model import to_ms
from dialer.leads.store import Lead
from dialer.tasks import outbox_scripts as outbox_lua
from dialer.tasks.mail_templates import Language, language_for_number
from dialer.tasks.rules import NotificationRules, Task, WebhookRules
from dialer.tasks.task_metrics import TaskMetrics

log = logging.getLogger("switchboard.dialer.notifications")

USER_AGENT = "switchboard-notifications/1"
_SENT_KEEP = timedelta(days=30)


class NotificationFailedError(SwitchboardError):
    """The webhook did not accept a notification; `permanent` when retrying cannot help."""

    error_id = "task-notification-failed"

    @property
    def permanent(self) -> bool:
        return bool(self.details.get("permanent", False))


def customer_zone(task: Task) -> str:
    """The customer's zone: the lead's override, else the number's (when it has one), else the center's."""
    if task.zone:
        return task.zone
    if task.number:
        try:
            found = phone_timezone.time_zones_for_number(phonenumbers.parse(task.number))
            zones = [zone for zone in found if "/" in zone]
        except phonenumbers.NumberParseException:
            zones = []
        if len(zones) == 1 and zones[0] != "Etc/Unknown":
            return zones[0]
    return task.cc_zone


def customer_notice(task: Task, lead: Lead | None, own_time: datetime, now: datetime) -> dict[str, str]:
    """The notification of a promised time (all strings; the store adds event, version, key, previous)."""
    zone = customer_zone(task)
    return {
        "task_id": task.task_id,
        "kind": task.kind,
        "lead_id": task.lead_id,
        "customer_id": task.customer_id,
        "customer_name": lead.name if lead else "",
        "email": lead.email if lead else "",
        "phone": task.number or (lead.phones[0] if lead and lead.phones else ""),
        "promised_at": own_time.astimezone(UTC).isoformat(),
        "promised_local": own_time.astimezone(ZoneInfo(zone)).isoformat(),
        "customer_zone": zone,
        "advisor": task.owner or "",
        "campaign_id": task.campaign_id or "",
        "at": now.astimezone(UTC).isoformat(),
    }


def customer_mail(
    task: Task, lead: Lead, own_time: datetime, now: datetime, default: Language
) -> dict[str, Any]:
    """The e-mail telling the customer the promised time (queued in the `tasks:mail` outbox; its
    key `own:<task>:v<version>` is set by the store's script): in Hungarian or Polish by the
    country of the number, else `default`; the time in the customer's zone."""
    notice = customer_notice(task, lead, own_time, now)
    params = {
        "customer": notice["customer_name"], "advisor": task.owner or "", "phone": notice["phone"],
        "when_at": notice["promised_at"], "zone": notice["customer_zone"], "task_id": task.task_id,
    }  # fmt: skip
    lang = language_for_number(notice["phone"], default)
    return {"template": "customer", "to": lead.email, "lang": lang, "params": params,
            "queued_at": now.timestamp()}  # fmt: skip


class WebhookSender(Protocol):
    async def send(self, payload: Mapping[str, Any], idempotency_key: str) -> None:
        """Deliver or raise NotificationFailedError."""


class UrllibWebhook:
    """POST the notification as JSON; 2xx is delivered, anything else raises."""

    def __init__(self, url: str, *, timeout_s: float = 5.0, token: str | None = None) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._token = token

    @classmethod
    def from_rules(cls, rules: WebhookRules) -> UrllibWebhook:
        token = os.environ.get(rules.bearer_token_env) if rules.bearer_token_env else None
        return cls(rules.url, timeout_s=rules.timeout.total_seconds(), token=token or None)

    async def send(self, payload: Mapping[str, Any], idempotency_key: str) -> None:
        body = json.dumps(dict(payload), ensure_ascii=False).encode()
        await asyncio.to_thread(self._post, body, idempotency_key)

    def _post(self, body: bytes, key: str) -> None:
        headers = {"Content-Type": "application/json", "Idempotency-Key": key, "User-Agent": USER_AGENT}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the connection
            permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
            raise NotificationFailedError(
                f"webhook answered HTTP {exc.code}", status=exc.code, permanent=permanent
            ) from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            message = f"webhook unreachable: {reason}"
            raise NotificationFailedError(message, permanent=False, unreachable=True) from None
        if not 200 <= status < 300:
            raise NotificationFailedError(f"webhook answered HTTP {status}", status=status, permanent=False)


SenderFactory = Callable[[WebhookRules], WebhookSender]


class RetryPolicy(Protocol):
    """How an outbox retries (the webhook's rules, the mail settings)."""

    @property
    def retries(self) -> int: ...
    @property
    def backoff(self) -> timedelta: ...
    @property
    def max_backoff(self) -> timedelta: ...


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0  # already delivered (by key), nothing posted
    deferred: int = 0  # not tried: the server was unreachable for an earlier one of this pass
    unreachable: bool = False


class OutboxWorker:
    """Delivers one outbox queue (`tasks:notify` to the webhook, `tasks:mail` by SMTP) with its
    sender and retry policy; `run_once()` is one pass (tests, the tick). See the module docstring."""

    def __init__(
        self,
        redis: Redis,
        *,
        queue: str,
        clock: Callable[[], datetime],
        keys: DialerKeys | None = None,
        counter: Callable[[str], None] | None = None,
        lease: timedelta = timedelta(seconds=60),
        batch: int = 50,
        sender: WebhookSender | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.redis = redis
        self.keys = TaskKeys.of(keys)
        self.queue = queue
        self.sender = sender
        self.policy = policy
        self._clock = clock
        self._counter = counter
        self._lease = lease
        self._batch = batch
        self._claim = redis.register_script(outbox_lua.CLAIM_OUTBOX)
        self._settle = redis.register_script(outbox_lua.SETTLE_OUTBOX)

    @property
    def sent_key(self) -> str:
        return self.keys.queue(self.queue, "sent")

    @property
    def failed_key(self) -> str:
        return self.keys.queue(self.queue, "failed")

    def _argv(self, now: datetime, *args: str | int) -> list[str | int]:
        return [self.keys.prefix, to_ms(now), now.isoformat(), "", self.queue, *args]

    async def run_once(self) -> DeliveryReport:
        report = DeliveryReport()
        policy, sender = self.policy, self.sender
        if policy is None or sender is None:
            return report
        now = self._clock()
        lease_ms = int(self._lease.total_seconds() * 1000)
        keys = self.keys.outbox_queue(self.queue)
        claimed = await self._claim(keys=keys, args=self._argv(now, self._batch, lease_ms))
        for index in range(0, len(claimed), 3):
            item, payload, tries = text(claimed[index]), text(claimed[index + 1]), int(claimed[index + 2])
            if report.unreachable:  # the server is down: the rest wait for it, no try counted
                await self._settled(item, payload, "retry", "", to_ms(now + policy.backoff), tries)
                report.deferred += 1
                continue
            await self._deliver(sender, policy, item=item, payload=payload, tries=tries, report=report)
        await self.redis.zremrangebyscore(self.sent_key, "-inf", to_ms(now - _SENT_KEEP))
        return report

    async def _deliver(
        self, sender: WebhookSender, policy: RetryPolicy, *, item: str, payload: str, tries: int,
        report: DeliveryReport,
    ) -> None:  # fmt: skip
        notice = json.loads(payload)
        key = str(notice.get("idempotency_key", item))
        if await self.redis.zscore(self.sent_key, key) is not None:
            report.skipped += 1
            await self._settled(item, payload, "sent", key)
            return
        try:
            await sender.send(notice, key)
        except NotificationFailedError as exc:
            report.unreachable = bool(exc.details.get("unreachable"))
            tries += 1
            await self._failed(policy, exc, item=item, payload=payload, key=key, tries=tries, report=report)
            return
        report.sent += 1
        self._count("sent")
        await self._settled(item, payload, "sent", key)

    async def _failed(
        self, policy: RetryPolicy, exc: NotificationFailedError, *, item: str, payload: str, key: str,
        tries: int, report: DeliveryReport,
    ) -> None:  # fmt: skip
        extra = {"item": item, "key": key, "tries": tries, "queue": self.queue}
        if exc.permanent or tries > policy.retries:
            report.failed += 1
            self._count("failed")
            log.error("notification %s given up after %d tries: %s", key, tries, exc.message, extra=extra)
            failure = json.dumps({"payload": payload, "error": exc.message, "tries": tries})
            await self._settled(item, payload, "failed", key, "", tries, failure)
            return
        delay = min(policy.backoff * (2 ** (tries - 1)), policy.max_backoff)
        retry_at = to_ms(self._clock() + delay)
        report.retried += 1
        self._count("retry")
        log.warning("notification %s not delivered (try %d): %s", key, tries, exc.message, extra=extra)
        await self._settled(item, payload, "retry", key, retry_at, tries)

    async def _settled(self, item: str, payload: str, outcome: str, key: str, *extra: str | int) -> None:
        rest = list(extra) + [""] * (3 - len(extra))
        args = self._argv(self._clock(), item, payload, outcome, key, *rest)
        await self._settle(keys=self.keys.outbox_queue(self.queue), args=args)

    def _count(self, result: str) -> None:
        if self._counter is not None:
            self._counter(result)

    async def failed(self) -> dict[str, dict[str, Any]]:
        """Messages given up, by message id (task id for the webhook): payload, last error, tries."""
        raw = await self.redis.hgetall(self.failed_key)
        return {text(item): json.loads(text(value)) for item, value in raw.items()}

    async def pending(self) -> int:
        """Messages waiting for delivery (queued or to be retried)."""
        return int(await self.redis.zcard(self.keys.queue(self.queue, "outbox")))


class NotificationWorker(OutboxWorker):
    """The customer notifications' webhook: the `tasks:notify` queue, sender and retries from
    tasks.yaml (`notifications.webhook`), swapped on reload."""

    def __init__(
        self,
        redis: Redis,
        rules: NotificationRules,
        *,
        clock: Callable[[], datetime],
        keys: DialerKeys | None = None,
        metrics: TaskMetrics | None = None,
        sender_factory: SenderFactory = UrllibWebhook.from_rules,
        lease: timedelta = timedelta(seconds=60),
        batch: int = 50,
    ) -> None:
        def count(result: str) -> None:
            if metrics is not None:
                metrics.notifications.labels(result=result).inc()

        super().__init__(
            redis, queue="tasks:notify", clock=clock, keys=keys, counter=count, lease=lease, batch=batch
        )
        self.metrics = metrics
        self._factory = sender_factory
        self.rules = rules
        self.configure(rules)

    def configure(self, rules: NotificationRules) -> None:
        """Hot reload: a new webhook URL or retry policy applies from the next pass."""
        self.rules = rules
        self.policy = rules.webhook
        self.sender = self._factory(rules.webhook) if rules.webhook is not None else None
