"""Central deadlines (seed 002): table tests with an injected clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from core.errors import SwitchboardError, ValidationFailedError
from dialer.tasks.deadlines import (
    DayCount,
    DeadlineRule,
    OwnTimeRefusedError,
    TaskStatus,
    add_business_days,
    central_deadline,
    expiry_instant,
    is_on_time,
    task_status,
    validate_own_time,
)

BUDAPEST = ZoneInfo("Europe/Budapest")
WARSAW = ZoneInfo("Europe/Warsaw")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")


def at(zone: tzinfo, year: int, month: int, day: int, *clock: int) -> datetime:
    hour, minute, second, micro = (*clock, 0, 0, 0, 0)[:4]
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)


def calendar(days: int) -> DeadlineRule:
    return DeadlineRule(days=days)


def business(days: int, country: str | None) -> DeadlineRule:
    return DeadlineRule(days=days, count=DayCount.BUSINESS, country=country)


# --- the deadline date ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "created_at", "zone", "deadline"),
    [
        # seed 002: unreachable -> 2 days, callback requested -> 14 days
        (calendar(2), at(BUDAPEST, 2026, 6, 1, 10), BUDAPEST, date(2026, 6, 3)),
        (calendar(14), at(BUDAPEST, 2026, 6, 1, 10), BUDAPEST, date(2026, 6, 15)),
        # month and year ends, leap day
        (calendar(2), at(BUDAPEST, 2026, 1, 30, 10), BUDAPEST, date(2026, 2, 1)),
        (calendar(2), at(BUDAPEST, 2026, 2, 27, 10), BUDAPEST, date(2026, 3, 1)),
        (calendar(1), at(BUDAPEST, 2028, 2, 28, 10), BUDAPEST, date(2028, 2, 29)),
        (calendar(14), at(BUDAPEST, 2026, 12, 24, 10), BUDAPEST, date(2027, 1, 7)),
        (calendar(0), at(BUDAPEST, 2026, 4, 30, 23, 59), BUDAPEST, date(2026, 4, 30)),
        # created across the DST change: the date counts, not 48 hours
        (calendar(2), at(BUDAPEST, 2026, 3, 28, 23, 30), BUDAPEST, date(2026, 3, 30)),
        (calendar(2), at(WARSAW, 2026, 10, 24, 23, 30), WARSAW, date(2026, 10, 26)),
        # the contact center's date decides: 23:30 UTC is already tomorrow in Budapest
        (calendar(2), at(UTC, 2026, 3, 30, 23, 30), BUDAPEST, date(2026, 4, 2)),
        (calendar(2), at(NEW_YORK, 2026, 3, 30, 19, 30), BUDAPEST, date(2026, 4, 2)),
        # business days, HU: Good Friday 04-03, weekend, Easter Monday 04-06
        (business(2, "HU"), at(BUDAPEST, 2026, 4, 2, 10), BUDAPEST, date(2026, 4, 8)),
        # HU moved working Saturday 2026-01-10 counts; the bridge day 2026-01-02 doesn't
        (business(1, "HU"), at(BUDAPEST, 2026, 1, 9, 10), BUDAPEST, date(2026, 1, 10)),
        (business(1, "HU"), at(BUDAPEST, 2025, 12, 31, 10), BUDAPEST, date(2026, 1, 5)),
        # PL: Independence Day (Wed 11-11), Christmas Eve to Boxing Day 2026 (Thu-Sat)
        (business(1, "PL"), at(WARSAW, 2026, 11, 10, 10), WARSAW, date(2026, 11, 12)),
        (business(1, "PL"), at(WARSAW, 2026, 12, 23, 10), WARSAW, date(2026, 12, 28)),
        (business(5, "PL"), at(WARSAW, 2026, 4, 30, 10), WARSAW, date(2026, 5, 8)),
        # business days across a month end and the DST weekend
        (business(3, "PL"), at(WARSAW, 2026, 3, 27, 10), WARSAW, date(2026, 4, 1)),
        # zero business days on a Saturday: the next working day
        (business(0, "HU"), at(BUDAPEST, 2026, 6, 6, 10), BUDAPEST, date(2026, 6, 8)),
        # no country: weekends only
        (business(2, None), at(BUDAPEST, 2026, 4, 2, 10), BUDAPEST, date(2026, 4, 6)),
    ],
)
def test_central_deadline(rule: DeadlineRule, created_at: datetime, zone: ZoneInfo, deadline: date) -> None:
    assert central_deadline(rule, created_at, zone) == deadline


def test_extra_holidays_and_zone_by_name() -> None:
    rule = DeadlineRule(days=1, count=DayCount.BUSINESS, country="HU", extra_holidays=(date(2026, 6, 2),))
    assert central_deadline(rule, at(BUDAPEST, 2026, 6, 1, 10), "Europe/Budapest") == date(2026, 6, 3)
    assert add_business_days(date(2026, 6, 1), 0, "HU") == date(2026, 6, 1)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"days": -1}, "greater than or equal to 0"),
        ({"days": 2, "count": "business", "country": "XX"}, "no holiday calendar"),
        ({"days": 2, "subdivision": "ENG"}, "needs a country"),
        ({"days": 2, "count": "fortnights"}, "count"),
        ({"days": 2, "unit": "days"}, "Extra inputs"),
    ],
)
def test_rule_validation(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DeadlineRule.model_validate(data)


# --- the expiry instant -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deadline", "zone", "expires"),
    [
        (date(2026, 6, 3), BUDAPEST, datetime(2026, 6, 3, 22, 0, tzinfo=UTC)),
        (date(2026, 1, 31), BUDAPEST, datetime(2026, 1, 31, 23, 0, tzinfo=UTC)),
        # the day before, the day of and the day after the spring change (last Sunday of March)
        (date(2026, 3, 28), BUDAPEST, datetime(2026, 3, 28, 23, 0, tzinfo=UTC)),
        (date(2026, 3, 29), BUDAPEST, datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),
        (date(2026, 3, 28), WARSAW, datetime(2026, 3, 28, 23, 0, tzinfo=UTC)),
        (date(2026, 3, 29), WARSAW, datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),
        # the autumn change (last Sunday of October): that day has 25 hours
        (date(2026, 10, 24), BUDAPEST, datetime(2026, 10, 24, 22, 0, tzinfo=UTC)),
        (date(2026, 10, 25), BUDAPEST, datetime(2026, 10, 25, 23, 0, tzinfo=UTC)),
        (date(2026, 10, 25), WARSAW, datetime(2026, 10, 25, 23, 0, tzinfo=UTC)),
        (date(2027, 3, 28), WARSAW, datetime(2027, 3, 28, 22, 0, tzinfo=UTC)),
        # a zone whose midnight is skipped by DST (Chile, 2026-09-06 00:00 -> 01:00)
        (date(2026, 9, 5), ZoneInfo("America/Santiago"), datetime(2026, 9, 6, 4, 0, tzinfo=UTC)),
    ],
)
def test_expiry_is_local_midnight_after_the_deadline(
    deadline: date, zone: ZoneInfo, expires: datetime
) -> None:
    instant = expiry_instant(deadline, zone)
    assert instant == expires
    assert (instant - timedelta(microseconds=1)).astimezone(zone).date() == deadline
    assert instant.astimezone(zone).date() == deadline + timedelta(days=1)


@pytest.mark.parametrize("deadline", [date(2026, 3, 29), date(2026, 10, 25), date(2026, 6, 3)])
@pytest.mark.parametrize("observer", [BUDAPEST, NEW_YORK, TOKYO, ZoneInfo("UTC")])
def test_the_2359_boundary_does_not_depend_on_who_looks(deadline: date, observer: ZoneInfo) -> None:
    last_second = at(BUDAPEST, deadline.year, deadline.month, deadline.day, 23, 59, 59)
    last = last_second.replace(microsecond=999999)
    next_day = deadline + timedelta(days=1)
    first_late = at(BUDAPEST, next_day.year, next_day.month, next_day.day)
    assert is_on_time(last.astimezone(observer), deadline, BUDAPEST)
    assert is_on_time(last_second.astimezone(observer), deadline, BUDAPEST)
    assert not is_on_time(first_late.astimezone(observer), deadline, BUDAPEST)
    assert expiry_instant(deadline, BUDAPEST) == first_late


# --- the advisor's own time -------------------------------------------------------------------

NOW = at(BUDAPEST, 2026, 3, 28, 10)
DEADLINE = date(2026, 3, 30)


@pytest.mark.parametrize(
    "own_time",
    [
        at(BUDAPEST, 2026, 3, 28, 10, 30),
        at(BUDAPEST, 2026, 3, 30, 23, 59, 59),
        at(BUDAPEST, 2026, 3, 30, 23, 59, 59, 999999),
        at(BUDAPEST, 2026, 3, 28, 9, 59, 30),  # "now", truncated to the minute by a form
        at(NEW_YORK, 2026, 3, 30, 17, 59),  # 23:59 in Budapest
        at(UTC, 2026, 3, 30, 21, 59),
    ],
)
def test_own_time_accepted(own_time: datetime) -> None:
    accepted = validate_own_time(own_time, DEADLINE, BUDAPEST, NOW)
    assert accepted == own_time
    assert accepted.tzinfo is UTC


@pytest.mark.parametrize(
    ("own_time", "reason", "message"),
    [
        (
            at(BUDAPEST, 2026, 3, 31, 10),
            "after-deadline",
            "own time 2026-03-31 10:00 is after the central deadline 2026-03-30 23:59:59 Europe/Budapest",
        ),
        (
            at(BUDAPEST, 2026, 3, 31),
            "after-deadline",
            "own time 2026-03-31 00:00 is after the central deadline 2026-03-30 23:59:59 Europe/Budapest",
        ),
        (
            at(NEW_YORK, 2026, 3, 30, 18),
            "after-deadline",
            "own time 2026-03-31 00:00 (2026-03-30T18:00-04:00) is after the central deadline "
            "2026-03-30 23:59:59 Europe/Budapest",
        ),
        (
            at(BUDAPEST, 2026, 3, 28, 9, 58),
            "in-past",
            "own time 2026-03-28 09:58 is in the past (now 2026-03-28 10:00 Europe/Budapest)",
        ),
        (
            datetime(2026, 3, 29, 10, 0),  # naive: the point of the test
            "naive",
            "own time 2026-03-29 10:00 has no time zone",
        ),
    ],
)
def test_own_time_refused(own_time: datetime, reason: str, message: str) -> None:
    with pytest.raises(OwnTimeRefusedError) as caught:
        validate_own_time(own_time, DEADLINE, BUDAPEST, NOW)
    error = caught.value
    assert error.message == message
    assert error.details["reason"] == reason
    assert error.details["deadline"] == "2026-03-30"
    assert isinstance(error, ValidationFailedError)
    assert isinstance(error, SwitchboardError)
    assert error.as_dict()["error"] == "task-own-time-refused"


def test_own_time_on_an_already_expired_task_names_the_deadline() -> None:
    later = at(BUDAPEST, 2026, 4, 2, 10)
    with pytest.raises(OwnTimeRefusedError, match="after the central deadline 2026-03-30"):
        validate_own_time(later + timedelta(hours=1), DEADLINE, BUDAPEST, later)


# --- status -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    deadline_date: date
    cc_zone: str = "Europe/Budapest"
    own_time: datetime | None = None
    closed_at: datetime | None = None
    answered_at: datetime | None = None


MARGIN = timedelta(hours=4)
OWN = at(BUDAPEST, 2026, 3, 30, 9)
LAST_MOMENT = at(BUDAPEST, 2026, 3, 30, 23, 59, 59, 999999)
FIRST_LATE = at(BUDAPEST, 2026, 3, 31)
LATER = at(BUDAPEST, 2026, 4, 9)


@pytest.mark.parametrize(
    ("task", "now", "available", "expected"),
    [
        (Task(DEADLINE), NOW, True, (TaskStatus.OPEN, False, False)),
        (Task(DEADLINE, own_time=OWN), OWN - timedelta(minutes=1), True, (TaskStatus.OPEN, False, False)),
        (Task(DEADLINE, own_time=OWN), OWN, True, (TaskStatus.DUE, False, False)),
        # overdue 15 minutes after the own time passes unhandled
        (Task(DEADLINE, own_time=OWN), OWN + timedelta(minutes=15), True, (TaskStatus.DUE, True, False)),
        # within the margin: at risk without an own time, with an absent owner, or when overdue
        (Task(DEADLINE), at(BUDAPEST, 2026, 3, 30, 20), True, (TaskStatus.OPEN, False, True)),
        (Task(DEADLINE, own_time=at(BUDAPEST, 2026, 3, 30, 23)), at(BUDAPEST, 2026, 3, 30, 20), False,
         (TaskStatus.OPEN, False, True)),
        (Task(DEADLINE, own_time=at(BUDAPEST, 2026, 3, 30, 23)), at(BUDAPEST, 2026, 3, 30, 20), True,
         (TaskStatus.OPEN, False, False)),
        (Task(DEADLINE, own_time=OWN), at(BUDAPEST, 2026, 3, 30, 21), True, (TaskStatus.DUE, True, True)),
        (Task(DEADLINE), at(BUDAPEST, 2026, 3, 30, 19, 59), True, (TaskStatus.OPEN, False, False)),
        # expiry at local midnight, checked by a server whose clock is UTC
        (Task(DEADLINE), at(UTC, 2026, 3, 30, 21, 59, 59, 999999), True, (TaskStatus.OPEN, False, True)),
        (Task(DEADLINE), at(UTC, 2026, 3, 30, 22, 0), True, (TaskStatus.EXPIRED, False, False)),
        (Task(DEADLINE, own_time=OWN), at(BUDAPEST, 2026, 4, 2, 9), True, (TaskStatus.EXPIRED, True, False)),
        # done before expiry stays done; closed after expiry stays expired (the penalty is due)
        (Task(DEADLINE, closed_at=LAST_MOMENT), LATER, True, (TaskStatus.DONE, False, False)),
        (Task(DEADLINE, closed_at=FIRST_LATE), LATER, True, (TaskStatus.EXPIRED, False, False)),
        # a callback answered on time is handled then: not overdue, not at risk, not expired while the
        # disposition is still to be written, and done when it comes, even after the deadline
        (Task(DEADLINE, own_time=OWN, answered_at=OWN + timedelta(minutes=1)), OWN + timedelta(hours=1), True,
         (TaskStatus.DUE, False, False)),
        (Task(DEADLINE, own_time=OWN, answered_at=OWN), at(BUDAPEST, 2026, 3, 30, 21), False,
         (TaskStatus.DUE, False, False)),
        (Task(DEADLINE, own_time=OWN, answered_at=OWN), LATER, True, (TaskStatus.DUE, False, False)),
        (Task(DEADLINE, own_time=OWN, answered_at=LAST_MOMENT, closed_at=LATER), LATER, True,
         (TaskStatus.DONE, False, False)),
        # answered only after the deadline: too late, the penalty stays
        (Task(DEADLINE, own_time=OWN, answered_at=FIRST_LATE, closed_at=LATER), LATER, True,
         (TaskStatus.EXPIRED, False, False)),
    ],
)
def test_task_status(
    task: Task, now: datetime, available: bool, expected: tuple[TaskStatus, bool, bool]
) -> None:
    status = task_status(task, now, MARGIN, available)
    assert (status.status, status.overdue, status.at_risk) == expected
    assert status.expires_at == datetime(2026, 3, 30, 22, 0, tzinfo=UTC)


def test_status_instant_ignores_the_zone_of_now() -> None:
    task = Task(date(2026, 10, 25), cc_zone="Europe/Warsaw")
    last_second, midnight = at(WARSAW, 2026, 10, 25, 23, 59, 59), at(WARSAW, 2026, 10, 26)
    for zone in (BUDAPEST, NEW_YORK, TOKYO, UTC):
        assert task_status(task, last_second.astimezone(zone), MARGIN, True).status is TaskStatus.OPEN
        assert task_status(task, midnight.astimezone(zone), MARGIN, True).status is TaskStatus.EXPIRED
