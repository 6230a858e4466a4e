"""Figure 2 of the benchmarks: the routing decision, and how its time grows with the agents.

What is timed (bench.routing_workload workloads: 50 skills, one queue each, four tiers,
about half the agents ready, 10,000 waiting calls spread over queues and tiers):
- `decide(call, snapshot, rules, now)` for one waiting call, with 2,000 agents;
- "an agent becomes ready -> pick the call": `snapshot.with_agent(agent now ready)`
  followed by `pick_call(agent_id, ...)`, which is what the ACD shell runs when an
  agent's wrap-up ends (routing/acd/state.py + dispatcher.seek); `with_agent` alone
  and `pick_call` alone are reported in the detail;
- both at 100, 1,000, 2,000 and 10,000 agents (10,000 calls each time), with the
  growth ratio time(10,000) / time(100) as a row: 100x the agents should cost far
  less than 100x the time (the target taken here is <= 10x, i.e. no worse than
  the square root);
- beside `decide`, an app_queue-like linear scan of every agent that returns the
  same best agent (checked on every timed call) as the peer.
- at 2,000 agents also with the service-level forecast on (`widen_early`, routing/forecast.py),
  and with nobody ready (every decide runs the forecast: its worst case).
Every size and both sides run interleaved in small blocks, so a burst of load from
elsewhere on the machine hits them alike. Each sample times one call with
perf_counter_ns; garbage collection stays on (it is part of the real cost).

Run: `python -m bench.bench_routing [--quick]` from the repository root.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from bench.report import Row, percentiles, print_table, row
from bench.routing_workload import synthetic_rules, synthetic_snapshot
from routing.agent_events import AgentState
from routing.queue import WaitingCall
from routing.rules import Rules
from routing.selection import decide, pick_call
from routing.snapshot import AgentView, Snapshot

NOW = 1_750_000_000.0
SKILLS, CALLS, MAIN = 50, 10_000, 2_000
SIZES = (100, 1_000, 2_000, 10_000)
BLOCK = 200  # samples of one kind before the next kind's turn
P50_TARGET_US, P99_TARGET_US, GROWTH_TARGET = 50.0, 500.0, 10.0
PEER = "linear scan of all agents (app_queue-like)"
EARLY, IDLE = "widen_early", "widen_early, nobody ready"
T = TypeVar("T", AgentView, WaitingCall)


@dataclass
class Samples:
    decide: list[float]
    ready_pick: list[float]
    pick: list[float]
    linear: list[float]
    mismatches: int = 0
    update: list[float] = field(default_factory=list)  # with_agent alone, of each ready->pick


def linear_best(call: WaitingCall, agents: Iterable[AgentView], rules: Rules, now: float) -> str | None:
    """The agent `decide` offers, found by scanning every agent (no index), as app_queue would
    scan its members: over a plain list (the snapshot's map iterates leaf by leaf, in hash order,
    which made this peer about 1.7x slower than the same scan of a list)."""
    plan = rules.index.queues[call.queue]
    stage = plan.stage_at(now - call.entered_at)
    skill, need = call.needs[0]
    best: tuple[int, int, float, str] | None = None
    for agent in agents:
        level = agent.skills.get(skill)
        if agent.state is not AgentState.READY or level is None or agent.id in call.declined_by:
            continue
        if not need - stage.below <= level <= need + stage.above:
            continue
        if any(agent.skills.get(s, 0) < lvl - stage.below for s, lvl in call.needs[1:]):
            continue
        fair = agent.occupancy if plan.fairness == "least_occupancy" else agent.idle_since
        key = (0, level - need, fair, agent.id) if level >= need else (1, need - level, fair, agent.id)
        if best is None or key < best:
            best = key
    return None if best is None else best[3]


class Workload:
    """One snapshot size and the calls and agents its samples take turns over."""

    def __init__(self, agents: int, rules: Rules, seed: int, *, nobody_ready: bool = False) -> None:
        self.agents = agents
        self.snapshot = synthetic_snapshot(agents, CALLS, SKILLS, now=NOW)
        if nobody_ready:  # every decide finds nobody in its window: the forecast runs every time
            turns = random.Random(seed)
            views = [_busy(a, turns) for a in _by_id(self.snapshot.agents.values())]
            self.snapshot = Snapshot.build(views, self.snapshot.calls.values())
        self.rules = rules
        rng = random.Random(seed)
        self.calls = _by_id(self.snapshot.calls.values())
        rng.shuffle(self.calls)
        self.members = _by_id(self.snapshot.agents.values())  # the linear peer's list
        self.busy = [a for a in self.members if a.state is AgentState.BUSY]
        rng.shuffle(self.busy)
        self.samples = Samples([], [], [], [])
        self.turn = 0

    def time_decide(self, count: int, *, linear: bool) -> None:
        snapshot, rules, clock = self.snapshot, self.rules, time.perf_counter_ns
        for _ in range(count):
            call = self.calls[self.turn % len(self.calls)]
            self.turn += 1
            started = clock()
            decision = decide(call, snapshot, rules, NOW)
            self.samples.decide.append((clock() - started) / 1000)
            if linear:
                started = clock()
                agent_id = linear_best(call, self.members, rules, NOW)
                self.samples.linear.append((clock() - started) / 1000)
                self.samples.mismatches += agent_id != decision.agent_id

    def time_ready_pick(self, count: int) -> None:
        snapshot, rules, clock = self.snapshot, self.rules, time.perf_counter_ns
        for _ in range(count):
            agent: AgentView = self.busy[self.turn % len(self.busy)]
            self.turn += 1
            ready = replace(agent, state=AgentState.READY, idle_since=NOW)
            started = clock()
            after = snapshot.with_agent(ready)
            picked = clock()
            pick_call(agent.id, after, rules, NOW)
            ended = clock()
            self.samples.ready_pick.append((ended - started) / 1000)
            self.samples.pick.append((ended - picked) / 1000)
            self.samples.update.append((picked - started) / 1000)


def _by_id(items: Iterable[T]) -> list[T]:
    """In id order: the seeded shuffles and draws then give the same workload in every process
    (the snapshot's maps iterate in hash order, which changes with the process's hash seed)."""
    return sorted(items, key=lambda item: item.id)


def _busy(agent: AgentView, rng: random.Random) -> AgentView:
    """`agent` talking (if they were ready), since a plausible time: the forecast reads it."""
    if agent.state is AgentState.WRAP_UP:
        return replace(agent, since=NOW - rng.uniform(0, 15))
    if agent.state in (AgentState.READY, AgentState.BUSY):
        return replace(agent, state=AgentState.BUSY, since=NOW - rng.uniform(0, 600))
    return agent


def measure(decide_samples: int, pick_samples: int, linear_samples: int) -> dict[int | str, Samples]:
    """All sizes, interleaved block by block; the main size also runs the linear peer, and with
    early widening on (`EARLY`; `IDLE`: nobody ready, the forecast's worst case)."""
    rules, early = synthetic_rules(SKILLS), synthetic_rules(SKILLS, widen_early=True)
    loads: dict[int | str, Workload] = {size: Workload(size, rules, seed=size) for size in SIZES}
    loads[EARLY] = Workload(MAIN, early, seed=MAIN)
    loads[IDLE] = Workload(MAIN, early, seed=MAIN, nobody_ready=True)
    decide_blocks = max(1, decide_samples // BLOCK)
    pick_block = max(1, pick_samples // decide_blocks)
    linear_block = max(1, linear_samples // decide_blocks)
    gc.collect()
    for _ in range(decide_blocks):
        for size, load in loads.items():
            load.time_decide(BLOCK, linear=False)
            load.time_ready_pick(pick_block)
            if size == MAIN:
                load.time_decide(linear_block, linear=True)
    return {size: load.samples for size, load in loads.items()}


def _latency_rows(main: Samples, sizes: str) -> list[Row]:
    d50, d99 = percentiles(main.decide, 50, 99)
    l50, l99 = percentiles(main.linear, 50, 99)
    r50, r99 = percentiles(main.ready_pick, 50, 99)
    p50, p99 = percentiles(main.pick, 50, 99)
    u50, u99 = percentiles(main.update, 50, 99)
    same = f"same agent as decide on {len(main.linear) - main.mismatches:,} of {len(main.linear):,} calls"
    pick_note = (
        f"with_agent + pick_call; with_agent alone p50 {u50:.1f} / p99 {u99:.1f} us, "
        f"pick_call alone p50 {p50:.1f} / p99 {p99:.1f} us"
    )
    return [
        row(f"routing decide p50 ({sizes})", d50, "us", target=f"<= {P50_TARGET_US:g} us",
            met=d50 <= P50_TARGET_US, peer=(PEER, l50), detail=f"{len(main.decide):,} samples; peer {same}"),
        row(f"routing decide p99 ({sizes})", d99, "us", target=f"<= {P99_TARGET_US:g} us",
            met=d99 <= P99_TARGET_US, peer=(PEER, l99), detail=f"{len(main.linear):,} peer samples"),
        row(f"routing ready->pick p50 ({sizes})", r50, "us", target=f"<= {P50_TARGET_US:g} us",
            met=r50 <= P50_TARGET_US, detail=pick_note),
        row(f"routing ready->pick p99 ({sizes})", r99, "us", target=f"<= {P99_TARGET_US:g} us",
            met=r99 <= P99_TARGET_US, detail=f"{len(main.ready_pick):,} samples"),
    ]  # fmt: skip


def _growth_rows(samples: dict[int, Samples]) -> list[Row]:
    rows = []
    for size, found in samples.items():
        d50, d99 = percentiles(found.decide, 50, 99)
        r50, r99 = percentiles(found.ready_pick, 50, 99)
        u50 = percentiles(found.update, 50)[0]
        note = f"decide p99 {d99:.1f} us; ready->pick p50 {r50:.1f} / p99 {r99:.1f} us"
        note += f" (with_agent p50 {u50:.1f})"
        rows.append(row(f"routing decide p50, {size:,} agents", d50, "us", detail=note))
    low, high = min(SIZES), max(SIZES)
    for label, pick in (("decide", _decide), ("ready->pick", _ready_pick)):
        small, large = percentiles(pick(samples[low]), 50)[0], percentiles(pick(samples[high]), 50)[0]
        growth = large / small
        rows.append(
            row(f"routing {label} growth {low:,} -> {high:,} agents", large, "us",
                target=f"ratio <= {GROWTH_TARGET:g} ({high // low}x agents)", met=growth <= GROWTH_TARGET,
                peer=(f"p50 at {low:,} agents", small), ratio=growth,
                detail=f"p50 at {high:,} agents vs at {low:,}; {CALLS:,} calls each")
        )  # fmt: skip
    return rows


def _decide(found: Samples) -> list[float]:
    return found.decide


def _ready_pick(found: Samples) -> list[float]:
    return found.ready_pick


def run(quick: bool, scale: float | None = None) -> list[Row]:
    """All rows of figure 2; `scale` shrinks the sample counts (the smoke test uses a tiny one)."""
    factor = scale if scale is not None else (0.15 if quick else 1.0)
    counts = (int(20_000 * factor) or 1, int(8_000 * factor) or 1, int(4_000 * factor) or 1)
    samples = measure(*counts)
    rows = _latency_rows(samples[MAIN], f"{MAIN:,} agents, {CALLS:,} calls")
    rows += _growth_rows({size: samples[size] for size in SIZES})
    return rows + _early_rows(samples[EARLY], samples[IDLE])


def _early_rows(early: Samples, idle: Samples) -> list[Row]:
    """decide and ready->pick with the service-level forecast on (routing/forecast.py)."""
    rows = []
    for label, found in ((EARLY, early), (IDLE, idle)):
        sizes = f"{MAIN:,} agents, {CALLS:,} calls, {label}"
        for kind, values in (("decide", found.decide), ("ready->pick", found.ready_pick)):
            p50, p99 = percentiles(values, 50, 99)
            rows += [
                row(f"routing {kind} p50 ({sizes})", p50, "us", target=f"<= {P50_TARGET_US:g} us",
                    met=p50 <= P50_TARGET_US, detail=f"{len(values):,} samples"),
                row(f"routing {kind} p99 ({sizes})", p99, "us", target=f"<= {P99_TARGET_US:g} us",
                    met=p99 <= P99_TARGET_US, detail=f"{len(values):,} samples"),
            ]  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="about a sixth of the samples")
    args = parser.parse_args(argv)
    print_table(run(args.quick), "Figure 2: routing decision")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
