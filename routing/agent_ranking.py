"""Which ready agents could take a call, in preference order, and which are held back. Pure.

- Candidates are ready agents having every needed skill. The primary skill's level must lie in the
  call's window [need - below, need + above].
- Preference: at or above the need first, closest level first (a level-5 need gets the experts, a
  level-1 need the novices), then below the need, closest first. Equal level: fairness (longest
  idle, or least occupied over the window), then agent id, so a tie is never decided by dict order.
- Reserve: a queue may keep its K best ready agents for key tiers (`reserve_top_agents`); with early
  widening, the K best among those at the reserve tiers' min_level (the experts), and every ready
  agent at that level from callers who need less.

routing/selection.py (decide) and routing/call_pick.py (pick_call) build on these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from routing.plan import QueuePlan, Stage
from routing.queue import Needs, WaitingCall
from routing.snapshot import Snapshot


class Candidate(NamedTuple):
    """An agent who could take the call, in preference order."""

    agent_id: str
    level: int
    distance: int
    fairness: float


def _preferences(need: int, below: int, above: int) -> tuple[int, ...]:
    upward = tuple(range(need, min(5, need + above) + 1))
    downward = tuple(range(need - 1, max(1, need - below) - 1, -1))
    return upward + downward


_ORDER = {(n, b, a): _preferences(n, b, a) for n in range(1, 6) for b in range(5) for a in range(5)}


def fits_rest(skills: Mapping[str, int], needs: Needs, below: int) -> bool:
    for skill, level in needs[1:]:
        have = skills.get(skill)
        if have is None or have < level - below:
            return False
    return True


def can_take(skills: Mapping[str, int], needs: Needs, stage: Stage) -> bool:
    """Whether an agent with `skills` fits a call needing `needs` inside `stage`'s window, whatever
    their state (the dialer's pacing counts the agents who could take a campaign's calls)."""
    skill, need = needs[0]
    level = skills.get(skill, 0)
    in_window = bool(level) and need - stage.below <= level <= need + stage.above
    return in_window and fits_rest(skills, needs, stage.below)


def rank_agents(
    call: WaitingCall,
    stage: Stage,
    snapshot: Snapshot,
    *,
    policy: str,
    reserved: frozenset[str],
    now: float,
    limit: int,
    retry_declined: bool = False,
) -> tuple[Candidate, ...]:
    """Up to `limit` candidates for `call` in preference order (reads index buckets only).

    Agents who missed a ring for this call are skipped unless `retry_declined`.
    """
    skill, need = call.needs[0]
    levels = snapshot.ready_levels(skill, policy)
    found: list[Candidate] = []
    excluded = frozenset() if retry_declined else call.declined_by
    for level in _ORDER[(need, stage.below, stage.above)]:
        for agent in levels[level]:
            if agent.id in excluded or agent.id in reserved:
                continue
            if not fits_rest(agent.skills, call.needs, stage.below):
                continue
            fair = agent.occupancy if policy == "least_occupancy" else now - agent.idle_since
            found.append(Candidate(agent.id, level, level - need, fair))
            if len(found) >= limit:
                return tuple(found)
    return tuple(found)


def reserved_agents(plan: QueuePlan, tier: str, snapshot: Snapshot, need: int = 5) -> frozenset[str]:
    """The agents held back from a caller of `tier` needing level `need` in this queue (empty when
    none are): the queue's `reserve_top_agents` (with early widening on, the best at the reserve
    tiers' `min_level` or above), and then also every ready agent at that level from callers who need
    less (released by the forecast)."""
    if not plan.reserve_count or tier in plan.reserve_tiers:
        return frozenset()
    if not plan.reserve_always and not snapshot.has_waiting(plan.name, plan.reserve_tiers):
        return frozenset()
    early = plan.spec.service_level.widen_early
    # With early widening key callers take a level below their min_level only at their last moment:
    # keeping such an agent from others would cost them their target and help no key caller before.
    lowest = plan.reserve_level if early and plan.reserve_level else 1
    top = top_agents(snapshot, plan.skill, plan.reserve_count, lowest=lowest)
    if plan.reserve_level and need < plan.reserve_level and early:
        levels = snapshot.ready_levels(plan.skill, "longest_idle")
        top = top.union(*(frozenset(a.id for a in levels[lvl]) for lvl in range(plan.reserve_level, 6)))
    return top


def top_agents(snapshot: Snapshot, skill: str, count: int, *, lowest: int = 1) -> frozenset[str]:
    """The `count` best ready agents for `skill` at level `lowest` or above: highest level first,
    longest idle first."""
    levels = snapshot.ready_levels(skill, "longest_idle")
    chosen: list[str] = []
    for level in range(5, lowest - 1, -1):
        for agent in levels[level]:
            chosen.append(agent.id)
            if len(chosen) >= count:
                return frozenset(chosen)
    return frozenset(chosen)
