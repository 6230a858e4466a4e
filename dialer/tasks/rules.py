"""Follow-up task rules (config/tasks.yaml) and the task read model.

Owned here: the frozen pydantic model of the file (`TaskRules`, the hook `switchboard check-config`
and the hot reload use), its built-in default, and `Task`, a stored task as everyone reads it.
The arithmetic is dialer/tasks/deadlines.py; the Redis side is dialer/tasks/store.py.
Rules it keeps (DESIGN.md 2.3, seed 002, issue 5):
- A rule maps call results (dialer.compliance.caps.CallResult) and/or disposition codes to a task kind with a
  central deadline (`DeadlineRule`: N calendar or business days). A result or a code starts at
  most one rule, so a disposition never creates two competing tasks.
- `at_risk_margin` is how close the deadline must be for a task to count as at risk, and for the
  dialer to escalate a callback to any advisor with the campaign's skills; `overdue_grace` is how
  long after its own time an unhandled task turns overdue; `stale_after_days` feeds the stale
  report; `redial_after` is when a dialed callback that nobody closed is due again.
- Customer notifications (own time set or changed) always go to the Redis stream when enabled; a
  webhook is optional, with its retries and backoff.
Regenerate the committed JSON Schema with `python -m dialer.tasks.rules config/schema/tasks.schema.json`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator

from core.config.loader import CheckedModel, ConfigModel, Problem, load_rules, load_text, write_schema
from dialer.audit import text
from dialer.compliance.caps import CallResult
from dialer.dispositions.rules import CODE_PATTERN, Delay
from dialer.tasks.deadlines import DeadlineRule, Status, task_status
from dialer.tasks.reminders import Reminder, ReminderAnchor

ENV_NAME = r"^[A-Z_][A-Z0-9_]{0,63}$"


def _code(value: str) -> str:
    if not re.fullmatch(CODE_PATTERN, value):
        raise ValueError(f"must be lowercase letters, digits and _, starting with a letter, got {value!r}")
    return value


Code = Annotated[str, AfterValidator(_code), Field(json_schema_extra={"pattern": CODE_PATTERN})]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
    return value


class TaskRule(ConfigModel):
    """One kind of follow-up task: what creates it and its central deadline."""

    kind: Code = Field(description="the task kind, e.g. not_reachable")
    label: str = Field("", max_length=100, description="what advisors see, e.g. Nem érhető el")
    description: str = Field("", max_length=500)
    on_results: tuple[CallResult, ...] = Field((), description="call results that create this task")
    on_dispositions: tuple[Code, ...] = Field((), description="disposition codes that create this task")
    deadline: DeadlineRule
    callback: bool = Field(True, description="the dialer calls the customer at the advisor's own time")


class WebhookRules(ConfigModel):
    """Where customer notifications are POSTed (JSON), besides the Redis stream."""

    url: Annotated[str, AfterValidator(_http_url)] = Field(description="http(s) endpoint of the sender")
    timeout: Delay = Field(timedelta(seconds=5), description="per request")
    retries: int = Field(5, ge=0, le=50, description="attempts after the first before giving up")
    backoff: Delay = Field(timedelta(seconds=10), description="wait before the first retry; doubles")
    max_backoff: Delay = Field(timedelta(minutes=10), description="the longest wait between retries")
    bearer_token_env: Annotated[str, Field(pattern=ENV_NAME)] | None = Field(
        None, description="environment variable with a token sent as Authorization: Bearer"
    )


class NotificationRules(ConfigModel):
    """Customer notifications when an advisor sets or changes an own task time."""

    enabled: bool = True
    webhook: WebhookRules | None = None


class ReminderDefault(ConfigModel):
    """The reminder a task gets until its advisor chooses another (seed 002: every task has one)."""

    before: Delay = Field(timedelta(hours=1), description="how long before the anchor, 0 to 30 days")
    of: ReminderAnchor = Field(
        ReminderAnchor.OWN_TIME, description="own_time (the deadline while there is none) or deadline"
    )

    @model_validator(mode="after")
    def _in_range(self) -> Self:
        Reminder(self.before, self.of)  # raises ValueError with the range
        return self

    @property
    def reminder(self) -> Reminder:
        return Reminder(self.before, self.of)


class DigestRules(ConfigModel):
    """The morning e-mail of each advisor's tasks of the day."""

    enabled: bool = True
    at: time = Field(time(7, 0), description="local time in the contact center's zone, e.g. 07:30")


class ReminderRules(ConfigModel):
    """Advisor reminders and the morning digest, both by e-mail (settings: mail)."""

    default: ReminderDefault = ReminderDefault()
    digest: DigestRules = DigestRules()


class TaskRules(CheckedModel):
    """The whole of config/tasks.yaml."""

    version: Literal[1] = 1
    at_risk_margin: Delay = Field(timedelta(hours=4), description="deadline this close: at risk, escalate")
    overdue_grace: Delay = Field(timedelta(minutes=15), description="own time passed by this: overdue")
    redial_after: Delay = Field(timedelta(minutes=30), description="a dialed callback nobody closed")
    stale_after_days: int = Field(30, ge=1, le=3650, description="callbacks unhandled this long: stale")
    notifications: NotificationRules = NotificationRules()
    reminders: ReminderRules = ReminderRules()
    tasks: tuple[TaskRule, ...] = Field(min_length=1)

    @cached_property
    def by_kind(self) -> dict[str, TaskRule]:
        return {rule.kind: rule for rule in self.tasks}

    def rule(self, kind: str) -> TaskRule | None:
        return self.by_kind.get(kind)

    def for_result(self, result: str) -> TaskRule | None:
        return next((r for r in self.tasks if any(item.value == result for item in r.on_results)), None)

    def for_disposition(self, code: str) -> TaskRule | None:
        return next((rule for rule in self.tasks if code in rule.on_dispositions), None)

    @property
    def kinds(self) -> list[str]:
        return [rule.kind for rule in self.tasks]

    def cross_check(self) -> list[Problem]:
        problems: list[Problem] = []
        kinds: dict[str, int] = {}
        triggers: dict[tuple[str, str], int] = {}
        for index, rule in enumerate(self.tasks):
            if rule.kind in kinds:
                message = f"repeats the kind of tasks[{kinds[rule.kind]}]"
                problems.append(Problem(("tasks", index, "kind"), message))
            kinds.setdefault(rule.kind, index)
            named = [("on_results", r.value) for r in rule.on_results]
            named += [("on_dispositions", code) for code in rule.on_dispositions]
            for field, value in named:
                if (field, value) in triggers:
                    where = ("tasks", index, field)
                    message = f"{value!r} already creates tasks[{triggers[(field, value)]}]; one rule each"
                    problems.append(Problem(where, message))
                triggers.setdefault((field, value), index)
        return problems

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("by_kind", None)
        return copied


DEFAULT_RULES_YAML = """
tasks:
  - kind: not_reachable
    label: Customer not reachable
    on_results: [no_answer, busy, answering_machine]
    on_dispositions: [not_reachable]
    deadline: {days: 2}
  - kind: callback_requested
    label: Callback requested
    on_dispositions: [callback_later]
    deadline: {days: 14}
  - kind: documents_promised
    label: Documents promised
    on_dispositions: [documents_promised]
    deadline: {days: 7, count: business, country: HU}
"""

DEFAULT_TASK_RULES = load_text(DEFAULT_RULES_YAML, TaskRules, "<default tasks>")


def load_task_rules(path: str | Path) -> TaskRules:
    """Read and validate config/tasks.yaml; ConfigError lists every mistake with file:line:col."""
    return load_rules(path, TaskRules)


# --- the stored task ------------------------------------------------------------------------

STATES = ("open", "done", "expired")


def _ms(value: str) -> datetime | None:
    return datetime.fromtimestamp(int(value) / 1000, UTC) if value not in ("", "0") else None


@dataclass(frozen=True, slots=True)
class Task:
    """A follow-up task as stored (state open, done or expired) and as every reader sees it."""

    task_id: str
    kind: str
    lead_id: str
    customer_id: str
    campaign_id: str | None
    owner: str | None
    number: str | None
    zone: str | None
    callback: bool
    source: str
    created_at: datetime
    created_by: str
    note: str
    deadline_date: date
    cc_zone: str
    expires_at: datetime
    own_time: datetime | None
    own_version: int
    state: str
    closed_at: datetime | None
    closed_by: str | None
    close_code: str | None
    disposition_id: str | None
    archived_at: datetime | None
    archived_by: str | None
    last_dialed_at: datetime | None
    dials: int
    last_activity_at: datetime
    reactivated_from: str | None
    reactivated_to: str | None
    answered_at: datetime | None = None  # the callback was answered (handled, issue 14)
    reminder_before_s: int | None = None  # the advisor's reminder: seconds before its anchor
    reminder_of: str = ReminderAnchor.OWN_TIME.value
    remind_at: datetime | None = None  # when it goes out (None: queued already, or closed)
    reminded_at: datetime | None = None  # when it was queued for e-mail

    @property
    def reminder(self) -> Reminder | None:
        if self.reminder_before_s is None:
            return None
        return Reminder(timedelta(seconds=self.reminder_before_s), ReminderAnchor(self.reminder_of))

    @classmethod
    def from_hash(cls, raw: Mapping[Any, Any]) -> Task:
        h = {text(k): text(v) for k, v in raw.items()}

        def opt(name: str) -> str | None:
            return h.get(name) or None

        def when(name: str) -> datetime | None:
            return _ms(h.get(name, ""))

        created = when("created_ms") or datetime.fromtimestamp(0, UTC)
        return cls(
            task_id=h["task_id"], kind=h.get("kind", ""), lead_id=h.get("lead_id", ""),
            customer_id=h.get("customer_id", ""), campaign_id=opt("campaign_id"), owner=opt("owner"),
            number=opt("number"), zone=opt("zone"), callback=h.get("callback") == "1",
            source=h.get("source", ""), created_at=created, created_by=h.get("created_by", ""),
            note=h.get("note", ""), deadline_date=date.fromisoformat(h["deadline"]), cc_zone=h["cc_zone"],
            expires_at=when("expires_ms") or created, own_time=when("own_ms"),
            own_version=int(h.get("own_version") or 0), state=h.get("state", "open"),
            closed_at=when("closed_ms"), closed_by=opt("closed_by"), close_code=opt("close_code"),
            disposition_id=opt("disposition_id"), archived_at=when("archived_ms"),
            archived_by=opt("archived_by"), last_dialed_at=when("dialed_ms"), dials=int(h.get("dials") or 0),
            last_activity_at=when("activity_ms") or created, reactivated_from=opt("reactivated_from"),
            reactivated_to=opt("reactivated_to"), answered_at=when("answered_ms"),
            reminder_before_s=int(h["remind_before_s"]) if h.get("remind_before_s") else None,
            reminder_of=h.get("remind_of") or ReminderAnchor.OWN_TIME.value, remind_at=when("remind_ms"),
            reminded_at=when("reminded_ms"),
        )  # fmt: skip

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    def status(self, now: datetime, rules: TaskRules, owner_available: bool = True) -> Status:
        """open / due / done / expired with the overdue and at-risk flags, at `now`."""
        at = max(now, self.expires_at) if self.state == "expired" else now  # swept: expired, whatever now
        return task_status(self, at, rules.at_risk_margin, owner_available, overdue_grace=rules.overdue_grace)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            data[item.name] = value.isoformat() if isinstance(value, datetime | date) else value
        return data


if __name__ == "__main__":  # python -m dialer.tasks.rules config/schema/tasks.schema.json
    write_schema(TaskRules, sys.argv[1] if len(sys.argv) > 1 else "config/schema/tasks.schema.json")
