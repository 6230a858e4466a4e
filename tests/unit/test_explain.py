"""`switchboard explain` text: which rule matched, which agent would answer and why the others would not."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config.loader import load_rules
from routing.agent_events import AgentState
from routing.explain import explain_caller
from routing.rules import Rules
from routing.snapshot import AgentView, Snapshot

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "routing.yaml"
MONDAY_NOON = 1_750_068_000.0  # 2025-06-16 12:00 Europe/Budapest
SUNDAY_EVENING = MONDAY_NOON - 15 * 3600  # 2025-06-15 21:00, billing is closed


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(EXAMPLE, Rules)


def _state(rules: Rules) -> Snapshot:
    states = {
        "1004": AgentState.READY,
        "1005": AgentState.BUSY,
        "1006": AgentState.READY,
        "1001": AgentState.PAUSED,
    }
    views = [
        AgentView(
            a.id,
            states.get(a.id, AgentState.LOGGED_OUT),
            dict(a.skills),
            idle_since=MONDAY_NOON - 30,
            name=a.name,
            pause_reason="lunch" if a.id == "1001" else "",
        )
        for a in rules.agents
    ]
    return Snapshot.build(views, [])


def test_key_caller_gets_the_expert(rules: Rules) -> None:
    text = explain_caller("06 30 123 4567", "support", _state(rules), rules, MONDAY_NOON, ivr_choice="1")
    lines = text.splitlines()
    assert lines[0] == "Caller: +36301234567"
    assert lines[1] == "Tier: key (matched tiers[0].callers[0]), priority 100 in queue support"
    assert lines[2] == "Needs: tech 5, hungarian 1 (from queues[0].ivr.1), max wait 300 s"
    assert "Note: tier 'key' raises the level from 3 to 5" in lines
    assert "Decision: offer: agent 1004: tech 5 = need 5; occupancy 0%" in lines  # least_occupancy
    assert "  1. 1004 Tóth Gábor: level 5 (+0 from the need), fairness 0.00" in lines
    assert "  1001: paused (lunch)" in lines
    assert "  1005: busy" in lines
    assert "  1006: tech 2 is outside levels 5-5 accepted now" in lines


def test_normal_caller_is_kept_off_the_reserved_expert(rules: Rules) -> None:
    text = explain_caller("+36 1 712 3456", "support", _state(rules), rules, MONDAY_NOON)
    assert "Tier: important (matched tiers[1].prefixes[0]), priority 70 in queue support" in text
    decision = "Decision: wait: no ready agent with tech 4-5 and hungarian 1 (1 kept free for key callers)"
    assert decision in text
    assert "  1004: kept free for key callers" in text


def test_closed_queue(rules: Rules) -> None:
    text = explain_caller("+36 70 111 2222", "billing", _state(rules), rules, SUNDAY_EVENING)
    assert "closed now (opens Mon 2025-06-16 08:00 CEST)" in text
    assert "Decision: exit: queue 'billing' is closed: exit to 'closed'" in text
