"""Figure 4 (the whole engine against the simulated PBX) still runs end to end; speed not judged."""

from __future__ import annotations

import pytest

from bench import bench_engine

pytestmark = pytest.mark.integration

TINY = bench_engine.Plan(
    rates=(5,), step_s=1.0, agents=4, outbound_agents=2, outbound_s=0.5, leads=20, deadline_s=10.0
)


def test_engine_bench_routes_calls_and_reports_rows() -> None:
    rows = bench_engine.run(quick=True, plan=TINY)
    by_name = {row["name"]: row for row in rows}
    step = by_name["engine inbound step 5 calls/s: routing p99"]
    assert "0 not routed" in step["detail"], step["detail"]
    assert by_name["engine RSS after the run"]["value"] > 0
    assert by_name["engine outbound: originates per second"]["value"] > 0
    for row in rows:
        assert {"name", "value", "unit", "target", "peer", "ratio", "met", "detail"} == set(row)
