"""The ACD's working memory: rules, agent profiles and statuses, the calls being handled, and the
routing snapshot kept in step with them. No I/O.

Rules it keeps:
- The snapshot holds every agent (as routing sees them) and only the *waiting*
  calls: a call offered to an agent or connected is in `calls` but not in the
  snapshot, so it is never offered twice.
- Updates go through `set_status`, `set_profile`, `put_call` and `drop_call`,
  which update the snapshot incrementally (routing.snapshot's with_*/without_*).
- Agent occupancy is computed when an agent's view is made; `rebuild` refreshes
  every view (the service does it every few seconds and after a rules change).
"""

from __future__ import annotations

from collections import Counter

from routing.acd.calls import ActiveCall, CallState
from routing.agent_events import AgentState
from routing.agents import AgentStatus
from routing.plan import QueuePlan
from routing.queue import WaitingCall
from routing.rules import AgentSpec, Rules
from routing.snapshot import AgentView, Snapshot, agent_view


class AcdState:
    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.profiles: dict[str, AgentSpec] = {}
        self.sources: dict[str, str] = {}
        self.statuses: dict[str, AgentStatus] = {}
        self.calls: dict[str, ActiveCall] = {}
        self.snapshot = Snapshot()
        self._by_action: dict[str, str] = {}

    @property
    def window_s(self) -> float:
        return self.rules.fairness.window_minutes * 60.0

    def plan(self, queue: str) -> QueuePlan | None:
        return self.rules.index.queues.get(queue)

    def status(self, agent_id: str) -> AgentStatus:
        return self.statuses.get(agent_id) or AgentStatus(agent_id)

    def view(self, agent_id: str, now: float) -> AgentView | None:
        spec = self.profiles.get(agent_id)
        if spec is None:
            return None
        return agent_view(spec, self.status(agent_id), now, self.window_s)

    # -- updates ----------------------------------------------------------------------
    def set_status(self, status: AgentStatus, now: float) -> None:
        self.statuses[status.agent_id] = status
        view = self.view(status.agent_id, now)
        if view is not None:
            self.snapshot = self.snapshot.with_agent(view)

    def set_profile(self, spec: AgentSpec, source: str, now: float) -> None:
        self.profiles[spec.id] = spec
        self.sources[spec.id] = source
        self.statuses.setdefault(spec.id, AgentStatus(spec.id))
        view = self.view(spec.id, now)
        assert view is not None
        self.snapshot = self.snapshot.with_agent(view)

    def put_call(self, active: ActiveCall) -> None:
        old = self.calls.get(active.id)
        if old is not None and old.facts.action_id:
            self._by_action.pop(old.facts.action_id, None)
        self.calls[active.id] = active
        if active.facts.action_id:
            self._by_action[active.facts.action_id] = active.id
        if active.state is CallState.WAITING:
            self.snapshot = self.snapshot.with_call(active.call)
        else:
            self.snapshot = self.snapshot.without_call(active.id)

    def drop_call(self, call_id: str) -> ActiveCall | None:
        active = self.calls.pop(call_id, None)
        if active is not None:
            self._by_action.pop(active.facts.action_id, None)
            self.snapshot = self.snapshot.without_call(call_id)
        return active

    def call_for_action(self, action_id: str) -> ActiveCall | None:
        call_id = self._by_action.get(action_id)
        return self.calls.get(call_id) if call_id else None

    def rebuild(self, now: float) -> None:
        """Every agent view afresh (occupancy now) and the waiting calls: one O(n log n) build."""
        views = [v for agent_id in self.profiles if (v := self.view(agent_id, now)) is not None]
        self.snapshot = Snapshot.build(views, self.waiting(), self.snapshot.talk_seconds)
        self._by_action = {a.facts.action_id: a.id for a in self.calls.values() if a.facts.action_id}

    # -- queries -----------------------------------------------------------------------
    def waiting(self) -> list[WaitingCall]:
        return [a.call for a in self.calls.values() if a.state is CallState.WAITING]

    def agent_counts(self) -> Counter[str]:
        return Counter(str(self.status(agent_id).state) for agent_id in self.profiles)

    def waiting_counts(self) -> Counter[str]:
        return Counter(call.queue for call in self.waiting())

    def oldest_waits(self, now: float) -> dict[str, float]:
        """Queue -> seconds its longest-waiting caller has waited (since arrival, as the wait histogram)."""
        oldest: dict[str, float] = {}
        for call in self.waiting():
            oldest[call.queue] = max(oldest.get(call.queue, 0.0), now - call.since)
        return oldest

    def queue_agent_counts(self) -> dict[str, Counter[str]]:
        """Queue -> agent state -> agents who have the queue's skill (at any level)."""
        counts: dict[str, Counter[str]] = {name: Counter() for name in self.rules.index.queues}
        for name, plan in self.rules.index.queues.items():
            for agent_id, spec in self.profiles.items():
                if plan.skill in spec.skills:
                    counts[name][str(self.status(agent_id).state)] += 1
        return counts

    def ready_agents(self) -> list[str]:
        return [a for a in self.profiles if self.status(a).state is AgentState.READY]
