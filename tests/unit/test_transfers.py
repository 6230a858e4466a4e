"""Where a transfer goes and the waiting call it makes (routing/acd/transfers.py), by table."""

from __future__ import annotations

import re

import pytest

from core.errors import ValidationFailedError
from routing.acd.transfers import (
    TARGET_PATTERN,
    Target,
    check_target,
    parse_target,
    requeued,
    target_from_exten,
)
from routing.queue import WaitingCall
from routing.rules import Rules

RULES = Rules.model_validate(
    {
        "default_region": "HU",
        "default_tier": "active",
        "tiers": [
            {"name": "key", "priority": 100, "callers": ["+36201111111"]},
            {"name": "active", "priority": 40},
        ],
        "skills": [{"name": "tech"}, {"name": "billing"}],
        "agents": [],
        "queues": [
            {"name": "support", "skill": "tech", "level": 2},
            {"name": "billing", "skill": "billing", "level": 1, "tiers": {"key": {"priority": 120}}},
        ],
    }
)
AGENTS = frozenset({"1001", "1002"})
TALKED = WaitingCall("c1", "support", "key", 100, (("tech", 4),), entered_at=130.0, arrived_at=100.0,
                     declined_by=frozenset({"1003"}))  # fmt: skip


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("queue:billing", Target("queue", "billing")),
        (" skill:tech ", Target("skill", "tech")),
        ("agent:1002", Target("agent", "1002")),
    ],
)
def test_targets_are_read(text: str, target: Target) -> None:
    assert parse_target(text) == target
    assert target.label == text.strip()


@pytest.mark.parametrize("text", ["billing", "team:x", "queue:", ":x", ""])
def test_a_target_of_no_known_form_is_refused_naming_the_forms(text: str) -> None:
    with pytest.raises(ValidationFailedError, match=r"queue:<name>, skill:<name> or agent:<id>"):
        parse_target(text)


@pytest.mark.parametrize(
    "text", ["queue:billing", " skill:tech ", "agent:1002", "billing", "team:x", "queue:", "queue:  ", "000"]
)
def test_the_api_schema_admits_exactly_the_targets_that_are_read(text: str) -> None:
    """The transfer body's `to` pattern (the OpenAPI spec) agrees with the parser: a schema-valid
    target is never refused as malformed."""
    try:
        parse_target(text)
        read = True
    except ValidationFailedError:
        read = False
    assert (re.search(TARGET_PATTERN, text) is not None) is read


@pytest.mark.parametrize(
    ("exten", "target"),
    [
        ("queue-billing", Target("queue", "billing")),
        ("skill-tech", Target("skill", "tech")),
        ("agent-1002", Target("agent", "1002")),
        ("1002", Target("agent", "1002")),  # a phone dials digits: an agent id
        ("4711", None),
        ("hold", None),
    ],
)
def test_the_extension_a_phone_dialled_names_the_target(exten: str, target: Target | None) -> None:
    assert target_from_exten(exten, AGENTS) == target


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (Target("queue", "sales"), "no queue 'sales' to transfer to; known: billing, support"),
        (Target("skill", "french"), "no skill 'french'"),
        (Target("agent", "1009"), "no agent '1009'"),
        (Target("agent", "1001"), "cannot transfer a call to themselves"),
        (Target("skill", "tech", 7), "level 7 is not between 1 and 5"),
    ],
)
def test_targets_that_name_nothing_are_refused(target: Target, message: str) -> None:
    with pytest.raises(ValidationFailedError, match=message):
        check_target(target, RULES, AGENTS, current_agent="1001")


def test_a_queue_target_keeps_the_tier_with_its_priority_there_and_the_first_arrival() -> None:
    plan = RULES.index.queues["billing"]
    moved = requeued(TALKED, Target("queue", "billing"), plan, (("billing", 1),), now=200.0)
    assert (moved.id, moved.queue, moved.tier, moved.priority) == ("c1", "billing", "key", 120)
    assert (moved.needs, moved.entered_at, moved.since) == ((("billing", 1),), 200.0, 100.0)
    assert moved.declined_by == frozenset(), "the new queue's agents may all be offered it"


def test_a_skill_target_keeps_the_queue_and_needs_the_skill_at_the_level() -> None:
    moved = requeued(TALKED, Target("skill", "billing", 3), None, (), now=200.0)
    assert (moved.queue, moved.tier, moved.priority, moved.needs) == (
        "support",
        "key",
        100,
        (("billing", 3),),
    )


def test_a_named_agent_target_keeps_queue_and_needs() -> None:
    moved = requeued(TALKED, Target("agent", "1002"), None, (), now=200.0)
    assert (moved.queue, moved.needs, moved.entered_at, moved.since) == (
        "support",
        (("tech", 4),),
        200.0,
        100.0,
    )
