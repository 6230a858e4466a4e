"""Figure 6 (simulated inbound shift): the rows' shape, and that the simulation keeps its books."""

from __future__ import annotations

import pytest

from bench import bench_shift_inbound
from bench.shift_inbound_policies import POLICIES, run_policies, without_early_widening
from bench.shift_inbound_sim import Shift, ShiftConfig, arrivals, load_bench_rules, simulate
from routing.rules import Rules

TINY = ShiftConfig(staff={1: 3, 3: 4, 5: 3}, hours=0.25, seed=5)


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_bench_rules()


def test_inbound_shift_rows_have_the_report_shape() -> None:
    rows = bench_shift_inbound.run(quick=True, config=TINY)
    names = [row["name"] for row in rows]
    assert names[0] == "inbound SL key (VIP) (90% load, 0.25 h, 10 agents)"
    assert "inbound occupancy spread within a level (90% load, 0.25 h, 10 agents)" in names
    assert "inbound key callers answered by an expert (90% load, 0.25 h, 10 agents)" in names
    for row in rows:
        assert row["peer"]["name"] == "FIFO longest-idle"
        assert "fixed-step" in row["detail"]
        assert 0 <= row["value"] <= 100
        assert (row["target"] is None) == (row["met"] is None)


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_every_caller_is_answered_once_or_gives_up(policy: str, rules: Rules) -> None:
    stream = arrivals(TINY, rules)
    shift: Shift = simulate(POLICIES[policy](), TINY, rules, stream)
    assert shift.unresolved == 0
    for record in shift.calls.values():
        assert (record.answered_at is None) != (record.left_at is None)
        if record.answered_at is not None:
            assert record.agent is not None and record.answered_at >= record.arrival.at
    for agent in shift.agents.values():
        assert 0 <= agent.occupied_s <= shift.end


def test_the_fixed_step_policy_runs_the_same_rules_without_early_widening(rules: Rules) -> None:
    fixed = without_early_widening(rules)
    assert [q.service_level.widen_early for q in rules.queues] == [True, True]
    assert [q.service_level.widen_early for q in fixed.queues] == [False, False]
    assert [q.escalation for q in fixed.queues] == [q.escalation for q in rules.queues]


def test_the_same_config_gives_the_same_result(rules: Rules) -> None:
    assert run_policies(TINY, rules) == run_policies(TINY, rules)
