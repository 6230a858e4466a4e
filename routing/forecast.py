"""Service-level forecast: would a waiting call miss its queue's target if it kept waiting for
the agents its level window accepts now, and if so, which wider window would answer it in time?

Owned here: the early widening `decide` and `pick_call` apply (`sl_window`). Pure:
it reads only the snapshot (staffed agents per skill and level with their states
and since-times, the waiting calls, each queue's recent talk time) and `now`.

The forecast for one window of levels (`forecast`):
- agents: staffed agents whose primary skill level lies in the window and who have
  the call's other skills. Each is free in: 0 (ready), the rest of their wrap-up
  (wrap-up), the rest of an average talk, at least a quarter of one, plus the
  wrap-up (busy), a whole talk plus the wrap-up (reserved, ringing). Ready agents
  kept free for other tiers and agents who missed a ring for this call don't count.
- calls ahead: waiting calls served before this one (queue order) whose need lies
  in the window, over every skill those agents have (they compete for the same people).
- the call is answered when the (ahead+1)-th agent is free; with more calls ahead
  than agents, in rounds of one average handle time (talk + wrap-up).
A call *would miss* when waited + forecast > within_seconds - headroom_seconds. It is
then offered the first wider window of its escalation steps that would answer it in
time (or, when none would, the one that answers it soonest): the steps' windows are
brought forward, their times and overflows are not. Below the level the caller's
tier requires (`min_level`: key callers to experts) only from the last moment on
(within_seconds - headroom_seconds), when waiting longer would miss the target for sure.
The agents kept for key tiers (`reserve_top_agents`, and every ready agent at those
tiers' min_level from callers who need less) are released to a caller who would
miss only when no key caller waits and, besides the one given away, as many such agents as the
queue keeps (`reserve_top_agents.count`) would still be free by the last moment (`_spare_expert`):
keeping them costs no one their target.
Past the last moment a caller of a tier with min_level still waits, up to
`min_level_wait_seconds`, for an agent at that level whose wrap-up ends by then (a certain
time, unlike the end of a talk), when the callers ahead of it leave that agent to it (`level_due`).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from routing.agent_events import AgentState
from routing.plan import MAX_WIDEN, QueuePlan, RulesIndex, Stage
from routing.queue import WaitingCall, order_key

if TYPE_CHECKING:
    from routing.snapshot import AgentView, Snapshot

DEFAULT_TALK_S = 180.0
"""A queue's talk time before any of its calls has ended (the snapshot's EWMA replaces it)."""
BUSY_FLOOR = 0.25
"""A busy agent is expected to talk at least this share of an average talk longer (long calls run on)."""


class Forecast(NamedTuple):
    """When a call would be answered waiting for the agents of one window."""

    seconds: float  # from now; inf: no staffed agent in the window
    agents: int
    ahead: int


class Widening(NamedTuple):
    """A call that would miss its target in its escalation step's window.

    `stage`: the window it accepts now (the step's own when no wider one helps);
    `answer_in_step` / `answer_at`: forecast answer, in seconds since the call entered
    the queue, with the step's window / with `stage` (a lower bound past the last
    moment); `misses`: even `stage` would miss the target; `release`: the agents kept
    free for key tiers may take it (it misses and no such caller waits in the queue).
    """

    stage: Stage
    waited: float
    target: float
    headroom: float
    answer_in_step: float  # nan: not forecast (past the last moment)
    answer_at: float
    misses: bool
    release: bool
    due: float = math.nan  # past the last moment: an agent at the tier's min_level is free in this many s


def handle_times(plan: QueuePlan, snapshot: Snapshot) -> tuple[float, float]:
    """(talk, wrap-up) in seconds expected for a call of `plan`'s queue."""
    return snapshot.talk_seconds.get(plan.name, DEFAULT_TALK_S), plan.spec.wrap_up_seconds


def free_in(agent: AgentView, talk: float, wrap: float, now: float) -> float | None:
    """Seconds until `agent` can take a call (None: not staffed)."""
    state = agent.state
    if state is AgentState.READY:
        return 0.0
    if state is AgentState.WRAP_UP:
        return max(0.0, wrap - (now - agent.since))
    if state is AgentState.BUSY:
        return max(talk - (now - agent.since), talk * BUSY_FLOOR) + wrap
    if state in (AgentState.RESERVED, AgentState.RINGING):
        return talk + wrap
    return None


def forecast(
    call: WaitingCall,
    stage: Stage,
    index: RulesIndex,
    snapshot: Snapshot,
    *,
    now: float,
    held: frozenset[str] = frozenset(),
    within: float = math.inf,
) -> Forecast:
    """When `call` would be answered waiting for the agents of `stage`'s window (see the module).

    `within`: only whether the answer comes within this many seconds matters (the decision):
    calls ahead are counted no further than the agents free by then, and only over their
    skills, so a queue of thousands costs no more than the few agents who could free up in
    time. The answer is then exact up to `within` and a lower bound beyond it.
    """
    plan = index.queues[call.queue]
    skill, need = call.needs[0]
    low, high = max(1, need - stage.below), min(5, need + stage.above)
    talk, wrap = handle_times(plan, snapshot)
    free = _free_agents(call, stage, (low, high), snapshot, handle=(talk, wrap), now=now, held=held)
    if not free:
        return Forecast(math.inf, 0, 0)
    times = [due for due, _ in free]
    in_time = len(times) if math.isinf(within) else bisect_right(times, within)
    if not in_time:
        return Forecast(times[0], len(times), 0)
    skills = {skill}.union(*(agent.skills for _, agent in free[:in_time]))
    limit = None if math.isinf(within) else in_time
    ahead = calls_ahead(call, (low, high), skills, snapshot, now=now, index=index, limit=limit)
    rounds, position = divmod(ahead, len(times))
    return Forecast(times[position] + rounds * (talk + wrap), len(times), ahead)


def _free_agents(
    call: WaitingCall,
    stage: Stage,
    window: tuple[int, int],
    snapshot: Snapshot,
    *,
    handle: tuple[float, float],
    now: float,
    held: frozenset[str],
) -> list[tuple[float, AgentView]]:
    """The agents of the window who could take `call`, each with the seconds until they are free,
    soonest first (see the module: who counts)."""
    levels = snapshot.staffed.get(call.needs[0][0])
    free: list[tuple[float, AgentView]] = []
    for level in range(window[0], window[1] + 1) if levels else ():
        for agent_id, agent in levels[level].items():  # type: ignore[index]
            if agent_id in call.declined_by or not _has_rest(agent, call, stage.below):
                continue
            due = free_in(agent, *handle, now)
            if due is not None and not (due == 0.0 and agent_id in held):
                free.append((due, agent))
    free.sort(key=lambda item: item[0])
    return free


def _has_rest(agent: AgentView, call: WaitingCall, below: int) -> bool:
    for skill, level in call.needs[1:]:
        have = agent.skills.get(skill)
        if have is None or have < level - below:
            return False
    return True


def calls_ahead(
    call: WaitingCall,
    window: tuple[int, int],
    skills: set[str],
    snapshot: Snapshot,
    *,
    now: float,
    index: RulesIndex,
    limit: int | None = None,
) -> int:
    """Waiting calls served before `call` whose primary skill is in `skills` and need in low..high.

    A group's members are oldest first and its priority only grows with the wait, so the
    calls ahead of `call` in one group are a prefix of it. Counting stops at `limit`.
    """
    top, queues = index.top_priority, index.queues
    mine = order_key(call, queues.get(call.queue), top, now)
    count = 0
    for skill in skills:
        for key in snapshot.groups_by_skill.get(skill, ()):
            members = snapshot.groups[key]
            if not window[0] <= members[0].needs[0][1] <= window[1]:
                continue
            plan = queues.get(key[0])
            for other in members:
                if other.id == call.id or order_key(other, plan, top, now) >= mine:
                    break
                count += 1
                if limit is not None and count >= limit:
                    return count
    return count


def sl_window(
    call: WaitingCall, index: RulesIndex, snapshot: Snapshot, now: float, held: frozenset[str]
) -> Widening | None:
    """How `call` is widened early, or None when its step's window answers it in time (or the
    queue does not widen early). `held`: the ready agents kept free from this call's tier."""
    plan = index.queues[call.queue]
    if not plan.spec.service_level.widen_early or call.outbound:
        return None
    waited = now - call.entered_at
    step = plan.stage_at(waited, call.tier)
    level = plan.spec.service_level
    deadline = level.within_seconds - level.headroom_seconds
    budget = deadline - waited

    def answer_at(stage: Stage) -> float:  # seconds since the call entered the queue
        return waited + forecast(call, stage, index, snapshot, now=now, held=held, within=budget).seconds

    if budget <= 0:  # past the last moment: it misses whatever the forecast says (not computed)
        in_step = math.nan
        wait = min(level.min_level_wait_seconds, level.headroom_seconds) + budget
        due = level_due(call, plan, index, snapshot, now=now, within=wait) if wait > 0 else None
        if due is not None:  # an expert ends wrap-up in time: wait for them, not a lower level
            head = level.headroom_seconds
            return Widening(step, waited, level.within_seconds, head, in_step, waited + due, True, False, due)
    else:
        in_step = answer_at(step)
        if in_step <= deadline:
            return None
    best, best_at, in_time = _wider_stage(
        call, plan, step, in_step=in_step, waited=waited, deadline=deadline, answer_at=answer_at
    )
    release = (
        not in_time
        and bool(held)
        and not snapshot.has_waiting(plan.name, plan.reserve_tiers)
        and _spare_expert(plan, snapshot, now, deadline)
    )
    return Widening(
        best, waited, level.within_seconds, level.headroom_seconds, in_step, best_at, not in_time, release
    )


def _wider_stage(
    call: WaitingCall,
    plan: QueuePlan,
    step: Stage,
    *,
    in_step: float,
    waited: float,
    deadline: float,
    answer_at: Callable[[Stage], float],
) -> tuple[Stage, float, bool]:
    """The first wider window of the call's later steps answering it by `deadline` (True), else the
    one answering it soonest (False): (window, its answer since the call entered, in time)."""
    best, best_at, window = step, in_step, (step.below, step.above)
    # Below the tier's min_level (key callers to experts) only once the target is at stake anyway.
    floor = max(0, call.needs[0][1] - plan.min_levels.get(call.tier, 1)) if waited < deadline else MAX_WIDEN
    later_stages = plan.stages_for(call.tier)[step.steps + 1 :]
    # Past the last moment every window misses: the widest answers soonest.
    if deadline - waited <= 0 and later_stages:
        widest = later_stages[-1]
        best = Stage(
            step.steps,
            max(step.below, min(widest.below, floor)),
            max(step.above, widest.above),
            step.overflow_to,
        )
        later_stages = ()
    for later in later_stages:
        below = max(step.below, min(later.below, floor))
        if below <= window[0] and later.above <= window[1]:
            continue  # no wider than the last window tried (an overflow step, the tier's floor)
        window = (below, later.above)
        stage = Stage(step.steps, below, later.above, step.overflow_to)
        answer = answer_at(stage)
        if answer <= deadline:
            return stage, answer, True
        if answer <= best_at:  # as soon or sooner: the wider window (more agents may free up)
            best, best_at = stage, answer
    return best, best_at, False


def level_due(
    call: WaitingCall, plan: QueuePlan, index: RulesIndex, snapshot: Snapshot, *, now: float, within: float
) -> float | None:
    """Seconds until an agent at `call`'s tier min_level (or above) ends wrap-up and is left to it by
    the callers ahead of it, when that is within `within` seconds (None: no such agent, or no min_level)."""
    required, skill = plan.min_levels.get(call.tier), call.needs[0][0]
    levels = snapshot.staffed.get(skill)
    if required is None or levels is None:
        return None
    ready = snapshot.ready_levels(skill, "longest_idle")
    free = (a for lvl in range(required, 6) for a in ready[lvl] if a.id not in call.declined_by)
    if any(_has_rest(agent, call, 0) for agent in free):
        return None  # one outside the step's window is free now: the widening offers them
    wrap = plan.spec.wrap_up_seconds
    due: list[tuple[float, AgentView]] = []
    for level in range(required, 6):
        for agent_id, agent in levels[level].items():
            left = max(0.0, wrap - (now - agent.since))
            ending = agent.state is AgentState.WRAP_UP and left <= within
            if ending and agent_id not in call.declined_by and _has_rest(agent, call, 0):
                due.append((left, agent))
    if not due:
        return None
    due.sort(key=lambda item: item[0])
    skills = {skill}.union(*(agent.skills for _, agent in due))
    ahead = calls_ahead(call, (required, 5), skills, snapshot, now=now, index=index, limit=len(due))
    return due[ahead][0] if ahead < len(due) else None


def describe(widening: Widening, *, released: bool = False) -> str:
    """The supervisor's sentence: 'widened at 12 s: would have missed 20 s (...)'."""
    if not math.isnan(widening.due):
        return (
            f"at its last moment, {widening.target - widening.headroom:g} s, it waits "
            f"{widening.due:.1f} s more for an agent at its tier's min_level who ends wrap-up then"
        )
    if math.isnan(widening.answer_in_step):
        why = f"nobody took it by its last moment, {widening.target - widening.headroom:g} s"
    elif math.isinf(widening.answer_in_step):
        why = "no staffed agent in its step's window"
    else:
        why = f"answer expected at {widening.answer_in_step:.0f} s in its step's window"
    text = f"widened at {widening.waited:.0f} s: would have missed {widening.target:g} s ({why})"
    if released:
        text += "; agents kept free for key callers released (none waits)"
    return text


def _spare_expert(plan: QueuePlan, snapshot: Snapshot, now: float, deadline: float) -> bool:
    """Whether, after one agent at the reserve tiers' min_level is given away, as many others as the
    queue keeps (`reserve_top_agents.count`) would still be free within `deadline` seconds for key
    callers who ring meanwhile (no min_level: always)."""
    levels = snapshot.staffed.get(plan.skill)
    if not plan.reserve_level:
        return True
    talk, wrap = handle_times(plan, snapshot)
    count = 0
    for level in range(plan.reserve_level, 6) if levels else ():
        for agent in levels[level].values():  # type: ignore[index]
            due = free_in(agent, talk, wrap, now)
            if due is not None and due <= deadline:
                count += 1
                if count > plan.reserve_count:  # the one who takes the call, and `count` kept
                    return True
    return False
