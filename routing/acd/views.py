"""Read-only views of the ACD for the API and dashboards: agents, queues, the case of a call. Pure.

Owned here: what a supervisor or advisor sees, computed from the ACD state at
one instant: agents with state, skills and occupancy; each queue's callers in
serving order with tier, effective priority and wait; agents per state among
those who have the queue's skill; and a call's case context (seed 004).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from routing.acd.calls import ActiveCall, CallState
from routing.acd.state import AcdState
from routing.agents import occupancy
from routing.classify import ivr_label
from routing.queue import call_priority, ordered


@dataclass(frozen=True, slots=True)
class AgentInfo:
    id: str
    name: str
    interface: str
    skills: dict[str, int]
    state: str
    since: float
    pause_reason: str
    call_id: str
    missed_rings: int
    occupancy: float
    source: str


@dataclass(frozen=True, slots=True)
class WaitingInfo:
    call_id: str
    case_id: str
    position: int
    tier: str
    priority: float
    waited: float
    needs: dict[str, int]
    state: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class QueueInfo:
    name: str
    waiting: list[WaitingInfo]
    ringing: list[WaitingInfo]
    agents: dict[str, int]
    service_level_target: float
    service_level_within: float
    connected: list[WaitingInfo] = field(default_factory=list)
    service_level: float | None = None  # answered within target over the sliding window; None: no calls yet
    oldest_wait: float = 0.0  # seconds the longest-waiting caller has waited now


ServiceLevelNow = Callable[[str], float | None]
"""queue -> its live service level (routing/acd/acd_metrics.py ServiceLevel.ratio at now)."""


@dataclass(frozen=True, slots=True)
class CaseInfo:
    call_id: str
    case_id: str
    state: str
    queue: str
    tier: str
    caller: str
    dialled: str
    ivr: str
    ivr_label: str
    matched: str
    agent_id: str
    arrived_at: float
    answered_at: float | None
    summary: str
    customer: dict[str, str] = field(default_factory=dict)
    transfers: int = 0
    transferred_from: str = ""
    transfer_target: str = ""
    transferer: str = ""  # while consulting: the agent who asked (agent_id is the consulted one)
    opened_by: str = ""  # the first agent who took the call


def agent_info(state: AcdState, agent_id: str, now: float) -> AgentInfo | None:
    spec = state.profiles.get(agent_id)
    if spec is None:
        return None
    status = state.status(agent_id)
    return AgentInfo(
        id=agent_id,
        name=spec.name,
        interface=spec.interface,
        skills=dict(spec.skills),
        state=str(status.state),
        since=status.since,
        pause_reason=status.pause_reason or status.pending_pause,
        call_id=status.call_id,
        missed_rings=status.missed_rings,
        occupancy=round(occupancy(status.history, now, state.window_s), 4),
        source=state.sources.get(agent_id, ""),
    )


def agents_info(state: AcdState, now: float) -> list[AgentInfo]:
    return [info for agent_id in sorted(state.profiles) if (info := agent_info(state, agent_id, now))]


def queues_info(state: AcdState, now: float, levels: ServiceLevelNow | None = None) -> list[QueueInfo]:
    rules = state.rules
    index = rules.index
    waiting = ordered(state.waiting(), rules, now)
    found = []
    for queue in rules.queues:
        plan = index.queues[queue.name]
        mine = [c for c in waiting if c.queue == queue.name]
        entries = [
            _entry(state.calls[c.id], position, now, state) for position, c in enumerate(mine, start=1)
        ]
        skilled = [a for a, spec in state.profiles.items() if plan.skill in spec.skills]
        counts = Counter(str(state.status(a).state) for a in skilled)
        level = queue.service_level
        found.append(
            _live(
                QueueInfo(queue.name, entries, [], dict(counts), level.target_percent, level.within_seconds),
                state,
                now,
                levels,
            )
        )
    return found


def _live(info: QueueInfo, state: AcdState, now: float, levels: ServiceLevelNow | None) -> QueueInfo:
    """The wallboard's live figures of one queue: calls ringing an agent apart from calls already
    connected, the oldest wait, the service level now."""
    mine = [a for a in state.calls.values() if a.call.queue == info.name]
    ringing = [_entry(a, 0, now, state) for a in mine if a.state is CallState.OFFERED]
    talking = (CallState.CONNECTED, CallState.CONSULTING)  # a consult is still the call in conversation
    connected = [_entry(a, 0, now, state) for a in mine if a.state in talking]
    oldest = max((w.waited for w in info.waiting), default=0.0)
    level = levels(info.name) if levels is not None else None
    return replace(info, ringing=ringing, connected=connected, oldest_wait=oldest, service_level=level)


def _waited_until(active: ActiveCall, now: float) -> float:
    """A caller waits until an agent answers: a connected call's wait stops growing then."""
    answered = active.facts.answered_at
    talking = active.state in (CallState.CONNECTED, CallState.CONSULTING)
    return answered if talking and answered is not None else now


def _entry(active: ActiveCall, position: int, now: float, state: AcdState) -> WaitingInfo:
    call, index = active.call, state.rules.index
    priority = call_priority(call, index.queues.get(call.queue), index.top_priority, now)
    return WaitingInfo(
        call_id=call.id,
        case_id=active.facts.case_id,
        position=position,
        tier=call.tier,
        priority=round(priority, 2),
        waited=round(_waited_until(active, now) - call.since, 3),
        needs=dict(call.needs),
        state=str(active.state),
        agent_id=active.facts.agent_id,
    )


def case_info(active: ActiveCall, state: AcdState, *, ended: bool = False) -> CaseInfo:
    call, facts = active.call, active.facts
    plan = state.plan(call.queue)
    choice = plan.spec.ivr.get(facts.ivr) if plan and facts.ivr else None
    label = ivr_label(state.rules, facts.dialled, facts.ivr) or (choice.label if choice else "")
    return CaseInfo(
        call_id=call.id,
        case_id=facts.case_id,
        state="ended" if ended else str(facts.state),
        queue=call.queue,
        tier=call.tier,
        caller=facts.number or facts.caller,
        dialled=facts.dialled,
        ivr=facts.ivr,
        ivr_label=label,
        matched=facts.matched,
        agent_id=facts.agent_id,
        arrived_at=call.since,
        answered_at=facts.answered_at,
        summary=facts.summary,
        customer=dict(facts.crm),
        transfers=facts.transfers,
        transferred_from=facts.transferred_from,
        transfer_target=facts.transfer_target,
        transferer=facts.transferer,
        opened_by=facts.opened_by,
    )
