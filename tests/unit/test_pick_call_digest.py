"""pick_call gives the same picks, rankings and explain text as before it was made cheaper.

The digests below were recorded from the code before the change (commit bb0cd86): every
Pick (call, reason, ranking with priorities and waits) over the benchmark's workloads and over
seeded random workloads that use every rule pick_call reads (hours, reserve, early widening,
capped tiers, per-queue tier overrides, second skills, outbound calls, declines). A change of
any result changes a digest; a deliberate change of behaviour records new ones here.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace
from typing import Any

import pytest

from bench.bench_routing import NOW, Workload
from bench.routing_workload import synthetic_rules
from routing.agent_events import AgentState
from routing.queue import WaitingCall
from routing.rules import Rules
from routing.selection import Pick, pick_call
from routing.snapshot import AgentView, Snapshot

SKILLS = 6
HOURS = (  # NOW is a Sunday, 15:06:40 UTC: open, and closed since 15:05
    {"zone": "UTC", "weekly": {"sun": ["14:00-16:00"]}},
    {"zone": "UTC", "weekly": {"sun": ["15:00-15:05"]}},
)
BENCH_DIGESTS = {  # (agents, early widening, nobody ready before)
    (100, False, False): "1b5003434938fea85930492be0de4fc3af3a115c6526e620fded0bb6953a0575",
    (2_000, False, False): "c125208f84a8906c16886da9f35e126ad185cc9a345f14c16140199b1f451279",
    (2_000, True, True): "5e98443601ba97ac49f8d7aa66e89e9342bb1f9d19dfde2dba44d7a0e671cd71",
}
RANDOM_DIGESTS = {
    0: "142ce3802283183eed5a1d5c93cef6e412808930cf7ec9fcd061fa5874e3f1ce",
    1: "80f0643ce64c79fd81995c9fd81226475f313de7e9c2bd93589716abda59e0f1",
    2: "f1dd5da82338a67f9656e42d0fc58376d24a6791881af2aadbb433559a0cc4e9",
    3: "782cfcb73cc9e16fa6c5028dab72638573feca98c9afccd2d2f7da15ffc65f21",
    4: "568960a5601097475d58115c672b47a2825f988b98f24863ef4ada9fa9d20823",
    5: "162c61c8862472cc5eacc4cbebf8aa56541a10e7ac511dcc61537330afc97570",
    6: "4fe83a4885e29e7f1b95bb3391f45fadf0570952a14a57d516a9a90bcf9744e4",
    7: "b0276e99004c3fb2a14de156aabb2d0b664fc4662eb38515355779b2f76cc601",
}


def _digest(picks: list[Pick]) -> str:
    return hashlib.sha256("\n".join(repr(p) for p in picks).encode()).hexdigest()


@pytest.mark.parametrize(("agents", "early", "idle"), sorted(BENCH_DIGESTS))
def test_bench_workload_picks_are_unchanged(agents: int, early: bool, idle: bool) -> None:
    picks = bench_picks(agents, early, idle)
    assert sum(p.call_id is not None for p in picks) > len(picks) // 2  # the workload really picks
    assert _digest(picks) == BENCH_DIGESTS[agents, early, idle]


def bench_picks(agents: int, early: bool, idle: bool) -> list[Pick]:
    """Busy agents of the benchmark's snapshot become ready and pick, as bench/bench_routing.py times."""
    load = Workload(agents, synthetic_rules(50, widen_early=early), seed=agents, nobody_ready=idle)
    picks = []
    for agent in load.busy[:300]:
        after = load.snapshot.with_agent(replace(agent, state=AgentState.READY, idle_since=NOW))
        picks.append(pick_call(agent.id, after, load.rules, NOW))
    return picks


def _random_rules(rng: random.Random) -> Rules:
    tiers: list[dict[str, Any]] = [
        {"name": "key", "priority": 100, "min_level": 4},
        {"name": "important", "priority": 70},
        {"name": "active", "priority": 40},
        {"name": "inactive", "priority": 10, "max_level": 2},
    ]
    queues = []
    for i in range(SKILLS):
        queue: dict[str, Any] = {
            "name": f"q{i}",
            "skill": f"s{i}",
            "level": rng.randint(1, 5),
            "match": {"above": rng.randint(0, 2), "below": rng.randint(0, 1)},
            "escalation": [{"after_seconds": 20, "widen": 1}, {"after_seconds": 60, "any_level": True}],
            "max_wait": {"seconds": rng.choice((120, 300))},
            "service_level": {"within_seconds": 20, "widen_early": rng.random() < 0.5},
        }
        if rng.random() < 0.4:
            queue["also_requires"] = {f"s{(i + 1) % SKILLS}": rng.randint(1, 3)}
        if rng.random() < 0.4:
            queue["tiers"] = {"active": {"priority": rng.randint(0, 120), "max_wait_seconds": 90}}
        if rng.random() < 0.4:
            queue["reserve_top_agents"] = {
                "count": rng.randint(1, 3),
                "for_tiers": ["key"],
                "mode": rng.choice(("always", "when_waiting")),
            }
        if rng.random() < 0.4:
            queue["hours"] = rng.choice(HOURS)
        queues.append(queue)
    return Rules.model_validate(
        {"default_tier": "active", "tiers": tiers, "skills": [{"name": f"s{i}"} for i in range(SKILLS)],
         "queues": queues}
    )  # fmt: skip


def _random_snapshot(rng: random.Random, rules: Rules) -> Snapshot:
    states = (AgentState.READY, AgentState.READY, AgentState.BUSY, AgentState.WRAP_UP)
    agents = []
    for i in range(60):
        skills = {f"s{s}": rng.randint(1, 5) for s in rng.sample(range(SKILLS), k=rng.randint(1, 4))}
        agents.append(
            AgentView(f"a{i:03d}", rng.choice(states), skills, idle_since=NOW - rng.uniform(0, 600),
                      occupancy=rng.random(), since=NOW - rng.uniform(0, 300))
        )  # fmt: skip
    plans = rules.index.queues
    calls = []
    for i in range(150):
        plan = plans[f"q{rng.randrange(SKILLS)}"]
        tier = rng.choice(("key", "important", "active", "inactive"))
        needs = ((plan.skill, max(plan.level, plan.min_levels.get(tier, 0))), *plan.extra)
        entered = NOW - rng.choice((rng.uniform(0, 400), float(rng.randint(0, 60))))  # ties at whole seconds
        declined = frozenset(f"a{rng.randrange(60):03d}" for _ in range(rng.choice((0, 0, 1, 5))))
        declined |= {"a000"} if plan.name == "q0" else set()  # whole groups declined by one agent
        calls.append(
            WaitingCall(f"c{i:04d}", plan.name, tier, plans[plan.name].priorities[tier], needs, entered,
                        entered - rng.choice((0.0, 30.0)), declined, outbound=rng.random() < 0.05)
        )  # fmt: skip
    gone = WaitingCall("gone", "removed", "active", 40, (("s0", 1),), NOW - 5.0)  # its queue left the rules
    return Snapshot.build(agents, [*calls, gone])


@pytest.mark.parametrize("seed", sorted(RANDOM_DIGESTS))
def test_random_workload_picks_are_unchanged(seed: int) -> None:
    picks = random_picks(seed)
    assert any(p.call_id is not None for p in picks)
    assert any(len(p.ranking) > 3 for p in picks)  # rankings longer than the default
    assert _digest(picks) == RANDOM_DIGESTS[seed]


def random_picks(seed: int) -> list[Pick]:
    """Every agent (and one unknown) picks at three moments, with three ranking lengths."""
    rng = random.Random(seed)
    rules = _random_rules(rng)
    snapshot = _random_snapshot(rng, rules)
    picks = []
    for now in (NOW, NOW + 45.0, NOW + 400.0):
        for agent_id in [*sorted(snapshot.agents), "nobody"]:
            for limit in (1, 3, 10):
                picks.append(pick_call(agent_id, snapshot, rules, now, limit=limit))
    return picks
