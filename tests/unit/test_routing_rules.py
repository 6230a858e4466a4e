"""The shipped routing.yaml loads, its schema is current, and broken edits of it are explained precisely."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.config.loader import content_hash, load_rules, load_text, schema_json
from core.errors import ConfigError
from routing.plan import Stage
from routing.rules import Rules

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "routing.yaml"
SCHEMA = ROOT / "config" / "schema" / "routing.schema.json"


@pytest.fixture(scope="module")
def example_text() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


def test_the_example_loads_with_everything_a_supervisor_needs() -> None:
    rules = load_rules(EXAMPLE, Rules)
    assert [t.name for t in rules.tiers] == ["key", "important", "active", "inactive"]
    assert len(rules.agents) >= 8
    assert {level for a in rules.agents for level in a.skills.values()} == {1, 2, 3, 4, 5}
    assert len(rules.queues) >= 3
    assert any(q.escalation for q in rules.queues)
    assert any(q.hours for q in rules.queues)
    assert any(q.reserve_top_agents for q in rules.queues)
    support = rules.index.queues["support"]
    assert support.stages == (
        Stage(0, 0, 1),
        Stage(1, 1, 2),
        Stage(2, 4, 4),
        Stage(3, 4, 4, "general"),
    )


def test_committed_schema_is_current() -> None:
    """Regenerate with: python -m routing.rules config/schema/routing.schema.json"""
    assert SCHEMA.read_text(encoding="utf-8") == schema_json(Rules)


def _issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_text(text, Rules, "routing.yaml")
    return [issue["text"] for issue in caught.value.details["issues"]]


def _line_of(text: str, fragment: str) -> int:
    """The 1-based line of the first occurrence of `fragment`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in the example")


EDITS = [
    # (original fragment, replacement, expected "path message" after file:line:col)
    ("after: 30s", "after: 0", "queues[0].escalation[0].after must be > 0"),
    (
        "overflow_to: general",
        "overflow_to: genral",
        "queues[0].escalation[2].overflow_to names queue 'genral', which is not defined in queues",
    ),
    (
        "{billing: 5, tech: 3, hungarian: 5, english: 4}",
        "{billing: 5, tech: 3, hungarain: 5, english: 4}",
        "agents[0].skills.hungarain names skill 'hungarain', which is not defined in skills",
    ),
    (
        "{billing: 4, sales: 3, hungarian: 5}",
        "{billing: 6, sales: 3, hungarian: 5}",
        "agents[1].skills.billing must be <= 5",
    ),
    (
        "interface: PJSIP/1003",
        "interface: 1003",
        "agents[2].interface must be a dial string like PJSIP/1001 or Local/1001@agents, got '1003'",
    ),
    (
        "inactive: {max_wait: 420s}",
        "inactiv: {max_wait: 420s}",
        "queues[0].tiers.inactiv names tier 'inactiv', which is not defined in tiers",
    ),
    (
        "default_tier: active",
        "default_tier: normal",
        "default_tier names tier 'normal', which is not in tiers",
    ),
    (
        'friday: ["08:00-16:00"]',
        'friday: ["08:00-16.00"]',
        "queues[1].hours.weekly.friday[0] must be a time range like 08:00-17:00 "
        "(22:00-06:00 runs past midnight), got '08:00-16.00'",
    ),
    (
        "zone: Europe/Budapest",
        "zone: Europe/Budapets",
        "queues[1].hours.zone must be an IANA time zone like Europe/Budapest, got 'Europe/Budapets'",
    ),
    (
        "ring_timeout: 15s",
        "ring_timout: 15s",
        "queues[0].ring_timout is not a known setting; did you mean 'ring_timeout'?",
    ),
    (
        '- "06 20 987 6543"',
        '- "06 20 98"',
        "tiers[0].callers[1] is not a possible phone number: '06 20 98' "
        "(a local number without its area code) (default_region HU)",
    ),
    ("count: 1", "count: 0", "queues[0].reserve_top_agents.count must be >= 1"),
    (
        "for_tiers: [key]",
        "for_tiers: [vip]",
        "queues[0].reserve_top_agents.for_tiers[0] names tier 'vip', which is not defined in tiers",
    ),
    (
        "action: overflow",
        "action: leave",
        "queues[1].max_wait.action must be one of 'wait', 'overflow' or 'exit'",
    ),
    (
        "      queue: general",
        "      queue: billing",
        "queues[1].max_wait.queue overflows queue 'billing' into itself",
    ),
    (
        "policy: longest_idle",
        "policy: roundrobin",
        "queues[1].fairness.policy must be one of 'longest_idle' or 'least_occupancy'",
    ),
    (
        "holiday_country: HU",
        "holiday_country: XX",
        "queues[1].hours.holiday_country must be a country code the holidays calendar knows "
        "(HU, PL, ...), got 'XX'",
    ),
    ("level: 2", "level: two", "queues[0].level must be a whole number"),
    (
        '"1": {label: "no internet", skill: tech, level: 3}',
        '"1": {label: "no internet", skill: tech}',
        "queues[0].ivr['1'].level is required",
    ),
]


@pytest.mark.parametrize(("original", "replacement", "expected"), EDITS, ids=[e[2][:40] for e in EDITS])
def test_broken_edits_name_line_column_and_path(
    example_text: str, original: str, replacement: str, expected: str
) -> None:
    line = _line_of(example_text, original)
    lines = example_text.splitlines()
    lines[line - 1] = lines[line - 1].replace(original, replacement, 1)
    found = _issues("\n".join(lines) + "\n")
    assert len(found) == 1, found
    prefix, _, rest = found[0].partition(": ")
    assert rest == expected
    file, issue_line, column = prefix.split(":")
    assert (file, int(issue_line)) == ("routing.yaml", line)
    assert int(column) >= 1


def test_duplicate_key_points_at_the_second_one(example_text: str) -> None:
    line = _line_of(example_text, "wrap_up: 20s")
    lines = example_text.splitlines()
    lines.insert(line, lines[line - 1])
    duplicate = f"duplicate key 'wrap_up' (first defined on line {line})"
    assert _issues("\n".join(lines)) == [f"routing.yaml:{line + 1}:5: queues[0].wrap_up {duplicate}"]


def test_a_bad_indent_is_a_syntax_error_with_position(example_text: str) -> None:
    line = _line_of(example_text, "skill: billing")
    lines = example_text.splitlines()
    lines[line - 1] = "   " + lines[line - 1]
    found = _issues("\n".join(lines))
    assert len(found) == 1
    assert found[0].startswith("routing.yaml:") and "YAML syntax error" in found[0]


def test_several_mistakes_are_all_listed(example_text: str) -> None:
    text = example_text.replace("after: 30s", "after: -5").replace("level: 3}", "level: 9}", 1)
    text = text.replace("interface: PJSIP/1008", "interface: PJSIP 1008")
    found = _issues(text)
    assert [issue.split(": ", 1)[1] for issue in found] == [
        "agents[7].interface must be a dial string like PJSIP/1001 or Local/1001@agents, got 'PJSIP 1008'",
        "queues[0].ivr['1'].level must be <= 5",
        "queues[0].escalation[0].after must be > 0",
    ]


def test_cross_references_are_checked_on_direct_construction_too() -> None:
    data = {
        "default_tier": "a",
        "tiers": [{"name": "a", "priority": 1}],
        "skills": [{"name": "s"}],
        "queues": [{"name": "q", "skill": "nope", "level": 1}],
    }
    with pytest.raises(ValidationError, match=r"queues\[0\]\.skill names skill 'nope'"):
        Rules.model_validate(data)


def test_escalation_steps_after_a_final_max_wait_are_refused() -> None:
    text = """
default_tier: a
tiers: [{name: a, priority: 1}]
skills: [{name: s}]
queues:
  - name: q
    skill: s
    level: 1
    escalation: [{after_seconds: 100, widen: 1}]
    max_wait: {seconds: 60, action: exit}
"""
    assert _issues(text) == [
        "routing.yaml:9:19: queues[0].escalation[0].after_seconds is not before max_wait.seconds (60 s), "
        "so it would never run"
    ]


def test_hash_changes_with_content_only(example_text: str) -> None:
    one = load_text(example_text, Rules)
    two = load_text(example_text.replace("# Switchboard", "# Edited: Switchboard"), Rules)
    three = load_text(example_text.replace("priority: 100", "priority: 101"), Rules)
    assert content_hash(one) == content_hash(two) != content_hash(three)


def test_model_copy_rebuilds_the_index() -> None:
    rules = load_rules(EXAMPLE, Rules)
    edited = rules.model_copy(update={"default_tier": "inactive"})
    assert rules.index.default_tier == "active"
    assert edited.index.default_tier == "inactive"
