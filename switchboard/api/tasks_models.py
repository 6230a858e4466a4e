"""The bodies of the task API (switchboard/api/tasks_api.py): what a request may carry, with the
checks that make a bad one a 422 naming the field, and what each answer holds.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
)

from dialer.leads.model import CAMPAIGN_ID_PATTERN, LEAD_ID_PATTERN
from dialer.tasks.deadlines import deadline_label
from dialer.tasks.reads import TaskView
from dialer.tasks.reminders import MAX_BEFORE, Reminder, ReminderAnchor


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


def task_out(view: TaskView) -> TaskOut:
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
