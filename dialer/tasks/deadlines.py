"""Central deadlines of follow-up tasks: the date, the instant it expires, own-time checks, status.

Owns the pure arithmetic of seed 002 / DESIGN.md section 2.3 (issue 5 "Semantics"); the task
store, API and dialer call it with an injected `now`.

Rules it keeps:
- The central deadline ("Állapot/Határidő") is a calendar date in the contact center's zone,
  set by rule: N calendar days, or N business days (weekends, the country's public holidays and
  configured extra dates skipped; a country's working Saturdays count), from the local date the
  task was created.
- A task can be handled until 23:59:59 local time on that date; the first instant after it
  (00:00 local on the next day, computed with zoneinfo) it is expired. The instant depends only
  on the date and the contact center's zone: DST days, the advisor's zone, the customer's zone
  and the server's zone do not move it. Handled at 23:59:59.999 is on time; 00:00:00 is late.
- The advisor's own task time ("Feladat időpontja") must be in the future and before expiry;
  otherwise `OwnTimeRefusedError` names the deadline. Only the central deadline is monitored.
- Status: open -> due (own time reached) -> done (closed before expiry) or expired. Flags:
  overdue (own time passed by more than a grace without handling), at risk (deadline within a
  margin and no own time, owner unavailable, or already overdue).
- A callback answered before expiry is handled at the answer (issue 14): never overdue, at risk or
  expired while its disposition is still to be written, and done whenever that comes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol, Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.config.vocabulary import spelled
from core.errors import ValidationFailedError
from dialer.compliance.local_calendar import (
    holidays_supported,
    is_working_day,
    require_aware,
    wall_to_instant,
    zone_named,
)

ZoneLike = ZoneInfo | str


def _zone(zone: ZoneLike) -> ZoneInfo:
    return zone if isinstance(zone, ZoneInfo) else zone_named(zone)


class DayCount(StrEnum):
    CALENDAR = "calendar"
    BUSINESS = "business"


class DeadlineRule(BaseModel):
    """How far the central deadline lies from the task's creation (a field of a task rule)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: int = Field(ge=0)
    count: DayCount = DayCount.CALENDAR
    country: str | None = Field(None, validation_alias=spelled("holiday_country", "country"))
    subdivision: str | None = None
    extra_holidays: tuple[date, ...] = Field(
        (), validation_alias=spelled("extra_closed_dates", "extra_holidays")
    )

    @model_validator(mode="after")
    def _known_calendar(self) -> Self:
        if self.subdivision is not None and self.country is None:
            raise ValueError("a holiday subdivision needs a country")
        if self.country is not None and not holidays_supported(self.country, self.subdivision):
            where = f"{self.country}-{self.subdivision}" if self.subdivision else self.country
            raise ValueError(f"no holiday calendar for {where!r}")
        return self


def add_business_days(
    start: date,
    days: int,
    country: str | None,
    extra_holidays: tuple[date, ...] = (),
    subdivision: str | None = None,
) -> date:
    """The `days`-th working day after `start` (0: `start` itself, or the next working day)."""
    current, remaining = start, days
    if remaining == 0:
        while not is_working_day(current, country, extra_holidays, subdivision):
            current += timedelta(days=1)
        return current
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current, country, extra_holidays, subdivision):
            remaining -= 1
    return current


def central_deadline(rule: DeadlineRule, created_at: datetime, cc_zone: ZoneLike) -> date:
    """The deadline date for a task created at `created_at` (any zone) under `rule`."""
    start = require_aware(created_at, "created_at").astimezone(_zone(cc_zone)).date()
    if rule.count is DayCount.CALENDAR:
        return start + timedelta(days=rule.days)
    return add_business_days(start, rule.days, rule.country, rule.extra_holidays, rule.subdivision)


def expiry_instant(deadline: date, cc_zone: ZoneLike) -> datetime:
    """The first instant (UTC) after 23:59:59 local on `deadline`: the task is expired from here."""
    return wall_to_instant(datetime.combine(deadline + timedelta(days=1), time.min), _zone(cc_zone))


def deadline_label(deadline: date, cc_zone: ZoneLike) -> str:
    return f"{deadline.isoformat()} 23:59:59 {_zone(cc_zone).key}"


def is_on_time(handled_at: datetime, deadline: date, cc_zone: ZoneLike) -> bool:
    return require_aware(handled_at, "handled_at") < expiry_instant(deadline, cc_zone)


class OwnTimeRefusedError(ValidationFailedError):
    """The advisor's own task time is in the past or after the central deadline (HTTP 422)."""

    error_id = "task-own-time-refused"


def _clock(instant: datetime, zone: ZoneInfo) -> str:
    local = instant.astimezone(zone)
    text = local.strftime("%Y-%m-%d %H:%M:%S" if local.second or local.microsecond else "%Y-%m-%d %H:%M")
    if instant.utcoffset() != local.utcoffset():
        text += f" ({instant.isoformat(timespec='minutes')})"
    return text


def validate_own_time(
    own_time: datetime,
    deadline_date: date,
    cc_zone: ZoneLike,
    now: datetime,
    *,
    past_tolerance: timedelta = timedelta(seconds=60),
) -> datetime:
    """Accept `own_time` (returned in UTC) or raise `OwnTimeRefusedError` saying why.

    `past_tolerance` lets a form that sends "now" truncated to the minute through.
    """
    zone = _zone(cc_zone)
    details = {"deadline": deadline_date.isoformat(), "zone": zone.key}
    if own_time.tzinfo is None or own_time.utcoffset() is None:
        message = f"own time {own_time:%Y-%m-%d %H:%M} has no time zone"
        raise OwnTimeRefusedError(message, reason="naive", own_time=own_time.isoformat(), **details)
    if own_time >= expiry_instant(deadline_date, zone):
        deadline = deadline_label(deadline_date, zone)
        message = f"own time {_clock(own_time, zone)} is after the central deadline {deadline}"
        raise OwnTimeRefusedError(message, reason="after-deadline", own_time=own_time.isoformat(), **details)
    if own_time < require_aware(now, "now") - past_tolerance:
        message = f"own time {_clock(own_time, zone)} is in the past (now {_clock(now, zone)} {zone.key})"
        raise OwnTimeRefusedError(message, reason="in-past", own_time=own_time.isoformat(), **details)
    return own_time.astimezone(UTC)


class TaskStatus(StrEnum):
    OPEN = "open"
    DUE = "due"
    DONE = "done"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Status:
    status: TaskStatus
    overdue: bool
    at_risk: bool
    expires_at: datetime


class DeadlineTask(Protocol):
    """What `task_status` reads of a task (the task model satisfies it structurally)."""

    @property
    def deadline_date(self) -> date: ...
    @property
    def cc_zone(self) -> str: ...
    @property
    def own_time(self) -> datetime | None: ...
    @property
    def closed_at(self) -> datetime | None: ...
    @property
    def answered_at(self) -> datetime | None: ...


def task_status(
    task: DeadlineTask,
    now: datetime,
    margin: timedelta,
    owner_available: bool,
    *,
    overdue_grace: timedelta = timedelta(minutes=15),
) -> Status:
    """The task's status at `now`. A task closed at or after expiry stays expired, unless its
    callback was answered before expiry: an answered callback is handled then, whenever the
    disposition is written, so it is never overdue, at risk or expired."""
    require_aware(now, "now")
    expires = expiry_instant(task.deadline_date, task.cc_zone)
    answered = task.answered_at is not None and task.answered_at < expires
    if task.closed_at is not None:
        done = answered or task.closed_at < expires
        return Status(TaskStatus.DONE if done else TaskStatus.EXPIRED, False, False, expires)
    own = task.own_time
    if answered:
        return Status(TaskStatus.DUE if own is None or now >= own else TaskStatus.OPEN, False, False, expires)
    overdue = own is not None and now >= own + overdue_grace
    if now >= expires:
        return Status(TaskStatus.EXPIRED, overdue, False, expires)
    status = TaskStatus.DUE if own is not None and now >= own else TaskStatus.OPEN
    near = expires - now <= margin
    at_risk = near and (own is None or not owner_available or overdue)
    return Status(status, overdue, at_risk, expires)
