"""Figure 2 (routing decision) still runs and reports well-formed rows; its speed is not judged here."""

from __future__ import annotations

from bench import bench_routing
from bench.bench_routing import NOW, linear_best
from bench.routing_workload import synthetic_rules, synthetic_snapshot
from routing.selection import decide

KEYS = {"name", "value", "unit", "target", "peer", "ratio", "met", "detail"}


def test_routing_bench_rows_have_the_report_shape() -> None:
    rows = bench_routing.run(quick=True, scale=0.001)
    names = [row["name"] for row in rows]
    assert names[:4] == [
        "routing decide p50 (2,000 agents, 10,000 calls)",
        "routing decide p99 (2,000 agents, 10,000 calls)",
        "routing ready->pick p50 (2,000 agents, 10,000 calls)",
        "routing ready->pick p99 (2,000 agents, 10,000 calls)",
    ]
    assert "routing decide p99 (2,000 agents, 10,000 calls, widen_early, nobody ready)" in names
    assert "routing ready->pick p99 (2,000 agents, 10,000 calls, widen_early)" in names
    assert [n for n in names if "growth" in n] == [
        "routing decide growth 100 -> 10,000 agents",
        "routing ready->pick growth 100 -> 10,000 agents",
    ]
    for row in rows:
        assert set(row) == KEYS
        assert row["value"] > 0 and row["unit"]
        assert row["met"] in (True, False, None)
        assert (row["peer"] is None) == (row["ratio"] is None)
        assert (row["target"] is None) == (row["met"] is None)
    assert "same agent as decide on" in rows[0]["detail"]


def test_the_linear_peer_finds_the_agent_decide_offers() -> None:
    rules = synthetic_rules(10)
    snapshot = synthetic_snapshot(200, 300, 10, now=NOW)
    for call in sorted(snapshot.calls.values(), key=lambda c: c.id)[:100]:
        found = linear_best(call, snapshot.agents.values(), rules, NOW)
        assert found == decide(call, snapshot, rules, NOW).agent_id
