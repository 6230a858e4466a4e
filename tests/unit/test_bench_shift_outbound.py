"""Figure 5 (simulated outbound shift) still runs and reports well-formed rows."""

from __future__ import annotations

from bench import bench_shift_outbound, pacing_month

SHIFTS = ("25% answer, 0.05 h, 5 agents", "answer 35%->15%, 0.05 h, 5 agents")
PER_SHIFT = (
    "outbound occupancy vs VICIdial",
    "outbound abandon, worst rolling hour",
    "outbound abandon, 24 h and 30 d windows",
    "outbound occupancy, lowest rolling hour",
    "outbound agent wait p50",
)


def test_outbound_shift_rows_have_the_report_shape() -> None:
    rows = bench_shift_outbound.run(quick=True, hours=0.05, agents=5)
    assert [row["name"] for row in rows] == [
        "outbound predictive occupancy (0.05 h, 5 agents)",
        "outbound predictive abandon rate (0.05 h, 5 agents)",
        "outbound talk time per agent-hour (0.05 h, 5 agents)",
    ] + [f"{name} ({shift})" for shift in SHIFTS for name in PER_SHIFT]
    for row in rows[:3]:
        assert row["peer"]["name"] == "progressive (same run)"
    for row in rows[3:]:
        assert row["peer"]["name"] == "VICIdial ADAPT_HARD_LIMIT (model)"
    for row in rows:
        assert row["met"] is None or isinstance(row["met"], bool)
        assert (row["target"] is None) == (row["met"] is None)
    talk = rows[2]
    assert talk["ratio"] == round(talk["value"] / talk["peer"]["value"], 3)
    assert "talk_bound" in talk["detail"] and talk["target"] is None  # the 2x target was dropped
    assert "24 h and 30 d windows hold the whole shift" in rows[5]["detail"]


def test_window_table_has_a_line_per_shift_and_pacer() -> None:
    table = bench_shift_outbound.window_table(hours=1.0, agents=3).splitlines()
    assert table[0].startswith("| shift | pacer | hour 1 |")
    assert len(table) == 2 + 2 * 4  # header, rule; 2 shifts x (Switchboard, HARD_LIMIT, TAPERED, progressive)
    assert any("ADAPT_TAPERED" in line for line in table)


def test_month_carries_switchboards_abandon_window_across_days() -> None:
    day = pacing_month.Day(0.25, None, 0.05)
    first = pacing_month.month("predictive", day, days=1, agents=3)
    both = pacing_month.month("predictive", day, days=2, agents=3)
    assert both.answers > first.answers and both.days == 2
    assert 0.0 <= both.worst_24h <= 1.0 and 0.0 <= both.first_day <= 1.0
    peer = pacing_month.month("ADAPT_HARD_LIMIT", day, days=2, agents=3)
    assert peer.answers > 0


def test_worst_window_counts_answers_inside_each_window() -> None:
    times, flags = [100.0, 200.0, 90_000.0, 90_100.0], [True, False, False, False]
    day = 86_400.0
    assert pacing_month.worst_window(times, flags, day, end_s=day, from_s=300.0) == 0.5  # first day: 1 of 2
    assert pacing_month.worst_window(times, flags, day, end_s=2 * day, from_s=day) == 0.5  # (0, 86400]
    assert pacing_month.worst_window(times, flags, day, end_s=2 * day, from_s=day + 300) == 0.0  # it left
