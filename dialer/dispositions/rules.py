"""Disposition automation rules (config/dispositions.yaml): which dispositions exist, what each does.

Owned here: the frozen pydantic model of the file, its loader (core.config.loader: every mistake
with file:line:col, nothing half-applies) and the built-in default. The actions are carried out
by dialer/dispositions/service.py. Rules it keeps (DESIGN.md 2.1, seed 001):
- `do_not_call` must exist and must have the `blacklist` action: an advisor's "nie dzwonić" puts
  the number on the engine's own list at once, whatever the file says otherwise. Without a
  file the default rules (`DEFAULT_RULES`) apply, which do exactly that.
- `blacklist` and `withdraw_consent` actions run first, before any other action of the rule: a
  customer's "do not call me" or "I withdraw my consent" takes effect before anything can fail.
- `robinson_request` only OPENS a request for a supervisor to review (seed 000: never automatic).
- `retry_after` and `close_lead` contradict each other in one rule and are refused together.
Regenerate the committed JSON Schema with
`python -m dialer.dispositions.rules config/schema/dispositions.schema.json`.
"""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from core.config.loader import CheckedModel, ConfigModel, Problem, load_rules, load_text, write_schema
from dialer.compliance.caps import parse_duration
from dialer.consent.validity import PURPOSE_PATTERN

DO_NOT_CALL = "do_not_call"
CODE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
MAX_DELAY = timedelta(days=366)


def _parse_delay(value: Any) -> Any:
    if isinstance(value, bool) or (isinstance(value, str) and parse_duration(value) is value):
        raise ValueError(f"must be a delay like 90s, 10m, 2h, 3d or 1h30m, got {value!r}")
    return parse_duration(value)


def _code(value: str) -> str:
    if not re.fullmatch(CODE_PATTERN, value):
        raise ValueError(
            f"must be lowercase letters, digits and _, starting with a letter (do_not_call), got {value!r}"
        )
    return value


def _delay(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be a positive duration like 90s, 10m, 2h or 3d")
    if value > MAX_DELAY:
        raise ValueError("must be at most 366d")
    return value


Delay = Annotated[
    timedelta,
    BeforeValidator(_parse_delay),
    AfterValidator(_delay),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*[smhdw]\s*)+$"},
                {"type": "integer", "minimum": 1},
            ],
            "description": "a delay: 90s, 10m, 2h, 3d, 1w, 1h30m, or a number of seconds",
        }
    ),
]


class BlacklistAction(ConfigModel):
    """Put the lead's numbers (and the number called) on the internal blacklist at once."""

    action: Literal["blacklist"]
    reason: str = Field("", max_length=200, description="recorded with the entry (default: the disposition)")


class RetryAfterAction(ConfigModel):
    """Dial the lead again, not before this delay."""

    action: Literal["retry_after"]
    after: Delay


class RobinsonRequestAction(ConfigModel):
    """Open a Robinson-list request (pending) for a supervisor to review; the advisor is the requester."""

    action: Literal["robinson_request"]
    justification: str = Field("", max_length=500, description="used when the advisor left no note")


class CloseLeadAction(ConfigModel):
    """Close the lead: it is never dialed again."""

    action: Literal["close_lead"]
    reason: str = Field("", max_length=200)


class WithdrawConsentAction(ConfigModel):
    """Withdraw the customer's consent for the number called (else all the lead's numbers) at once:
    the gate refuses the next dial of a campaign that needs it."""

    action: Literal["withdraw_consent"]
    purpose: str | None = Field(
        None,
        pattern=PURPOSE_PATTERN,
        description="only this purpose (e.g. marketing); default: every purpose",
    )


AnyAction = (
    BlacklistAction | RetryAfterAction | RobinsonRequestAction | CloseLeadAction | WithdrawConsentAction
)
Action = Annotated[AnyAction, Field(discriminator="action")]


class DispositionRule(ConfigModel):
    """One disposition an advisor can set, and the actions it triggers."""

    code: Annotated[str, AfterValidator(_code)] = Field(
        json_schema_extra={"pattern": CODE_PATTERN}, description="what the API receives, e.g. do_not_call"
    )
    label: str = Field("", max_length=100, description="what advisors see, e.g. Nie dzwonić")
    description: str = Field("", max_length=500)
    actions: tuple[Action, ...] = ()

    def ordered_actions(self) -> list[AnyAction]:
        """The actions in the order they run: blacklist, then withdraw_consent, then as written."""
        first = ("blacklist", "withdraw_consent")
        return sorted(
            self.actions, key=lambda action: first.index(action.action) if action.action in first else 2
        )


class DispositionRules(CheckedModel):
    """The whole of config/dispositions.yaml."""

    dispositions: tuple[DispositionRule, ...] = Field(min_length=1)

    def rule(self, code: str) -> DispositionRule | None:
        return next((rule for rule in self.dispositions if rule.code == code), None)

    @property
    def codes(self) -> list[str]:
        return [rule.code for rule in self.dispositions]

    def cross_check(self) -> list[Problem]:
        problems: list[Problem] = []
        seen: dict[str, int] = {}
        for index, rule in enumerate(self.dispositions):
            if rule.code in seen:
                where = ("dispositions", index, "code")
                problems.append(Problem(where, f"repeats the code of dispositions[{seen[rule.code]}]"))
            seen.setdefault(rule.code, index)
            problems += _rule_problems(index, rule)
        if DO_NOT_CALL not in seen:
            problems.append(
                Problem(("dispositions",), f"must define {DO_NOT_CALL!r} (with the blacklist action)")
            )
        return problems


def _rule_problems(index: int, rule: DispositionRule) -> list[Problem]:
    problems: list[Problem] = []
    kinds = [action.action for action in rule.actions]
    for position, kind in enumerate(kinds):
        if kind in kinds[:position]:
            problems.append(Problem(("dispositions", index, "actions", position), f"repeats {kind}"))
    if "retry_after" in kinds and "close_lead" in kinds:
        where = ("dispositions", index, "actions")
        problems.append(Problem(where, "has both retry_after and close_lead; keep one"))
    if rule.code == DO_NOT_CALL and "blacklist" not in kinds:
        where = ("dispositions", index, "actions")
        message = "of do_not_call must include `- action: blacklist` (the number goes on the internal list)"
        problems.append(Problem(where, message))
    return problems


DEFAULT_RULES_YAML = """
dispositions:
  - code: do_not_call
    label: Do not call
    actions:
      - action: blacklist
        reason: customer asked not to be called
      - action: close_lead
        reason: do not call
  - code: consent_withdrawn
    label: Consent withdrawn
    actions:
      - action: withdraw_consent
      - action: close_lead
        reason: consent withdrawn
"""

DEFAULT_RULES = load_text(DEFAULT_RULES_YAML, DispositionRules, "<default dispositions>")


def load_dispositions(path: str | Path) -> DispositionRules:
    """Read and validate config/dispositions.yaml; ConfigError lists every mistake with file:line:col."""
    return load_rules(path, DispositionRules)


if __name__ == "__main__":  # python -m dialer.dispositions.rules config/schema/dispositions.schema.json
    write_schema(DispositionRules, sys.argv[1])
