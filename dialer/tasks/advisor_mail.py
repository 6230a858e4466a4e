"""The advisors' e-mails: each task's reminder at its instant, and the morning digest of the day.

Owned here: turning due reminders and due digests into messages in the `tasks:mail` outbox (the
outbox worker sends them by SMTP, with its retries). Rules it keeps (issue 14, seed 002):
- A reminder is queued once: the script takes it off `tasks:remind` only while it still waits with
  the due time it was read with, in the same step as it queues the e-mail, so two engines, a
  restart or a change of the reminder in between never send it twice or lose it.
- An advisor without an e-mail address (routing.yaml `agents[].email`) gets no e-mail: the reminder
  is marked done with outcome `no-address` (audited and counted), not retried forever.
- The digest of a local date is queued once per advisor (a mark per date, set in the same script),
  from `reminders.digest.at` on; advisors with nothing due, overdue, at risk or newly expired are
  marked and skipped. An engine started after the hour sends the day's digest then, once.
- Texts are in the advisor's language (`agents[].language`, else the mail default).
- A center split into ACD shards: a reminder is sent by the engines of its owner's shard, whose
  routing.yaml has the advisor's address (advisor_shards.py; an owner no shard has is the default
  shard's); the others' are left to their shard. Reminders left to another shard are read past,
  never in the way: a shard whose engines are down cannot hold up the others' reminders.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from dialer.audit import text
from dialer.leads.model import to_ms
from dialer.tasks.advisor_shards import AdvisorShards
from dialer.tasks.deadlines import deadline_label
from dialer.tasks.mail_templates import Language
from dialer.tasks.reminders import (
    Digest,
    DigestLine,
    ReminderAnchor,
    build_digest,
    digest_day_due,
    digest_instant,
)
from dialer.tasks.rules import Task
from dialer.tasks.store import TaskStore

log = logging.getLogger("switchboard.dialer.tasks.mail")


@dataclass(frozen=True, slots=True)
class AdvisorContact:
    advisor_id: str
    name: str
    email: str | None
    language: Language | None = None


class AdvisorDirectory:
    """Who the advisors are and where they read e-mail; `source` is asked each time (hot reload)."""

    def __init__(self, source: Callable[[], Iterable[AdvisorContact]]) -> None:
        self._source = source

    def all(self) -> dict[str, AdvisorContact]:
        return {contact.advisor_id: contact for contact in self._source()}

    def get(self, advisor_id: str) -> AdvisorContact | None:
        return self.all().get(advisor_id)


@dataclass
class MailReport:
    reminders: dict[str, int]
    digests: int = 0


class AdvisorMail:
    """See the module docstring. `run_once(now)` queues what is due (the task service's tick)."""

    def __init__(
        self,
        store: TaskStore,
        advisors: AdvisorDirectory,
        *,
        default_language: Language = "en",
        batch: int = 200,
        counter: Callable[[str], None] | None = None,
        shard: str = "",
    ) -> None:
        self.store = store
        self.shards = AdvisorShards(store.redis, store.keys, shard)  # whose reminders are this shard's
        self._others: dict[str, float] = {}  # reminders left to another shard: id -> the due ms read
        self.advisors = advisors
        self.default_language = default_language
        self._batch = batch
        self._counter = counter

    async def run_once(self, now: datetime) -> MailReport:
        report = MailReport(await self.queue_reminders(now))
        report.digests = await self.queue_digests(now)
        return report

    # ---- reminders ----------------------------------------------------------------------------

    async def queue_reminders(self, now: datetime) -> dict[str, int]:
        """Up to `batch` due reminders of this shard, read in pages past those of other shards."""
        advisors = self.advisors.all()
        await self.shards.publish(advisors)
        outcomes: dict[str, int] = {}
        others: dict[str, float] = {}
        passed = taken = 0  # passed: due entries left in place, before the next page
        while taken < self._batch:
            due = cast(list[tuple[bytes, float]], await self.store.redis.zrangebyscore(
                self.store.keys.remind, "-inf", to_ms(now), start=passed, num=self._batch, withscores=True
            ))  # fmt: skip
            for raw_id, score in due[: self._batch - taken]:
                task_id = text(raw_id)
                theirs, task = await self._theirs(task_id, score, advisors)
                if theirs:  # another ACD shard's advisor: that shard's engines know the address
                    others[task_id], passed = score, passed + 1
                    continue
                taken += 1
                outcome = await self._queue_reminder(task_id, task, score, now)
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
                passed += outcome == "changed"  # may still be due, in place
            if len(due) < self._batch:
                break
        self._others = others  # those still due, as read this pass
        return outcomes

    async def _theirs(
        self, task_id: str, score: float, advisors: dict[str, AdvisorContact]
    ) -> tuple[bool, Task | None]:
        """Whether another shard's engines send this reminder (known from the last pass while its due
        time is the same: not read again), and the task when it was read."""
        if self._others.get(task_id) == score:
            return True, None
        task = await self.store.find(task_id)
        if task is None:
            return False, None
        return not await self.shards.takes(task.owner, task.owner in advisors), task

    async def _queue_reminder(self, task_id: str, task: Task | None, score: float, now: datetime) -> str:
        payload = await self._reminder(task, now) if task is not None else ""
        reply = await self.store.run("QUEUE_REMINDER", now, task_id, int(score), payload)
        outcome = text(reply[1]) if int(reply[0]) else "changed"
        if outcome == "no-address":
            log.warning("task %s: its owner %r has no e-mail address; no reminder sent", task_id,
                        task.owner if task else None)  # fmt: skip
        if self._counter is not None and outcome != "changed":
            self._counter(f"reminder-{outcome}")
        return outcome

    async def _reminder(self, task: Task, now: datetime) -> str:
        contact = self.advisors.get(task.owner) if task.owner else None
        if contact is None or not contact.email:
            return ""
        reminder = task.reminder
        anchor = (
            task.own_time
            if reminder is not None and reminder.of is ReminderAnchor.OWN_TIME and task.own_time
            else task.expires_at
        )
        lead = await self.store.leads.find(task.lead_id)
        rule = self.store.rules.rule(task.kind)
        kind = (rule.label or task.kind) if rule else task.kind
        params = {
            "advisor": contact.name, "task_id": task.task_id, "kind": kind,
            "customer": lead.name if lead else task.customer_id, "phone": task.number or "",
            "own_time": task.own_time.isoformat() if task.own_time else "", "when_at": anchor.isoformat(),
            "deadline": deadline_label(task.deadline_date, task.cc_zone), "zone": task.cc_zone,
        }  # fmt: skip
        return self._payload("reminder", contact, params, now)

    def _payload(self, template: str, contact: AdvisorContact, params: dict[str, Any], now: datetime) -> str:
        payload = {
            "template": template, "to": contact.email, "lang": contact.language or self.default_language,
            "params": params, "queued_at": now.timestamp(),
        }  # fmt: skip
        return json.dumps(payload, ensure_ascii=False)

    # ---- the morning digest -------------------------------------------------------------------

    async def queue_digests(self, now: datetime) -> int:
        digest_rules = self.store.rules.reminders.digest
        zone = ZoneInfo(self.store.cc_zone)
        day = digest_day_due(now, digest_rules.at, zone) if digest_rules.enabled else None
        if day is None:
            return 0
        since = digest_instant(day - timedelta(days=1), digest_rules.at, zone)
        marks = self.store.keys.digest(day.isoformat())
        queued = 0
        for advisor_id, contact in self.advisors.all().items():
            if not contact.email or await self.store.redis.hexists(marks, advisor_id):
                continue
            digest = await self.digest(advisor_id, now, since)
            payload = "" if digest.empty else self._digest_payload(digest, contact, now)
            args = (day.isoformat(), advisor_id, payload)
            if int(await self.store.run("QUEUE_DIGEST", now, *args, keys=[marks])):
                queued += 1
                if self._counter is not None:
                    self._counter("digest-queued")
        return queued

    async def digest(self, advisor_id: str, now: datetime, since: datetime) -> Digest:
        """The advisor's tasks of today as the digest groups them (also for a preview)."""
        zone = ZoneInfo(self.store.cc_zone)
        # only tasks expiring after `since`: the ones a digest can list (done ones stay in the index)
        ids = await self.store.redis.zrangebyscore(self.store.keys.owner(advisor_id), to_ms(since), "+inf")
        items = []
        for task in await self.store.get_many(ids):
            if task.archived:
                continue
            lead = await self.store.leads.find(task.lead_id)
            line = DigestLine(
                task.task_id, task.kind, lead.name if lead else task.customer_id, task.own_time,
                task.deadline_date, task.expires_at,
            )  # fmt: skip
            items.append((line, task.status(now, self.store.rules)))
        return build_digest(advisor_id, now.astimezone(zone).date(), items, zone, since)

    def _digest_payload(self, digest: Digest, contact: AdvisorContact, now: datetime) -> str:
        grouped = digest.sections.items()
        sections = {name.value: [_digest_line(item) for item in items] for name, items in grouped}
        params = {"advisor": contact.name, "day": digest.day.isoformat(), "zone": self.store.cc_zone,
                  "sections": sections}  # fmt: skip
        return self._payload("digest", contact, params, now)


def _digest_line(line: DigestLine) -> dict[str, str]:
    own = line.own_time.isoformat() if line.own_time else ""
    return {"task_id": line.task_id, "kind": line.kind, "customer": line.customer, "own_time": own,
            "deadline": line.deadline.isoformat()}  # fmt: skip
