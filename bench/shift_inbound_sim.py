"""A deterministic discrete-event simulation of an inbound shift, for benchmark figure 6.

Owned here: one call centre, one stream of callers (the same list for every
routing policy; the policies are in bench/shift_inbound_policies.py), the clock,
the agents and the tallies. The agent lifecycle (ready, reserved, busy, wrap-up)
is routing.agents.apply for every policy, so only the choices differ. Callers are
classified once with routing.classify (tier from the CRM segment, needs from the
IVR digit). Pure and seeded: no I/O, no clock, the same config always gives the
same result.
- The caller's time to answer includes the ring (`ring_s`); talk time does not
  depend on who answers (which flatters the baselines: a novice on a hard call
  takes no longer than an expert).
- Service level = answered within `sl_seconds` / offered (abandons count against it).
- Occupancy = (reserved + ringing + talking + wrap-up) / staffed time, over the
  shift's hours; callers still waiting at the end are served (or give up) after it.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from core.config.loader import load_rules
from routing.agent_events import (
    AgentState,
    Answer,
    Effect,
    Event,
    Hangup,
    Login,
    Offer,
    SeekCall,
    StartWrapUp,
    WrapUpDone,
)
from routing.agents import OCCUPIED, AgentStatus, apply, occupancy, prune
from routing.classify import admit, classify
from routing.queue import WaitingCall
from routing.rules import Rules
from routing.snapshot import AgentView

RULES_FILE = Path(__file__).resolve().parent / "shift_inbound.yaml"
START = 1_767_600_000.0  # epoch of the shift's first second (the queues have no hours)
SWEEP_S, REBUILD_S = 2.0, 5.0  # routing.acd AcdOptions.sweep_s, gauges_s


@dataclass(frozen=True)
class ShiftConfig:
    """The centre and its callers. Load = offered erlangs / agents (AHT = ring + talk + wrap-up)."""

    staff: Mapping[int, int] = field(default_factory=lambda: {1: 30, 3: 50, 5: 20})  # level -> agents
    queues: Mapping[str, float] = field(default_factory=lambda: {"billing": 0.6, "tech": 0.4})
    ivr: Mapping[str, float] = field(default_factory=lambda: {"1": 0.35, "2": 0.5, "3": 0.15})
    tiers: Mapping[str, float] = field(
        default_factory=lambda: {"key": 0.05, "important": 0.15, "active": 0.5, "inactive": 0.3}
    )
    talk_mean_s: float = 165.0
    talk_sigma: float = 0.5
    ring_s: float = 3.0
    wrap_up_s: float = 15.0  # must equal the queues' wrap_up_seconds (checked)
    patience_s: tuple[float, float] = (30.0, 600.0)
    load: float = 0.9
    hours: float = 4.0
    seed: int = 1
    sl_seconds: float = 20.0

    @property
    def agents(self) -> int:
        return sum(self.staff.values())

    @property
    def aht_s(self) -> float:
        return self.ring_s + self.talk_mean_s + self.wrap_up_s

    @property
    def arrivals_per_s(self) -> float:
        return self.load * self.agents / self.aht_s


@dataclass(frozen=True, slots=True)
class Arrival:
    id: str
    at: float
    queue: str
    tier: str
    ivr: str
    call: WaitingCall  # as classified by routing.classify
    talk_s: float
    patience_s: float

    @property
    def need(self) -> int:
        return self.call.needs[0][1]


def _draw(rng: random.Random, mix: Mapping[str, float]) -> str:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def arrivals(config: ShiftConfig, rules: Rules) -> list[Arrival]:
    """The shift's callers (Poisson arrivals), the same list for every policy."""
    rng = random.Random(config.seed)
    mu = math.log(config.talk_mean_s) - config.talk_sigma**2 / 2
    found: list[Arrival] = []
    now, end = 0.0, config.hours * 3600.0
    while True:
        now += rng.expovariate(config.arrivals_per_s)
        if now >= end:
            return found
        queue, tier, ivr = _draw(rng, config.queues), _draw(rng, config.tiers), _draw(rng, config.ivr)
        seen = classify(None, queue, rules, ivr_choice=ivr, crm_record={"segment": tier})
        call_id = f"c{len(found):05d}"
        talk, patience = rng.lognormvariate(mu, config.talk_sigma), rng.uniform(*config.patience_s)
        call = admit(call_id, seen, START + now)
        found.append(Arrival(call_id, now, queue, tier, ivr, call, talk, patience))


@dataclass
class CallRecord:
    arrival: Arrival
    agent: str | None = None
    answered_at: float | None = None
    left_at: float | None = None  # abandoned or sent away


@dataclass
class AgentRecord:
    level: int
    skills: dict[str, int]
    status: AgentStatus
    occupied_s: float = 0.0


class Policy(Protocol):
    name: str

    def start(self, shift: Shift) -> None: ...
    def arrive(self, call: Arrival) -> None: ...
    def agent_changed(self, agent_id: str) -> None: ...
    def agent_ready(self, agent_id: str) -> None: ...
    def withdraw(self, call_id: str) -> None: ...
    def call_ended(self, call_id: str, queue: str, talk_s: float) -> None: ...
    def wake(self, kind: str, subject: str) -> None: ...


class Shift:
    """The event loop, the agents (routing.agents.apply) and the tallies; the policy chooses."""

    def __init__(self, config: ShiftConfig, rules: Rules, stream: list[Arrival], policy: Policy) -> None:
        self.config, self.rules, self.policy = config, rules, policy
        self.end = config.hours * 3600.0
        self.now = 0.0
        self.events: list[tuple[float, int, str, str]] = []
        self.sequence = 0
        self.calls = {a.id: CallRecord(a) for a in stream}
        self.agents = _staff(config, rules)
        self.ready: set[str] = set()
        self.unresolved = len(stream)  # callers neither answered nor gone yet
        self.window = rules.fairness.window_minutes * 60.0
        for arrival in stream:
            self.push(arrival.at, "arrive", arrival.id)
            self.push(arrival.at + arrival.patience_s, "patience", arrival.id)

    def push(self, at: float, kind: str, subject: str) -> None:
        self.sequence += 1
        heapq.heappush(self.events, (at, self.sequence, kind, subject))

    def run(self) -> None:
        self.policy.start(self)
        for agent_id in sorted(self.agents):
            self.agent_event(agent_id, Login(START))
        while self.events:
            self.now, _, kind, subject = heapq.heappop(self.events)
            handler = _HANDLERS.get(kind)
            if handler is not None:
                handler(self, subject)
            else:
                self.policy.wake(kind, subject)
        for record in self.agents.values():  # still occupied at the end of the shift
            if record.status.state in OCCUPIED:
                record.occupied_s += self._clipped_span(record.status.since)

    # -- agents ---------------------------------------------------------------------------
    def agent_event(self, agent_id: str, event: Event) -> None:
        record = self.agents[agent_id]
        old = record.status
        new, effects = apply(old, event)
        if old.state in OCCUPIED and new.state is not old.state:
            record.occupied_s += self._clipped_span(old.since)
        record.status = prune(new, START + self.now, self.window)
        (self.ready.add if new.state is AgentState.READY else self.ready.discard)(agent_id)
        self.policy.agent_changed(agent_id)
        for effect in effects:
            self._perform(agent_id, effect)

    def _clipped_span(self, since: float) -> float:
        return max(0.0, min(self.now, self.end) - min(since - START, self.end))

    def _perform(self, agent_id: str, effect: Effect) -> None:
        if isinstance(effect, StartWrapUp):
            self.push(self.now + effect.seconds, "wrap_end", agent_id)
        elif isinstance(effect, SeekCall):
            self.policy.agent_ready(agent_id)

    def view(self, agent_id: str) -> AgentView:
        record = self.agents[agent_id]
        status, now = record.status, START + self.now
        return AgentView(agent_id, status.state, record.skills, status.idle_since,
                         occupancy(status.history, now, self.window), since=status.since)  # fmt: skip

    # -- calls ----------------------------------------------------------------------------
    def offer(self, call_id: str, agent_id: str) -> None:
        """The policy chose `agent_id` for the waiting caller `call_id`: ring, then connect."""
        record = self.calls[call_id]
        record.agent = agent_id
        ring_timeout = self.rules.index.queues[record.arrival.call.queue].spec.ring_timeout_seconds
        self.agent_event(agent_id, Offer(START + self.now, call_id, ring_timeout))
        self.push(self.now + self.config.ring_s, "answer", call_id)

    def leave(self, call_id: str) -> None:
        """The caller was sent away by the rules (an exit): unanswered."""
        self.calls[call_id].left_at = self.now
        self.unresolved -= 1

    def _on_arrive(self, call_id: str) -> None:
        self.policy.arrive(self.calls[call_id].arrival)

    def _on_answer(self, call_id: str) -> None:
        record = self.calls[call_id]
        if record.left_at is not None or record.agent is None:
            return
        record.answered_at = self.now
        self.unresolved -= 1
        self.agent_event(record.agent, Answer(START + self.now, call_id))
        self.push(self.now + record.arrival.talk_s, "talk_end", call_id)

    def _on_talk_end(self, call_id: str) -> None:
        record = self.calls[call_id]
        assert record.agent is not None
        queue = record.arrival.call.queue
        wrap = self.rules.index.queues[queue].spec.wrap_up_seconds
        self.agent_event(record.agent, Hangup(START + self.now, call_id, wrap))
        self.policy.call_ended(call_id, queue, record.arrival.talk_s)

    def _on_wrap_end(self, agent_id: str) -> None:
        self.agent_event(agent_id, WrapUpDone(START + self.now))

    def _on_patience(self, call_id: str) -> None:
        record = self.calls[call_id]
        if record.answered_at is not None or record.left_at is not None:
            return
        record.left_at = self.now
        self.unresolved -= 1
        if record.agent is None:
            self.policy.withdraw(call_id)
        else:  # hung up while the agent's phone rang: no miss for the agent
            self.agent_event(record.agent, Hangup(START + self.now, call_id))


_HANDLERS: dict[str, Callable[[Shift, str], None]] = {
    "arrive": Shift._on_arrive,
    "answer": Shift._on_answer,
    "talk_end": Shift._on_talk_end,
    "wrap_end": Shift._on_wrap_end,
    "patience": Shift._on_patience,
}


def _staff(config: ShiftConfig, rules: Rules) -> dict[str, AgentRecord]:
    skills = [skill.name for skill in rules.skills]
    for queue in rules.queues:
        if queue.wrap_up_seconds != config.wrap_up_s:
            raise ValueError(f"queue {queue.name}: wrap_up_seconds {queue.wrap_up_seconds} != config")
    agents, number = {}, 0
    for level, count in sorted(config.staff.items(), reverse=True):
        for _ in range(count):
            agent_id = f"a{number:03d}"
            agents[agent_id] = AgentRecord(level, dict.fromkeys(skills, level), AgentStatus(agent_id))
            number += 1
    return agents


def load_bench_rules(path: Path = RULES_FILE) -> Rules:
    return load_rules(path, Rules)


def simulate(policy: Policy, config: ShiftConfig, rules: Rules, stream: list[Arrival]) -> Shift:
    """Run one policy over `stream`; the returned Shift holds every call's and agent's record."""
    shift = Shift(config, rules, stream, policy)
    shift.run()
    return shift


@dataclass(frozen=True)
class ShiftSummary:
    """What one policy achieved: service levels in %, occupancy in % of staffed time."""

    policy: str
    offered: int
    service_level: Mapping[str, float]  # tier -> % answered within sl_seconds; "overall" too
    abandoned: float  # % of callers who hung up waiting (or were sent away)
    occupancy: Mapping[int, tuple[float, float, float]]  # level -> (min, mean, max) over its agents
    at_level: float  # % of answered calls taken by an agent at or above the level needed
    experts_on_key: float  # % of answered key callers taken by an expert (level 5)

    @property
    def spread(self) -> float:
        """The largest occupancy gap between two agents of the same level, in percentage points."""
        return max(high - low for low, _, high in self.occupancy.values())


def _share(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def summarize(shift: Shift) -> ShiftSummary:
    records, limit = list(shift.calls.values()), shift.config.sl_seconds
    quick: dict[str, list[bool]] = {}
    for record in records:
        fast = record.answered_at is not None and record.answered_at - record.arrival.at <= limit
        quick.setdefault(record.arrival.tier, []).append(fast)
        quick.setdefault("overall", []).append(fast)
    answered = [r for r in records if r.answered_at is not None and r.agent is not None]
    levels = {r.agent: shift.agents[r.agent].level for r in answered if r.agent is not None}
    key = [r for r in answered if r.arrival.tier == "key"]
    by_level: dict[int, list[float]] = {}
    for agent in shift.agents.values():
        by_level.setdefault(agent.level, []).append(100.0 * agent.occupied_s / shift.end)
    return ShiftSummary(
        policy=shift.policy.name,
        offered=len(records),
        service_level={tier: _share(sum(marks), len(marks)) for tier, marks in quick.items()},
        abandoned=_share(sum(r.left_at is not None for r in records), len(records)),
        occupancy={lvl: (min(o), sum(o) / len(o), max(o)) for lvl, o in sorted(by_level.items())},
        at_level=_share(sum(levels[r.agent] >= r.arrival.need for r in answered if r.agent), len(answered)),
        experts_on_key=_share(sum(levels[r.agent] == 5 for r in key if r.agent), len(key)),
    )
