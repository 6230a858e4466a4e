"""HTTP API of follow-up tasks: create, set / change the own time and the reminder, close with a
disposition, list, archive, the stale report and bulk reactivation.

Owned here: the endpoints, who may call each, and the translation of bodies to store calls. The
task store (dialer/tasks/store.py) keeps the rules: an own time after the central deadline or in
the past is a 422 that names the deadline; a callback's own time outside the campaign's calling
hours is a 422 with the reason; closing or archiving in the wrong state is a 409.

    app = create_app(state, status_overrides={**dialer_api.STATUS_OVERRIDES, **STATUS_OVERRIDES})
    attach_tasks(app, task_store)       # the engine's store (its rules reload); else built on first use
    app.include_router(router)

Roles: advisors work on their own tasks (create, own time, close, list); supervisors see and work
on everyone's, archive done and expired tasks, read the stale report and reactivate in bulk;
admins read. Closing a task records the disposition (its automation runs, dialer/dispositions/service.py)
and the disposition closes the lead's open tasks and may create the follow-up task.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, status
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
)

from core.errors import ValidationFailedError
from dialer.leads.model import CAMPAIGN_ID_PATTERN, LEAD_ID_PATTERN
from dialer.paging import Cursor
from dialer.stores import DialerStores
from dialer.tasks.deadlines import deadline_label
from dialer.tasks.preview import preview
from dialer.tasks.reads import ListStatus, TaskView
from dialer.tasks.reminders import MAX_BEFORE, Reminder, ReminderAnchor
from dialer.tasks.rules import DEFAULT_TASK_RULES, Task, load_task_rules
from dialer.tasks.store import TaskNotFoundError, TaskStore, not_open
from switchboard.api.auth import AUTH_RESPONSES, require_role
from switchboard.api.dialer_api import get_stores
from switchboard.api.errors import ErrorBody, PermissionDeniedError
from switchboard.api.paging import CursorQuery, LimitQuery, Page, page_of
from switchboard.api.state import get_state
from switchboard.api.tokens import Principal

STATUS_OVERRIDES = {"task-state-conflict": 409}
"""Error ids of the task API that are not 4xx/5xx by their base class: pass to create_app."""

_STORE_ATTR = "task_store"
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    422: {"model": ErrorBody, "description": "own time after the deadline, in the past or outside hours"},
    503: {"model": ErrorBody, "description": "Redis unavailable"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no such task or lead"}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "the task is not open (done, expired), or still open"}
}

router = APIRouter(prefix="/api/v1", tags=["tasks"], responses=ERRORS)


def attach_tasks(app: FastAPI, store: TaskStore) -> None:
    """Serve the engine's task store (its rules are hot-reloaded) from this app's task endpoints."""
    setattr(app.state, _STORE_ATTR, store)


def get_tasks(request: Request) -> TaskStore:
    """The attached store; without, one over the dialer stores with settings' tasks.yaml and zone."""
    store = getattr(request.app.state, _STORE_ATTR, None)
    if isinstance(store, TaskStore):
        return store
    settings = get_state(request).settings
    path = settings.rules.tasks
    rules = load_task_rules(path) if path is not None else DEFAULT_TASK_RULES
    stores = get_stores(request)
    store = TaskStore(stores.redis, leads=stores.leads, rules=rules, cc_zone=settings.timezone)
    attach_tasks(request.app, store)
    return store


Tasks = Annotated[TaskStore, Depends(get_tasks)]
Stores = Annotated[DialerStores, Depends(get_stores)]
Worker = Annotated[Principal, Depends(require_role("advisor", "supervisor"))]
Reader = Annotated[Principal, Depends(require_role("advisor", "supervisor", "admin"))]
Supervisor = Annotated[Principal, Depends(require_role("supervisor"))]
SupervisorReader = Annotated[Principal, Depends(require_role("supervisor", "admin"))]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _time_text(value: Any) -> Any:
    """An own time is ISO text with a zone; a number is refused as the wrong type (pydantic would
    read 12345 as seconds after 1970 and the desk would report it "in the past")."""
    if isinstance(value, int | float | bool):
        raise ValueError(
            "must be a date and time as text with a zone, e.g. 2026-06-02T10:00:00+02:00, not a number"
        )
    return value


OwnTime = Annotated[AwareDatetime, BeforeValidator(_time_text)]


# How long before its anchor a reminder goes: 1 to 43200 minutes, 1 to 720 hours, 1 to 30 days, or
# 1 to 2592000 seconds. The pattern says exactly that, so the published schema is true to the check.
_BEFORE_TEXT = (
    r"^\s*(([1-9]|[12][0-9]|30)d|([1-9][0-9]{0,1}|[1-6][0-9]{2}|7[01][0-9]|720)h"
    r"|([1-9][0-9]{0,3}|[1-3][0-9]{4}|4[0-2][0-9]{3}|43[01][0-9]{2}|43200)m)\s*$"
)
_BEFORE_UNITS = {"m": 60, "h": 3600, "d": 86400}
_MAX_BEFORE_S = int(MAX_BEFORE.total_seconds())


def _reminder_before(value: Any) -> timedelta:
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())  # 370.0 is an integer
    if whole and not isinstance(value, bool) and 1 <= value <= _MAX_BEFORE_S:
        return timedelta(seconds=int(value))
    if isinstance(value, str) and re.fullmatch(_BEFORE_TEXT, value):
        text = value.strip()
        return timedelta(seconds=int(text[:-1]) * _BEFORE_UNITS[text[-1]])
    raise ValueError("must be 15m, 2h, 1d (at most 30d) or a number of seconds from 1 to 2592000")


ReminderBefore = Annotated[
    timedelta,
    PlainValidator(_reminder_before),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": _BEFORE_TEXT},
                {"type": "integer", "minimum": 1, "maximum": _MAX_BEFORE_S},
            ],
            "description": "how long before: 15m, 2h, 1d (at most 30d), or seconds",
        }
    ),
]


class ReminderIn(_Body):
    """When you are reminded by e-mail: `before` (15m, 2h, 1d, or seconds; at most 30d) the
    `of` anchor: your own time (the deadline while there is none) or the central deadline."""

    before: ReminderBefore
    of: ReminderAnchor = Field(ReminderAnchor.OWN_TIME, description="own_time or deadline")

    @property
    def reminder(self) -> Reminder:
        return Reminder(self.before, self.of)


class ReminderOut(BaseModel):
    before_seconds: int = Field(description="how long before the anchor")
    of: str = Field(description="own_time or deadline")
    at: datetime | None = Field(description="when the e-mail goes out; null once sent (see sent_at)")
    sent_at: datetime | None = Field(description="when it was queued for e-mail")


class TaskIn(_Body):
    lead_id: str = Field(pattern=LEAD_ID_PATTERN)
    kind: str = Field(min_length=1, max_length=64, description="a kind of tasks.yaml")
    owner: str | None = Field(None, max_length=128, description="supervisors: whose task (default: you)")
    campaign_id: str | None = Field(None, pattern=CAMPAIGN_ID_PATTERN, description="default: the lead's")
    number: str | None = Field(None, max_length=40, description="default: the lead's first number")
    note: str = Field("", max_length=2000)
    own_time: OwnTime | None = Field(None, description="your own task time, inside the deadline")
    reminder: ReminderIn | None = Field(None, description="default: tasks.yaml reminders.default (1h)")


class OwnTimeIn(_Body):
    own_time: OwnTime = Field(description="date and time with zone, e.g. 2026-06-02T10:00:00+02:00")
    reminder: ReminderIn | None = Field(None, description="change the reminder too (default: keep it)")


class CloseIn(_Body):
    code: str = Field(min_length=1, max_length=64, description="a disposition code of dispositions.yaml")
    note: str = Field("", max_length=2000)
    number: str | None = Field(None, max_length=40)
    call_id: str | None = Field(None, max_length=128)


class PreviewIn(_Body):
    at: OwnTime | None = Field(None, description="when the result comes (default: now)")
    result: str | None = Field(None, max_length=64, description="a call result, e.g. no_answer")
    disposition: str | None = Field(None, max_length=64, description="a disposition code, e.g. sale")
    own_time: OwnTime | None = Field(None, description="an own time to check and be reminded of")
    reminder: ReminderIn | None = Field(None, description="default: tasks.yaml reminders.default")


class PreviewReminder(BaseModel):
    before_seconds: int
    of: str


class PreviewOut(BaseModel):
    kind: str
    label: str
    trigger: str = Field(description="the results and dispositions that start the rule")
    created_at: datetime
    deadline: str = Field(description="the central deadline date")
    deadline_label: str
    expires_at: datetime = Field(description="the first instant the task would be expired")
    at_risk_from: datetime = Field(description="from here it is at risk and escalated")
    own_time: datetime | None
    own_time_refused: str | None = Field(description="why the given own time would be refused")
    reminder: PreviewReminder
    reminder_at: datetime
    reminder_anchor: str = Field(description="own_time, or deadline when there is no own time")
    callback: bool


class ReactivateIn(_Body):
    task_ids: list[str] = Field(min_length=1, max_length=10_000)
    owner: str | None = Field(None, max_length=128, description="give the new tasks to this advisor")


class TaskOut(BaseModel):
    task_id: str
    kind: str
    lead_id: str
    customer_id: str
    campaign_id: str | None
    owner: str | None
    number: str | None
    callback: bool
    source: str
    created_at: datetime
    created_by: str
    note: str
    deadline: str = Field(description="the central deadline date (Állapot/Határidő)")
    deadline_label: str = Field(description='e.g. "2026-06-03 23:59:59 Europe/Budapest"')
    expires_at: datetime = Field(description="the first instant the task is expired (00:00 the next day)")
    own_time: datetime | None = Field(description="the advisor's own task time (Feladat időpontja)")
    own_version: int
    state: str = Field(description="stored state: open, done or expired")
    status: str = Field(description="now: open, due, done or expired")
    overdue: bool
    at_risk: bool
    closed_at: datetime | None
    closed_by: str | None
    close_code: str | None
    disposition_id: str | None
    archived_at: datetime | None
    archived_by: str | None
    last_dialed_at: datetime | None
    dials: int
    reactivated_from: str | None
    reactivated_to: str | None
    answered_at: datetime | None = Field(None, description="the callback was answered: handled then")
    reminder: ReminderOut | None = Field(None, description="the owner's e-mail reminder")


class OwnTimeOut(BaseModel):
    task: TaskOut
    change: str = Field(description="set, changed or unchanged (unchanged: nobody is notified again)")
    version: int


class CloseOut(BaseModel):
    task: TaskOut
    disposition: dict[str, Any]
    closed: list[str] = Field(description="every task of the lead the disposition closed")
    follow_up: TaskOut | None = Field(description="the task the disposition created by rule, if any")


class ReactivationOut(BaseModel):
    task_id: str
    new_task: TaskOut | None
    detail: str


def _out(view: TaskView) -> TaskOut:
    task = view.task
    data = {
        **view.as_dict(),
        "deadline": task.deadline_date.isoformat(),
        "deadline_label": deadline_label(task.deadline_date, task.cc_zone),
    }
    if task.reminder_before_s is not None:
        data["reminder"] = ReminderOut(
            before_seconds=task.reminder_before_s, of=task.reminder_of, at=task.remind_at,
            sent_at=task.reminded_at,
        )  # fmt: skip
    return TaskOut.model_validate(data)


def _now(stores: DialerStores) -> datetime:
    return stores.clock().astimezone(UTC)


def _may_work_on(task: Task, who: Principal) -> None:
    if who.role == "advisor" and task.owner != who.name:
        raise PermissionDeniedError(
            f"task {task.task_id} belongs to {task.owner or 'no one'}; advisors work on their own tasks",
            task_id=task.task_id,
        )


async def _visible(tasks: TaskStore, task_id: str, who: Principal) -> Task:
    task = await tasks.get(task_id)
    if who.role == "advisor" and task.owner != who.name:
        raise TaskNotFoundError(f"no task {task_id!r}", task_id=task_id)
    return task


# ---- tasks ------------------------------------------------------------------------------------


@router.post("/tasks", response_model=TaskOut, status_code=status.HTTP_201_CREATED, responses=NOT_FOUND)
async def create_task(body: TaskIn, who: Worker, tasks: Tasks, stores: Stores) -> TaskOut:
    """Create a follow-up task for a lead; the central deadline comes from the kind's rule.
    Advisors create their own tasks; supervisors may name the owner."""
    if body.owner is not None and body.owner != who.name and who.role != "supervisor":
        message = "advisors create tasks for themselves; leave `owner` out"
        raise PermissionDeniedError(message, owner=body.owner)
    now = _now(stores)
    task = await tasks.create(
        lead_id=body.lead_id, kind=body.kind, now=now, actor=who.name, owner=body.owner or who.name,
        campaign_id=body.campaign_id, number=body.number, note=body.note, own_time=body.own_time,
        reminder=body.reminder.reminder if body.reminder else None,
    )  # fmt: skip
    return _out(tasks.view(task, now))


@router.get("/tasks", response_model=Page[TaskOut])
async def list_tasks(
    *,
    who: Reader,
    tasks: Tasks,
    stores: Stores,
    task_status: Annotated[
        str | None,
        Query(
            alias="status",
            description="open, due, overdue, at_risk, expired, done, archived",
            # an enum for clients; checked here with a message naming them (at-risk works too)
            json_schema_extra={"enum": [*(s.value for s in ListStatus), "at-risk"]},
        ),
    ] = None,
    advisor: Annotated[str | None, Query(max_length=128, description="supervisors: whose tasks")] = None,
    campaign: Annotated[str | None, Query(pattern=CAMPAIGN_ID_PATTERN)] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 100,
) -> Page[TaskOut]:
    """Tasks by deadline (advisors: their own). Expired tasks stay listed until archived."""
    wanted = _status(task_status)
    owner = who.name if who.role == "advisor" else advisor
    now = _now(stores)
    views, after = await tasks.page_tasks(
        now=now, status=wanted, owner=owner, campaign_id=campaign, after=Cursor.decode(cursor), limit=limit
    )
    return page_of([_out(view) for view in views], after)


def _status(value: str | None) -> ListStatus | None:
    if value is None:
        return None
    try:
        return ListStatus(value.replace("-", "_"))
    except ValueError:
        known = ", ".join(item.value for item in ListStatus)
        raise ValidationFailedError(f"unknown status {value!r}; use one of {known}", field="status") from None


@router.get("/tasks/stale", response_model=Page[TaskOut])
async def stale_tasks(
    *,
    who: SupervisorReader,
    tasks: Tasks,
    stores: Stores,
    days: Annotated[int | None, Query(ge=1, le=3650, description="default: stale_after_days")] = None,
    advisor: Annotated[str | None, Query(max_length=128)] = None,
    campaign: Annotated[str | None, Query(pattern=CAMPAIGN_ID_PATTERN)] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 100,
) -> Page[TaskOut]:
    """Callbacks not handled for more than `days` days (open or expired), oldest activity first."""
    views, after = await tasks.page_stale(
        now=_now(stores),
        days=days,
        owner=advisor,
        campaign_id=campaign,
        after=Cursor.decode(cursor),
        limit=limit,
    )
    return page_of([_out(view) for view in views], after)


@router.post("/tasks:reactivate", response_model=list[ReactivationOut], responses=NOT_FOUND | CONFLICT)
async def reactivate(
    body: ReactivateIn, who: Supervisor, tasks: Tasks, stores: Stores
) -> list[ReactivationOut]:
    """Give each stale task a fresh task (new deadline from now); open ones are closed as reactivated,
    expired ones stay expired and counted. Done and archived tasks are left alone."""
    now = _now(stores)
    done = await tasks.reactivate(body.task_ids, now=now, actor=who.name, owner=body.owner)
    return [
        ReactivationOut(
            task_id=item.task_id,
            new_task=_out(tasks.view(item.new_task, now)) if item.new_task else None,
            detail=item.detail,
        )
        for item in done
    ]


@router.post("/tasks:preview", response_model=list[PreviewOut])
async def preview_rules(
    body: PreviewIn, who: SupervisorReader, tasks: Tasks, stores: Stores
) -> list[PreviewOut]:
    """Rehearse the task rules in force: for a result and / or a disposition (or every rule) at an
    instant, the deadline, expiry, at-risk start and reminder each rule would give, and whether an
    own time would be accepted. Nothing is stored."""
    rows = preview(
        tasks.rules, body.at or _now(stores), tasks.cc_zone, result=body.result, disposition=body.disposition,
        own_time=body.own_time, reminder=body.reminder.reminder if body.reminder else None,
    )  # fmt: skip
    return [PreviewOut.model_validate(row.as_dict()) for row in rows]


@router.get("/tasks/{task_id}", response_model=TaskOut, responses=NOT_FOUND)
async def get_task(task_id: str, who: Reader, tasks: Tasks, stores: Stores) -> TaskOut:
    """One task with its deadline, own time and status now (advisors: their own)."""
    return _out(tasks.view(await _visible(tasks, task_id, who), _now(stores)))


@router.put("/tasks/{task_id}/own-time", response_model=OwnTimeOut, responses=NOT_FOUND | CONFLICT)
async def set_own_time(
    task_id: str, body: OwnTimeIn, who: Worker, tasks: Tasks, stores: Stores
) -> OwnTimeOut:
    """Set or change your own task time. Refused (422, naming the deadline) after the central
    deadline or in the past, and for a callback outside the campaign's calling hours. The
    customer is notified of each change; sending the same time again changes nothing."""
    task = await _visible(tasks, task_id, who)
    _may_work_on(task, who)
    now = _now(stores)
    reminder = body.reminder.reminder if body.reminder else None
    change = await tasks.set_own_time(task_id, body.own_time, now=now, actor=who.name, reminder=reminder)
    return OwnTimeOut(task=_out(tasks.view(change.task, now)), change=change.change, version=change.version)


@router.put("/tasks/{task_id}/reminder", response_model=TaskOut, responses=NOT_FOUND | CONFLICT)
async def set_reminder(task_id: str, body: ReminderIn, who: Worker, tasks: Tasks, stores: Stores) -> TaskOut:
    """Choose when you are reminded of this task by e-mail, e.g. `{"before": "1d", "of": "deadline"}`.
    An instant already past is sent at once; 409 when the task is not open."""
    task = await _visible(tasks, task_id, who)
    _may_work_on(task, who)
    now = _now(stores)
    return _out(tasks.view(await tasks.set_reminder(task_id, body.reminder, now=now, actor=who.name), now))


@router.post("/tasks/{task_id}/close", response_model=CloseOut, responses=NOT_FOUND | CONFLICT)
async def close_task(task_id: str, body: CloseIn, who: Worker, tasks: Tasks, stores: Stores) -> CloseOut:
    """Close with a disposition: it is recorded (its automation runs), it closes the lead's open
    tasks, and a rule for its code creates the follow-up task. At or after the expiry instant the
    task stays expired (counted)."""
    task = await _visible(tasks, task_id, who)
    _may_work_on(task, who)
    now = _now(stores)
    if task.state != "open":
        raise not_open(task, task.state)
    record = await stores.dispositions.record(
        lead_id=task.lead_id, code=body.code, advisor=who.name, now=now, note=body.note,
        number=body.number or task.number, call_id=body.call_id,
    )  # fmt: skip
    effect = await tasks.record_disposition(record, now=now)
    closed = await tasks.get(task_id)
    follow_up = _out(tasks.view(effect.created, now)) if effect.created else None
    return CloseOut(
        task=_out(tasks.view(closed, now)), disposition=record.as_dict(),
        closed=[item.task_id for item in effect.closed], follow_up=follow_up,
    )  # fmt: skip


@router.post("/tasks/{task_id}/archive", response_model=TaskOut, responses=NOT_FOUND | CONFLICT)
async def archive_task(task_id: str, who: Supervisor, tasks: Tasks, stores: Stores) -> TaskOut:
    """Take a done or expired task off the lists (supervisors). Open tasks cannot be archived;
    the expired count is never lowered."""
    now = _now(stores)
    return _out(tasks.view(await tasks.archive(task_id, now=now, actor=who.name), now))


__all__ = ["STATUS_OVERRIDES", "attach_tasks", "get_tasks", "router"]
