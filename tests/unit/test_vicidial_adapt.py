"""The VICIdial adaptive dial level model (figure 5's peer): level adjustments and a tiny shift."""

from __future__ import annotations

import pytest

from bench import pacing_windows
from bench.pacing_sim import ShiftResult, simulate
from bench.vicidial_adapt import (
    AdaptMethod,
    AdaptSettings,
    Floor,
    OverLimit,
    VicidialPacer,
    allowed_drop_pct,
    lines_to_dial,
    next_level,
)

HARD = AdaptSettings(gain=1.0)  # gain 1: one step corrects the whole differential per agent
TAPERED = AdaptSettings(method=AdaptMethod.TAPERED, gain=1.0)
UP, DOWN = AdaptSettings(gain=1.0, intensity=20.0), AdaptSettings(gain=1.0, intensity=-20.0)
CALLS_WAITING = Floor(drop_pct=1.0, elapsed_share=0.5, agents_waiting=0.0, calls_waiting=5.0,
                      counted_agents=50)  # fmt: skip


def floor(drop: float, waiting: float = 10.0, calls: float = 0.0, share: float = 0.5) -> Floor:
    """50 agents counted; `waiting` agents and `calls` calls waiting on average, `share` of the day gone."""
    return Floor(drop_pct=drop, elapsed_share=share, agents_waiting=waiting, calls_waiting=calls,
                 counted_agents=50)  # fmt: skip


@pytest.mark.parametrize(
    ("settings", "level", "state", "expected"),
    [
        (HARD, 1.0, floor(1.0), 1.2),  # agents waiting, under the limit: up by 10 / 50
        (HARD, 2.0, CALLS_WAITING, 1.9),  # calls waiting: down
        (HARD, 2.9, floor(1.0), 3.0),  # capped at adaptive_maximum_level
        (HARD, 1.05, floor(1.0, waiting=0.0, calls=10.0), 1.0),  # never below 1.0
        (HARD, 2.5, floor(3.0), 1.0),  # at the drop limit: no aggressive dialing
        (HARD, 2.5, floor(4.5, share=0.1), 1.0),  # HARD_LIMIT: no allowance early in the day
        (TAPERED, 2.5, floor(4.5, share=0.1), 2.7),  # TAPERED: 5.4 % allowed at 10 % of the day
        (TAPERED, 2.5, floor(4.5, share=0.4), 1.0),  # ... 3.6 % at 40 %
        (TAPERED, 2.5, floor(3.0, share=0.9), 1.0),  # the plain limit after half the day
        (AdaptSettings(gain=1.0, dl_diff_target=-10.0), 2.0, floor(1.0), 2.0),  # 10 agents free wanted
        (AdaptSettings(gain=1.0, dl_diff_target=5.0), 2.0, floor(1.0), 2.3),  # 5 calls on hold wanted
        (UP, 2.0, floor(1.0), 2.4),  # intensity +20: twice as fast up
        (UP, 2.0, CALLS_WAITING, 1.95),  # ... and half as fast down
        (DOWN, 2.0, CALLS_WAITING, 1.8),  # intensity -20: twice as fast down
        (AdaptSettings(gain=1.0, over_limit=OverLimit.HOLD), 2.5, floor(3.5), 2.5),  # HOLD: no rise
        (AdaptSettings(gain=1.0, over_limit=OverLimit.HOLD), 2.5, floor(3.5, 0.0, 5.0), 2.4),  # but falls
    ],
)
def test_next_level(settings: AdaptSettings, level: float, state: Floor, expected: float) -> None:
    assert next_level(level, state, settings) == pytest.approx(expected)


def test_tapered_allowance_shrinks_to_the_limit_by_half_the_day() -> None:
    assert [allowed_drop_pct(TAPERED, share) for share in (0.0, 0.25, 0.5, 1.0)] == [6.0, 4.5, 3.0, 3.0]
    assert allowed_drop_pct(HARD, 0.0) == 3.0


def test_lines_to_dial_counts_talking_agents_unless_available_only() -> None:
    assert lines_to_dial(2.0, ready=5, talking=15, lines_up=25, settings=HARD) == 15  # 2 x 20 - 25
    only = AdaptSettings(available_only_ratio_tally=True)
    assert lines_to_dial(2.0, ready=5, talking=15, lines_up=25, settings=only) == 0
    assert lines_to_dial(1.0, ready=0, talking=20, lines_up=22, settings=HARD) == 0


def test_pacer_adjusts_every_15_s_from_the_averaged_floor() -> None:
    pacer = VicidialPacer(HARD)
    pacer.calls(0.0, ready=10, talking=40, lines_up=40, calls_waiting=0, drop_pct=0.0)
    assert pacer.level == pytest.approx(1.2)  # first adjustment at once: 10 waiting / 50 agents
    for second in range(1, 15):
        pacer.calls(float(second), ready=0, talking=50, lines_up=60, calls_waiting=0, drop_pct=0.0)
    assert pacer.level == pytest.approx(1.2)  # no adjustment before 15 s
    calls = pacer.calls(15.0, ready=0, talking=50, lines_up=50, calls_waiting=5, drop_pct=0.0)
    assert pacer.level == pytest.approx(1.2 - 5 / 15 / 50)  # the 15 s averages: 0 agents, 5/15 calls
    assert calls == int(pacer.level * 50) - 50


def test_tiny_shift_with_the_vicidial_pacer_is_deterministic_and_bounded() -> None:
    def run() -> ShiftResult:
        return simulate("predictive", 5, 0.25, 120.0, 0.1, 2, pacer=VicidialPacer(AdaptSettings(day_s=360.0)))

    first = run()
    assert run() == first
    assert first.pacer == "ADAPT_HARD_LIMIT" and first.dials > 0
    assert 1.0 <= first.mean_dial_level <= 3.0
    assert first.connected == sum(not abandoned for _, abandoned in first.answers)
    assert pacing_windows.rolling(first)[0].answers == len(first.answers)


def test_drifting_answer_rate_answers_less_late_in_the_day() -> None:
    result = simulate("progressive", 20, 0.35, 120.0, 2.0, 1, answer_rate_end=0.15)
    early = pacing_windows.window(result, 0.0, 3600.0)
    late = pacing_windows.window(result, 3600.0, 7200.0)
    assert early.occupancy > late.occupancy
