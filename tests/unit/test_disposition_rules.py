"""Disposition automation rules: the shipped file loads, its schema is current, mistakes are explained."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from core.config.loader import load_text, schema_json
from core.errors import ConfigError
from dialer.dispositions.rules import (
    DEFAULT_RULES,
    BlacklistAction,
    DispositionRules,
    RetryAfterAction,
    load_dispositions,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "dispositions.yaml"
SCHEMA = ROOT / "config" / "schema" / "dispositions.schema.json"


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_text(text, DispositionRules, "d.yaml")
    return [issue["text"] for issue in caught.value.details["issues"]]


def test_the_shipped_example_loads() -> None:
    rules = load_dispositions(EXAMPLE)
    assert {"do_not_call", "no_answer", "spam_lead", "sale"} <= set(rules.codes)
    do_not_call = rules.rule("do_not_call")
    assert do_not_call is not None and do_not_call.label.startswith("Do not call (nie dzwonić")
    no_answer = rules.rule("no_answer")
    assert no_answer is not None and no_answer.actions == (
        RetryAfterAction(action="retry_after", after="2h"),
    )


def test_committed_schema_is_current() -> None:
    """Regenerate with: python -m dialer.dispositions.rules config/schema/dispositions.schema.json"""
    assert SCHEMA.read_text(encoding="utf-8") == schema_json(DispositionRules)


def test_default_rules_blacklist_do_not_call() -> None:
    rule = DEFAULT_RULES.rule("do_not_call")
    assert rule is not None and isinstance(rule.actions[0], BlacklistAction)


def test_blacklist_runs_first_whatever_the_order() -> None:
    rules = load_text(
        """
dispositions:
  - code: do_not_call
    actions:
      - action: close_lead
      - action: robinson_request
      - action: blacklist
""",
        DispositionRules,
    )
    rule = rules.rule("do_not_call")
    assert rule is not None
    assert [a.action for a in rule.ordered_actions()] == ["blacklist", "close_lead", "robinson_request"]


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(minutes=90)),
        ("3d", timedelta(days=3)),
        (600, timedelta(minutes=10)),
    ],
)
def test_delays(after: object, expected: timedelta) -> None:
    rules = load_text(
        f"""
dispositions:
  - code: do_not_call
    actions: [{{action: blacklist}}]
  - code: busy
    actions: [{{action: retry_after, after: {after}}}]
""",
        DispositionRules,
    )
    rule = rules.rule("busy")
    assert rule is not None and isinstance(rule.actions[0], RetryAfterAction)
    assert rule.actions[0].after == expected


def test_do_not_call_must_exist() -> None:
    assert issues("dispositions:\n  - code: sale\n    actions: [{action: close_lead}]\n") == [
        "d.yaml:1:1: dispositions must define 'do_not_call' (with the blacklist action)"
    ]


def test_do_not_call_must_blacklist() -> None:
    found = issues("dispositions:\n  - code: do_not_call\n    actions:\n      - action: close_lead\n")
    assert found == [
        "d.yaml:3:5: dispositions[0].actions of do_not_call must include `- action: blacklist` "
        "(the number goes on the internal list)"
    ]


def test_every_mistake_is_reported_with_its_line() -> None:
    text = """\
dispositions:
  - code: do_not_call
    actions:
      - action: blacklist
  - code: Busy Signal
    actions:
      - action: retry_after
        after: soon
  - code: sale
    actions:
      - action: close_lead
      - action: retry_after
        after: 0s
  - code: sale
    actions:
      - action: call_twice
"""
    found = issues(text)
    assert found == [
        "d.yaml:5:5: dispositions[1].code must be lowercase letters, digits and _, starting with a letter "
        "(do_not_call), got 'Busy Signal'",
        "d.yaml:7:9: dispositions[1].actions[0].retry_after.after must be a delay like 90s, 10m, 2h, 3d "
        "or 1h30m, got 'soon'",
        "d.yaml:12:9: dispositions[2].actions[1].retry_after.after must be a positive duration like 90s, "
        "10m, 2h or 3d",
        "d.yaml:16:9: dispositions[3].actions[0] input tag 'call_twice' found using 'action' does not match "
        "any of the expected tags: 'blacklist', 'retry_after', 'robinson_request', 'close_lead', "
        "'withdraw_consent'",
    ]


def test_cross_checks_after_the_fields_validate() -> None:
    text = """\
dispositions:
  - code: do_not_call
    actions:
      - action: blacklist
  - code: sale
    actions:
      - action: close_lead
      - action: retry_after
        after: 1h
  - code: sale
    actions:
      - action: close_lead
      - action: close_lead
"""
    assert issues(text) == [
        "d.yaml:6:5: dispositions[1].actions has both retry_after and close_lead; keep one",
        "d.yaml:10:5: dispositions[2].code repeats the code of dispositions[1]",
        "d.yaml:13:9: dispositions[2].actions[1] repeats close_lead",
    ]
