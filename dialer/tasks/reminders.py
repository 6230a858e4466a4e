"""The advisor's reminder of a task and the morning digest: pure arithmetic, no I/O.

Owned here (issue 14, seed 002: "Minden feladat esetén kötelező emlékeztetőt is beállítanod
magadnak ... pl. 1 órával vagy akár 1 nappal a határidő előtt"; "minden reggel automatikusan
értesítést küldünk az adott napi feladatokról"). Rules it keeps:
- Every open task has a reminder: an offset `before` of an anchor, the own task time or the
  central deadline (its expiry instant, 00:00 after the deadline day). A task created without one
  gets the default of config/tasks.yaml (`reminders.default`), which the advisor may change.
- Anchored on the own time while the task has none, the reminder falls back to the deadline; it
  moves with the own time when that is set or changed.
- A reminder whose instant has already passed when it is set goes out at once (the next pass).
- The digest of a local date is due from `digest.at` (contact center's zone) on that date; it
  lists an advisor's tasks due that day, overdue, at risk, and expired since the previous digest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from dialer.compliance.local_calendar import require_aware, wall_to_instant
from dialer.tasks.deadlines import Status, TaskStatus

MAX_BEFORE = timedelta(days=30)


class ReminderAnchor(StrEnum):
    OWN_TIME = "own_time"
    DEADLINE = "deadline"


@dataclass(frozen=True, slots=True)
class Reminder:
    """`before` the anchor; `before` is 0 .. 30 days."""

    before: timedelta
    of: ReminderAnchor = ReminderAnchor.OWN_TIME

    def __post_init__(self) -> None:
        if not timedelta(0) <= self.before <= MAX_BEFORE:
            raise ValueError(f"a reminder is 0 to 30 days before its anchor, got {self.before}")


def reminder_instant(reminder: Reminder, own_time: datetime | None, expires_at: datetime) -> datetime:
    """When the reminder e-mail goes out (UTC-aware as its anchor)."""
    anchor = own_time if reminder.of is ReminderAnchor.OWN_TIME and own_time is not None else expires_at
    return anchor - reminder.before


def digest_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant the digest of local date `day` is due (summer time handled by zoneinfo)."""
    return wall_to_instant(datetime.combine(day, at), zone)


def digest_day_due(now: datetime, at: time, zone: ZoneInfo) -> date | None:
    """The local date whose digest is due at `now`, or None before today's digest hour."""
    today = require_aware(now, "now").astimezone(zone).date()
    return today if now >= digest_instant(today, at, zone) else None


class DigestSection(StrEnum):
    DUE_TODAY = "due_today"
    OVERDUE = "overdue"
    AT_RISK = "at_risk"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class DigestLine:
    """One task in a digest: what the advisor reads."""

    task_id: str
    kind: str
    customer: str
    own_time: datetime | None
    deadline: date
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Digest:
    advisor: str
    day: date
    sections: dict[DigestSection, list[DigestLine]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(self.sections.values())


def digest_section(
    line: DigestLine, status: Status, day: date, zone: ZoneInfo, since: datetime
) -> DigestSection | None:
    """Which section a task of the advisor belongs in on local date `day` (the first that fits)."""
    if status.status is TaskStatus.EXPIRED:
        return DigestSection.EXPIRED if line.expires_at >= since else None
    if status.status is TaskStatus.DONE:
        return None
    if status.overdue:
        return DigestSection.OVERDUE
    if status.at_risk:
        return DigestSection.AT_RISK
    own_today = line.own_time is not None and line.own_time.astimezone(zone).date() == day
    if own_today or line.deadline == day:
        return DigestSection.DUE_TODAY
    return None


def build_digest(
    advisor: str, day: date, items: Iterable[tuple[DigestLine, Status]], zone: ZoneInfo, since: datetime
) -> Digest:
    """The advisor's digest of `day`; `since` is the previous digest's instant (expired after it)."""
    digest = Digest(advisor, day, {section: [] for section in DigestSection})
    for line, status in items:
        section = digest_section(line, status, day, zone, since)
        if section is not None:
            digest.sections[section].append(line)
    for lines in digest.sections.values():
        lines.sort(key=lambda item: (item.own_time or item.expires_at, item.task_id))
    return digest


def day_start(day: date, zone: ZoneInfo) -> datetime:
    return wall_to_instant(datetime.combine(day, time.min), zone)
