"""Pacing: how many calls to originate now, per dial mode, from measured statistics.

Owns `calls_to_place(stats, params, now) -> PacingDecision`; the abandon windows it reads are
dialer.pacing.abandon_window.
Pure: the pacing loop (a single leader) gathers a `PacingStats` snapshot and an injected `now`; the
expected-abandons arithmetic of the predictive mode is dialer.pacing.abandon_math.

Modes
- preview: no automatic calls; an advisor dials a lead offered to them.
- progressive: one call per ready agent, minus calls already in flight. The shell reserves a
  ready agent for every call it places (RESERVED), so the answered call goes to that agent and
  nothing is ever abandoned: calls = READY + RESERVED - in flight - answered waiting.
- predictive: more calls than ready agents, sized so that the expected abandons stay inside
  an abandon budget that shrinks to zero as the measured rate approaches the target.

The predictive formula (every quantity is in PacingStats/PacingParams)
  D   = mean time from originate to answer, g = the 2 s abandon grace
  H   = s * D + g, s = lookahead_share = 0.5                            (the look-ahead: calls
        already ringing are on average half way to their answer, and the early answers are
        the ones that find no agent; 0.5 halved the abandons of s = 1 at the same occupancy
        in `bench.pacing_sim` across team sizes, answer rates and handle times)
  a   = (live answers + k) / (dials + k)                                (answer rate, shrunk
        toward 1.0 by k = prior_dials pseudo-dials: unmeasured => plain progressive)
  C   = READY + RESERVED + agents whose wrap-up timer ends within H    (surely free)
  lam = sum over talking agents of p(e)                                 (maybe free), e = talk
        so far, p(e) = 1 - S(e + H) / S(e) with S the measured talk-time survival curve
        (`TalkTimes`), so an agent talking beyond the average handle time counts with the
        measured chance that such a long call ends now; without enough data
        p = 1 - exp(-H / T), T = mean talk time
  Q   = answered calls already waiting for an agent
  Supply within H: Y = C + Poisson(lam); answers of F calls in flight: X ~ Binomial(F, a).
  Expected abandons caused by them: E[(Q + X - Y)+] - E[(Q - Y)+].
  budget = target * confidence * headroom, where
        confidence = min(1, live answers in 30 d / min_samples)
        headroom   = min over (24 h, 30 d) of clamp(1 - measured abandon rate / target, 0, 1)
  F*  = the largest F in [READY + RESERVED - Q, max_dial_level * (C + lam - Q)] whose expected
        abandons are <= budget * E[X]; calls = max(0, F* - calls in flight), within max_channels.
  dial_level = F* / (C + lam - Q), lines in flight per agent expected free.
The time-resolved look-ahead (dialer.pacing.answer_timing) replaces H, X and F* when the shell
gives the ringing calls' ages and the campaign's ring-time histograms (>= min_ring_samples live
answers; `timed_lookahead: false` keeps the fixed H): the new calls n are sized against every
checkpoint t (the next second, quantiles of the answer delay) at once.
With too few samples, or a measured abandon rate at/over the target in either window, the
budget is 0 and F* falls back to the progressive floor (one line per ready agent); with
headroom it rises toward the answer-rate-limited level 1/a. Because the budget shrinks as the
measured rate rises, the rate settles below the target even when the model is off by a
factor b (at target * b / (1 + b)). An abandoned call is a live answer with no agent connected
within 2 s of the answer; the shell records every live answer into `AbandonWindow`.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from core.config.vocabulary import Seconds, spelled
from dialer.pacing.abandon_math import excess_table, largest_safe
from dialer.pacing.abandon_window import AbandonCounts
from dialer.pacing.answer_timing import Lookahead, RingTimes, timed_lookahead
from routing.agent_events import AgentState

_MIN_TAIL_CALLS = 5.0


class DialMode(StrEnum):
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"


# The agent states pacing reads are the ACD's (one AgentState for the whole engine): ready and
# reserved (held for a dial) are free; ringing and busy are talking; wrap-up ends at its timer.
_FREE = (AgentState.READY, AgentState.RESERVED)
_TALKING = (AgentState.RINGING, AgentState.BUSY)


@dataclass(frozen=True)
class AgentSnapshot:
    """A logged-in, unpaused agent of the campaign. `wrapup_ends_at` is known when the campaign
    has a wrap-up timer; a wrap-up without it is not counted as becoming free."""

    state: AgentState
    since: datetime
    wrapup_ends_at: datetime | None = None


# --- talk-time distribution -----------------------------------------------------------------


@dataclass(frozen=True)
class TalkTimes:
    """Histogram of completed talk durations (`bucket_s` wide, the last bucket open-ended).

    Pacing reads its survival curve to judge which talking agents are about to finish. Bounded
    memory; immutable (`record` returns a new histogram). The shell decides how long a sample
    it keeps (e.g. rebuild it hourly from the last N calls).
    """

    bucket_s: float = 5.0
    max_buckets: int = 720
    counts: tuple[int, ...] = ()

    @property
    def total(self) -> int:
        return sum(self.counts)

    def record(self, talk_s: float) -> TalkTimes:
        index = min(max(0, int(talk_s // self.bucket_s)), self.max_buckets - 1)
        counts = list(self.counts) + [0] * max(0, index + 1 - len(self.counts))
        counts[index] += 1
        return TalkTimes(self.bucket_s, self.max_buckets, tuple(counts))

    @functools.cached_property
    def _beyond(self) -> tuple[int, ...]:
        """_beyond[i] = calls in buckets after bucket i."""
        tails = list(itertools.accumulate(reversed(self.counts)))
        return (*reversed(tails[:-1]), 0) if tails else ()

    def calls_longer_than(self, seconds: float) -> float:
        """How many recorded calls lasted more than `seconds` (linear inside a bucket)."""
        index = int(max(0.0, seconds) // self.bucket_s)
        if index >= len(self.counts):
            return 0.0
        inside = self.counts[index] * (1.0 - (max(0.0, seconds) - index * self.bucket_s) / self.bucket_s)
        return inside + self._beyond[index]


# --- inputs and output ----------------------------------------------------------------------


class PacingParams(BaseModel):
    """The campaign's pacing section."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: DialMode = DialMode.PROGRESSIVE
    abandon_target: float = Field(default=0.03, gt=0, lt=1)
    abandon_grace_s: Seconds = Field(
        default=2.0, gt=0, validation_alias=spelled("abandon_grace", "abandon_grace_s")
    )
    lookahead_share: float = Field(default=0.5, gt=0, le=1)
    max_dial_level: float = Field(default=5.0, ge=1)
    min_samples: int = Field(default=100, ge=1)
    min_talk_samples: int = Field(default=50, ge=1)
    prior_dials: float = Field(default=20.0, ge=0)
    default_answer_delay_s: float = Field(default=15.0, gt=0)
    default_talk_s: float = Field(default=120.0, gt=0)
    max_channels: int | None = Field(default=None, ge=1)
    timed_lookahead: bool = True
    timed_safety: float = Field(default=4.0, ge=1)
    min_ring_samples: int = Field(default=50, ge=1)


@dataclass(frozen=True)
class PacingStats:
    """What the loop measured. `dials`/`live_answers` are a recent sample (e.g. the last hour)
    for the answer rate; answering machines the AMD hangs up are not live answers."""

    agents: tuple[AgentSnapshot, ...]
    calls_in_flight: int = 0
    answered_waiting: int = 0
    dials: int = 0
    live_answers: int = 0
    avg_answer_delay_s: float | None = None
    avg_talk_s: float | None = None
    talk_times: TalkTimes | None = None
    abandons: AbandonCounts = field(default_factory=AbandonCounts)
    ring_times: RingTimes | None = None
    ringing_ages_s: tuple[float, ...] | None = None  # of the calls in flight, when the shell knows them


@dataclass(frozen=True)
class PacingDecision:
    calls: int
    dial_level: float
    reason: str


# --- the decision ---------------------------------------------------------------------------


def _count(agents: Iterable[AgentSnapshot], *states: AgentState) -> int:
    return sum(1 for agent in agents if agent.state in states)


def _capped(calls: int, stats: PacingStats, params: PacingParams) -> int:
    if params.max_channels is None:
        return max(0, calls)
    return max(0, min(calls, params.max_channels - stats.calls_in_flight - stats.answered_waiting))


def calls_to_place(stats: PacingStats, params: PacingParams, now: datetime) -> PacingDecision:
    """How many calls to originate now."""
    if params.mode is DialMode.PREVIEW:
        return PacingDecision(0, 0.0, "preview: advisors dial offered leads themselves")
    if params.mode is DialMode.PROGRESSIVE:
        return _progressive(stats, params)
    return _predictive(stats, params, now)


def _progressive(stats: PacingStats, params: PacingParams) -> PacingDecision:
    available = _count(stats.agents, *_FREE)
    calls = _capped(available - stats.calls_in_flight - stats.answered_waiting, stats, params)
    reason = f"progressive: {available} ready, {stats.calls_in_flight} in flight"
    return PacingDecision(calls, 1.0, reason)


def answer_rate(stats: PacingStats, params: PacingParams) -> float:
    """Measured live-answer rate, shrunk toward 1.0 (=> progressive) while the sample is small."""
    prior = params.prior_dials
    if stats.dials + prior <= 0:
        return 1.0
    return min(1.0, (stats.live_answers + prior) / (stats.dials + prior))


def abandon_budget(counts: AbandonCounts, params: PacingParams) -> float:
    """The expected abandon share a predictive decision may risk (0 => progressive)."""
    target = params.abandon_target
    confidence = min(1.0, counts.answers_30d / params.min_samples)
    headroom = min(1.0 - counts.rate_24h / target, 1.0 - counts.rate_30d / target)
    return target * confidence * min(1.0, max(0.0, headroom))


def free_probability(
    talked_s: float, horizon_s: float, mean_talk_s: float, talk_times: TalkTimes | None = None
) -> float:
    """Chance that a call already `talked_s` long ends within `horizon_s`.

    From the measured talk-time histogram when it holds enough calls that lasted this long:
    1 - S(talked + horizon) / S(talked). Otherwise memoryless: 1 - exp(-horizon / mean talk).
    """
    if talk_times is not None:
        alive = talk_times.calls_longer_than(talked_s)
        if alive >= _MIN_TAIL_CALLS:
            return 1.0 - talk_times.calls_longer_than(talked_s + horizon_s) / alive
    return 1.0 - math.exp(-horizon_s / mean_talk_s)


@dataclass(frozen=True)
class Supply:
    """Agents available within the look-ahead H."""

    certain: int  # free for sure: ready, reserved, wrap-up ending within H
    maybe: float  # expected number of talking agents finishing within H


def agent_supply(
    stats: PacingStats,
    params: PacingParams,
    now: datetime,
    horizon: float | None = None,
    wrap_up: float = 0.0,
) -> Supply:
    """Agents free within `horizon` (default: the look-ahead H); a talking agent must also get
    through `wrap_up` seconds of wrap-up."""
    if horizon is None:
        answer_delay = stats.avg_answer_delay_s or params.default_answer_delay_s
        horizon = params.lookahead_share * answer_delay + params.abandon_grace_s
    talk = stats.avg_talk_s or params.default_talk_s
    histogram = stats.talk_times
    if histogram is not None and histogram.total < params.min_talk_samples:
        histogram = None
    soon = now + timedelta(seconds=horizon)
    certain = _count(stats.agents, *_FREE)
    maybe = 0.0
    for agent in stats.agents:
        if agent.state is AgentState.WRAP_UP and agent.wrapup_ends_at is not None:
            certain += int(agent.wrapup_ends_at <= soon)
        elif agent.state in _TALKING and horizon > wrap_up:
            talked = (now - agent.since).total_seconds()
            maybe += free_probability(talked, horizon - wrap_up, talk, histogram)
    return Supply(certain, maybe)


def _predictive(stats: PacingStats, params: PacingParams, now: datetime) -> PacingDecision:
    rate = answer_rate(stats, params)
    supply = agent_supply(stats, params, now)
    budget = abandon_budget(stats.abandons, params)
    expected_free = supply.certain + supply.maybe - stats.answered_waiting
    ready = _count(stats.agents, *_FREE)
    floor = max(0, ready - stats.answered_waiting)
    ceiling = max(floor, math.floor(params.max_dial_level * max(expected_free, 0.0)))
    if params.max_channels is not None:
        floor, ceiling = min(floor, params.max_channels), min(ceiling, params.max_channels)
    timed = _timed_lookahead(stats, params, now, rate)
    if budget <= 0:
        target_in_flight = floor
    elif timed is not None:
        low = max(0, floor - stats.calls_in_flight)
        target_in_flight = stats.calls_in_flight + timed.largest_safe(
            low, max(low, ceiling - stats.calls_in_flight), budget
        )
    else:
        table = excess_table(supply.certain - stats.answered_waiting, supply.maybe, ceiling)
        target_in_flight = largest_safe(floor, ceiling, table, rate, budget)
    calls = _capped(target_in_flight - stats.calls_in_flight, stats, params)
    level = target_in_flight / expected_free if expected_free > 0 else 0.0
    reason = (
        f"predictive: answer rate {rate:.1%}, {expected_free:.1f} agents free within look-ahead, "
        f"abandon budget {budget:.2%} (24h {stats.abandons.rate_24h:.2%}, 30d {stats.abandons.rate_30d:.2%}, "
        f"{stats.abandons.answers_30d} answers), {target_in_flight} in flight wanted, "
        f"{'time-resolved' if timed is not None else 'fixed'} look-ahead"
    )
    return PacingDecision(calls, level, reason)


def _timed_lookahead(
    stats: PacingStats, params: PacingParams, now: datetime, rate: float
) -> Lookahead | None:
    """The time-resolved look-ahead, when the ring times and the ringing calls' ages are known."""
    ring, ages = stats.ring_times, stats.ringing_ages_s
    if not params.timed_lookahead or ring is None or ages is None or ring.answers < params.min_ring_samples:
        return None
    if stats.talk_times is None or stats.talk_times.total < params.min_talk_samples:
        return None  # memoryless talk times over 20 s would count every advisor of a fresh shift as soon free
    wrap_up = wrap_up_s(stats)

    def free_by(at_s: float) -> tuple[int, float]:
        supply = agent_supply(stats, params, now, at_s + params.abandon_grace_s, wrap_up)
        return supply.certain, supply.maybe

    return timed_lookahead(
        ring, ages, rate, free_by, waiting=stats.answered_waiting, safety=params.timed_safety
    )


def wrap_up_s(stats: PacingStats) -> float:
    """The wrap-up a talking agent faces: the timer of the agents in wrap-up now (0 without one)."""
    timers = [
        (agent.wrapup_ends_at - agent.since).total_seconds()
        for agent in stats.agents
        if agent.state is AgentState.WRAP_UP and agent.wrapup_ends_at is not None
    ]
    return max(timers, default=0.0)
