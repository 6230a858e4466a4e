"""Waiting order: priority first, then longest waiting, aging, starvation bound, reload re-orders."""

from __future__ import annotations

import pytest

from core.config.loader import load_text
from routing.agent_events import AgentState
from routing.queue import WaitingCall, effective_priority, ordered
from routing.rules import Rules
from routing.selection import pick_call
from routing.snapshot import AgentView, Snapshot

NOW = 1_750_000_000.0

RULES = """
default_tier: active
tiers:
  - {name: key, priority: 100}
  - {name: active, priority: 40}
  - {name: inactive, priority: 10}
skills: [{name: tech}]
queues:
  - name: support
    skill: tech
    level: 3
    max_wait: {seconds: 300}
    tiers: {inactive: {max_wait_seconds: 240}}
"""


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_text(RULES, Rules)


def waiting(call_id: str, tier: str, entered: float, priority: int = 0) -> WaitingCall:
    return WaitingCall(call_id, "support", tier, priority, (("tech", 3),), entered_at=entered)


@pytest.mark.parametrize(
    ("base", "top", "waited", "max_wait", "expected"),
    [
        (10, 101, 0, 300, 10),
        (10, 101, -5, 300, 10),  # clock skew: never below the base
        (10, 101, 120, 300, 55.5),  # half way to the top at 40% of the max wait
        (10, 101, 180, 300, 78.25),
        (10, 101, 240, 300, 101),  # the top at 80% of the max wait
        (10, 101, 9999, 300, 101),  # capped at the top
        (100, 101, 120, 300, 100.5),
    ],
)
def test_effective_priority(base: float, top: float, waited: float, max_wait: float, expected: float) -> None:
    assert effective_priority(base, top, waited, max_wait) == pytest.approx(expected)


def test_priority_first_then_longest_waiting(rules: Rules) -> None:
    calls = [
        waiting("active-old", "active", NOW - 20),
        waiting("key-new", "key", NOW - 1),
        waiting("active-older", "active", NOW - 25),
        waiting("inactive", "inactive", NOW - 30),
    ]
    assert [c.id for c in ordered(calls, rules, NOW)] == ["key-new", "active-older", "active-old", "inactive"]


def test_equal_priority_and_wait_is_ordered_by_id(rules: Rules) -> None:
    calls = [waiting("b", "active", NOW), waiting("a", "active", NOW)]
    assert [c.id for c in ordered(calls, rules, NOW)] == ["a", "b"]


def test_a_rules_reload_reorders_waiting_callers(rules: Rules) -> None:
    calls = [waiting("key", "key", NOW - 1), waiting("inactive", "inactive", NOW - 1)]
    assert ordered(calls, rules, NOW)[0].id == "key"
    flipped = load_text(
        RULES.replace("{name: inactive, priority: 10}", "{name: inactive, priority: 500}"), Rules
    )
    assert ordered(calls, flipped, NOW)[0].id == "inactive"


def test_low_tier_reaches_the_head_before_its_max_wait_under_a_stream_of_vips(rules: Rules) -> None:
    """A VIP arrives every 5 s and none is served; the inactive caller still gets to the head in time."""
    low = waiting("low", "inactive", NOW)
    max_wait = rules.index.queues["support"].max_wait_of("inactive")
    head_at = None
    for second in range(1, int(max_wait) + 1):
        vips = [waiting(f"vip{t}", "key", NOW + t) for t in range(1, second + 1, 5)]
        if ordered([*vips, low], rules, NOW + second)[0].id == "low":
            head_at = second
            break
    assert head_at is not None
    assert head_at < max_wait


def test_low_tier_is_served_before_its_max_wait_when_agents_keep_serving_vips(rules: Rules) -> None:
    """One agent, service time 20 s, a fresh VIP every 20 s: the inactive caller is still picked in time."""
    agent = AgentView("a", AgentState.READY, {"tech": 3}, idle_since=NOW)
    calls: dict[str, WaitingCall] = {"low": waiting("low", "inactive", NOW)}
    served_at = None
    for step in range(1, 60):
        now = NOW + step * 20
        vip = waiting(f"vip{step}", "key", now - 1)
        calls[vip.id] = vip
        pick = pick_call("a", Snapshot.build([agent], calls.values()), rules, now)
        assert pick.call_id is not None
        if pick.call_id == "low":
            served_at = now - NOW
            break
        del calls[pick.call_id]
    assert served_at is not None
    assert served_at < 240  # its tier's max wait in this queue


def test_declined_adds_the_agent(rules: Rules) -> None:
    call = waiting("c", "active", NOW).declined("a").declined("b")
    assert call.declined_by == frozenset({"a", "b"})
    assert call.since == NOW
