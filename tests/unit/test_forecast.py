"""Service-level aware escalation as tables: the forecast, early widening, key callers and experts.

Every test injects `now` and builds the snapshot by hand: the decision is a pure
function of (call, snapshot, rules, now).
"""

from __future__ import annotations

import math

import pytest

from core.config.loader import load_text
from routing.agent_events import AgentState
from routing.explain import render
from routing.forecast import Forecast, forecast, free_in, sl_window
from routing.plan import Stage
from routing.queue import WaitingCall
from routing.rules import Rules
from routing.selection import Outcome, decide, pick_call
from routing.snapshot import AgentView, Snapshot

NOW = 1_750_000_000.0
TALK, WRAP = 100.0, 10.0

RULES_YAML = """
default_tier: active
tiers:
  - {name: key, priority: 100, min_level: 5}
  - {name: active, priority: 40}
  - {name: inactive, priority: 10}
skills: [{name: tech}]
queues:
  - name: support
    skill: tech
    level: 3
    match: {above: 2, below: 0}
    escalation:
      - {after_seconds: 30, widen: 2}
      - {after_seconds: 90, any_level: true}
    service_level: {within_seconds: 20, widen_early: true, headroom_seconds: 5}
    wrap_up_seconds: 10
    reserve_top_agents: {count: 1, for_tiers: [key]}
  - name: plain
    skill: tech
    level: 3
    match: {above: 2, below: 0}
    escalation:
      - {after_seconds: 30, widen: 2}
      - {after_seconds: 90, any_level: true}
    service_level: {within_seconds: 20, widen_early: true, headroom_seconds: 5}
    wrap_up_seconds: 10
  - name: fixed
    skill: tech
    level: 3
    match: {above: 2, below: 0}
    escalation:
      - {after_seconds: 30, widen: 2}
    wrap_up_seconds: 10
"""


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_text(RULES_YAML, Rules)


def agent(agent_id: str, level: int, state: AgentState = AgentState.READY, since: float = 0.0) -> AgentView:
    """An agent with tech `level` in `state` since `since` seconds ago."""
    return AgentView(agent_id, state, {"tech": level}, idle_since=NOW - 60, since=NOW - since)


def call(
    call_id: str = "c1", need: int = 3, waited: float = 0.0, tier: str = "active", queue: str = "plain"
) -> WaitingCall:
    return WaitingCall(call_id, queue, tier, 40, (("tech", need),), entered_at=NOW - waited)


def snap(*agents: AgentView, calls: tuple[WaitingCall, ...] = ()) -> Snapshot:
    return Snapshot.build(agents, calls, {"support": TALK, "plain": TALK, "fixed": TALK})


BUSY, WRAPPING = AgentState.BUSY, AgentState.WRAP_UP


@pytest.mark.parametrize(
    ("state", "since", "expected"),
    [
        (AgentState.READY, 0, 0.0),
        (WRAPPING, 4, 6.0),  # the rest of the wrap-up
        (WRAPPING, 30, 0.0),
        (BUSY, 40, 70.0),  # the rest of an average talk, then the wrap-up
        (BUSY, 400, 35.0),  # a long call: at least a quarter of an average talk more
        (AgentState.RINGING, 1, 110.0),  # a whole call
        (AgentState.RESERVED, 1, 110.0),
        (AgentState.PAUSED, 1, None),
        (AgentState.LOGGED_OUT, 1, None),
    ],
)
def test_when_an_agent_is_free(state: AgentState, since: float, expected: float | None) -> None:
    assert free_in(agent("a", 3, state, since), TALK, WRAP, NOW) == expected


@pytest.mark.parametrize(
    ("agents", "ahead", "expected"),
    [
        ((), 0, Forecast(math.inf, 0, 0)),  # nobody staffed in the window
        ((("a", 3, WRAPPING, 4),), 0, Forecast(6.0, 1, 0)),
        ((("a", 3, WRAPPING, 4), ("b", 4, BUSY, 50)), 1, Forecast(60.0, 2, 1)),  # second free agent
        ((("a", 3, WRAPPING, 4),), 2, Forecast(6.0 + 2 * (TALK + WRAP), 1, 2)),  # rounds of a handle time
        ((("a", 1, WRAPPING, 4), ("p", 3, AgentState.PAUSED, 1)), 0, Forecast(math.inf, 0, 0)),  # out, paused
    ],
)
def test_forecast_counts_the_window_agents_and_the_calls_ahead(
    rules: Rules, agents: tuple[tuple[str, int, AgentState, float], ...], ahead: int, expected: Forecast
) -> None:
    me = call("me", waited=1)
    earlier = tuple(call(f"e{i}", waited=10 + i) for i in range(ahead))  # same group, longer waiting
    later = call("later", waited=0)  # behind `me`: not counted
    snapshot = snap(*(agent(*spec) for spec in agents), calls=(*earlier, me, later))
    assert forecast(me, Stage(0, 0, 2), rules.index, snapshot, now=NOW) == expected


def test_a_higher_tier_is_ahead_and_other_levels_are_not(rules: Rules) -> None:
    me = call("me", need=3, waited=10)
    key = call("k", need=5, waited=1, tier="key")  # need 5 lies in the window 3-5, higher priority
    low = call("l", need=1, waited=50, tier="inactive")  # need 1 lies outside 3-5
    snapshot = snap(agent("a", 3, WRAPPING, 0), agent("b", 5, WRAPPING, 5), calls=(me, key, low))
    assert forecast(me, Stage(0, 0, 2), rules.index, snapshot, now=NOW) == Forecast(10.0, 2, 1)


@pytest.mark.parametrize(
    ("waited", "agents", "outcome", "agent_id", "reason"),
    [
        # the level-3 agent is free in 6 s: waiting meets the 20 s target, the novice is not offered
        (0, (("m", 3, WRAPPING, 4), ("n", 1)), Outcome.WAIT, None, "no ready agent with tech 3-5"),
        # the level-3 agent talks for another 70 s: widened at once to the next step's window
        (2, (("m", 3, BUSY, 40), ("n", 1)), Outcome.OFFER, "n",
         "widened at 2 s: would have missed 20 s (answer expected at 72 s in its step's window)"),
        # nobody staffed in the window at all
        (0, (("n", 1),), Outcome.OFFER, "n",
         "widened at 0 s: would have missed 20 s (no staffed agent in its step's window)"),
        # 15 s in: the last moment (20 - 5 s headroom); 6 s more would be too late
        (15, (("m", 3, WRAPPING, 4), ("n", 1)), Outcome.OFFER, "n",
         "widened at 15 s: would have missed 20 s (nobody took it by its last moment, 15 s)"),
        # 30 s in: the escalation step itself, no early widening to explain
        (30, (("m", 3, BUSY, 40), ("n", 1)), Outcome.OFFER, "n", "2 below need 3 (escalated); idle 60 s"),
    ],
)  # fmt: skip
def test_a_call_is_widened_when_it_would_miss_its_target(  # noqa: PLR0917 - pytest's parameters
    rules: Rules,
    waited: float,
    agents: tuple[tuple[str, int] | tuple[str, int, AgentState, float], ...],
    outcome: Outcome,
    agent_id: str | None,
    reason: str,
) -> None:
    snapshot = snap(*(agent(*spec) for spec in agents))
    decision = decide(call(waited=waited), snapshot, rules, NOW)
    assert (decision.outcome, decision.agent_id) == (outcome, agent_id)
    assert reason in decision.reason


def test_a_waiting_call_is_rechecked_at_its_last_moment(rules: Rules) -> None:
    snapshot = snap(agent("m", 3, WRAPPING, 4), agent("n", 1))
    decision = decide(call(waited=3), snapshot, rules, NOW)
    assert decision.outcome is Outcome.WAIT
    assert decision.recheck_at == NOW - 3 + 15  # 20 s target - 5 s headroom, before the 30 s step


def test_without_widen_early_only_the_steps_widen(rules: Rules) -> None:
    snapshot = snap(agent("m", 3, BUSY, 40), agent("n", 1))
    decision = decide(call(queue="fixed", waited=2), snapshot, rules, NOW)
    assert decision.outcome is Outcome.WAIT
    assert decision.recheck_at == NOW - 2 + 30
    assert sl_window(call(queue="fixed", waited=2), rules.index, snapshot, NOW, frozenset()) is None


@pytest.mark.parametrize(
    ("waited", "expected"),
    [
        (2, None),  # below the tier's min_level only at the last moment: keeps waiting for an expert
        (15, "m"),  # the last moment: a level-3 agent now rather than a missed target
    ],
)
def test_key_callers_wait_for_experts_while_the_target_allows(
    rules: Rules, waited: float, expected: str | None
) -> None:
    snapshot = snap(agent("x", 5, BUSY, 10), agent("m", 3))
    decision = decide(call(need=5, waited=waited, tier="key", queue="support"), snapshot, rules, NOW)
    assert decision.agent_id == expected


@pytest.mark.parametrize(
    ("waiting_key", "spare", "expected"),
    [
        (False, True, "x"),  # would miss, no key caller waits, z is free in 6 s for one: x takes it
        (True, True, None),  # a key caller waits: the expert stays theirs
        (False, False, None),  # no other expert free in time for a key caller: x stays free
    ],
)
def test_experts_kept_for_key_callers_are_released_only_when_no_one_misses(
    rules: Rules, waiting_key: bool, spare: bool, expected: str | None
) -> None:
    mine = call(need=5, waited=2, tier="inactive", queue="support")
    ahead = call("a", need=5, waited=5, queue="support")  # an active caller takes z first
    key = (call("k", need=5, waited=0, tier="key", queue="support"),) if waiting_key else ()
    z = agent("z", 5, WRAPPING, 4) if spare else agent("z", 5, BUSY, 10)
    snapshot = snap(agent("x", 5), z, agent("m", 3, BUSY, 10), calls=(mine, ahead, *key))
    decision = decide(mine, snapshot, rules, NOW)
    assert decision.agent_id == expected
    if expected:
        assert "agents kept free for key callers released (none waits)" in decision.reason


@pytest.mark.parametrize(
    ("level3", "expected"),
    [
        ((WRAPPING, 4), None),  # its own level is free in 6 s: the expert stays for key callers
        ((BUSY, 10), "x"),  # waiting for its level would miss the target: the expert takes it
    ],
)
def test_a_call_needing_less_gets_an_expert_only_to_keep_its_target(
    rules: Rules, level3: tuple[AgentState, float], expected: str | None
) -> None:
    snapshot = snap(agent("x", 5), agent("y", 5), agent("m", 3, *level3))
    assert decide(call(need=3, waited=1, queue="support"), snapshot, rules, NOW).agent_id == expected


def test_pick_call_serves_a_call_widened_early(rules: Rules) -> None:
    mine = call(need=3, waited=2)
    snapshot = snap(agent("m", 3, BUSY, 40), agent("n", 1), calls=(mine,))
    assert pick_call("n", snapshot, rules, NOW).call_id == "c1"
    calm = snap(agent("m", 3, WRAPPING, 4), agent("n", 1), calls=(mine,))
    assert pick_call("n", calm, rules, NOW).call_id is None  # its own level is free in 6 s


def test_explain_shows_why_a_call_was_widened(rules: Rules) -> None:
    mine = call(need=3, waited=12)
    snapshot = snap(agent("m", 3, BUSY, 40), agent("n", 1))
    text = render(mine, decide(mine, snapshot, rules, NOW, limit=5), snapshot, rules, NOW)
    assert "widened at 12 s: would have missed 20 s (answer expected at 82 s in its step's window)" in text
    assert "Service level: 80% within 20 s; widens early when a caller would miss it (5 s headroom)" in text
    assert "Forecast with the step's window: answered at 82 s (staffed agents: 1, calls ahead: 0)" in text
    assert "n: tech 1 is outside" not in text  # the novice is the candidate of the widened window
    assert "  1. n: level 1 (-2 from the need)" in text
    fixed = call(need=3, waited=12, queue="fixed")
    text = render(fixed, decide(fixed, snapshot, rules, NOW, limit=5), snapshot, rules, NOW)
    assert "Service level: 80% within 20 s; windows widen at the escalation steps only" in text
    assert "n: tech 1 is outside levels 3-5 accepted now" in text


def test_snapshot_keeps_the_staffed_agents_and_the_average_talk() -> None:
    snapshot = snap(agent("a", 3), agent("p", 3, AgentState.PAUSED, 1))
    assert snapshot.staffed["tech"][3] == {"a": snapshot.agents["a"]}
    snapshot = snapshot.with_agent(agent("p", 3, BUSY, 1)).with_agent(agent("a", 3, AgentState.LOGGED_OUT))
    assert snapshot.staffed["tech"][3] == {"p": snapshot.agents["p"]}  # the view as it is now
    snapshot = snapshot.with_agent(agent("p", 3, AgentState.WRAP_UP, 1))
    assert snapshot.staffed["tech"][3]["p"].state is AgentState.WRAP_UP
    assert snapshot.without_agent("p").staffed["tech"][3] == {}
    talk = Snapshot().with_talk_time("q", 100.0).with_talk_time("q", 200.0)
    assert talk.talk_seconds == {"q": pytest.approx(110.0)}  # the first call sets it, then 10 % a call
    rebuilt = Snapshot.build(talk.agents.values(), (), talk.talk_seconds)
    assert rebuilt.talk_seconds == talk.talk_seconds


KEPT2_YAML = RULES_YAML.replace(
    "    reserve_top_agents: {count: 1, for_tiers: [key]}\n",
    "    reserve_top_agents: {count: 2, for_tiers: [key]}\n",
)


@pytest.mark.parametrize(
    ("widen_early", "expected"),
    [
        (True, "m"),  # the two kept are experts only: x is the one expert ready, m serves the call
        (False, None),  # without early widening the two best ready agents are kept, whatever their level
    ],
)
def test_with_early_widening_only_experts_are_kept_for_key_callers(
    widen_early: bool, expected: str | None
) -> None:
    text = KEPT2_YAML if widen_early else KEPT2_YAML.replace("widen_early: true, headroom", "headroom")
    kept = load_text(text, Rules)
    snapshot = snap(agent("x", 5), agent("m", 3))
    assert decide(call(need=3, waited=1, queue="support"), snapshot, kept, NOW).agent_id == expected


@pytest.mark.parametrize(
    ("waited", "wrap_left", "expected"),
    [
        (15, 1.0, None),  # the last moment, the expert ends wrap-up in 1 s: waits for them
        (15, 3.0, "m"),  # ends it after 1.5 s more: the level-3 agent now
        (16.5, 0.5, "m"),  # the wait is over
    ],
)
def test_key_callers_wait_past_their_last_moment_for_an_expert_ending_wrap_up(
    rules: Rules, waited: float, wrap_left: float, expected: str | None
) -> None:
    key = call(need=5, waited=waited, tier="key", queue="support")
    snapshot = snap(agent("x", 5, WRAPPING, WRAP - wrap_left), agent("m", 3), calls=(key,))
    decision = decide(key, snapshot, rules, NOW)
    assert decision.agent_id == expected
    if expected is None:
        assert "at its last moment, 15 s, it waits 1.0 s more for an agent at its tier's min_level" in (
            decision.reason
        )
        assert decision.recheck_at == key.entered_at + 16.5  # the end of the wait
        assert pick_call("m", snapshot, rules, NOW).call_id is None  # m does not take it meanwhile


def test_an_expert_ending_wrap_up_is_waited_for_by_the_key_caller_ahead_only(rules: Rules) -> None:
    first = call("k0", need=5, waited=16, tier="key", queue="support")
    second = call("k1", need=5, waited=15, tier="key", queue="support")
    snapshot = snap(agent("x", 5, WRAPPING, WRAP - 0.5), agent("m", 3), calls=(first, second))
    assert decide(first, snapshot, rules, NOW).outcome is Outcome.WAIT
    assert decide(second, snapshot, rules, NOW).agent_id == "m"


def test_no_wait_past_the_last_moment_when_switched_off() -> None:
    switched_off = "headroom_seconds: 5, min_level_wait_seconds: 0}"
    off = load_text(RULES_YAML.replace("headroom_seconds: 5}", switched_off), Rules)
    key = call(need=5, waited=15, tier="key", queue="support")
    snapshot = snap(agent("x", 5, WRAPPING, WRAP - 1.0), agent("m", 3), calls=(key,))
    assert decide(key, snapshot, off, NOW).agent_id == "m"


def test_explain_shows_the_wait_for_an_expert(rules: Rules) -> None:
    key = call(need=5, waited=15, tier="key", queue="support")
    snapshot = snap(agent("x", 5, WRAPPING, WRAP - 1.0), agent("m", 3), calls=(key,))
    text = render(key, decide(key, snapshot, rules, NOW), snapshot, rules, NOW)
    assert "at its last moment waits up to 1.5 s for a level-5 agent ending wrap-up" in text
    assert "it waits 1.0 s more for an agent at its tier's min_level who ends wrap-up then" in text


@pytest.mark.parametrize(
    ("spare", "expected"),
    [
        (True, "x"),  # x goes; y and z (free in 6 s) stay for two key callers who ring meanwhile
        (False, None),  # x goes, only y is left for them: both stay kept
    ],
)
def test_with_two_experts_kept_two_more_must_be_free_in_time_to_release_one(
    spare: bool, expected: str | None
) -> None:
    kept = load_text(KEPT2_YAML, Rules)
    mine = call(need=5, waited=2, tier="inactive", queue="support")
    ahead = call("a", need=5, waited=5, queue="support")  # an active caller takes z first
    z = agent("z", 5, WRAPPING, 4) if spare else agent("z", 5, BUSY, 10)
    snapshot = snap(agent("x", 5), agent("y", 5), z, agent("m", 3, BUSY, 10), calls=(mine, ahead))
    assert decide(mine, snapshot, kept, NOW).agent_id == expected
