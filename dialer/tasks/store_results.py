"""What the task store answers besides tasks: its errors, the results of its steps, and the checks
that refuse a step (dialer/tasks/store.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.errors import NotFoundError, SwitchboardError
from dialer.compliance.calling_hours import CallingWindow, may_call
from dialer.tasks.deadlines import OwnTimeRefusedError, deadline_label
from dialer.tasks.rules import Task


class TaskNotFoundError(NotFoundError):
    error_id = "task-not-found"


class TaskStateError(SwitchboardError):
    """The task is not in a state that allows this (closed, expired, archived, still open): HTTP 409."""

    error_id = "task-state-conflict"


class OwnTimeOutsideHoursError(OwnTimeRefusedError):
    """A callback's own time falls outside the campaign's calling hours (HTTP 422)."""

    error_id = "task-own-time-outside-hours"


@dataclass(frozen=True, slots=True)
class OwnTimeChange:
    task: Task
    change: str  # set | changed | unchanged
    version: int


@dataclass(frozen=True, slots=True)
class DispositionEffect:
    """What a disposition did to the lead's tasks: the ones it closed and the follow-up it created."""

    closed: tuple[Task, ...]
    created: Task | None


@dataclass(frozen=True, slots=True)
class Reactivation:
    task_id: str
    new_task: Task | None
    detail: str


@dataclass(frozen=True, slots=True)
class Callee:
    """Where and until when a callback would be placed (for the calling-hours check)."""

    campaign_id: str | None  # None / '': not a callback
    number: str | None
    zone: str | None
    deadline: date
    cc_zone: str


def check_hours(window: CallingWindow | None, own: datetime, place: Callee) -> None:
    """A callback's own time must fall inside its campaign's calling hours (callee's local time)."""
    if window is None or not place.number:
        return
    permission = may_call(place.number, window, own, place.zone)
    if permission.allowed:
        return
    opens, zone = permission.next_allowed_at, ZoneInfo(place.cc_zone)
    hint = f"; calling opens at {opens.astimezone(zone):%Y-%m-%d %H:%M}" if opens else ""
    raise OwnTimeOutsideHoursError(
        f"own time {own.astimezone(zone):%Y-%m-%d %H:%M} {zone.key} is outside the calling hours of "
        f"campaign {place.campaign_id} for {place.number}: {permission.detail}{hint}",
        reason=permission.reason.value, own_time=own.isoformat(), campaign_id=place.campaign_id,
        next_allowed_at=opens.isoformat() if opens else None, deadline=place.deadline.isoformat(),
    )  # fmt: skip


def last_owner(tasks: Sequence[Task]) -> str | None:
    owners = [task.owner for task in sorted(tasks, key=lambda t: t.created_at) if task.owner]
    return owners[-1] if owners else None


def require_open(task: Task, now: datetime) -> None:
    if task.state != "open":
        raise not_open(task, task.state)
    if now >= task.expires_at:
        raise not_open(task, "expired")


def not_open(task: Task, state: str) -> SwitchboardError:
    """The error for an action on a task in `state` (not open): 404, 422 or 409."""
    if state == "missing":
        return TaskNotFoundError(f"no task {task.task_id!r}", task_id=task.task_id)
    if state == "after-deadline":
        deadline = deadline_label(task.deadline_date, task.cc_zone)
        return OwnTimeRefusedError(
            f"the own time is after the central deadline {deadline}",
            reason="after-deadline", deadline=task.deadline_date.isoformat(), zone=task.cc_zone,
        )  # fmt: skip
    if state == "expired":
        deadline = deadline_label(task.deadline_date, task.cc_zone)
        message = f"task {task.task_id} expired at the end of its central deadline {deadline}"
    else:
        message = f"task {task.task_id} is {state}"
    return TaskStateError(message, task_id=task.task_id, state=state, deadline=task.deadline_date.isoformat())


class LeadHasOpenTasks(Exception):
    """`TaskStore.create(alone=True)` found open tasks of the lead (their ids): nothing was written."""

    def __init__(self, task_ids: tuple[str, ...]) -> None:
        super().__init__(f"the lead has {len(task_ids)} open task(s)")
        self.task_ids = task_ids
