"""Plain-text answers to "which rule and which agent would this caller get now, and why?".

Owned here: the text of `switchboard explain`. Pure: it classifies, decides and
reads the snapshot like the engine does (same functions), so the explanation
can never disagree with what routing would do. Slow paths are fine here (it
looks at every agent with the needed skill).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from routing.agent_events import AgentState
from routing.classify import Classification, admit, classify
from routing.forecast import forecast
from routing.opening_hours import is_open, next_opening
from routing.outages import Caller, OutageSpec, notice_for
from routing.plan import Stage
from routing.queue import WaitingCall
from routing.rules import Rules
from routing.selection import Decision, decide, reserved_agents
from routing.snapshot import AgentView, Snapshot

MAX_LISTED = 20


def explain_caller(
    caller: str | None,
    queue: str,
    snapshot: Snapshot,
    rules: Rules,
    now: float,
    *,
    dialled: str | None = None,
    ivr_choice: str | None = None,
    crm_record: Mapping[str, object] | None = None,
    outages: Sequence[OutageSpec] | None = None,
) -> str:
    """Explain what would happen if `caller` rang `queue` at `now` (raises NotFoundError for a bad queue);
    with `outages` (the declared ones; None: not known), whether they would hear a notice first."""
    found = classify(caller, queue, rules, dialled=dialled, ivr_choice=ivr_choice, crm_record=crm_record)
    call = admit("(explain)", found, now)
    who = Caller(found.caller, dialled, found.tier, crm_record)
    notice = None if outages is None else notice_line(outages, who, now, rules.default_region)
    decision = decide(call, snapshot, rules, now, limit=5)
    return render(call, decision, snapshot, rules, now, classification=found, notice=notice)


def notice_line(outages: Sequence[OutageSpec], caller: Caller, now: float, region: str) -> str:
    """Whether `caller` hears an outage notice on arrival at `now` (routing.outages.notice_for)."""
    spec = notice_for(outages, caller, now, region)
    if spec is None:
        in_force = sum(1 for o in outages if o.in_force(now))
        return f"Outage notice: none ({in_force} outages in force, none concerns this caller)"
    until = datetime.fromtimestamp(spec.ends_at, UTC).isoformat(timespec="minutes")
    message = f"recording {spec.recording}" if spec.recording else f"text {spec.text!r}"
    return f"Outage notice: hears {spec.id} ({spec.title}) before queueing, until {until}: {message}"


def render(
    call: WaitingCall,
    decision: Decision,
    snapshot: Snapshot,
    rules: Rules,
    now: float,
    *,
    classification: Classification | None = None,
    notice: str | None = None,
) -> str:
    lines = _classification_lines(classification) if classification else [f"Call {call.id}: tier {call.tier}"]
    lines += [notice] if notice else []
    lines += _queue_lines(call, rules, now)
    lines += _service_level_lines(call, snapshot, rules, now)
    lines.append(f"Decision: {decision.outcome}: {decision.reason}")
    if decision.ranking:
        lines.append("Candidates, best first:")
        for position, c in enumerate(decision.ranking, start=1):
            name = _name(snapshot.agents.get(c.agent_id))
            fit = f"level {c.level} ({c.distance:+d} from the need), fairness {c.fairness:.2f}"
            lines.append(f"  {position}. {c.agent_id}{name}: {fit}")
    lines += _excluded_lines(call, decision, snapshot, rules, now)
    return "\n".join(lines)


def _classification_lines(c: Classification) -> list[str]:
    needs = ", ".join(f"{skill} {level}" for skill, level in c.needs)
    lines = [
        f"Caller: {c.caller or 'unknown'}",
        f"Tier: {c.tier} (matched {c.matched}), priority {c.priority} in queue {c.queue}",
        f"Needs: {needs} (from {c.needs_from}), max wait {c.max_wait_seconds:g} s",
    ]
    return lines + [f"Note: {note}" for note in c.notes]


def _queue_lines(call: WaitingCall, rules: Rules, now: float) -> list[str]:
    plan = rules.index.queues.get(call.queue)
    if plan is None:
        return [f"Queue {call.queue}: not in the rules"]
    waited = now - call.entered_at
    stage = plan.stage_at(waited, call.tier)
    text = (
        f"Queue {plan.name}: waited {waited:.0f} s, escalation step {stage.steps} of {len(plan.step_times)}"
    )
    text += f", accepts levels {stage.below} below to {stage.above} above the need"
    if plan.hours is None:
        return [text + ", always open"]
    if is_open(plan.hours, now):
        return [text + ", open now"]
    opens = next_opening(plan.hours, now)
    when = (
        datetime.fromtimestamp(opens, plan.hours.zone).strftime("%a %Y-%m-%d %H:%M %Z")
        if opens
        else "not soon"
    )
    return [text + f", closed now (opens {when})"]


def _service_level_lines(call: WaitingCall, snapshot: Snapshot, rules: Rules, now: float) -> list[str]:
    """The target, and when it widens early, the forecast with the escalation step's window."""
    plan = rules.index.queues.get(call.queue)
    if plan is None or call.outbound:
        return []
    level = plan.spec.service_level
    text = f"Service level: {level.target_percent:g}% within {level.within_seconds:g} s"
    if not level.widen_early:
        return [text + "; windows widen at the escalation steps only"]
    text += f"; widens early when a caller would miss it ({level.headroom_seconds:g} s headroom)"
    wait, required = min(level.min_level_wait_seconds, level.headroom_seconds), plan.min_levels.get(call.tier)
    if required is not None and wait > 0:
        text += f"; at its last moment waits up to {wait:g} s for a level-{required} agent ending wrap-up"
    stage = plan.stage_at(now - call.entered_at, call.tier)
    held = reserved_agents(plan, call.tier, snapshot, call.needs[0][1])
    seen = forecast(call, stage, rules.index, snapshot, now=now, held=held)
    if math.isinf(seen.seconds):
        return [text, "Forecast with the step's window: no staffed agent"]
    waited = now - call.entered_at
    return [
        text,
        f"Forecast with the step's window: answered at {waited + seen.seconds:.0f} s "
        f"(staffed agents: {seen.agents}, calls ahead: {seen.ahead})",
    ]


def _excluded_lines(
    call: WaitingCall, decision: Decision, snapshot: Snapshot, rules: Rules, now: float
) -> list[str]:
    ranked = {c.agent_id for c in decision.ranking}
    skill = call.needs[0][0]
    reasons = [
        (agent.id, why)
        for agent in sorted(snapshot.agents.values(), key=lambda a: a.id)
        if agent.id not in ranked
        and skill in agent.skills
        and (why := why_not(agent, call, snapshot, rules, now, window=decision.window))
    ]
    if not reasons:
        return []
    lines = [f"Other agents with {skill}:"]
    lines += [f"  {agent_id}: {why}" for agent_id, why in reasons[:MAX_LISTED]]
    if len(reasons) > MAX_LISTED:
        lines.append(f"  ... and {len(reasons) - MAX_LISTED} more")
    return lines


def why_not(
    agent: AgentView,
    call: WaitingCall,
    snapshot: Snapshot,
    rules: Rules,
    now: float,
    *,
    window: tuple[int, int] | None = None,
) -> str | None:
    """Why `agent` is not offered `call` now, or None when they are a candidate. `window`: the
    decision's (below, above) when it differs from the escalation step's (widened early)."""
    if agent.state is not AgentState.READY:
        return f"{agent.state}" + (f" ({agent.pause_reason})" if agent.pause_reason else "")
    plan = rules.index.queues.get(call.queue)
    if plan is None:
        return "the call's queue is not in the rules"
    stage = plan.stage_at(now - call.entered_at, call.tier)
    if window is not None:
        stage = Stage(stage.steps, window[0], window[1], stage.overflow_to)
    for position, (skill, need) in enumerate(call.needs):
        have = agent.skills.get(skill)
        if have is None:
            return f"has no {skill}"
        low = need - stage.below
        high = need + stage.above if position == 0 else 5
        if not low <= have <= high:
            return f"{skill} {have} is outside levels {max(1, low)}-{min(5, high)} accepted now"
    if agent.id in call.declined_by:
        return "missed a ring for this call"
    if agent.id in reserved_agents(plan, call.tier, snapshot, call.needs[0][1]):
        return f"kept free for {', '.join(sorted(plan.reserve_tiers))} callers"
    return None


def _name(agent: AgentView | None) -> str:
    return f" {agent.name}" if agent is not None and agent.name else ""
