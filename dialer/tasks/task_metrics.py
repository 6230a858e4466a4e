"""Prometheus metrics of follow-up tasks, on the registry the process (or the test) owns.

Label values are bounded: statuses are the fixed list below, rules are the task kinds of
tasks.yaml, campaigns come from campaigns.yaml, results and timings are fixed words.
- `switchboard_tasks{status}`: tasks now open (own time not reached), due, overdue, at_risk,
  expired (not archived) and done (not archived); refreshed by dialer.tasks.service. A due task
  is not also counted as open; overdue and at_risk are flags, so they overlap the others.
- `switchboard_tasks_expired_total{rule}`: expiries counted by the engine that saw them (the
  sweep, or a close at/after the expiry instant); `tasks:expired-count` in Redis keeps the all-time
  count across restarts and engines.
- `switchboard_task_notifications_total{result}`: webhook deliveries sent, retried, failed (gave up).
- `switchboard_task_callbacks_dialed_total{campaign,timing}`: callbacks dialed on_time or late.
- `switchboard_task_mail_total{result}`: e-mail (reminders, digests, customers): sent, retry,
  failed (gave up), reminder-queued, reminder-no-address, reminder-sent-before, digest-queued.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

STATUS_LABELS = ("open", "due", "overdue", "at_risk", "expired", "done")


class TaskMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.tasks = Gauge(
            "switchboard_tasks",
            "Follow-up tasks by status (open, due, overdue, at_risk, expired, done; not archived)",
            ["status"],
            registry=registry,
        )
        self.expired = Counter(
            "switchboard_tasks_expired",
            "Tasks whose central deadline passed unhandled, by rule (task kind)",
            ["rule"],
            registry=registry,
        )
        self.notifications = Counter(
            "switchboard_task_notifications",
            "Customer notifications delivered to the webhook, by result (sent, retry, failed)",
            ["result"],
            registry=registry,
        )
        self.callbacks_dialed = Counter(
            "switchboard_task_callbacks_dialed",
            "Callbacks dialed, by campaign and timing (on_time, late)",
            ["campaign", "timing"],
            registry=registry,
        )

        self.mail = Counter(
            "switchboard_task_mail",
            "Task e-mails by result (sent, retry, failed, reminder-queued, reminder-no-address, ...)",
            ["result"],
            registry=registry,
        )

    def set_counts(self, counts: dict[str, int]) -> None:
        for status in STATUS_LABELS:
            self.tasks.labels(status=status).set(counts.get(status, 0))
