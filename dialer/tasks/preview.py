"""Rehearsing the deadline rules: what each rule of tasks.yaml would give for a result at an instant.

Owned here: `preview`, pure (rules, an instant, the contact center's zone in; rows out), behind
`switchboard tasks preview` and `GET /api/v1/tasks:preview`, so a supervisor can check a change
to tasks.yaml ("2 business days from Thursday before Easter?") without a fake OS clock and
without creating a task. It uses the same functions the task store does (dialer.tasks.deadlines,
dialer.tasks.reminders), so the preview and the real task cannot differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from dialer.tasks.deadlines import (
    OwnTimeRefusedError,
    central_deadline,
    deadline_label,
    expiry_instant,
    validate_own_time,
)
from dialer.tasks.reminders import Reminder, ReminderAnchor, reminder_instant
from dialer.tasks.rules import TaskRule, TaskRules


@dataclass(frozen=True, slots=True)
class RulePreview:
    kind: str
    label: str
    trigger: str  # what starts the rule: results and dispositions
    created_at: datetime
    deadline: date
    deadline_label: str
    expires_at: datetime  # the first instant the task is expired
    at_risk_from: datetime  # from here it is at risk (no own time, owner away) and escalated
    own_time: datetime | None
    own_time_refused: str | None  # why the given own time would be refused
    reminder: Reminder
    reminder_at: datetime
    callback: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "label": self.label, "trigger": self.trigger,
            "created_at": self.created_at.isoformat(), "deadline": self.deadline.isoformat(),
            "deadline_label": self.deadline_label, "expires_at": self.expires_at.isoformat(),
            "at_risk_from": self.at_risk_from.isoformat(),
            "own_time": self.own_time.isoformat() if self.own_time else None,
            "own_time_refused": self.own_time_refused,
            "reminder": {"before_seconds": int(self.reminder.before.total_seconds()), "of": self.reminder.of},
            "reminder_at": self.reminder_at.isoformat(), "reminder_anchor": self.reminder_anchor,
            "callback": self.callback,
        }  # fmt: skip

    @property
    def reminder_anchor(self) -> str:
        """What the reminder is counted from here: the own time only when there is one."""
        own = self.reminder.of is ReminderAnchor.OWN_TIME and self.own_time is not None
        return ReminderAnchor.OWN_TIME.value if own else ReminderAnchor.DEADLINE.value


def _trigger(rule: TaskRule) -> str:
    parts = [f"result {item.value}" for item in rule.on_results]
    parts += [f"disposition {code}" for code in rule.on_dispositions]
    return ", ".join(parts) or "advisor only"


def rules_for(
    rules: TaskRules, *, result: str | None = None, disposition: str | None = None
) -> list[TaskRule]:
    """The rules a result and / or a disposition start (at most one each), or every rule when
    neither is given."""
    if result is None and disposition is None:
        return list(rules.tasks)
    found = [rules.for_result(result) if result is not None else None]
    found.append(rules.for_disposition(disposition) if disposition is not None else None)
    unique = {rule.kind: rule for rule in found if rule is not None}
    return list(unique.values())


def preview(
    rules: TaskRules,
    at: datetime,
    cc_zone: str,
    *,
    result: str | None = None,
    disposition: str | None = None,
    own_time: datetime | None = None,
    reminder: Reminder | None = None,
) -> list[RulePreview]:
    """For a task created at `at`: each rule's deadline, expiry, at-risk start and reminder."""
    remind = reminder or rules.reminders.default.reminder
    rows = []
    for rule in rules_for(rules, result=result, disposition=disposition):
        deadline = central_deadline(rule.deadline, at, cc_zone)
        expires = expiry_instant(deadline, cc_zone)
        own, refused = None, None
        if own_time is not None:
            try:
                own = validate_own_time(own_time, deadline, cc_zone, at)
            except OwnTimeRefusedError as exc:
                refused = exc.message
        row = RulePreview(
            kind=rule.kind, label=rule.label, trigger=_trigger(rule), created_at=at.astimezone(UTC),
            deadline=deadline, deadline_label=deadline_label(deadline, cc_zone), expires_at=expires,
            at_risk_from=expires - rules.at_risk_margin, own_time=own, own_time_refused=refused,
            reminder=remind, reminder_at=max(reminder_instant(remind, own, expires), at.astimezone(UTC)),
            callback=rule.callback,
        )  # fmt: skip
        rows.append(row)
    return rows
