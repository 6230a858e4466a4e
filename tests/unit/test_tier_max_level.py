"""Seed 003: a tier caps the level a call needs (unpromising callers to novices first), with the
queue's own escalation when no novice is free; explain shows it; check-config refuses nonsense."""

from __future__ import annotations

import pytest

from core.config.loader import load_text
from core.errors import ConfigError
from routing.agent_events import AgentState
from routing.classify import classify
from routing.explain import explain_caller
from routing.queue import WaitingCall
from routing.rules import Rules
from routing.selection import Outcome, decide
from routing.snapshot import AgentView, Snapshot

NOW = 1_750_000_000.0

RULES_YAML = """
default_tier: active
tiers:
  - {name: key, priority: 100, min_level: 5}
  - {name: active, priority: 40}
  - name: unpromising
    priority: 10
    max_level: 1
    crm: [{field: status, values: [churned]}]
skills: [{name: tech}]
queues:
  - name: support
    skill: tech
    level: 3
    match: {above: 2, below: 0}
    escalation:
      - {after_seconds: 30, widen: 1}
      - {after_seconds: 60, any_level: true}
    max_wait: {seconds: 300}
"""


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_text(RULES_YAML, Rules)


def ready(agent_id: str, level: int) -> AgentView:
    return AgentView(agent_id, AgentState.READY, {"tech": level}, idle_since=NOW - 60, occupancy=0.0)


def waiting(tier: str, need: int, waited: float) -> WaitingCall:
    return WaitingCall("c1", "support", tier, 10, (("tech", need),), entered_at=NOW - waited)


def test_the_cap_lowers_the_need_and_says_so(rules: Rules) -> None:
    found = classify("+36701112222", "support", rules, crm_record={"status": "churned"})
    assert (found.tier, found.needs) == ("unpromising", (("tech", 1),))
    assert "tier 'unpromising' caps the level from 3 to 1" in found.notes
    plain = classify("+36701112222", "support", rules)
    assert (plain.tier, plain.needs) == ("active", (("tech", 3),)), "other tiers keep the queue's level"


@pytest.mark.parametrize(
    ("waited", "staffed", "expected"),
    [
        (0, (1, 3, 5), "N1"),  # a novice is free: the novice
        (0, (2, 3, 5), None),  # no novice: waits (the queue's above: 2 does not apply to a capped tier)
        (29, (2, 4), None),
        (30, (2, 4), "N2"),  # the first escalation step widens by one level
        (30, (3, 5), None),
        (60, (4, 5), "N4"),  # any_level: anyone with the skill, the closest first
    ],
)
def test_novices_first_then_the_queues_escalation(
    rules: Rules, waited: float, staffed: tuple[int, ...], expected: str | None
) -> None:
    call = waiting("unpromising", 1, waited)
    snapshot = Snapshot.build([ready(f"N{level}", level) for level in staffed], [call])
    decision = decide(call, snapshot, rules, NOW)
    if expected is None:
        assert decision.outcome is Outcome.WAIT and decision.window[1] < 4
    else:
        assert (decision.outcome, decision.agent_id) == (Outcome.OFFER, expected)


def test_an_uncapped_caller_takes_the_queues_window_at_once(rules: Rules) -> None:
    call = waiting("active", 3, 0)
    snapshot = Snapshot.build([ready("N5", 5)], [call])
    assert decide(call, snapshot, rules, NOW).agent_id == "N5"  # above: 2


def test_explain_shows_the_cap_and_the_window(rules: Rules) -> None:
    snapshot = Snapshot.build([ready("N3", 3)], [])
    text = explain_caller("+36701112222", "support", snapshot, rules, NOW, crm_record={"status": "churned"})
    lines = text.splitlines()
    assert lines[2].startswith("Needs: tech 1 (from queues[0].skill)")
    assert "Note: tier 'unpromising' caps the level from 3 to 1" in lines
    assert any("prefers agents at level 1 or below" in line for line in lines)
    assert "accepts levels 0 below to 0 above the need" in text
    assert "  N3: tech 3 is outside levels 1-1 accepted now" in lines


@pytest.mark.parametrize(
    ("tiers", "queue_tiers", "where"),
    [
        ("{name: x, priority: 1, min_level: 4, max_level: 2}", "", "tiers[1].max_level"),
        ("{name: x, priority: 1, max_level: 2}", "tiers: {x: {min_level: 3}}", "queues[0].tiers.x.max_level"),
        ("{name: x, priority: 1, min_level: 4}", "tiers: {x: {max_level: 3}}", "queues[0].tiers.x.max_level"),
    ],
)
def test_check_config_refuses_a_cap_below_the_floor(tiers: str, queue_tiers: str, where: str) -> None:
    text = f"""
default_tier: active
tiers:
  - {{name: active, priority: 40}}
  - {tiers}
skills: [{{name: tech}}]
queues:
  - name: support
    skill: tech
    level: 3
    {queue_tiers}
"""
    with pytest.raises(ConfigError) as caught:
        load_text(text, Rules, "routing.yaml")
    assert where in str(caught.value.details) and "callers of a tier cannot need at least" in str(
        caught.value.details
    )


def test_a_capped_tier_with_a_consistent_floor_loads() -> None:
    text = RULES_YAML.replace("max_level: 1", "max_level: 2\n    min_level: 2")
    rules = load_text(text, Rules)
    found = classify("+36701112222", "support", rules, crm_record={"status": "churned"})
    assert found.needs == (("tech", 2),)
