"""Pacing's time-resolved look-ahead: ring-time histograms, answer chances by a dial's age, and
how calls_to_place uses them (pure, injected clock)."""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dialer.loop.pacer import InFlight, ringing_ages
from dialer.pacing.abandon_math import _binomial_mean_of, binomial_excess, excess_table
from dialer.pacing.abandon_window import AbandonCounts
from dialer.pacing.answer_timing import RingCurves, RingTimes, checkpoint_times
from dialer.pacing.decision import (
    AgentSnapshot,
    DialMode,
    PacingParams,
    PacingStats,
    TalkTimes,
    agent_supply,
    calls_to_place,
    wrap_up_s,
)
from routing.agent_events import AgentState

NOW = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)
PREDICTIVE = PacingParams(mode=DialMode.PREDICTIVE)
FIXED = PREDICTIVE.model_copy(update={"timed_lookahead": False})
CLEAN = AbandonCounts(answers_24h=1000, abandons_24h=0, answers_30d=20000, abandons_30d=0)
TALKS = functools.reduce(
    lambda times, talk: times.record(talk), [60.0 + 2 * i for i in range(60)], TalkTimes()
)


def ring_times(answered: range = range(4, 20), unanswered: tuple[float, ...] = (3.0, 30.0)) -> RingTimes:
    """Answers spread evenly over `answered` seconds (10 each), unanswered dials 30 each."""
    ring = RingTimes()
    for second in answered:
        for _ in range(10):
            ring = ring.record(second + 0.5, answered=True)
    for rang in unanswered:
        for _ in range(30 * len(answered) // len(unanswered)):
            ring = ring.record(rang, answered=False)
    return ring


def stats(ages: tuple[float, ...] | None, ready: int = 5, ring: RingTimes | None = None) -> PacingStats:
    talking = tuple(AgentSnapshot(AgentState.BUSY, NOW - timedelta(seconds=4 * i)) for i in range(45))
    free = tuple(AgentSnapshot(AgentState.READY, NOW - timedelta(seconds=30)) for _ in range(ready))
    return PacingStats(
        agents=free + talking,
        calls_in_flight=0 if ages is None else len(ages),
        dials=4000,
        live_answers=1000,
        avg_answer_delay_s=12.0,
        avg_talk_s=110.0,
        abandons=CLEAN,
        talk_times=TALKS,
        ring_times=ring if ring is not None else ring_times(),
        ringing_ages_s=ages,
    )


def test_ring_times_histogram_is_immutable_and_bounded() -> None:
    empty = RingTimes(max_s=10)
    one = empty.record(4.2, answered=True).record(99.0, answered=False)
    assert empty.answered == () and empty.unanswered == ()
    assert one.answered == (0, 0, 0, 0, 1) and one.unanswered[-1] == 1 and len(one.unanswered) == 10
    assert one.answers == 1


def test_checkpoints_are_quantiles_of_the_answer_delay() -> None:
    assert checkpoint_times(ring_times()) == (1.0, 8.0, 11.0, 14.0, 17.0, 20.0)


def test_answer_chance_follows_the_age_of_the_dial() -> None:
    curves = RingCurves.of(ring_times())  # answers 4-20 s, unanswered end at 3 s or 30 s
    fresh = curves.answer_chance(0.0, 30.0, 0.25)
    assert fresh == pytest.approx(0.25)
    # at 12 s: half the answered still ring, the busy ones (3 s) are gone, the 30 s ones ring on
    assert curves.answer_chance(12.0, 30.0, 0.25) == pytest.approx(0.25 * 0.5 / (0.25 * 0.5 + 0.75 * 0.5))
    assert curves.answer_chance(12.0, 4.0, 0.25) == pytest.approx(0.25 * 0.25 / (0.25 * 0.5 + 0.75 * 0.5))
    assert curves.answer_chance(21.0, 30.0, 0.25) == 0.0  # older than every answer: will not answer


def test_binomial_excess_matches_the_exact_sum() -> None:
    table = excess_table(3, 2.5, 80)
    for calls, rate in ((10, 0.25), (40, 0.25), (80, 0.1), (5, 0.9), (0, 0.3)):
        assert binomial_excess(table, calls, rate) == pytest.approx(_binomial_mean_of(table, calls, rate))


def test_dials_past_every_answer_delay_do_not_hold_back_new_calls() -> None:
    fresh = calls_to_place(stats(ages=(1.0,) * 20), PREDICTIVE, NOW)
    stale = calls_to_place(stats(ages=(25.0,) * 20), PREDICTIVE, NOW)
    assert stale.calls > fresh.calls
    none_ringing = calls_to_place(stats(ages=()), PREDICTIVE, NOW)
    # they will not answer, but still count against max_dial_level lines per agent expected free
    assert none_ringing.calls > stale.calls
    assert stale.dial_level == pytest.approx(PREDICTIVE.max_dial_level, abs=0.1)  # only that cap binds


def test_without_ring_ages_or_when_switched_off_the_fixed_lookahead_decides() -> None:
    ages = (1.0, 5.0, 9.0) * 6
    fixed = calls_to_place(stats(ages=ages), FIXED, NOW)
    unknown = calls_to_place(stats(ages=None), PREDICTIVE, NOW)
    few = calls_to_place(stats(ages=ages, ring=RingTimes().record(5.0, answered=True)), PREDICTIVE, NOW)
    no_talks = calls_to_place(replace(stats(ages=ages), talk_times=None), PREDICTIVE, NOW)
    fixed_no_talks = calls_to_place(replace(stats(ages=ages), talk_times=None), FIXED, NOW)
    assert fixed.reason.endswith("fixed look-ahead")
    assert calls_to_place(stats(ages=ages), PREDICTIVE, NOW).reason.endswith("time-resolved look-ahead")
    assert few.calls == fixed.calls  # too few measured answers for ring-time curves
    assert no_talks.calls == fixed_no_talks.calls  # no talk-time curve to tell who finishes within 20 s
    assert unknown.calls >= 0


def test_more_safety_dials_fewer_calls() -> None:
    ages = (2.0, 6.0, 10.0, 14.0) * 5
    bold = calls_to_place(stats(ages=ages), PREDICTIVE.model_copy(update={"timed_safety": 1.0}), NOW)
    careful = calls_to_place(stats(ages=ages), PREDICTIVE.model_copy(update={"timed_safety": 10.0}), NOW)
    assert careful.calls < bold.calls


def test_a_talking_agent_must_get_through_wrap_up_before_taking_a_call() -> None:
    wrapping = AgentSnapshot(AgentState.WRAP_UP, NOW - timedelta(seconds=4), NOW + timedelta(seconds=6))
    talking = AgentSnapshot(AgentState.BUSY, NOW - timedelta(seconds=400))  # long call: ends soon
    measured = PacingStats(agents=(wrapping, talking), avg_talk_s=110.0)
    assert wrap_up_s(measured) == pytest.approx(10.0)
    assert wrap_up_s(PacingStats(agents=(talking,))) == 0.0
    within_wrap = agent_supply(measured, PREDICTIVE, NOW, 8.0, wrap_up=10.0)
    after_wrap = agent_supply(measured, PREDICTIVE, NOW, 20.0, wrap_up=10.0)
    assert within_wrap.maybe == 0.0 and within_wrap.certain == 1
    assert after_wrap.maybe > 0.0


def test_the_pacer_reads_each_ringing_calls_age_from_its_placing_time() -> None:
    placed = NOW.timestamp()
    assert ringing_ages(InFlight(2, 0, (placed - 12.5, placed + 1.0)), NOW) == (12.5, 0.0)
    assert ringing_ages(InFlight(2, 0), NOW) is None  # a flight that does not list them: fixed look-ahead
