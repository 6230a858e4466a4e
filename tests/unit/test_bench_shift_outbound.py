"""Figure 5 (simulated outbound shift) still runs and reports well-formed rows."""

from __future__ import annotations

from bench import bench_shift_outbound


def test_outbound_shift_rows_have_the_report_shape() -> None:
    rows = bench_shift_outbound.run(quick=True, hours=0.05, agents=5)
    assert [row["name"] for row in rows] == [
        "outbound predictive occupancy (0.05 h, 5 agents)",
        "outbound predictive abandon rate (0.05 h, 5 agents)",
        "outbound talk time per agent-hour (0.05 h, 5 agents)",
    ]
    for row in rows:
        assert row["peer"]["name"] == "progressive (same run)"
        assert isinstance(row["met"], bool) and row["target"]
    talk = rows[2]
    assert talk["ratio"] == round(talk["value"] / talk["peer"]["value"], 3)
    assert "talk_bound" in talk["detail"]
