"""A deterministic discrete-event simulation of an outbound shift, driven by the real pacing core.

Owns `simulate(mode, agents, answer_rate, aht_s, hours, seed) -> ShiftResult`, used by the unit
tests (predictive keeps abandons under 3 % and beats progressive on occupancy) and by the
benchmark's simulated outbound shift (issue 6, figure 5). Pure: no I/O, no clock, no asyncio;
the same arguments always give the same result (one `random.Random(seed)`).

The model, per dial: with probability `answer_rate` a person answers after a uniform ring time
(`answer_delay_s`); otherwise the call ends busy, failed, or unanswered at the ring timeout
(shares and delays in `SimProfile`). An answered call goes to its reserved agent (progressive)
or to the longest-idle ready agent; with none it waits, and if no agent frees up within the
2 s grace it is abandoned. Talk time is lognormal with mean `aht_s - wrapup_s`, followed by a
fixed wrap-up (a wrap-up timer, so its end is known to pacing). The pacing loop runs every
`tick_s` seconds with statistics measured so far in the shift, like the engine's loop (the
answer-rate sample is the current clock hour and the one before, as in dialer/calls/attempts.py).
Occupancy = (talk + wrap-up) / staffed time; abandon rate = abandons / live answers.
`answer_rate_end` makes the answer rate drift linearly over the shift; `start` and `window`
continue a campaign on a later day (bench.pacing_month); `pacer` replaces Switchboard's
decision with a peer's (bench.vicidial_adapt; run it in mode "predictive": no agent is
reserved, an answer goes to the longest-idle agent). The result keeps every live
answer, busy interval and agent wait, for the rolling windows of bench.pacing_windows.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from dialer.pacing.abandon_window import AbandonWindow
from dialer.pacing.answer_timing import RingTimes
from dialer.pacing.decision import (
    AgentSnapshot,
    DialMode,
    PacingParams,
    PacingStats,
    TalkTimes,
    calls_to_place,
)
from routing.agent_events import AgentState

if TYPE_CHECKING:
    from bench.vicidial_adapt import VicidialPacer

SHIFT_START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class SimProfile:
    """Telephony and agent behaviour of the simulated campaign (times in seconds)."""

    answer_delay_s: tuple[float, float] = (4.0, 20.0)
    no_answer_timeout_s: float = 30.0
    busy_share: float = 0.25  # of the unanswered dials
    busy_delay_s: tuple[float, float] = (2.0, 6.0)
    failed_share: float = 0.10  # of the unanswered dials: congestion, unavailable
    failed_delay_s: tuple[float, float] = (0.5, 3.0)
    wrapup_s: float = 10.0
    talk_sigma: float = 0.6
    tick_s: float = 1.0
    grace_s: float = 2.0


@dataclass(frozen=True)
class ShiftResult:
    mode: DialMode
    agents: int
    hours: float
    dials: int
    live_answers: int
    connected: int
    abandoned: int
    occupancy: float
    abandon_rate: float
    talk_s_per_agent_hour: float
    mean_dial_level: float
    pacer: str = "switchboard"
    answers: tuple[tuple[float, bool], ...] = ()  # (answered at, abandoned) per live answer
    busy: tuple[tuple[float, float], ...] = ()  # (from, to) of each talk + wrap-up, clipped
    waits: tuple[float, ...] = ()  # an agent's wait from ready to the next connected call
    window: AbandonWindow = field(default_factory=AbandonWindow)  # at the end of the shift: carry it on


@dataclass
class _Agent:
    state: AgentState = AgentState.READY
    since: float = 0.0
    wrap_end: float | None = None


@dataclass
class _Call:
    dialed_at: float
    agent: int | None = None


@dataclass
class _Tally:
    dials: int = 0
    resolved_dials: int = 0
    live_answers: int = 0
    connected: int = 0
    abandoned: int = 0
    answer_delay_sum: float = 0.0
    talks: int = 0
    talk_sum: float = 0.0
    talk_clipped: float = 0.0
    busy_clipped: float = 0.0
    level_sum: float = 0.0
    ticks: int = 0
    answers: list[tuple[float, bool]] = field(default_factory=list)
    hourly: dict[int, tuple[int, int]] = field(default_factory=dict)  # hour -> (dials, answers) resolved
    busy: list[tuple[float, float]] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)


@dataclass
class _Shift:
    mode: DialMode
    answer_rate: float
    talk_mean_s: float
    end_s: float
    rng: random.Random
    profile: SimProfile
    params: PacingParams
    agents: list[_Agent]
    events: list[tuple[float, int, str, int]] = field(default_factory=list)
    calls: dict[int, _Call] = field(default_factory=dict)
    waiting: deque[int] = field(default_factory=deque)
    window: AbandonWindow = field(default_factory=AbandonWindow)
    talk_times: TalkTimes = field(default_factory=TalkTimes)
    ring_times: RingTimes = field(default_factory=RingTimes)
    tally: _Tally = field(default_factory=_Tally)
    now: float = 0.0
    sequence: int = 0
    answer_rate_end: float | None = None  # the answer rate drifts linearly to this by the end
    pacer: VicidialPacer | None = None  # a peer pacer instead of Switchboard's
    start: datetime = SHIFT_START

    def at(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=seconds)

    def push(self, when: float, kind: str, subject: int) -> None:
        self.sequence += 1
        heapq.heappush(self.events, (when, self.sequence, kind, subject))

    # -- dialing ---------------------------------------------------------------------------

    def on_tick(self, _subject: int) -> None:
        if self.pacer is not None:
            calls, level = self.peer_calls(self.pacer), self.pacer.level
        else:
            decision = calls_to_place(self.snapshot(), self.params, self.at(self.now))
            calls, level = decision.calls, decision.dial_level
        self.tally.level_sum += level
        self.tally.ticks += 1
        for _ in range(calls):
            self.dial()
        self.push(self.now + self.profile.tick_s, "tick", 0)

    def peer_calls(self, pacer: VicidialPacer) -> int:
        ready = sum(agent.state is AgentState.READY for agent in self.agents)
        talking = sum(agent.state is AgentState.BUSY for agent in self.agents)
        answered = self.tally.connected + self.tally.abandoned
        drop_pct = 100.0 * self.tally.abandoned / answered if answered else 0.0
        lines_up = len(self.calls) + len(self.waiting) + talking
        return pacer.calls(self.now, ready, talking, lines_up, len(self.waiting), drop_pct)

    def answer_rate_now(self) -> float:
        if self.answer_rate_end is None:
            return self.answer_rate
        return self.answer_rate + (self.answer_rate_end - self.answer_rate) * min(1.0, self.now / self.end_s)

    def dial(self) -> None:
        call_id = self.tally.dials
        call = _Call(dialed_at=self.now)
        if self.mode is DialMode.PROGRESSIVE:
            call.agent = self.longest_idle()
            if call.agent is None:
                return
            self.agents[call.agent].state = AgentState.RESERVED
        self.calls[call_id] = call
        self.tally.dials += 1
        answered = self.rng.random() < self.answer_rate_now()
        self.push(self.now + self.ring_time(answered), "answer" if answered else "fail", call_id)

    def ring_time(self, answered: bool) -> float:
        profile = self.profile
        if answered:
            return self.rng.uniform(*profile.answer_delay_s)
        draw = self.rng.random()
        if draw < profile.busy_share:
            return self.rng.uniform(*profile.busy_delay_s)
        if draw < profile.busy_share + profile.failed_share:
            return self.rng.uniform(*profile.failed_delay_s)
        return profile.no_answer_timeout_s

    def longest_idle(self) -> int | None:
        ready = [index for index, agent in enumerate(self.agents) if agent.state is AgentState.READY]
        return min(ready, key=lambda index: self.agents[index].since) if ready else None

    # -- call progress ---------------------------------------------------------------------

    def resolved(self, call: _Call, answered: bool) -> None:
        self.ring_times = self.ring_times.record(self.now - call.dialed_at, answered=answered)
        self.tally.resolved_dials += 1
        hour = int(self.now // 3600)
        dials, answers = self.tally.hourly.get(hour, (0, 0))
        self.tally.hourly[hour] = (dials + 1, answers + answered)

    def on_fail(self, call_id: int) -> None:
        call = self.calls.pop(call_id)
        self.resolved(call, answered=False)
        if call.agent is not None:
            self.agents[call.agent].state = AgentState.READY

    def on_answer(self, call_id: int) -> None:
        call = self.calls.pop(call_id)
        self.resolved(call, answered=True)
        self.tally.live_answers += 1
        self.tally.answer_delay_sum += self.now - call.dialed_at
        agent = call.agent if call.agent is not None else self.longest_idle()
        if agent is not None:
            self.connect(agent)
            return
        self.waiting.append(call_id)
        self.push(self.now + self.profile.grace_s, "grace", call_id)

    def on_grace(self, call_id: int) -> None:
        if call_id in self.waiting:
            self.waiting.remove(call_id)
            self.tally.abandoned += 1
            self.tally.answers.append((self.now, True))
            self.window = self.window.record(self.at(self.now), abandoned=True)

    def connect(self, index: int) -> None:
        agent = self.agents[index]
        talk = self.rng.lognormvariate(
            math.log(self.talk_mean_s) - self.profile.talk_sigma**2 / 2, self.profile.talk_sigma
        )
        self.tally.waits.append(self.now - agent.since)
        agent.state, agent.since, agent.wrap_end = AgentState.BUSY, self.now, None
        left = max(0.0, self.end_s - self.now)
        self.tally.answers.append((self.now, False))
        self.tally.busy.append((self.now, self.now + min(talk + self.profile.wrapup_s, left)))
        self.tally.connected += 1
        self.tally.talk_clipped += min(talk, left)
        self.tally.busy_clipped += min(talk + self.profile.wrapup_s, left)
        self.window = self.window.record(self.at(self.now), abandoned=False)
        self.push(self.now + talk, "talk_end", index)

    def on_talk_end(self, index: int) -> None:
        agent = self.agents[index]
        self.tally.talks += 1
        self.tally.talk_sum += self.now - agent.since
        self.talk_times = self.talk_times.record(self.now - agent.since)
        agent.state, agent.since = AgentState.WRAP_UP, self.now
        agent.wrap_end = self.now + self.profile.wrapup_s
        self.push(agent.wrap_end, "wrap_end", index)

    def on_wrap_end(self, index: int) -> None:
        agent = self.agents[index]
        agent.state, agent.since, agent.wrap_end = AgentState.READY, self.now, None
        if self.waiting:
            self.waiting.popleft()
            self.connect(index)

    # -- what the pacing loop sees ---------------------------------------------------------

    def snapshot(self) -> PacingStats:
        tally = self.tally
        agents = tuple(
            AgentSnapshot(
                agent.state,
                self.at(agent.since),
                self.at(agent.wrap_end) if agent.wrap_end is not None else None,
            )
            for agent in self.agents
        )
        # the answer-rate sample is the current clock hour and the one before, as the engine's
        hour = int(self.now // 3600)
        recent = [tally.hourly.get(at, (0, 0)) for at in (hour - 1, hour)]
        return PacingStats(
            agents=agents,
            calls_in_flight=len(self.calls),
            answered_waiting=len(self.waiting),
            dials=sum(dials for dials, _ in recent),
            live_answers=sum(answers for _, answers in recent),
            avg_answer_delay_s=tally.answer_delay_sum / tally.live_answers if tally.live_answers else None,
            avg_talk_s=tally.talk_sum / tally.talks if tally.talks else None,
            talk_times=self.talk_times,
            abandons=self.window.counts(self.at(self.now)),
            ring_times=self.ring_times,
            ringing_ages_s=tuple(self.now - call.dialed_at for call in self.calls.values()),
        )


def _run(shift: _Shift) -> None:
    shift.push(0.0, "tick", 0)
    while shift.events and shift.events[0][0] < shift.end_s:
        when, _, kind, subject = heapq.heappop(shift.events)
        shift.now = when
        _HANDLERS[kind](shift, subject)


_HANDLERS: dict[str, Callable[[_Shift, int], None]] = {
    "tick": _Shift.on_tick,
    "answer": _Shift.on_answer,
    "fail": _Shift.on_fail,
    "grace": _Shift.on_grace,
    "talk_end": _Shift.on_talk_end,
    "wrap_end": _Shift.on_wrap_end,
}


def simulate(  # noqa: PLR0917 - the benchmark's positional signature
    mode: DialMode | str,
    agents: int = 50,
    answer_rate: float = 0.25,
    aht_s: float = 120.0,
    hours: float = 1.0,
    seed: int = 1,
    *,
    profile: SimProfile | None = None,
    params: PacingParams | None = None,
    answer_rate_end: float | None = None,
    pacer: VicidialPacer | None = None,
    start: datetime | None = None,
    window: AbandonWindow | None = None,
) -> ShiftResult:
    """Run one shift of `agents` agents for `hours` simulated hours in `mode`."""
    profile = profile or SimProfile()
    dial_mode = DialMode(mode)
    base = params or PacingParams(default_talk_s=aht_s - profile.wrapup_s)
    shift = _Shift(
        mode=dial_mode,
        answer_rate=answer_rate,
        talk_mean_s=aht_s - profile.wrapup_s,
        end_s=hours * 3600.0,
        rng=random.Random(seed),
        profile=profile,
        params=base.model_copy(update={"mode": dial_mode, "abandon_grace_s": profile.grace_s}),
        agents=[_Agent() for _ in range(agents)],
        answer_rate_end=answer_rate_end,
        pacer=pacer,
        start=start or SHIFT_START,
        window=window or AbandonWindow(),
    )
    _run(shift)
    return _result(shift, agents, hours)


def _result(shift: _Shift, agents: int, hours: float) -> ShiftResult:
    tally = shift.tally
    staffed_s = agents * shift.end_s
    answered = tally.connected + tally.abandoned
    return ShiftResult(
        mode=shift.mode,
        agents=agents,
        hours=hours,
        dials=tally.dials,
        live_answers=answered,
        connected=tally.connected,
        abandoned=tally.abandoned,
        occupancy=tally.busy_clipped / staffed_s if staffed_s else 0.0,
        abandon_rate=tally.abandoned / answered if answered else 0.0,
        talk_s_per_agent_hour=tally.talk_clipped / (agents * hours) if agents and hours else 0.0,
        mean_dial_level=tally.level_sum / tally.ticks if tally.ticks else 0.0,
        pacer="switchboard" if shift.pacer is None else shift.pacer.settings.method.value,
        answers=tuple(tally.answers),
        busy=tuple(tally.busy),
        waits=tuple(tally.waits),
        window=shift.window,
    )
