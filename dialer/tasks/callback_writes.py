"""The callback side of the task store: what the dialer and the stale report change on a task.

Owned here (composed into TaskStore, dialer/tasks/store.py, whose methods these are too): a callback
dialed (`mark_dialed`: due again after `redial_after`, counted on time or late), deferred (refused by
hours, caps or the gate), answered before expiry (`mark_answered`: handled, never overdue, redialed
or expired), and the bulk reactivation of stale tasks. Each change is one script of
dialer/tasks/scripts.py, run through the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from dialer.audit import text
from dialer.leads.model import to_ms
from dialer.tasks.deadlines import deadline_label
from dialer.tasks.rules import Task
from dialer.tasks.store_results import Reactivation, not_open

if TYPE_CHECKING:
    from dialer.tasks.store import TaskStore

REACTIVATED_CODE = "reactivated"


class CallbackWrites:
    """The dialer's and the stale report's changes of tasks, on `store`."""

    def __init__(self, store: TaskStore) -> None:
        self.store = store

    async def mark_answered(self, call_id: str, *, at: datetime, now: datetime) -> Task | None:
        """The callback dialed as `call_id` was answered at `at`: the task is handled (issue 14), so it
        is not redialed, reminded, overdue or expired while its disposition is still to come."""
        task = await self.store.task_for_call(call_id)
        if task is None:
            return None
        await self.store.run("ANSWERED", now, task.task_id, to_ms(at))
        return await self.store.get(task.task_id)

    async def mark_dialed(
        self,
        task_id: str,
        at: datetime,
        on_time: bool | None = None,
        *,
        call_id: str = "",
        agent: str = "",
    ) -> bool:
        """The callback was placed at `at` (through the gate). It is due again after `redial_after`
        unless a result or a disposition closes it first. Returns whether it was dialed on time
        (by default: before expiry, and within the overdue grace of its own time)."""
        task = await self.store.get(task_id)
        if on_time is None:
            late_after = task.own_time + self.store.rules.overdue_grace if task.own_time else task.expires_at
            on_time = at < task.expires_at and at < late_after
        redial = to_ms(at + self.store.rules.redial_after)
        timely = "1" if on_time else "0"
        args = (task_id, to_ms(at), timely, call_id, redial, agent)
        reply = await self.store.run("DIALED", at, *args, keys=[self.store.keys.call(call_id)])
        if not int(reply[0]):
            raise not_open(task, text(reply[1]))
        if self.store.metrics is not None:
            timing = "on_time" if on_time else "late"
            self.store.metrics.callbacks_dialed.labels(campaign=task.campaign_id or "", timing=timing).inc()
        return on_time

    async def defer_callback(
        self, task_id: str, until: datetime | None, *, now: datetime, reason: str
    ) -> None:
        """Not dialed now (refused by hours, caps, the gate): try again at `until`; None: never
        automatically (the owner sets a new own time, which makes it due again)."""
        await self.store.run("DEFER", now, task_id, "" if until is None else to_ms(until), reason)

    # ---- stale callbacks ----------------------------------------------------------------------

    async def reactivate(
        self, task_ids: Sequence[str], *, now: datetime, actor: str, owner: str | None = None
    ) -> list[Reactivation]:
        """Bulk reactivation of stale tasks: each gets a fresh task of its kind (new deadline from
        now, same lead and owner unless `owner`); an open one is closed as `reactivated`, an expired
        one stays expired (and counted). Idempotent: a task is reactivated once."""
        done = []
        for task_id in task_ids:
            done.append(await self._reactivate_one(task_id, now, actor, owner))
        return done

    async def _reactivate_one(
        self, task_id: str, now: datetime, actor: str, owner: str | None
    ) -> Reactivation:
        task = await self.store.find(task_id)
        if task is None:
            return Reactivation(task_id, None, "no such task")
        if task.state == "done" or task.archived:
            state = "archived" if task.archived else "done"
            return Reactivation(task_id, None, f"not reactivated: the task is {state}")
        kind = task.kind if self.store.rules.rule(task.kind) else self.store.rules.kinds[0]
        new = await self.store.create(
            lead_id=task.lead_id, kind=kind, now=now, actor=actor, owner=owner or task.owner or "",
            campaign_id=task.campaign_id, number=task.number, note=f"reactivated from {task_id}",
            source=f"reactivated:{task_id}", source_ref=f"reactivate:{task_id}", reactivated_from=task_id,
        )  # fmt: skip
        if task.state == "open":
            await self.store.close_step(task_id, REACTIVATED_CODE, "", actor, now)
        await self.store.run("REACTIVATED", now, task_id, new.task_id, actor)
        deadline = deadline_label(new.deadline_date, new.cc_zone)
        return Reactivation(task_id, new, f"new task {new.task_id}, deadline {deadline}")
