"""HTTP API of follow-up tasks: create, set / change the own time and the reminder, close with a
disposition, list, archive, the stale report and bulk reactivation.

Owned here: the endpoints, who may call each, and the translation of bodies to store calls. The
task store (dialer/tasks/store.py) keeps the rules: an own time after the central deadline or in
the past is a 422 that names the deadline; a callback's own time outside the campaign's calling
hours is a 422 with the reason; closing or archiving in the wrong state is a 409.

    app = create_app(state, status_overrides={**dialer_access.STATUS_OVERRIDES, **STATUS_OVERRIDES})
    attach_tasks(app, task_store)       # the engine's store (its rules reload); else built on first use
    app.include_router(router)

Roles: advisors work on their own tasks (create, own time, close, list); supervisors see and work
on everyone's, archive done and expired tasks, read the stale report and reactivate in bulk;
admins read. Closing a task records the disposition (its automation runs, dialer/dispositions/service.py)
and the disposition closes the lead's open tasks and may create the follow-up task.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, status

from core.errors import ValidationFailedError
from dialer.leads.model import CAMPAIGN_ID_PATTERN
from dialer.paging import Cursor
from dialer.stores import DialerStores
from dialer.tasks.preview import preview
from dialer.tasks.reads import ListStatus
from dialer.tasks.rules import DEFAULT_TASK_RULES, Task, load_task_rules
from dialer.tasks.store import TaskNotFoundError, TaskStore, not_open
from switchboard.api.auth import AUTH_RESPONSES, require_role
from switchboard.api.dialer_access import get_stores
from switchboard.api.errors import PermissionDeniedError, error_doc
from switchboard.api.paging import CursorQuery, LimitQuery, Page, page_of
from switchboard.api.state import get_state
from switchboard.api.tasks_models import (
    CloseIn,
    CloseOut,
    OwnTimeIn,
    OwnTimeOut,
    PreviewIn,
    PreviewOut,
    ReactivateIn,
    ReactivationOut,
    ReminderIn,
    TaskIn,
    TaskOut,
    task_out,
)
from switchboard.api.tokens import Principal

STATUS_OVERRIDES = {"task-state-conflict": 409}
"""Error ids of the task API that are not 4xx/5xx by their base class: pass to create_app."""

_STORE_ATTR = "task_store"
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    422: error_doc("own time after the deadline, in the past or outside hours"),
    503: error_doc("Redis unavailable"),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: error_doc("no such task or lead")}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: error_doc("the task is not open (done, expired), or still open")
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
    return task_out(tasks.view(task, now))


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
    return page_of([task_out(view) for view in views], after)


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
    return page_of([task_out(view) for view in views], after)


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
            new_task=task_out(tasks.view(item.new_task, now)) if item.new_task else None,
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
    return task_out(tasks.view(await _visible(tasks, task_id, who), _now(stores)))


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
    view = tasks.view(change.task, now)
    return OwnTimeOut(task=task_out(view), change=change.change, version=change.version)


@router.put("/tasks/{task_id}/reminder", response_model=TaskOut, responses=NOT_FOUND | CONFLICT)
async def set_reminder(task_id: str, body: ReminderIn, who: Worker, tasks: Tasks, stores: Stores) -> TaskOut:
    """Choose when you are reminded of this task by e-mail, e.g. `{"before": "1d", "of": "deadline"}`.
    An instant already past is sent at once; 409 when the task is not open."""
    task = await _visible(tasks, task_id, who)
    _may_work_on(task, who)
    now = _now(stores)
    updated = await tasks.set_reminder(task_id, body.reminder, now=now, actor=who.name)
    return task_out(tasks.view(updated, now))


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
    follow_up = task_out(tasks.view(effect.created, now)) if effect.created else None
    return CloseOut(
        task=task_out(tasks.view(closed, now)), disposition=record.as_dict(),
        closed=[item.task_id for item in effect.closed], follow_up=follow_up,
    )  # fmt: skip


@router.post("/tasks/{task_id}/archive", response_model=TaskOut, responses=NOT_FOUND | CONFLICT)
async def archive_task(task_id: str, who: Supervisor, tasks: Tasks, stores: Stores) -> TaskOut:
    """Take a done or expired task off the lists (supervisors). Open tasks cannot be archived;
    the expired count is never lowered."""
    now = _now(stores)
    return task_out(tasks.view(await tasks.archive(task_id, now=now, actor=who.name), now))


__all__ = ["STATUS_OVERRIDES", "attach_tasks", "get_tasks", "router"]
