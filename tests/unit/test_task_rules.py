"""tasks.yaml (dialer/tasks/rules.py): the shipped example, the schema, and every mistake with file:line."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from core.config.loader import content_hash, load_text, schema_json
from core.errors import ConfigError
from dialer.tasks.deadlines import DayCount, TaskStatus
from dialer.tasks.notifications import customer_notice, customer_zone
from dialer.tasks.rules import DEFAULT_TASK_RULES, Task, TaskRules, load_task_rules
from switchboard.config_check import default_registry

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "tasks.yaml"
SCHEMA = ROOT / "config" / "schema" / "tasks.schema.json"

MINIMAL = """
tasks:
  - kind: not_reachable
    on_results: [no_answer]
    deadline: {days: 2}
"""


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_text(text, TaskRules, "tasks.yaml")
    return [issue["text"] for issue in caught.value.details["issues"]]


def test_the_shipped_example_is_valid_and_says_what_seed_002_says() -> None:
    rules = load_task_rules(EXAMPLE)
    assert rules.kinds == ["not_reachable", "callback_requested", "documents_promised"]
    assert rules.for_result("no_answer") is rules.rule("not_reachable")
    assert rules.for_disposition("callback_later") is rules.rule("callback_requested")
    assert rules.for_result("answered") is None and rules.for_disposition("sale") is None
    days = {kind: rule.deadline.days for kind, rule in rules.by_kind.items()}
    assert days == {"not_reachable": 2, "callback_requested": 14, "documents_promised": 7}
    documents = rules.by_kind["documents_promised"].deadline
    assert (documents.days, documents.count, documents.country) == (7, DayCount.BUSINESS, "HU")
    assert rules.at_risk_margin == timedelta(hours=6)
    assert rules.notifications.enabled and rules.notifications.webhook is None


def test_the_committed_schema_is_current() -> None:
    """Regenerate with: python -m dialer.tasks.rules config/schema/tasks.schema.json"""
    assert SCHEMA.read_text(encoding="utf-8") == schema_json(TaskRules)


def test_check_config_finds_the_tasks_validator_by_name() -> None:
    report = default_registry().check_file(EXAMPLE)
    assert (report.kind, report.ok, report.note) == ("tasks", True, "")


def test_the_default_rules_match_the_issue() -> None:
    assert DEFAULT_TASK_RULES.kinds == ["not_reachable", "callback_requested", "documents_promised"]
    assert DEFAULT_TASK_RULES.overdue_grace == timedelta(minutes=15)
    assert DEFAULT_TASK_RULES.at_risk_margin == timedelta(hours=4)


def test_a_minimal_file_gets_the_defaults_and_a_stable_hash() -> None:
    rules = load_text(MINIMAL, TaskRules)
    assert rules.redial_after == timedelta(minutes=30) and rules.stale_after_days == 30
    assert content_hash(rules) == content_hash(load_text(MINIMAL + "\n# a comment\n", TaskRules))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MINIMAL + "  - kind: not_reachable\n    deadline: {days: 3}\n",
            "tasks.yaml:6:5: tasks[1].kind repeats the kind of tasks[0]",
        ),
        (
            MINIMAL + "  - kind: other\n    on_results: [busy, no_answer]\n    deadline: {days: 3}\n",
            "tasks.yaml:7:5: tasks[1].on_results 'no_answer' already creates tasks[0]; one rule each",
        ),
        (
            "tasks:\n  - kind: x\n    on_results: [not_home]\n    deadline: {days: 1}\n",
            "tasks.yaml:3:18: tasks[0].on_results[0] must be one of 'answered', 'busy'",
        ),
        (
            "tasks:\n  - kind: Callback\n    deadline: {days: 1}\n",
            "tasks.yaml:2:5: tasks[0].kind must be lowercase letters, digits and _",
        ),
        (
            "tasks:\n  - kind: x\n    deadline: {days: -1}\n",
            "tasks.yaml:3:16: tasks[0].deadline.days must be >= 0",
        ),
        (
            "tasks:\n  - kind: x\n    deadline: {days: 2, count: business, country: XX}\n",
            "tasks.yaml:3:5: tasks[0].deadline no holiday calendar for 'XX'",
        ),
        (
            "at_risk_margin: soon\n" + MINIMAL,
            "tasks.yaml:1:1: at_risk_margin must be a delay like 90s, 10m, 2h, 3d or 1h30m",
        ),
        (
            "notifications:\n  webhook: {url: ftp://x}\n" + MINIMAL,
            "tasks.yaml:2:13: notifications.webhook.url must be an http:// or https:// URL",
        ),
        ("tasks: []\n", "tasks.yaml:1:1: tasks must have at least 1 item"),
        (MINIMAL + "deadlines: {}\n", "tasks.yaml:6:1: deadlines"),
    ],
)
def test_every_mistake_is_reported_with_its_place(text: str, expected: str) -> None:
    found = issues(text)
    assert any(issue.startswith(expected) for issue in found), found


def test_all_mistakes_are_reported_at_once() -> None:
    text = "overdue_grace: never\ntasks:\n  - kind: A\n    deadline: {days: x}\n"
    assert len(issues(text)) == 3


# --- the read model and the notice ----------------------------------------------------------


def task(**overrides: object) -> Task:
    fields: dict[str, object] = {
        "task_id": "t-1", "kind": "callback_requested", "lead_id": "L1", "customer_id": "C1",
        "campaign_id": "c1", "owner": "anna", "number": "+36301234567", "zone": None, "callback": True,
        "source": "advisor", "created_at": datetime(2026, 6, 1, 8, tzinfo=UTC), "created_by": "anna",
        "note": "", "deadline_date": date(2026, 6, 15), "cc_zone": "Europe/Budapest",
        "expires_at": datetime(2026, 6, 15, 22, tzinfo=UTC), "own_time": None, "own_version": 0,
        "state": "open", "closed_at": None, "closed_by": None, "close_code": None, "disposition_id": None,
        "archived_at": None, "archived_by": None, "last_dialed_at": None, "dials": 0,
        "last_activity_at": datetime(2026, 6, 1, 8, tzinfo=UTC), "reactivated_from": None,
        "reactivated_to": None,
    }  # fmt: skip
    fields.update(overrides)
    return Task(**fields)  # type: ignore[arg-type]


def test_a_swept_task_reads_expired_even_on_a_clock_that_lags() -> None:
    swept = task(state="expired")
    lagging = datetime(2026, 6, 15, 21, 59, tzinfo=UTC)
    assert swept.status(lagging, DEFAULT_TASK_RULES).status is TaskStatus.EXPIRED
    assert task().status(lagging, DEFAULT_TASK_RULES).status is TaskStatus.OPEN


@pytest.mark.parametrize(
    ("number", "zone", "expected"),
    [
        ("+36301234567", None, "Europe/Budapest"),
        ("+48601234567", None, "Europe/Warsaw"),
        ("+12125550100", None, "America/New_York"),
        ("+18005550100", None, "Europe/Budapest"),  # toll-free: many zones, the center's
        ("+36301234567", "Europe/London", "Europe/London"),  # the lead's override
    ],
)
def test_the_notice_shows_the_promised_time_in_the_customers_zone(
    number: str, zone: str | None, expected: str
) -> None:
    item = task(number=number, zone=zone)
    assert customer_zone(item) == expected
    own = datetime(2026, 6, 3, 8, 30, tzinfo=UTC)
    notice = customer_notice(item, None, own, datetime(2026, 6, 1, 9, tzinfo=UTC))
    assert notice["promised_at"] == "2026-06-03T08:30:00+00:00"
    assert datetime.fromisoformat(notice["promised_local"]) == own
    assert notice["customer_zone"] == expected and notice["phone"] == number
    assert all(isinstance(value, str) for value in notice.values())
