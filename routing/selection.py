"""Pure routing decisions over a snapshot: decide(call) -> agent, and pick_call(agent) -> call.

Rules it keeps:
- Candidates are ready agents having every needed skill. The primary skill's
  level must lie in the call's window [need - below, need + above]; the window
  starts at the queue's `match` and widens with each escalation step in force.
- Preference: at or above the need first, closest level first (a level-5 need
  gets the experts, a level-1 need the novices), then below the need, closest
  first. Equal level: fairness (longest idle, or least occupied over the
  window), then agent id, so a tie is never decided by dict order.
- Agents who missed a ring for this call (`declined_by`) are skipped.
- Reserve: while a queue keeps its K best ready agents for key tiers, callers of
  other tiers are not offered those agents, unless the queue widens early, the
  caller would miss the service-level target without them, no caller of those
  tiers waits and another expert would still be free in time for one (forecast).
  With early widening every ready agent at the reserve tiers' min_level is kept
  so from callers who need less.
- Early widening (routing/forecast.py): a call nobody in its step's window can
  take now, and who would miss its queue's service-level target waiting for them,
  is offered the first wider window of its escalation steps that answers it in
  time; the reason says so ("widened at 12 s: would have missed 20 s").
- No agent: overflow if an overflow step is in force; at max wait the queue's
  max-wait action; otherwise wait, with `recheck_at` telling the shell when the
  answer can change by time alone (next escalation step or max wait).
- A queue closed by its hours applies `when_closed` to callers who arrived
  while it was closed; callers admitted while it was open are still served.
- An answered outbound call (the dialer's) ignores the queue's hours (the
  campaign has its own calling hours), never overflows and never exits: with no
  agent it waits, and the dialer abandons it after its grace.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import NamedTuple

from routing.agent_events import AgentState
from routing.forecast import describe, sl_window
from routing.opening_hours import is_open, next_opening
from routing.plan import QueuePlan, RulesIndex, Stage
from routing.queue import Needs, WaitingCall, call_priority
from routing.rules import Fallback, Rules
from routing.snapshot import AgentView, Snapshot


class Outcome(StrEnum):
    OFFER = "offer"
    WAIT = "wait"
    OVERFLOW = "overflow"
    EXIT = "exit"


class Candidate(NamedTuple):
    """An agent who could take the call, in preference order."""

    agent_id: str
    level: int
    distance: int
    fairness: float


class Decision(NamedTuple):
    """What to do with one waiting call now. `target`: overflow queue or exit extension.

    A NamedTuple rather than a frozen dataclass: it is built on the hot path and
    is several times cheaper to create, and just as immutable.
    """

    call_id: str
    outcome: Outcome
    reason: str
    agent_id: str | None = None
    target: str | None = None
    stage: int = 0
    window: tuple[int, int] = (0, 0)
    priority: float = 0.0
    recheck_at: float | None = None
    ranking: tuple[Candidate, ...] = ()


def _preferences(need: int, below: int, above: int) -> tuple[int, ...]:
    upward = tuple(range(need, min(5, need + above) + 1))
    downward = tuple(range(need - 1, max(1, need - below) - 1, -1))
    return upward + downward


_ORDER = {(n, b, a): _preferences(n, b, a) for n in range(1, 6) for b in range(5) for a in range(5)}


def _fits_rest(skills: Mapping[str, int], needs: Needs, below: int) -> bool:
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
    return in_window and _fits_rest(skills, needs, stage.below)


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
            if not _fits_rest(agent.skills, call.needs, stage.below):
                continue
            fair = agent.occupancy if policy == "least_occupancy" else now - agent.idle_since
            found.append(Candidate(agent.id, level, level - need, fair))
            if len(found) >= limit:
                return tuple(found)
    return tuple(found)


def reserved_agents(plan: QueuePlan, tier: str, snapshot: Snapshot, need: int = 5) -> frozenset[str]:
    """The agents held back from a caller of `tier` needing level `need` in this queue (empty when
    none are): the queue's `reserve_top_agents`; with early widening on, also every ready agent at
    the reserve tiers' `min_level` or above from callers who need less (released by the forecast)."""
    if not plan.reserve_count or tier in plan.reserve_tiers:
        return frozenset()
    if not plan.reserve_always and not snapshot.has_waiting(plan.name, plan.reserve_tiers):
        return frozenset()
    top = top_agents(snapshot, plan.skill, plan.reserve_count)
    if plan.reserve_level and need < plan.reserve_level and plan.spec.service_level.widen_early:
        levels = snapshot.ready_levels(plan.skill, "longest_idle")
        top = top.union(*(frozenset(a.id for a in levels[lvl]) for lvl in range(plan.reserve_level, 6)))
    return top


def top_agents(snapshot: Snapshot, skill: str, count: int) -> frozenset[str]:
    """The `count` best ready agents for `skill`: highest level first, longest idle first."""
    levels = snapshot.ready_levels(skill, "longest_idle")
    chosen: list[str] = []
    for level in range(5, 0, -1):
        for agent in levels[level]:
            chosen.append(agent.id)
            if len(chosen) >= count:
                return frozenset(chosen)
    return frozenset(chosen)


def decide(call: WaitingCall, snapshot: Snapshot, rules: Rules, now: float, *, limit: int = 3) -> Decision:
    """What to do with `call` at `now`: offer it to an agent, let it wait, overflow or exit."""
    index = rules.index
    plan = index.queues.get(call.queue)
    if plan is None:
        if call.outbound:  # the dialer's grace ends it, with the abandon message
            return Decision(call.id, Outcome.WAIT, f"queue {call.queue!r} is no longer in the routing rules")
        return Decision(call.id, Outcome.EXIT, f"queue {call.queue!r} is no longer in the routing rules")
    hours = None if call.outbound else plan.hours
    if hours is not None and not is_open(hours, now) and not is_open(hours, call.entered_at):
        return _closed(call, plan, now)
    waited = now - call.entered_at
    stage = plan.stage_at(waited, call.tier)
    priority = call_priority(call, plan, index.top_priority, now)
    reserved = reserved_agents(plan, call.tier, snapshot, call.needs[0][1])
    stage, ranking, widened = _candidates(
        call, plan, stage, snapshot, reserved, now=now, limit=limit, index=index
    )
    window = (stage.below, stage.above)
    if ranking:
        best = ranking[0]
        reason = _offer_reason(call, best, plan.fairness) + (f"; {widened}" if widened else "")
        return Decision(
            call.id, Outcome.OFFER, reason, best.agent_id, None, stage.steps, window, priority, None, ranking
        )
    if call.outbound:
        reason = _wait_reason(call, stage, reserved, False) + "; the dialer abandons it after its grace"
        recheck = plan.next_step_at(waited)
        at = None if recheck is None else call.entered_at + recheck
        return Decision(call.id, Outcome.WAIT, reason, None, None, stage.steps, window, priority, at)
    if stage.overflow_to is not None:
        reason = (
            f"no agent after {waited:.0f} s; escalation step {stage.steps} overflows to {stage.overflow_to!r}"
        )
        return Decision(
            call.id, Outcome.OVERFLOW, reason, None, stage.overflow_to, stage.steps, window, priority
        )
    max_wait = plan.max_wait_of(call.tier)
    if waited >= max_wait and plan.max_wait_action.action != "wait":
        return _fallback(
            call, plan.max_wait_action, f"waited {waited:.0f} s, max wait {max_wait:g} s", stage, priority
        )
    reason = _wait_reason(call, stage, reserved, waited >= max_wait) + (f"; {widened}" if widened else "")
    recheck = _recheck_at(call, plan, waited, max_wait)
    return Decision(call.id, Outcome.WAIT, reason, None, None, stage.steps, window, priority, recheck)


def _candidates(
    call: WaitingCall,
    plan: QueuePlan,
    stage: Stage,
    snapshot: Snapshot,
    reserved: frozenset[str],
    *,
    now: float,
    limit: int,
    index: RulesIndex,
) -> tuple[Stage, tuple[Candidate, ...], str]:
    """The call's candidates and the window they came from: its step's window; when that has
    nobody, the window it is widened to early (and why); then those who missed a ring for it."""
    ranking = rank_agents(
        call, stage, snapshot, policy=plan.fairness, reserved=reserved, now=now, limit=limit
    )
    widened = ""
    if not ranking and plan.spec.service_level.widen_early and not call.outbound:
        widening = sl_window(call, index, snapshot, now, reserved)
        if widening is not None:
            stage = widening.stage
            ranking = rank_agents(
                call, stage, snapshot, policy=plan.fairness, reserved=reserved, now=now, limit=limit
            )
            released = not ranking and widening.release
            if released:
                ranking = rank_agents(
                    call, stage, snapshot, policy=plan.fairness, reserved=frozenset(), now=now, limit=limit
                )
            widened = describe(widening, released=released and bool(ranking))
    if not ranking and call.declined_by:
        # Nobody else fits: ring again those who missed, rather than leave the caller to max wait.
        ranking = rank_agents(
            call, stage, snapshot, policy=plan.fairness, reserved=reserved, now=now, limit=limit,
            retry_declined=True,
        )  # fmt: skip
    return stage, ranking, widened


def _recheck_at(call: WaitingCall, plan: QueuePlan, waited: float, max_wait: float) -> float | None:
    """When the decision can change by time alone: the next step, max wait, or the moment the call
    would miss its service-level target (the last chance to widen it early)."""
    level = plan.spec.service_level
    deadline = (
        level.within_seconds - level.headroom_seconds if level.widen_early and not call.outbound else None
    )
    times = [t for t in (plan.next_step_at(waited), max_wait, deadline) if t is not None and t > waited]
    return call.entered_at + min(times) if times else None


def _closed(call: WaitingCall, plan: QueuePlan, now: float) -> Decision:
    rule = plan.when_closed
    if rule.action != "wait":
        first = plan.stages_for(call.tier)[0]
        return _fallback(call, rule, f"queue {plan.name!r} is closed", first, float(call.priority))
    assert plan.hours is not None
    opens = next_opening(plan.hours, now)
    return Decision(
        call.id, Outcome.WAIT, f"queue {plan.name!r} is closed; waiting until it opens", recheck_at=opens
    )


def _fallback(call: WaitingCall, rule: Fallback, why: str, stage: Stage, priority: float) -> Decision:
    window = (stage.below, stage.above)
    if rule.action == "overflow":
        reason = f"{why}: overflow to {rule.queue!r}"
        return Decision(call.id, Outcome.OVERFLOW, reason, None, rule.queue, stage.steps, window, priority)
    reason = f"{why}: exit to {rule.exit_to!r}"
    return Decision(call.id, Outcome.EXIT, reason, None, rule.exit_to, stage.steps, window, priority)


def _offer_reason(call: WaitingCall, best: Candidate, policy: str) -> str:
    skill, need = call.needs[0]
    if best.distance == 0:
        fit = f"{skill} {best.level} = need {need}"
    elif best.distance > 0:
        fit = f"{skill} {best.level}, {best.distance} above need {need}"
    else:
        fit = f"{skill} {best.level}, {-best.distance} below need {need} (escalated)"
    fair = f"occupancy {best.fairness:.0%}" if policy == "least_occupancy" else f"idle {best.fairness:.0f} s"
    return f"agent {best.agent_id}: {fit}; {fair}"


def _wait_reason(call: WaitingCall, stage: Stage, reserved: frozenset[str], at_max: bool) -> str:
    skill, need = call.needs[0]
    low, high = max(1, need - stage.below), min(5, need + stage.above)
    text = f"no ready agent with {skill} {low}-{high}" if low < high else f"no ready agent with {skill} {low}"
    if len(call.needs) > 1:
        text += " and " + ", ".join(f"{s} {lvl}" for s, lvl in call.needs[1:])
    if call.declined_by:
        text += f" (already missed a ring for it: {', '.join(sorted(call.declined_by))})"
    if reserved:
        text += f" ({len(reserved)} kept free for key callers)"
    if at_max:
        text += "; at max wait, waiting at top priority"
    return text


class CallCandidate(NamedTuple):
    """A waiting call an agent could take, in serving order."""

    call_id: str
    queue: str
    tier: str
    priority: float
    waited: float


class Pick(NamedTuple):
    """Which waiting call a ready agent should take now (`call_id` None: none fits)."""

    agent_id: str
    call_id: str | None
    reason: str
    ranking: tuple[CallCandidate, ...] = ()


def pick_call(agent_id: str, snapshot: Snapshot, rules: Rules, now: float, *, limit: int = 3) -> Pick:
    """The call `agent_id` should serve: highest effective priority, then longest waiting, among
    the calls whose current window accepts this agent. Compares group heads only."""
    agent = snapshot.agents.get(agent_id)
    if agent is None or agent.state is not AgentState.READY:
        return Pick(agent_id, None, f"agent {agent_id} is not ready")
    index = rules.index
    memo: dict[tuple[str, str], bool] = {}
    found: list[tuple[float, float, str, CallCandidate]] = []
    for skill in agent.skills:
        for key in snapshot.groups_by_skill.get(skill, ()):
            plan = index.queues.get(key[0])
            head = _head(snapshot.groups[key], agent_id)
            if plan is None or head is None:
                continue
            if not _serves(agent, head, plan, snapshot, now=now, memo=memo, index=index):
                continue
            priority = call_priority(head, plan, index.top_priority, now)
            entry = CallCandidate(head.id, head.queue, head.tier, priority, now - head.entered_at)
            found.append((-priority, head.entered_at, head.id, entry))
    if not found:
        return Pick(agent_id, None, f"no waiting call fits agent {agent_id}")
    found.sort(key=lambda item: item[:3])
    ranking = tuple(item[3] for item in found[:limit])
    best = ranking[0]
    reason = (
        f"call {best.call_id} in {best.queue!r} ({best.tier}, priority {best.priority:.1f}, "
        f"waited {best.waited:.0f} s)"
    )
    return Pick(agent_id, best.call_id, reason, ranking)


def _head(members: tuple[WaitingCall, ...], agent_id: str) -> WaitingCall | None:
    """The oldest call of a group this agent has not declined."""
    for call in members:
        if agent_id not in call.declined_by:
            return call
    return None


def _serves(
    agent: AgentView,
    call: WaitingCall,
    plan: QueuePlan,
    snapshot: Snapshot,
    *,
    now: float,
    memo: dict[tuple[str, str], bool],
    index: RulesIndex,
) -> bool:
    """Whether `agent` may take `call` now: inside its window (or the window it is widened to
    early), admitted by the hours, not held back (unless released for it).

    `memo` caches the per-queue answers (open now, agent held back) for one pick_call.
    """
    if plan.hours is not None and not call.outbound:
        key = ("open", plan.name)
        if key not in memo:
            memo[key] = is_open(plan.hours, now)
        if not memo[key] and not is_open(plan.hours, call.entered_at):
            return False
    held = False
    if plan.reserve_count and call.tier not in plan.reserve_tiers:
        key = ("held", f"{plan.name}/{call.needs[0][1]}")
        if key not in memo:
            memo[key] = agent.id in reserved_agents(plan, call.tier, snapshot, call.needs[0][1])
        held = memo[key]
    if not held and _in_window(agent, call, plan.stage_at(now - call.entered_at, call.tier)):
        return True
    if not plan.spec.service_level.widen_early or call.outbound:
        return False
    reserved = reserved_agents(plan, call.tier, snapshot, call.needs[0][1]) if held else frozenset()
    widening = sl_window(call, index, snapshot, now, reserved)
    if widening is None or not _in_window(agent, call, widening.stage):
        return False
    return not held or widening.release


def _in_window(agent: AgentView, call: WaitingCall, stage: Stage) -> bool:
    skill, need = call.needs[0]
    level = agent.skills.get(skill, 0)
    if not need - stage.below <= level <= need + stage.above:
        return False
    return len(call.needs) == 1 or _fits_rest(agent.skills, call.needs, stage.below)
