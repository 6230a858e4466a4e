"""Synthetic routing workloads (seeded, deterministic) for tests, benchmarks and demos.

Owned here: one definition of "a call center of N agents over S skills with C
waiting calls", so the unit smoke test and bench/ measure the same thing:
four tiers (key/important/active/inactive), one queue per skill with an
escalation ladder, agents with 1-3 skills at levels 1-5, about half of them
ready, calls spread over queues and tiers with waits up to five minutes.
"""

from __future__ import annotations

import random
from typing import Any

from routing.agent_events import AgentState
from routing.queue import WaitingCall
from routing.rules import Rules
from routing.snapshot import AgentView, Snapshot

TIERS = (("key", 100, 5), ("important", 70, 4), ("active", 40, None), ("inactive", 10, None))


def synthetic_rules(skills: int = 50, *, widen_early: bool = False) -> Rules:
    """Four tiers and one queue per skill (`q0` needs `s0` level 3, ...); `widen_early`: the
    queues widen a call early when it would miss 80 % in 20 s (routing/forecast.py)."""
    tiers: list[dict[str, Any]] = []
    for name, priority, min_level in TIERS:
        tier: dict[str, Any] = {"name": name, "priority": priority}
        if min_level is not None:
            tier["min_level"] = min_level
        tiers.append(tier)
    queues = [
        {
            "name": f"q{i}",
            "skill": f"s{i}",
            "level": 1 + i % 5,
            "match": {"above": 1},
            "escalation": [{"after_seconds": 30, "widen": 1}, {"after_seconds": 90, "any_level": True}],
            "max_wait": {"seconds": 300},
            "service_level": {"within_seconds": 20, "widen_early": widen_early},
        }
        for i in range(skills)
    ]
    return Rules.model_validate(
        {
            "default_tier": "active",
            "tiers": tiers,
            "skills": [{"name": f"s{i}"} for i in range(skills)],
            "queues": queues,
        }
    )


def synthetic_agents(
    count: int, skills: int, now: float, seed: int = 7, ready_share: float = 0.5
) -> list[AgentView]:
    rng = random.Random(seed)
    agents = []
    for i in range(count):
        chosen = rng.sample(range(skills), k=min(skills, rng.randint(1, 3)))
        state = AgentState.READY if rng.random() < ready_share else AgentState.BUSY
        agents.append(
            AgentView(
                id=f"a{i:05d}",
                state=state,
                skills={f"s{s}": rng.randint(1, 5) for s in chosen},
                idle_since=now - rng.uniform(0, 600),
                occupancy=rng.random(),
            )
        )
    return agents


def synthetic_calls(count: int, skills: int, now: float, seed: int = 11) -> list[WaitingCall]:
    rng = random.Random(seed)
    calls = []
    for i in range(count):
        queue = rng.randrange(skills)
        tier, priority, min_level = TIERS[rng.randrange(len(TIERS))]
        level = max(1 + queue % 5, min_level or 0)
        entered = now - rng.uniform(0, 300)
        calls.append(
            WaitingCall(f"c{i:06d}", f"q{queue}", tier, priority, ((f"s{queue}", level),), entered, entered)
        )
    return calls


def synthetic_snapshot(agents: int, calls: int, skills: int = 50, now: float = 1_750_000_000.0) -> Snapshot:
    return Snapshot.build(synthetic_agents(agents, skills, now), synthetic_calls(calls, skills, now))
