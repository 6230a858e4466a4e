"""Reads of the task store: one task, lists by status / advisor / campaign, the stale report, the
status counts behind the gauge, and the due callbacks the dialing loop asks for.

Owned here (the writes are dialer/tasks/store.py, whose TaskStore holds one `TaskReads` and
hands these reads to it). Rules it keeps:
- Statuses are computed at `now` from the stored state (open / done / expired) with
  dialer.tasks.deadlines.task_status: due, overdue and at risk need no write to become true.
- Lists never show archived tasks; expired ones stay listed until a supervisor archives them.
- `due_callbacks`: open callback tasks of a campaign whose own time has come, plus those without
  an own time whose deadline is within the at-risk margin, plus dialed ones nobody closed after
  `redial_after`. `escalate` is True when any advisor with the campaign's skills may take it:
  the task has no owner, or it is at risk (deadline within the margin and no own time, the owner
  is not available, or it is overdue). Escalated ones come first, earliest expiry first; the
  rest by own time. Customers excluded by an approved Robinson request are never returned, nor
  leads held while a supervisor reviews one (until a rejection frees them).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from dialer.audit import text
from dialer.dialer_keys import LeadKeys, TaskKeys
from dialer.leads.model import to_ms
from dialer.paging import Cursor, page
from dialer.tasks.deadlines import Status, TaskStatus
from dialer.tasks.rules import Task, TaskRules

_BATCH = 200


class ListStatus(StrEnum):
    OPEN = "open"
    DUE = "due"
    OVERDUE = "overdue"
    AT_RISK = "at_risk"
    EXPIRED = "expired"
    DONE = "done"
    ARCHIVED = "archived"


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task and its status at the time it was read."""

    task: Task
    status: Status

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.task.as_dict(),
            "status": self.status.status.value,
            "overdue": self.status.overdue,
            "at_risk": self.status.at_risk,
        }


@dataclass(frozen=True, slots=True)
class DueCallback:
    """A callback the dialer should place now (see the module docstring for `escalate`)."""

    task_id: str
    lead_id: str
    campaign_id: str
    number: str
    zone: str | None
    owner: str | None
    own_time: datetime | None
    deadline: date
    expires_at: datetime
    escalate: bool
    kind: str


def _matches(view: TaskView, wanted: ListStatus | None) -> bool:
    task, status = view.task, view.status
    if wanted is ListStatus.ARCHIVED:
        return task.archived
    if task.archived:
        return False
    checks = {
        None: True,
        ListStatus.OPEN: status.status is TaskStatus.OPEN,
        ListStatus.DUE: status.status is TaskStatus.DUE,
        ListStatus.OVERDUE: task.state == "open" and status.overdue,
        ListStatus.AT_RISK: task.state == "open" and status.at_risk,
        ListStatus.EXPIRED: status.status is TaskStatus.EXPIRED,
        ListStatus.DONE: status.status is TaskStatus.DONE,
    }
    return checks[wanted]


class TaskReads:
    """The read side of the task store; `rules` gives the task rules in force (swapped on reload)."""

    def __init__(
        self, redis: Redis, keys: TaskKeys, lead_keys: LeadKeys, rules: Callable[[], TaskRules]
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.lead_keys = lead_keys
        self._rules = rules

    @property
    def rules(self) -> TaskRules:
        return self._rules()

    async def find(self, task_id: str) -> Task | None:
        raw = await self.redis.hgetall(self.keys.task(task_id))
        return Task.from_hash(raw) if raw else None

    async def get_many(self, task_ids: Sequence[Any]) -> list[Task]:
        pipe = self.redis.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.hgetall(self.keys.task(text(task_id)))
        return [Task.from_hash(raw) for raw in await pipe.execute() if raw]

    async def open_for_lead(self, lead_id: str) -> list[Task]:
        return await self.get_many(await self.redis.zrange(self.keys.lead(lead_id), 0, -1))

    async def task_for_call(self, call_id: str) -> Task | None:
        task_id = await self.redis.get(self.keys.call(call_id))
        return await self.find(text(task_id)) if task_id is not None else None

    async def expired_counts(self) -> dict[str, int]:
        """Tasks expired per rule kind, all time (the penalty count; survives restarts)."""
        raw = await self.redis.hgetall(self.keys.expired_count)
        return {text(kind): int(count) for kind, count in raw.items()}

    def view(self, task: Task, now: datetime, owner_available: bool = True) -> TaskView:
        return TaskView(task, task.status(now, self.rules, owner_available))

    # ---- lists --------------------------------------------------------------------------------

    def _source(self, status: ListStatus | None, owner: str | None, campaign_id: str | None) -> str:
        if status is ListStatus.ARCHIVED:
            return self.keys.archived
        if owner:
            return self.keys.owner(owner)
        if campaign_id:
            return self.keys.campaign(campaign_id)
        by_status = {
            ListStatus.EXPIRED: self.keys.expired,
            ListStatus.DUE: self.keys.own,
            ListStatus.OVERDUE: self.keys.own,
            ListStatus.OPEN: self.keys.open,
            ListStatus.AT_RISK: self.keys.open,
            ListStatus.ARCHIVED: self.keys.archived,
        }
        return by_status.get(status, self.keys.all) if status is not None else self.keys.all

    async def list_tasks(
        self,
        *,
        now: datetime,
        status: ListStatus | str | None = None,
        owner: str | None = None,
        campaign_id: str | None = None,
        limit: int = 100,
    ) -> list[TaskView]:
        """Tasks (not archived, unless status=archived) matching every filter, by deadline."""
        wanted = ListStatus(status) if status else None
        source = self._source(wanted, owner, campaign_id)
        found: list[TaskView] = []
        start = 0
        while len(found) < limit:
            ids = await self.redis.zrange(source, start, start + _BATCH - 1)
            if not ids:
                break
            start += len(ids)
            for task in await self.get_many(ids):
                view = self.view(task, now)
                if _matches(view, wanted) and _belongs(task, owner, campaign_id):
                    found.append(view)
        return found[:limit]

    async def page_tasks(
        self,
        *,
        now: datetime,
        status: ListStatus | str | None = None,
        owner: str | None = None,
        campaign_id: str | None = None,
        after: Cursor | None = None,
        limit: int = 100,
    ) -> tuple[list[TaskView], Cursor | None]:
        """Like `list_tasks`, one keyset page at a time: the page after `after` and the next cursor."""
        wanted = ListStatus(status) if status else None
        source = self._source(wanted, owner, campaign_id)

        async def load(ids: list[str]) -> list[TaskView | None]:
            by_id = {task.task_id: task for task in await self.get_many(ids)}
            views = [self.view(by_id[i], now) if i in by_id else None for i in ids]
            return [
                v if v is not None and _matches(v, wanted) and _belongs(v.task, owner, campaign_id) else None
                for v in views
            ]

        return await page(self.redis, [source], after, limit, load)

    async def stale(
        self,
        *,
        now: datetime,
        days: int | None = None,
        campaign_id: str | None = None,
        owner: str | None = None,
    ) -> list[TaskView]:
        """Every task of the stale report (see `page_stale`), all pages read."""
        found: list[TaskView] = []
        after: Cursor | None = None
        while True:
            views, after = await self.page_stale(
                now=now, days=days, campaign_id=campaign_id, owner=owner, after=after, limit=1000
            )
            found += views
            if after is None:
                return found

    async def page_stale(
        self,
        *,
        now: datetime,
        days: int | None = None,
        campaign_id: str | None = None,
        owner: str | None = None,
        after: Cursor | None = None,
        limit: int = 100,
    ) -> tuple[list[TaskView], Cursor | None]:
        """Callback tasks not handled (open or expired, not reactivated) with no activity for more
        than `days` (default: the rules' stale_after_days), oldest activity first; one keyset page."""
        cutoff = now - timedelta(days=days if days is not None else self.rules.stale_after_days)

        async def load(ids: list[str]) -> list[TaskView | None]:
            by_id = {task.task_id: task for task in await self.get_many(ids)}
            return [
                self.view(by_id[i], now)
                if i in by_id and not by_id[i].archived and _belongs(by_id[i], owner, campaign_id)
                else None
                for i in ids
            ]

        return await page(self.redis, [self.keys.activity], after, limit, load, below=to_ms(cutoff))

    async def status_counts(self, *, now: datetime) -> dict[str, int]:
        """The gauge's numbers: open (not yet due), due, overdue, at_risk, expired, done."""
        grace = self.rules.overdue_grace
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcard(self.keys.open)
        pipe.zcount(self.keys.own, "-inf", to_ms(now))
        pipe.zcount(self.keys.own, "-inf", to_ms(now - grace))
        pipe.zcard(self.keys.expired)
        pipe.zcard(self.keys.all)
        pipe.zrangebyscore(self.keys.open, "-inf", to_ms(now + self.rules.at_risk_margin))
        open_, due, overdue, expired, listed, near = await pipe.execute()
        at_risk = sum(self.view(task, now).status.at_risk for task in await self.get_many(near))
        done = int(listed) - int(open_) - int(expired)
        return {
            "open": int(open_) - int(due), "due": int(due), "overdue": int(overdue),
            "at_risk": at_risk, "expired": int(expired), "done": max(done, 0),
        }  # fmt: skip

    # ---- the dialer ---------------------------------------------------------------------------

    async def due_callbacks(
        self, campaign_id: str, now: datetime, limit: int, *, available: Collection[str] | None = None
    ) -> list[DueCallback]:
        """Callbacks of `campaign_id` to dial now, most urgent first (see the module docstring).
        `available`: the advisors who could take a call before the deadline (logged in, not
        paused); None: assume every owner is."""
        if limit <= 0:
            return []
        key = self.keys.dial(campaign_id)
        ids = await self.redis.zrangebyscore(key, "-inf", to_ms(now), start=0, num=max(limit * 4, 50))
        tasks = await self.get_many(ids)
        excluded = await self._excluded(tasks)
        held = await self._held(tasks)
        due: list[DueCallback] = []
        for task in tasks:
            if task.state != "open" or not task.number or task.customer_id in excluded:
                await self.redis.zrem(key, task.task_id)  # never dialed automatically again
                continue
            if task.lead_id in held:
                continue  # a supervisor reviews a Robinson-list request first; a rejection frees it
            owner_ok = available is None or (task.owner is not None and task.owner in available)
            if now >= task.expires_at:
                continue  # the sweep expires it
            at_risk = task.status(now, self.rules, owner_ok).at_risk
            due.append(_due(task, campaign_id, escalate=task.owner is None or at_risk))
        due.sort(key=_urgency)
        return due[:limit]

    async def _held(self, tasks: Sequence[Task]) -> set[str]:
        """The leads held for a Robinson-list review (dialer/leads/scripts.py HOLD)."""
        lead_ids = sorted({task.lead_id for task in tasks})
        pipe = self.redis.pipeline(transaction=False)
        for lead_id in lead_ids:
            pipe.hget(self.lead_keys.lead(lead_id), "status")
        statuses = await pipe.execute() if lead_ids else []
        found = zip(lead_ids, statuses, strict=True)
        return {lead_id for lead_id, status in found if status is not None and text(status) == "held"}

    async def _excluded(self, tasks: Sequence[Task]) -> set[str]:
        customers = sorted({task.customer_id for task in tasks if task.customer_id})
        if not customers:
            return set()
        flags = await self.redis.hmget(self.lead_keys.robinson_excluded, customers)
        return {customer for customer, flag in zip(customers, flags, strict=True) if flag is not None}


def _belongs(task: Task, owner: str | None, campaign_id: str | None) -> bool:
    return (not owner or task.owner == owner) and (not campaign_id or task.campaign_id == campaign_id)


def _due(task: Task, campaign_id: str, *, escalate: bool) -> DueCallback:
    return DueCallback(
        task_id=task.task_id, lead_id=task.lead_id, campaign_id=campaign_id, number=task.number or "",
        zone=task.zone, owner=task.owner, own_time=task.own_time, deadline=task.deadline_date,
        expires_at=task.expires_at, escalate=escalate, kind=task.kind,
    )  # fmt: skip


def _urgency(item: DueCallback) -> tuple[int, datetime, str]:
    if item.escalate:
        return 0, item.expires_at, item.task_id
    return 1, item.own_time or item.expires_at, item.task_id
