"""TaskService: the engine's timer for follow-up tasks, as a PbxService (it ignores AMI events).

Owned here: running, from the engine's tick, the expire sweep (every `sweep_every_s`), the status
gauge refresh (every `gauges_every_s`), one pass of the notification worker and, when e-mail is
configured, the advisors' due reminders and digests and one pass of the e-mail outbox. Rules it keeps:
- The tick never waits on Redis: a pass runs as one background task with a timeout; while one is
  running, the next tick starts nothing. A failing pass is logged and counted, never raised.
- Every engine may run it: the sweep and the outbox claims are atomic scripts, so an expiry is
  counted once and a notification posted by one engine at a time.
- Hot reload: `replace_rules(rules)` swaps the task rules in the store and the worker at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from core.cancellation import stop_task
from core.clock import Clock, utc
from core.errors import SwitchboardError
from core.store_errors import store_available
from dialer.dialer_keys import DialerKeys
from dialer.leads.store import LeadStore
from dialer.tasks.advisor_mail import AdvisorDirectory, AdvisorMail, MailReport
from dialer.tasks.mail import MailRetry, SmtpConfig, SmtpSender
from dialer.tasks.mail_templates import Language
from dialer.tasks.notifications import DeliveryReport, NotificationWorker, OutboxWorker
from dialer.tasks.rules import DEFAULT_TASK_RULES, TaskRules
from dialer.tasks.store import TaskStore, Windows
from dialer.tasks.task_metrics import TaskMetrics
from pbx.call_changes import CallChange
from pbx.codec import Event
from pbx.tracker import CallTracker

log = logging.getLogger("switchboard.dialer.tasks")


@dataclass(frozen=True)
class TaskServiceSettings:
    sweep_every_s: float = 1.0
    gauges_every_s: float = 15.0
    pass_timeout_s: float = 10.0
    sweep_batch: int = 500


@dataclass
class PassReport:
    expired: list[tuple[str, str]] = field(default_factory=list)
    delivered: DeliveryReport = field(default_factory=DeliveryReport)
    counts: dict[str, int] | None = None
    queued: MailReport | None = None  # reminders and digests queued for e-mail
    mailed: DeliveryReport = field(default_factory=DeliveryReport)


@dataclass(frozen=True)
class MailSetup:
    """E-mail of the task feature (the runtime builds it from the `mail` settings)."""

    smtp: SmtpConfig
    advisors: AdvisorDirectory
    retry: MailRetry = field(default_factory=MailRetry)
    default_language: Language = "en"
    reminder_batch: int = 200
    """Reminders queued per pass at most (the rest wait for the next pass)."""
    shard: str = ""
    """The engine's ACD shard: it sends the reminders of its advisors (`advisors`, its routing.yaml);
    another shard's engines send their advisors' (dialer/tasks/advisor_shards.py, docs/redis.md)."""


class TaskService:
    """See the module docstring. Register it in the Engine (order does not matter)."""

    name = "tasks"

    def __init__(
        self,
        store: TaskStore,
        metrics: TaskMetrics,
        *,
        worker: NotificationWorker | None = None,
        clock: Clock = time.time,
        settings: TaskServiceSettings | None = None,
        mail: AdvisorMail | None = None,
        mail_worker: OutboxWorker | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.worker = worker
        self.mail = mail
        self.mail_worker = mail_worker
        self.settings = settings or TaskServiceSettings()
        self._clock = clock
        self._pass: asyncio.Task[PassReport | None] | None = None
        self._next_sweep = 0.0
        self._next_gauges = 0.0
        self.passes = 0
        self.failures = 0

    @classmethod
    def build(
        cls,
        redis: Redis,
        *,
        leads: LeadStore,
        registry: CollectorRegistry,
        rules: TaskRules = DEFAULT_TASK_RULES,
        cc_zone: str = "Europe/Budapest",
        windows: Windows | None = None,
        keys: DialerKeys | None = None,
        clock: Clock = time.time,
        audit_maxlen: int | None = None,
        mail: MailSetup | None = None,
    ) -> TaskService:
        """The store, the metrics (on `registry`), the notification worker and, with `mail`, the
        advisors' reminders and digests and the e-mail outbox, over one Redis client."""
        metrics = TaskMetrics(registry)
        store = TaskStore(
            redis, leads=leads, rules=rules, cc_zone=cc_zone, keys=keys, windows=windows, metrics=metrics,
            audit_maxlen=audit_maxlen, customer_mail=mail.default_language if mail is not None else None,
        )  # fmt: skip
        at = lambda: utc(clock())  # noqa: E731  # the workers read the same clock as datetimes
        worker = NotificationWorker(redis, rules.notifications, clock=at, keys=keys, metrics=metrics)
        if mail is None:
            return cls(store, metrics, worker=worker, clock=clock)

        def count(result: str) -> None:
            metrics.mail.labels(result=result).inc()

        language = mail.default_language
        advisor_mail = AdvisorMail(
            store, mail.advisors, default_language=language, counter=count, shard=mail.shard,
            batch=mail.reminder_batch,
        )  # fmt: skip
        mail_worker = OutboxWorker(
            redis, queue="tasks:mail", clock=at, keys=keys, counter=count, sender=SmtpSender(mail.smtp),
            policy=mail.retry,
        )  # fmt: skip
        return cls(store, metrics, worker=worker, clock=clock, mail=advisor_mail, mail_worker=mail_worker)

    def replace_rules(self, rules: TaskRules) -> None:
        """Hot reload of tasks.yaml (RulesReloader.watch("tasks", service.replace_rules))."""
        self.store.replace_rules(rules)
        if self.worker is not None:
            self.worker.configure(rules.notifications)

    # ---- PbxService ---------------------------------------------------------------------------

    async def handle(self, event: Event, changes: Sequence[CallChange]) -> None:
        return None

    async def resync(self, tracker: CallTracker) -> None:
        return None

    async def tick(self, now: float) -> None:
        if (self._pass is None or self._pass.done()) and now >= self._next_sweep:
            self._next_sweep = now + self.settings.sweep_every_s
            self._pass = asyncio.create_task(self._guarded(now), name="switchboard-tasks-pass")

    async def _guarded(self, now: float) -> PassReport | None:
        try:
            with store_available("running a task pass"):
                async with asyncio.timeout(self.settings.pass_timeout_s):
                    return await self.run_once(now)
        except SwitchboardError as exc:  # StoreUnavailableError, or a store's own refusal
            self.failures += 1
            log.warning("task pass failed (expiry and notifications wait for the next): %s", exc)
            return None

    async def run_once(self, now: float | None = None) -> PassReport:
        """One pass: expire, refresh the gauges when due, deliver queued notifications."""
        now = self._clock() if now is None else now
        at = utc(now)
        report = PassReport(expired=await self.store.expire_due(now=at, limit=self.settings.sweep_batch))
        for task_id, kind in report.expired:
            extra = {"task": task_id, "rule": kind}
            log.warning("task %s (%s) expired unhandled", task_id, kind, extra=extra)
        if now >= self._next_gauges or report.expired:
            self._next_gauges = now + self.settings.gauges_every_s
            report.counts = await self.store.status_counts(now=at)
            self.metrics.set_counts(report.counts)
        if self.worker is not None:
            report.delivered = await self.worker.run_once()
        if self.mail is not None:
            report.queued = await self.mail.run_once(at)
        if self.mail_worker is not None:
            report.mailed = await self.mail_worker.run_once()
        self.passes += 1
        return report

    async def settled(self) -> PassReport | None:
        """Wait for the pass a tick started, if any (tests, graceful stop); its report."""
        if self._pass is None:
            return None
        return await self._pass

    async def close(self) -> None:
        if self._pass is not None:
            await stop_task(self._pass)  # bounded: a Redis command may swallow the cancel
            self._pass = None
