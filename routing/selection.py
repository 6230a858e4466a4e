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

Ranking and reserve live in routing/agent_ranking.py, pick_call in routing/call_pick.py;
both are importable from here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from routing.agent_ranking import Candidate, can_take, rank_agents, reserved_agents, top_agents
from routing.call_pick import CallCandidate, Pick, pick_call
from routing.forecast import describe, sl_window
from routing.opening_hours import is_open, next_opening
from routing.plan import QueuePlan, RulesIndex, Stage
from routing.queue import WaitingCall, call_priority
from routing.rules import Fallback, Rules
from routing.snapshot import Snapshot

__all__ = [  # ranking lives in routing.agent_ranking, pick_call in routing.call_pick; both import from here
    "CallCandidate", "Candidate", "Decision", "Outcome", "Pick", "can_take", "decide", "pick_call",
    "rank_agents", "reserved_agents", "top_agents",
]  # fmt: skip


class Outcome(StrEnum):
    OFFER = "offer"
    WAIT = "wait"
    OVERFLOW = "overflow"
    EXIT = "exit"


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
    return _no_agent(call, plan, stage, reserved, waited=waited, priority=priority, widened=widened)


def _no_agent(
    call: WaitingCall,
    plan: QueuePlan,
    stage: Stage,
    reserved: frozenset[str],
    *,
    waited: float,
    priority: float,
    widened: str,
) -> Decision:
    """Nobody can take the call now: it waits, overflows, or meets its max-wait action."""
    window = (stage.below, stage.above)
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
    """When the decision can change by time alone: the next step, max wait, the moment the call
    would miss its service-level target (the last chance to widen it early), or the end of its wait
    past that moment for an agent at its tier's min_level."""
    level = plan.spec.service_level
    early = level.widen_early and not call.outbound
    deadline = level.within_seconds - level.headroom_seconds if early else None
    # A caller waiting past it for an agent at its tier's min_level: the end of that wait.
    last = None
    if deadline is not None and call.tier in plan.min_levels:
        last = deadline + min(level.min_level_wait_seconds, level.headroom_seconds)
    times = [t for t in (plan.next_step_at(waited), max_wait, deadline, last) if t is not None and t > waited]
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
