"""A timing smoke (not a benchmark; bench/ measures): decide over 2,000 agents stays far below 5 ms.

The median is asserted, not the maximum: a busy CI machine can pre-empt any
single call for milliseconds, which says nothing about the code.
"""

from __future__ import annotations

import statistics
import time

from bench.routing_workload import synthetic_calls, synthetic_rules, synthetic_snapshot
from routing.selection import decide, pick_call

NOW = 1_750_000_000.0


def test_decide_and_pick_call_on_2000_agents_and_10000_calls_are_fast() -> None:
    rules = synthetic_rules(50)
    snapshot = synthetic_snapshot(2000, 10_000, 50, NOW)
    calls = synthetic_calls(200, 50, NOW, seed=3)
    ready = sorted(a.id for a in snapshot.agents.values() if a.state == "ready")[:200]
    decide_times: list[float] = []
    pick_times: list[float] = []
    offers = 0
    for call, agent_id in zip(calls, ready, strict=True):
        started = time.perf_counter()
        decision = decide(call, snapshot, rules, NOW)
        decide_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        pick_call(agent_id, snapshot, rules, NOW)
        pick_times.append(time.perf_counter() - started)
        offers += decision.agent_id is not None
    assert offers > 100  # the workload really routes
    assert statistics.median(decide_times) < 0.005
    assert statistics.median(pick_times) < 0.005
