"""Follow-up tasks, callbacks and customer notifications (dialer/tasks/store.py, dialer/tasks/scripts.py,
dialer/tasks/notifications.py). Same prefix as DialerKeys plus the `{dial}` hash tag (one slot on a
Redis Cluster); build with `TaskKeys.of(dialer_keys)`. The Lua scripts get their fixed keys through
KEYS (`script_keys`, `outbox_queue`) and build from `prefix` only the keys of the tasks they read and
of the lead, owner or campaign a task names (they share its tag, so they stay in the slot). Scores
are epoch ms.
- `task:{id}`                  HASH one task (fields: dialer/tasks/rules.py `Task`)
- `tasks:seq`                  STRING counter of task ids (`t-<n>`; a replayed creation leaves one unused)
- `tasks:source`               HASH source ref (call id, disposition id) -> task id: creation by
                               rule is idempotent (an outcome written twice makes one task)
- `tasks:open`                 ZSET id -> expiry: open tasks (the expire sweep, at-risk lists)
- `tasks:own`                  ZSET id -> own time: open tasks with an own time (due, overdue)
- `tasks:dial:{campaign}`      ZSET id -> when to dial: open callback tasks of a campaign (own
                               time; without one, expiry minus the at-risk margin; after a dial,
                               the redial time)
- `tasks:lead:{lead}`          ZSET id -> expiry: open tasks of a lead (a disposition closes them)
- `tasks:all`                  ZSET id -> expiry: every task not archived (lists)
- `tasks:owner:{advisor}`      ZSET id -> expiry: the advisor's tasks not archived
- `tasks:campaign:{campaign}`  ZSET id -> expiry: the campaign's tasks not archived
- `tasks:expired`              ZSET id -> expiry: expired tasks not archived (the penalty list)
- `tasks:activity`             ZSET id -> last activity: callback tasks not done nor archived
                               (the stale report)
- `tasks:archived`             ZSET id -> archived at
- `tasks:expired-count`        HASH rule kind -> tasks expired under it, all time
- `tasks:call:{call_id}`       STRING task id of a callback call in flight (TTL 2 days)
- `tasks:notify`               STREAM customer notifications (own time set or changed) for the
                               e-mail / SMS senders; `idempotency_key` = task id + own-time version
- `tasks:notify:outbox`        ZSET task id -> next webhook delivery attempt (latest version only)
- `tasks:notify:payload`       HASH task id -> JSON of the notification awaiting webhook delivery
- `tasks:notify:tries`         HASH task id -> delivery attempts of the pending version so far
- `tasks:notify:sent`          ZSET idempotency key -> delivered at: never delivered twice
- `tasks:notify:failed`        HASH task id -> JSON of a notification given up after its retries
- `tasks:remind`               ZSET id -> when the owner's reminder e-mail is due (open tasks;
                               removed when queued, answered, closed or expired)
- `tasks:advisor-shards`        HASH advisor -> the ACD shard whose routing.yaml has them ('' the
                               default shard): whose engines send their reminders
- `tasks:digest:{date}`        HASH advisor -> queued at: the morning digest of that local date
                               was queued once (2 days TTL)
- `tasks:mail:outbox`          ZSET message id -> next SMTP attempt (`remind:t-12`, `own:t-12`,
                               `digest:1001:2026-06-01`; latest version only)
- `tasks:mail:payload`, `tasks:mail:tries`, `tasks:mail:sent`, `tasks:mail:failed`: as the
                               `tasks:notify:*` keys, for e-mail (one outbox mechanism, two queues)
- `audit:tasks`                STREAM created, own-time, reminder, answered, dialed, closed,
                               expired, archived, reactivated
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dialer.key_prefix import DIAL_PREFIX, DIAL_TAG

if TYPE_CHECKING:
    from dialer.dialer_keys import DialerKeys


@dataclass(frozen=True, slots=True)
class TaskKeys:
    """Keys of the task store and the customer notifications (under the DialerKeys prefix)."""

    prefix: str = DIAL_PREFIX

    @classmethod
    def of(cls, keys: DialerKeys | None) -> TaskKeys:
        return cls(keys.prefix + DIAL_TAG if keys is not None else DIAL_PREFIX)

    @property
    def script_keys(self) -> list[str]:
        """The first KEYS of every task script, in the order dialer/tasks/scripts.py LIB reads them."""
        mail = [self.queue("tasks:mail", part) for part in ("outbox", "payload", "tries", "sent")]
        indexes = [self.open, self.own, self.all, self.expired, self.activity, self.archived]
        return [
            self.prefix, *indexes, self.expired_count, self.audit, self.seq, self.sources, self.notify,
            self.outbox, self.payload, self.tries, self.remind, *mail,
        ]  # fmt: skip

    def outbox_queue(self, base: str) -> list[str]:
        """The KEYS of an outbox queue's scripts (outbox_scripts.py): `tasks:notify`, `tasks:mail`."""
        return [self.queue(base, part) for part in ("outbox", "payload", "tries", "sent", "failed")]

    def task(self, task_id: str) -> str:
        return f"{self.prefix}task:{task_id}"

    @property
    def seq(self) -> str:
        return f"{self.prefix}tasks:seq"

    @property
    def sources(self) -> str:
        return f"{self.prefix}tasks:source"

    @property
    def open(self) -> str:
        return f"{self.prefix}tasks:open"

    @property
    def own(self) -> str:
        return f"{self.prefix}tasks:own"

    def dial(self, campaign_id: str) -> str:
        return f"{self.prefix}tasks:dial:{campaign_id}"

    def lead(self, lead_id: str) -> str:
        return f"{self.prefix}tasks:lead:{lead_id}"

    @property
    def all(self) -> str:
        return f"{self.prefix}tasks:all"

    def owner(self, advisor: str) -> str:
        return f"{self.prefix}tasks:owner:{advisor}"

    def campaign(self, campaign_id: str) -> str:
        return f"{self.prefix}tasks:campaign:{campaign_id}"

    @property
    def expired(self) -> str:
        return f"{self.prefix}tasks:expired"

    @property
    def activity(self) -> str:
        return f"{self.prefix}tasks:activity"

    @property
    def archived(self) -> str:
        return f"{self.prefix}tasks:archived"

    @property
    def expired_count(self) -> str:
        return f"{self.prefix}tasks:expired-count"

    def call(self, call_id: str) -> str:
        return f"{self.prefix}tasks:call:{call_id}"

    @property
    def notify(self) -> str:
        return f"{self.prefix}tasks:notify"

    @property
    def outbox(self) -> str:
        return f"{self.prefix}tasks:notify:outbox"

    @property
    def payload(self) -> str:
        return f"{self.prefix}tasks:notify:payload"

    @property
    def tries(self) -> str:
        return f"{self.prefix}tasks:notify:tries"

    @property
    def sent(self) -> str:
        return f"{self.prefix}tasks:notify:sent"

    @property
    def failed(self) -> str:
        return f"{self.prefix}tasks:notify:failed"

    @property
    def remind(self) -> str:
        return f"{self.prefix}tasks:remind"

    @property
    def advisor_shards(self) -> str:
        return f"{self.prefix}tasks:advisor-shards"

    def digest(self, day: str) -> str:
        return f"{self.prefix}tasks:digest:{day}"

    def queue(self, base: str, part: str) -> str:
        """A key of an outbox queue: ("tasks:mail", "sent") -> `<prefix>tasks:mail:sent`."""
        return f"{self.prefix}{base}:{part}"

    @property
    def audit(self) -> str:
        return f"{self.prefix}audit:tasks"
