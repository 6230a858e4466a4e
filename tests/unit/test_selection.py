"""decide / pick_call as tables: closest level, fairness, escalation, reserve, hours, both directions."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.config.loader import load_text
from routing.agent_events import AgentState
from routing.batch_dispatch import dispatch
from routing.queue import WaitingCall
from routing.rules import Rules
from routing.selection import Outcome, decide, pick_call
from routing.snapshot import AgentView, Snapshot

NOW = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC, a Sunday

RULES_YAML = """
default_tier: active
tiers:
  - {name: key, priority: 100, min_level: 5}
  - {name: important, priority: 70}
  - {name: active, priority: 40}
  - {name: inactive, priority: 10}
skills: [{name: tech}, {name: hungarian}, {name: billing}]
queues:
  - name: support
    skill: tech
    level: 3
    match: {above: 1, below: 0}
    escalation:
      - {after_seconds: 30, widen: 1}
      - {after_seconds: 60, any_level: true}
      - {after_seconds: 120, overflow_to: general}
    max_wait: {seconds: 300}
  - name: general
    skill: hungarian
    level: 1
    max_wait: {seconds: 600, action: exit, exit_to: voicemail}
  - name: billing
    skill: billing
    level: 2
    max_wait: {seconds: 200, action: overflow, queue: general}
"""


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_text(RULES_YAML, Rules)


def agent(
    agent_id: str, idle: float = 60.0, state: AgentState = AgentState.READY, occ: float = 0.0, **skills: int
) -> AgentView:
    return AgentView(agent_id, state, skills, idle_since=NOW - idle, occupancy=occ)


def call(  # noqa: PLR0917 - a test factory read best with positional defaults
    call_id: str = "c1",
    need: int = 3,
    waited: float = 0.0,
    tier: str = "active",
    queue: str = "support",
    skill: str = "tech",
) -> WaitingCall:
    return WaitingCall(call_id, queue, tier, 40, ((skill, need),), entered_at=NOW - waited)


def snap(*agents: AgentView, calls: tuple[WaitingCall, ...] = ()) -> Snapshot:
    return Snapshot.build(agents, calls)


LADDER = [agent(f"L{level}", tech=level) for level in range(1, 6)]


@pytest.mark.parametrize(
    ("need", "waited", "available", "expected"),
    [
        (3, 0, (1, 2, 3, 4, 5), "L3"),  # exact level first
        (3, 0, (1, 2, 4, 5), "L4"),  # then the closest above
        (3, 0, (1, 2, 5), None),  # 2 above is outside the window before escalation
        (3, 0, (1, 2), None),  # below the need: never before escalation
        (3, 29.999, (2,), None),  # escalation boundary: not yet
        (3, 30.0, (2,), "L2"),  # widened by 1 at exactly 30 s: one below is accepted
        (3, 30.0, (2, 4), "L4"),  # ...but at-or-above still comes first
        (3, 30.0, (1, 5), "L5"),  # widened: 2 above now fits, 2 below does not
        (3, 59.9, (1,), None),
        (3, 60.0, (1,), "L1"),  # any level from 60 s
        (1, 0, (1, 2, 3, 4, 5), "L1"),  # a simple call goes to the novice
        (5, 0, (1, 2, 3, 4, 5), "L5"),  # a hard call goes to the expert
    ],
)
def test_closest_level_at_or_above_first(
    rules: Rules, need: int, waited: float, available: tuple[int, ...], expected: str | None
) -> None:
    agents = [a for a in LADDER if int(a.id[1:]) in available]
    decision = decide(call(need=need, waited=waited), snap(*agents), rules, NOW)
    assert decision.agent_id == expected
    assert decision.outcome is (Outcome.OFFER if expected else Outcome.WAIT)


def test_key_tier_need_goes_to_the_most_competent(rules: Rules) -> None:
    # classify raises a key caller's level to 5 (min_level); decide then prefers the expert
    vip = replace(call(need=5, tier="key"), priority=100)
    assert decide(vip, snap(*LADDER), rules, NOW).agent_id == "L5"
    assert decide(call(need=3), snap(*LADDER), rules, NOW).agent_id == "L3"


def test_ranking_lists_candidates_in_preference_order(rules: Rules) -> None:
    agents = [agent("x3", tech=3, idle=10), agent("y3", tech=3, idle=50), agent("z4", tech=4, idle=500)]
    decision = decide(call(need=3), snap(*agents), rules, NOW, limit=5)
    assert [c.agent_id for c in decision.ranking] == ["y3", "x3", "z4"]
    assert [c.distance for c in decision.ranking] == [0, 0, 1]


def test_fairness_longest_idle_rotates_among_equal_agents(rules: Rules) -> None:
    """Serving a call resets the agent's idle time, so equal agents take turns."""
    agents = {
        a.id: a
        for a in (agent("a", tech=3, idle=30), agent("b", tech=3, idle=20), agent("c", tech=3, idle=10))
    }
    chosen = []
    now = NOW
    for number in range(6):
        now += 100
        decision = decide(call(f"c{number}", waited=0), snap(*agents.values()), rules, now)
        assert decision.agent_id is not None
        chosen.append(decision.agent_id)
        agents[decision.agent_id] = replace(agents[decision.agent_id], idle_since=now + 50)
    assert chosen == ["a", "b", "c", "a", "b", "c"]


def test_fairness_least_occupancy(rules: Rules) -> None:
    policy = rules.model_copy(
        update={"fairness": rules.fairness.model_copy(update={"policy": "least_occupancy"})}
    )
    agents = [agent("busy", tech=3, idle=900, occ=0.9), agent("calm", tech=3, idle=5, occ=0.2)]
    assert decide(call(), snap(*agents), policy, NOW).agent_id == "calm"
    assert decide(call(), snap(*agents), rules, NOW).agent_id == "busy"  # longest idle by default


def test_fairness_never_beats_a_closer_level(rules: Rules) -> None:
    agents = [agent("exact", tech=3, idle=1), agent("above", tech=4, idle=10_000)]
    assert decide(call(need=3), snap(*agents), rules, NOW).agent_id == "exact"


def test_agents_who_missed_a_ring_for_the_call_are_skipped(rules: Rules) -> None:
    agents = [agent("a", tech=3, idle=100), agent("b", tech=3, idle=10)]
    declined = call().declined("a")
    assert decide(declined, snap(*agents), rules, NOW).agent_id == "b"
    # When everyone who fits has missed, they are rung again (fairness order) rather than the caller
    # being left to max wait; an agent who keeps missing is paused after N misses by the lifecycle.
    both = declined.declined("b")
    decision = decide(both, snap(*agents), rules, NOW)
    assert decision.outcome is Outcome.OFFER
    assert decision.agent_id == "a"
    # ...but a fitting agent who has not missed is still preferred.
    fresh = [*agents, agent("c", tech=3, idle=1)]
    assert decide(both, snap(*fresh), rules, NOW).agent_id == "c"


def test_only_ready_agents_with_every_needed_skill(rules: Rules) -> None:
    needs_two = replace(call(), needs=(("tech", 3), ("hungarian", 2)))
    agents = [
        agent("busy", tech=3, hungarian=5, state=AgentState.BUSY, idle=999),
        agent("mono", tech=3, idle=900),
        agent("weak", tech=3, hungarian=1, idle=800),
        agent("ok", tech=3, hungarian=2, idle=1),
    ]
    assert decide(needs_two, snap(*agents), rules, NOW).agent_id == "ok"


@pytest.mark.parametrize(
    ("waited", "outcome", "target"),
    [
        (119.0, Outcome.WAIT, None),
        (120.0, Outcome.OVERFLOW, "general"),  # the overflow step
    ],
)
def test_overflow_step(rules: Rules, waited: float, outcome: Outcome, target: str | None) -> None:
    decision = decide(call(waited=waited), snap(agent("billing-only", billing=5)), rules, NOW)
    assert (decision.outcome, decision.target) == (outcome, target)


def test_an_agent_still_wins_over_the_overflow(rules: Rules) -> None:
    assert decide(call(waited=200), snap(agent("late", tech=1)), rules, NOW).outcome is Outcome.OFFER


@pytest.mark.parametrize(
    "case",
    [
        ("general", "hungarian", 599, Outcome.WAIT, None),
        ("general", "hungarian", 600, Outcome.EXIT, "voicemail"),
        ("billing", "billing", 200, Outcome.OVERFLOW, "general"),
    ],
)
def test_max_wait_actions(rules: Rules, case: tuple[str, str, float, Outcome, str | None]) -> None:
    queue, skill, waited, outcome, target = case
    decision = decide(call(queue=queue, skill=skill, need=1, waited=waited), snap(), rules, NOW)
    assert (decision.outcome, decision.target) == (outcome, target)


def test_max_wait_action_wait_keeps_the_caller_at_top_priority() -> None:
    rules = load_text(RULES_YAML.replace("      - {after_seconds: 120, overflow_to: general}\n", ""), Rules)
    before = decide(call(waited=299), snap(), rules, NOW)
    after = decide(call(waited=400), snap(), rules, NOW)
    assert (before.outcome, after.outcome) == (Outcome.WAIT, Outcome.WAIT)
    assert before.recheck_at == pytest.approx(NOW + 1)  # the max wait is the next change
    assert after.recheck_at is None
    assert "top priority" in after.reason
    assert after.priority == rules.index.top_priority == 101


@pytest.mark.parametrize(
    ("waited", "recheck_after"),
    [(0, 30), (30, 60), (75, 120)],
)
def test_recheck_at_is_the_next_escalation_step(rules: Rules, waited: float, recheck_after: float) -> None:
    decision = decide(call(waited=waited), snap(), rules, NOW)
    assert decision.recheck_at == pytest.approx(NOW - waited + recheck_after)


def test_unknown_queue_exits(rules: Rules) -> None:
    decision = decide(call(queue="gone"), snap(*LADDER), rules, NOW)
    assert decision.outcome is Outcome.EXIT
    assert "no longer" in decision.reason


RESERVE_YAML = RULES_YAML.replace(
    "    max_wait: {seconds: 300}\n",
    "    max_wait: {seconds: 300}\n    reserve_top_agents: {count: 1, for_tiers: [key], mode: MODE}\n",
)


@pytest.mark.parametrize(
    ("mode", "key_waiting", "expected"),
    [
        ("always", False, "L3b"),  # the top agent (L5) is kept free; a normal call takes L3b
        ("when_waiting", False, "L5"),  # nobody key waiting: no reserve
        ("when_waiting", True, "L3b"),
    ],
)
def test_reserve_top_agents_for_key_callers(mode: str, key_waiting: bool, expected: str) -> None:
    rules = load_text(RESERVE_YAML.replace("MODE", mode), Rules)
    agents = [agent("L5", tech=5, idle=999), agent("L3b", tech=3, idle=1)]
    waiting = (call("vip", need=5, tier="key", waited=1),) if key_waiting else ()
    # a normal call that fits both (need 4: L5 above by 1, L3b below by 1 after widening)
    normal = call(need=4, waited=30)
    decision = decide(normal, snap(*agents, calls=waiting), rules, NOW)
    assert decision.agent_id == expected


def test_reserved_agents_serve_key_callers() -> None:
    reserving = load_text(RESERVE_YAML.replace("MODE", "always"), Rules)
    agents = [agent("L5", tech=5), agent("L4", tech=4)]
    assert decide(call("vip", need=5, tier="key"), snap(*agents), reserving, NOW).agent_id == "L5"
    normal = decide(call(need=5), snap(*agents), reserving, NOW)
    assert normal.outcome is Outcome.WAIT
    assert "kept free" in normal.reason


# ---- the other direction: an agent becomes ready and picks the call ----


def test_vip_jumps_the_line(rules: Rules) -> None:
    normals = tuple(call(f"n{i}", need=3, waited=100 - i) for i in range(10))
    vip = replace(call("vip", need=3, tier="key", waited=1), priority=100)
    state = snap(agent("L3", tech=3), calls=(*normals, vip))
    assert pick_call("L3", state, rules, NOW).call_id == "vip"


def test_within_a_priority_the_longest_waiting_first(rules: Rules) -> None:
    calls = (call("new", waited=5), call("old", waited=25), call("mid", waited=15))
    pick = pick_call("L3", snap(agent("L3", tech=3), calls=calls), rules, NOW, limit=3)
    assert pick.call_id == "old"
    assert [c.call_id for c in pick.ranking] == ["old"]  # one group: only its head is compared


def test_pick_call_respects_the_window_and_declines(rules: Rules) -> None:
    hard = call("hard", need=5, waited=10)  # a level-3 agent is 2 below: not before 60 s
    assert pick_call("L3", snap(agent("L3", tech=3), calls=(hard,)), rules, NOW).call_id is None
    assert (
        pick_call(
            "L3", snap(agent("L3", tech=3), calls=(replace(hard, entered_at=NOW - 60),)), rules, NOW
        ).call_id
        == "hard"
    )
    declined = (call("x", waited=50).declined("L3"), call("y", waited=5))
    assert pick_call("L3", snap(agent("L3", tech=3), calls=declined), rules, NOW).call_id == "y"


def test_pick_call_across_queues_by_priority(rules: Rules) -> None:
    calls = (
        call("support", need=3, waited=10),
        replace(call("general", queue="general", skill="hungarian", need=1), tier="important"),
    )
    both = agent("both", tech=3, hungarian=1)
    assert pick_call("both", snap(both, calls=calls), rules, NOW).call_id == "general"


def test_pick_call_for_a_busy_agent_is_none(rules: Rules) -> None:
    pick = pick_call("b", snap(agent("b", tech=3, state=AgentState.BUSY), calls=(call(),)), rules, NOW)
    assert pick.call_id is None


def test_reserved_agent_does_not_pick_normal_calls() -> None:
    rules = load_text(RESERVE_YAML.replace("MODE", "always"), Rules)
    calls = (
        call("normal", need=4, waited=50),
        replace(call("vip", need=5, tier="key", waited=1), priority=100),
    )
    state = snap(agent("L5", tech=5), agent("L3", tech=3), calls=calls)
    assert pick_call("L5", state, rules, NOW).call_id == "vip"
    assert pick_call("L5", state.without_call("vip"), rules, NOW).call_id is None
    assert pick_call("L3", state, rules, NOW).call_id == "normal"


def test_dispatch_routes_the_whole_queue_without_double_booking(rules: Rules) -> None:
    calls = (
        call("normal", need=3, waited=50),
        replace(call("vip", need=3, tier="key", waited=1), priority=100),
        call("late", need=3, waited=10),
        call("gone", queue="billing", skill="billing", need=2, waited=250),
    )
    state = snap(agent("L3", tech=3), agent("L4", tech=4), calls=calls)
    decisions, after = dispatch(state, rules, NOW)
    assert [(d.call_id, d.outcome, d.agent_id or d.target) for d in decisions] == [
        ("gone", Outcome.OVERFLOW, "general"),  # past its max wait: top priority
        ("vip", Outcome.OFFER, "L3"),
        ("normal", Outcome.OFFER, "L4"),  # L3 is taken by then
        ("late", Outcome.WAIT, None),
    ]
    assert set(after.calls) == {"late"}
    assert after.agents["L3"].state is AgentState.RESERVED
    assert after.ready_levels("tech", "longest_idle") == ((),) * 6


# ---- answered outbound calls (the dialer's) -----------------------------------------------------

CLOSED_YAML = RULES_YAML.replace(
    "    max_wait: {seconds: 300}\n",
    "    max_wait: {seconds: 300}\n    hours: {zone: UTC, weekly: {mon: ['08:00-09:00']}}\n",
)


def test_an_outbound_call_ignores_the_queue_hours_and_waits_instead_of_overflowing(rules: Rules) -> None:
    closed = load_text(CLOSED_YAML, Rules)
    outbound = replace(call("o1", waited=500.0), outbound=True)
    inbound = decide(call("i1"), snap(agent("a", tech=3)), closed, NOW)
    assert inbound.outcome is Outcome.EXIT, "an inbound caller arriving while closed leaves"
    offered = decide(outbound, snap(agent("a", tech=3)), closed, NOW)
    assert (offered.outcome, offered.agent_id) == (Outcome.OFFER, "a")
    waiting = decide(outbound, snap(agent("a", billing=3)), rules, NOW)  # past the overflow step
    assert waiting.outcome is Outcome.WAIT, "no overflow, no max-wait exit: the dialer's grace ends it"
    assert pick_call("a", snap(agent("a", tech=3), calls=(outbound,)), closed, NOW).call_id == "o1"


def test_an_outbound_call_is_served_before_any_inbound_caller(rules: Rules) -> None:
    vip = call("vip", tier="key", need=3, waited=280.0)  # aged to the top priority
    outbound = replace(call("o1", waited=0.1), outbound=True)
    pick = pick_call("a", snap(agent("a", tech=3), calls=(vip, outbound)), rules, NOW)
    assert pick.call_id == "o1"
