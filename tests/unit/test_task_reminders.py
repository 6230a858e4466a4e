"""The reminder's instant and the morning digest's day and sections (dialer/tasks/reminders.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from dialer.tasks.deadlines import Status, TaskStatus
from dialer.tasks.reminders import (
    DigestLine,
    DigestSection,
    Reminder,
    ReminderAnchor,
    build_digest,
    digest_day_due,
    reminder_instant,
)

BUDAPEST = ZoneInfo("Europe/Budapest")
EXPIRES = datetime(2026, 6, 4, tzinfo=BUDAPEST)  # deadline 2026-06-03
OWN = datetime(2026, 6, 2, 14, tzinfo=BUDAPEST)


@pytest.mark.parametrize(
    ("reminder", "own", "expected"),
    [
        (Reminder(timedelta(hours=1)), OWN, datetime(2026, 6, 2, 13, tzinfo=BUDAPEST)),
        (Reminder(timedelta(hours=1)), None, datetime(2026, 6, 3, 23, tzinfo=BUDAPEST)),  # no own time yet
        (Reminder(timedelta(days=1), ReminderAnchor.DEADLINE), OWN, datetime(2026, 6, 3, tzinfo=BUDAPEST)),
    ],
)
def test_the_reminder_counts_back_from_its_anchor(
    reminder: Reminder, own: datetime | None, expected: datetime
) -> None:
    assert reminder_instant(reminder, own, EXPIRES) == expected


def test_a_reminder_is_zero_to_thirty_days() -> None:
    with pytest.raises(ValueError, match="0 to 30 days"):
        Reminder(timedelta(days=31))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 3, 29, 4, 59, tzinfo=UTC), None),  # 06:59 CEST on the day summer time starts
        (datetime(2026, 3, 29, 5, 0, tzinfo=UTC), date(2026, 3, 29)),  # 07:00 CEST
        (datetime(2026, 10, 25, 6, 0, tzinfo=UTC), date(2026, 10, 25)),  # 07:00 CET, after the change
        (datetime(2026, 10, 25, 5, 59, tzinfo=UTC), None),
        (datetime(2026, 6, 1, 22, 30, tzinfo=UTC), None),  # 00:30 local on 2 June: before the hour
    ],
)
def test_the_digest_is_due_from_the_local_hour(now: datetime, expected: date | None) -> None:
    assert digest_day_due(now, time(7, 0), BUDAPEST) == expected


def _line(task_id: str, *, own: datetime | None = None, deadline: date = date(2026, 6, 5)) -> DigestLine:
    expires = datetime.combine(deadline + timedelta(days=1), time.min, BUDAPEST)
    return DigestLine(task_id, "callback_requested", f"customer of {task_id}", own, deadline, expires)


def _status(status: TaskStatus, *, overdue: bool = False, at_risk: bool = False) -> Status:
    return Status(status, overdue, at_risk, EXPIRES)


def test_the_digest_sorts_the_advisors_tasks_into_the_days_sections() -> None:
    day, since = date(2026, 6, 2), datetime(2026, 6, 1, 7, tzinfo=BUDAPEST)
    items = [
        (_line("own-today", own=datetime(2026, 6, 2, 15, tzinfo=BUDAPEST)), _status(TaskStatus.OPEN)),
        (_line("deadline-today", deadline=day), _status(TaskStatus.OPEN)),
        (_line("later", own=datetime(2026, 6, 4, 9, tzinfo=BUDAPEST)), _status(TaskStatus.OPEN)),
        (_line("late", own=datetime(2026, 6, 1, 9, tzinfo=BUDAPEST)), _status(TaskStatus.DUE, overdue=True)),
        (_line("near"), _status(TaskStatus.OPEN, at_risk=True)),
        (_line("lapsed", deadline=date(2026, 6, 1)), _status(TaskStatus.EXPIRED)),  # expired 2 June 00:00
        (_line("old", deadline=date(2026, 5, 20)), _status(TaskStatus.EXPIRED)),  # before the last digest
        (_line("done"), _status(TaskStatus.DONE)),
    ]
    digest = build_digest("1001", day, items, BUDAPEST, since)
    listed = {section: [line.task_id for line in lines] for section, lines in digest.sections.items()}
    assert listed == {
        DigestSection.DUE_TODAY: ["own-today", "deadline-today"],
        DigestSection.OVERDUE: ["late"],
        DigestSection.AT_RISK: ["near"],
        DigestSection.EXPIRED: ["lapsed"],
    }
    assert not digest.empty
    assert build_digest("1002", day, [items[2], items[7]], BUDAPEST, since).empty
