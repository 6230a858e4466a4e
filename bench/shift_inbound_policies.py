"""The three routing policies of the simulated inbound shift (benchmark figure 6).

- `Switchboard`: the real routing core as the ACD shell drives it
  (routing/acd/dispatcher.py and service.py): `decide` when a caller arrives and
  at its `recheck_at`; `pick_call` when an agent becomes ready; a sweep with
  routing.batch_dispatch every 2 s while an agent is ready and calls wait; every
  agent's view (occupancy) rebuilt every 5 s; each answered call's talk time fed
  to the snapshot when it ends (the queue's average the forecast reads).
- `FixedStep`: the same, with the service-level-aware widening switched off in
  every queue (`service_level.widen_early: false`): windows widen at the
  escalation steps' times only (Switchboard before issue 15).
- `Fifo`: callers in arrival order, each to the longest-idle agent with the skill.
- `BestFirst`: callers in arrival order, each to the first ready agent with the
  skill in one fixed list, best agents first (app_queue's `linear` strategy).
Each policy only chooses; bench/shift_inbound_sim.py runs the clock, the agents
and the tallies, identically for all three.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.shift_inbound_sim import (
    REBUILD_S,
    START,
    SWEEP_S,
    Arrival,
    Policy,
    Shift,
    ShiftConfig,
    ShiftSummary,
    arrivals,
    load_bench_rules,
    simulate,
    summarize,
)
from routing.batch_dispatch import dispatch
from routing.classify import classify, transfer
from routing.queue import WaitingCall
from routing.rules import Rules
from routing.selection import Decision, Outcome, decide, pick_call
from routing.snapshot import Snapshot


class Switchboard:
    """The routing core as the ACD shell runs it (see the module docstring)."""

    name = "switchboard"

    def __init__(self) -> None:
        self.snapshot = Snapshot()
        self.queue_of: dict[str, str] = {}

    def start(self, shift: Shift) -> None:
        self.shift = shift
        self.rules = self.rules_for(shift.rules)
        shift.push(SWEEP_S, "sweep", "")
        shift.push(REBUILD_S, "rebuild", "")

    def rules_for(self, rules: Rules) -> Rules:
        return rules

    def at(self) -> float:
        return START + self.shift.now

    def arrive(self, call: Arrival) -> None:
        waiting = WaitingCall(call.id, call.call.queue, call.tier, call.call.priority, call.call.needs,
                              self.at(), self.at())  # fmt: skip
        self.snapshot = self.snapshot.with_call(waiting)
        self.route(call.id)

    def route(self, call_id: str) -> None:
        call = self.snapshot.calls.get(call_id)
        if call is not None:
            self.perform(decide(call, self.snapshot, self.rules, self.at()))

    def perform(self, decision: Decision) -> None:
        call_id = decision.call_id
        if decision.outcome is Outcome.OFFER and decision.agent_id is not None:
            self.snapshot = self.snapshot.without_call(call_id)
            self.shift.offer(call_id, decision.agent_id)
        elif decision.outcome is Outcome.WAIT and decision.recheck_at is not None:
            self.shift.push(decision.recheck_at - START, "recheck", call_id)
        elif decision.outcome is Outcome.OVERFLOW and decision.target:
            self.overflow(call_id, decision.target)
        elif decision.outcome is Outcome.EXIT:
            self.snapshot = self.snapshot.without_call(call_id)
            self.shift.leave(call_id)

    def overflow(self, call_id: str, target: str) -> None:
        arrival = self.shift.calls[call_id].arrival
        seen = classify(None, target, self.rules, ivr_choice=arrival.ivr,
                        crm_record={"segment": arrival.tier})  # fmt: skip
        moved = transfer(self.snapshot.calls[call_id], seen, self.at())
        self.snapshot = self.snapshot.without_call(call_id).with_call(moved)
        self.route(call_id)

    def agent_changed(self, agent_id: str) -> None:
        self.snapshot = self.snapshot.with_agent(self.shift.view(agent_id))

    def agent_ready(self, agent_id: str) -> None:
        pick = pick_call(agent_id, self.snapshot, self.rules, self.at())
        if pick.call_id is not None:
            self.snapshot = self.snapshot.without_call(pick.call_id)
            self.shift.offer(pick.call_id, agent_id)

    def withdraw(self, call_id: str) -> None:
        self.snapshot = self.snapshot.without_call(call_id)

    def call_ended(self, call_id: str, queue: str, talk_s: float) -> None:
        self.snapshot = self.snapshot.with_talk_time(queue, talk_s)

    def wake(self, kind: str, subject: str) -> None:
        shift = self.shift
        if kind == "recheck":
            self.route(subject)
        elif kind == "rebuild":
            views = [shift.view(agent_id) for agent_id in shift.agents]
            self.snapshot = Snapshot.build(views, self.snapshot.calls.values(), self.snapshot.talk_seconds)
        elif kind == "sweep" and shift.ready and self.snapshot.calls:
            decisions, _ = dispatch(self.snapshot, self.rules, self.at())
            for decision in decisions:
                agent = decision.agent_id
                if agent is not None and agent not in shift.ready:
                    self.route(decision.call_id)  # out of date for this call, as in dispatch_all
                elif decision.outcome is not Outcome.WAIT:
                    self.perform(decision)
        if kind in ("rebuild", "sweep") and shift.unresolved:
            shift.push(shift.now + (REBUILD_S if kind == "rebuild" else SWEEP_S), kind, "")


class FixedStep(Switchboard):
    """Switchboard with windows widened at the escalation steps' times only (no forecast)."""

    name = "fixed_step"

    def rules_for(self, rules: Rules) -> Rules:
        return without_early_widening(rules)


def without_early_widening(rules: Rules) -> Rules:
    """`rules` with `service_level.widen_early: false` in every queue."""
    queues = tuple(
        q.model_copy(update={"service_level": q.service_level.model_copy(update={"widen_early": False})})
        for q in rules.queues
    )
    return rules.model_copy(update={"queues": queues})


class Fifo:
    """Callers in arrival order; each goes to the agent with the skill who has been idle longest."""

    name = "fifo"

    def __init__(self) -> None:
        self.waiting: dict[str, Arrival] = {}  # insertion order = arrival order

    def start(self, shift: Shift) -> None:
        self.shift = shift

    def choose(self, skill: str) -> str | None:
        agents = self.shift.agents
        able = [a for a in self.shift.ready if skill in agents[a].skills]
        return min(able, key=lambda a: (agents[a].status.idle_since, a), default=None)

    def arrive(self, call: Arrival) -> None:
        agent = self.choose(call.call.needs[0][0])
        if agent is None:
            self.waiting[call.id] = call
        else:
            self.shift.offer(call.id, agent)

    def agent_changed(self, agent_id: str) -> None:
        pass

    def agent_ready(self, agent_id: str) -> None:
        skills = self.shift.agents[agent_id].skills
        for call_id, call in self.waiting.items():
            if call.call.needs[0][0] in skills:
                del self.waiting[call_id]
                self.shift.offer(call_id, agent_id)
                return

    def withdraw(self, call_id: str) -> None:
        self.waiting.pop(call_id, None)

    def call_ended(self, call_id: str, queue: str, talk_s: float) -> None:
        pass

    def wake(self, kind: str, subject: str) -> None:
        pass


class BestFirst(Fifo):
    """app_queue `linear`: the first free agent with the skill in a fixed list, best agents first."""

    name = "best_first"

    def start(self, shift: Shift) -> None:
        super().start(shift)
        self.order = sorted(shift.agents, key=lambda a: (-shift.agents[a].level, a))

    def choose(self, skill: str) -> str | None:
        ready, agents = self.shift.ready, self.shift.agents
        return next((a for a in self.order if a in ready and skill in agents[a].skills), None)


POLICIES: dict[str, Callable[[], Policy]] = {
    "switchboard": Switchboard,
    "fixed_step": FixedStep,
    "fifo": Fifo,
    "best_first": BestFirst,
}


def run_policies(config: ShiftConfig, rules: Rules | None = None) -> dict[str, ShiftSummary]:
    """Every policy over the same arrivals."""
    rules = rules or load_bench_rules()
    stream = arrivals(config, rules)
    return {name: summarize(simulate(make(), config, rules, stream)) for name, make in POLICIES.items()}
