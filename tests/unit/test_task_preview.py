"""Rehearsing the task rules (`switchboard tasks preview`, POST /api/v1/tasks:preview): the
instants each rule would give, from the same arithmetic as the real tasks, without a fake clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dialer.tasks.preview import preview
from dialer.tasks.reminders import Reminder, ReminderAnchor
from dialer.tasks.rules import DEFAULT_TASK_RULES
from switchboard.cli import main

BUDAPEST = ZoneInfo("Europe/Budapest")
ZONE = "Europe/Budapest"


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BUDAPEST)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("at", "trigger", "kind", "deadline", "expires"),
    [
        # unreachable on Thursday before Easter: 2 calendar days, the Saturday
        (local(2026, 4, 2, 16, 30), {"result": "busy"}, "not_reachable", "2026-04-04", local(2026, 4, 5)),
        # documents: 7 business days in Hungary skip Good Friday and Easter Monday
        (local(2026, 4, 2, 16, 30), {"disposition": "documents_promised"}, "documents_promised", "2026-04-15",
         local(2026, 4, 16)),
        # created at 23:30 UTC on 31 March is already 1 April in Budapest
        (datetime(2026, 3, 31, 23, 30, tzinfo=UTC), {"disposition": "callback_later"}, "callback_requested",
         "2026-04-15", local(2026, 4, 16)),
    ],
)
def test_each_rule_gives_the_deadline_of_a_real_task(
    at: datetime, trigger: dict[str, str], kind: str, deadline: str, expires: datetime
) -> None:
    [row] = preview(DEFAULT_TASK_RULES, at, ZONE, **trigger)
    assert (row.kind, row.deadline.isoformat(), row.expires_at) == (kind, deadline, expires)
    assert row.at_risk_from == expires - timedelta(hours=4)
    assert (row.reminder_at, row.reminder_anchor) == (expires - timedelta(hours=1), "deadline")


def test_an_own_time_is_checked_and_the_reminder_follows_it() -> None:
    at = local(2026, 6, 1, 10)
    [row] = preview(DEFAULT_TASK_RULES, at, ZONE, disposition="callback_later", own_time=local(2026, 6, 3, 9))
    assert (row.own_time, row.own_time_refused) == (local(2026, 6, 3, 9), None)
    assert (row.reminder_at, row.reminder_anchor) == (local(2026, 6, 3, 8), "own_time")
    day_before = Reminder(timedelta(days=1), ReminderAnchor.DEADLINE)
    too_late = local(2026, 6, 4, 9)
    [late] = preview(DEFAULT_TASK_RULES, at, ZONE, result="busy", own_time=too_late, reminder=day_before)
    assert late.own_time is None
    deadline = "the central deadline 2026-06-03 23:59:59 Europe/Budapest"
    assert late.own_time_refused == f"own time 2026-06-04 09:00 is after {deadline}"
    assert late.reminder_at == local(2026, 6, 3)


def test_a_result_no_rule_starts_gives_nothing_and_no_filter_gives_every_rule() -> None:
    at = local(2026, 6, 1, 10)
    assert preview(DEFAULT_TASK_RULES, at, ZONE, result="answered") == []
    assert [row.kind for row in preview(DEFAULT_TASK_RULES, at, ZONE)] == DEFAULT_TASK_RULES.kinds


def test_the_cli_prints_the_instants_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["tasks", "preview", "--at", "2026-04-02T16:30", "--result", "no_answer", "--json"])
    assert code == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["deadline_label"] == "2026-04-04 23:59:59 Europe/Budapest"
    assert row["expires_at"] == "2026-04-04T22:00:00+00:00"


def test_the_cli_names_a_bad_instant(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["tasks", "preview", "--at", "next tuesday"])
    assert exit_.value.code == 2
    assert "argument --at: 'next tuesday' is not a date and time" in capsys.readouterr().err


def test_a_result_and_a_disposition_together_give_the_rule_of_each() -> None:
    at = local(2026, 6, 1, 10)
    rows = preview(DEFAULT_TASK_RULES, at, ZONE, result="busy", disposition="callback_later")
    assert [row.kind for row in rows] == ["not_reachable", "callback_requested"]
    same = preview(DEFAULT_TASK_RULES, at, ZONE, result="busy", disposition="not_reachable")
    assert [row.kind for row in same] == ["not_reachable"]
