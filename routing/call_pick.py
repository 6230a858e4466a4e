"""Which waiting call a ready agent should take now: pick_call(agent) -> call. Pure.

Highest effective priority first, then longest waiting, among the calls whose current window
accepts this agent (or the window the call is widened to early, routing/forecast.py), admitted by
the queue's hours and not held back for key tiers (unless released for it). Only the oldest call
of each (queue, tier) group the agent has not declined is compared: the heads are sorted first,
and whether the agent may take one is asked in that order only until `limit` are found (the
benchmark's ready -> pick runs this for every wrap-up's end, bench/bench_routing.py).
"""

from __future__ import annotations

from typing import NamedTuple

from routing.agent_events import AgentState
from routing.agent_ranking import fits_rest, reserved_agents
from routing.forecast import sl_window
from routing.opening_hours import is_open
from routing.plan import QueuePlan, RulesIndex, Stage
from routing.queue import WaitingCall, effective_priority
from routing.rules import Rules
from routing.snapshot import AgentView, Snapshot


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


_Head = tuple[float, float, str, int, WaitingCall, QueuePlan]
"""A group head as its sort key (-priority, entered_at, id, a unique number: the sort never
compares further, even were two ids the same) and the call with its queue's plan."""


def pick_call(agent_id: str, snapshot: Snapshot, rules: Rules, now: float, *, limit: int = 3) -> Pick:
    """The call `agent_id` should serve: highest effective priority, then longest waiting, among
    the calls whose current window accepts this agent. Compares group heads only."""
    agent = snapshot.agents.get(agent_id)
    if agent is None or agent.state is not AgentState.READY:
        return Pick(agent_id, None, f"agent {agent_id} is not ready")
    index = rules.index
    order = _heads_in_order(agent, snapshot, index, now)
    # Whether the agent may take a call is asked in serving order, and only until `limit` are found:
    # it is the costlier question (window, hours, reserve, the forecast); the sort over all heads is cheap.
    memo: dict[tuple[str, str], bool] = {}
    ranking: list[CallCandidate] = []
    for negated, entered_at, call_id, _, head, plan in order:
        plain = plan.hours is None and not plan.reserve_count  # then a call in its window is served
        if (plain and _in_window(agent, head, plan.stage_at(now - entered_at, head.tier))) or _serves(
            agent, head, plan, snapshot, now=now, memo=memo, index=index
        ):
            ranking.append(CallCandidate(call_id, head.queue, head.tier, -negated, now - entered_at))
            if len(ranking) >= limit:
                break
    if not ranking:
        return Pick(agent_id, None, f"no waiting call fits agent {agent_id}")
    best = ranking[0]
    reason = (
        f"call {best.call_id} in {best.queue!r} ({best.tier}, priority {best.priority:.1f}, "
        f"waited {best.waited:.0f} s)"
    )
    return Pick(agent_id, best.call_id, reason, tuple(ranking))


def _heads_in_order(agent: AgentView, snapshot: Snapshot, index: RulesIndex, now: float) -> list[_Head]:
    """The heads of the agent's groups in serving order (the sort key first)."""
    queues, groups, top, agent_id = index.queues, snapshot.groups, index.top_priority, agent.id
    order: list[_Head] = []
    for skill in agent.skills:
        for key in snapshot.groups_by_skill.get(skill, ()):
            plan = queues.get(key[0])
            if plan is None:
                continue
            members = groups[key]  # never empty: the snapshot drops a group with its last call
            head = members[0]
            if head.declined_by and agent_id in head.declined_by:
                found = _head(members, agent_id)
                if found is None:
                    continue
                head = found
            if head.outbound:
                priority = top + 1.0
            else:  # call_priority (routing/queue.py) inlined: this loop runs for every head
                tier = head.tier
                max_wait = plan.max_waits.get(tier, plan.spec.max_wait.seconds)
                base = plan.priorities.get(tier, head.priority)
                priority = effective_priority(base, top, now - head.entered_at, max_wait)
            order.append((-priority, head.entered_at, head.id, len(order), head, plan))
    order.sort()
    return order


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
    return len(call.needs) == 1 or fits_rest(agent.skills, call.needs, stage.below)
