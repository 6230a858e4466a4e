"""Pacing: table tests of calls_to_place, the abandon accounting, and the simulated shift."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from bench.pacing_sim import simulate
from dialer.pacing.abandon_window import AbandonCounts, AbandonWindow
from dialer.pacing.decision import (
    AgentSnapshot,
    DialMode,
    PacingParams,
    PacingStats,
    TalkTimes,
    abandon_budget,
    agent_supply,
    answer_rate,
    calls_to_place,
    free_probability,
)
from routing.agent_events import AgentState

NOW = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)
PROGRESSIVE = PacingParams(mode=DialMode.PROGRESSIVE)
PREDICTIVE = PacingParams(mode=DialMode.PREDICTIVE)
# a campaign with history: 25 % answer rate, no abandons, plenty of samples
CLEAN = AbandonCounts(answers_24h=1000, abandons_24h=0, answers_30d=20000, abandons_30d=0)


def team(
    ready: int = 0,
    reserved: int = 0,
    talking: tuple[float, ...] = (),
    wrapup_left: tuple[float, ...] = (),
) -> tuple[AgentSnapshot, ...]:
    """Agents: `talking` = seconds talked so far, `wrapup_left` = seconds until the wrap-up timer ends."""
    return (
        *(AgentSnapshot(AgentState.READY, NOW - timedelta(seconds=30)) for _ in range(ready)),
        *(AgentSnapshot(AgentState.RESERVED, NOW - timedelta(seconds=5)) for _ in range(reserved)),
        *(AgentSnapshot(AgentState.BUSY, NOW - timedelta(seconds=talked)) for talked in talking),
        *(
            AgentSnapshot(AgentState.WRAP_UP, NOW - timedelta(seconds=1), NOW + timedelta(seconds=left))
            for left in wrapup_left
        ),
    )


def busy_floor(ready: int = 0, **changes: object) -> PacingStats:
    """50 agents, `ready` of them ready, the rest talking for 0..196 s; measured campaign."""
    talking = tuple(float(4 * index) for index in range(50 - ready))
    stats = PacingStats(
        agents=team(ready=ready, talking=talking),
        dials=4000,
        live_answers=1000,
        avg_answer_delay_s=12.0,
        avg_talk_s=110.0,
        abandons=CLEAN,
    )
    return replace(stats, **changes)  # type: ignore[arg-type]


# --- preview and progressive ------------------------------------------------------------------


def test_preview_never_dials() -> None:
    decision = calls_to_place(busy_floor(ready=50), PacingParams(mode=DialMode.PREVIEW), NOW)
    assert (decision.calls, decision.dial_level) == (0, 0.0)


@pytest.mark.parametrize(
    ("ready", "reserved", "in_flight", "waiting", "channels", "calls"),
    [
        (5, 0, 0, 0, None, 5),
        (3, 2, 2, 0, None, 3),  # reserve first: each call in flight holds one agent
        (0, 2, 2, 0, None, 0),
        (2, 0, 4, 0, None, 0),  # more in flight than agents (a lagging reservation): never negative
        (4, 0, 0, 1, None, 3),  # an answered call already waiting takes an agent
        (10, 0, 0, 0, 4, 4),  # trunk channels
        (10, 0, 3, 0, 4, 1),
        (0, 0, 0, 0, None, 0),
    ],
)
def test_progressive(
    ready: int, reserved: int, in_flight: int, waiting: int, channels: int | None, *, calls: int
) -> None:
    stats = PacingStats(
        agents=team(ready=ready, reserved=reserved, talking=(10.0, 20.0)),
        calls_in_flight=in_flight,
        answered_waiting=waiting,
    )
    params = PROGRESSIVE.model_copy(update={"max_channels": channels})
    decision = calls_to_place(stats, params, NOW)
    assert decision.calls == calls
    assert decision.dial_level == 1.0


# --- predictive -------------------------------------------------------------------------------


def test_predictive_without_history_is_progressive() -> None:
    stats = busy_floor(ready=5, dials=0, live_answers=0, abandons=AbandonCounts())
    assert calls_to_place(stats, PREDICTIVE, NOW).calls == 5


def test_predictive_dials_ahead_of_agents_becoming_free() -> None:
    decision = calls_to_place(busy_floor(ready=0), PREDICTIVE, NOW)
    assert decision.calls > 0  # progressive would place none: nobody is ready
    assert 0 < decision.dial_level <= PREDICTIVE.max_dial_level
    assert "abandon budget 3.00%" in decision.reason


@pytest.mark.parametrize(
    ("counts", "throttled"),
    [
        (CLEAN, False),
        # the 24 h rate reached the target: back to progressive
        (replace(CLEAN, abandons_24h=30), True),
        # the 30 d rate is over the target although today is clean
        (replace(CLEAN, abandons_30d=700), True),
        # too few live answers to trust anything
        (AbandonCounts(answers_24h=0, answers_30d=0), True),
    ],
)
def test_predictive_throttles_to_progressive(counts: AbandonCounts, throttled: bool) -> None:
    stats = busy_floor(ready=2, abandons=counts)
    decision = calls_to_place(stats, PREDICTIVE, NOW)
    assert (decision.calls == 2) is throttled


def test_predictive_backs_off_as_the_abandon_rate_approaches_the_target() -> None:
    counts = [replace(CLEAN, abandons_24h=abandons) for abandons in (0, 10, 20, 25, 30)]
    stats = [busy_floor(ready=2, abandons=each) for each in counts]
    calls = [calls_to_place(each, PREDICTIVE, NOW).calls for each in stats]
    assert calls == sorted(calls, reverse=True)
    assert calls[0] > calls[-1] == 2


def test_predictive_dials_more_when_fewer_calls_answer() -> None:
    by_rate = [
        calls_to_place(busy_floor(ready=3, live_answers=answers), PREDICTIVE, NOW).calls
        for answers in (2000, 1000, 400)  # 50 %, 25 %, 10 % of 4000 dials
    ]
    assert by_rate[0] < by_rate[1] < by_rate[2]


def test_predictive_counts_calls_in_flight_and_answered_waiting() -> None:
    free = calls_to_place(busy_floor(ready=3), PREDICTIVE, NOW).calls
    assert calls_to_place(busy_floor(ready=3, calls_in_flight=4), PREDICTIVE, NOW).calls == max(0, free - 4)
    assert calls_to_place(busy_floor(ready=3, answered_waiting=2), PREDICTIVE, NOW).calls < free


def test_predictive_respects_channels_and_dial_level_cap() -> None:
    capped = PREDICTIVE.model_copy(update={"max_channels": 6})
    assert calls_to_place(busy_floor(ready=3, calls_in_flight=4), capped, NOW).calls <= 2
    low_ceiling = PREDICTIVE.model_copy(update={"max_dial_level": 1.0})
    decision = calls_to_place(busy_floor(ready=3, live_answers=200), low_ceiling, NOW)
    assert decision.dial_level <= 1.0 + 1e-9


def test_wrapup_ending_within_the_lookahead_counts_as_free() -> None:
    # look-ahead = 0.5 * 12 s + 2 s = 8 s
    soon = replace(busy_floor(), agents=team(wrapup_left=(3.0,) * 10))
    late = replace(busy_floor(), agents=team(wrapup_left=(60.0,) * 10))
    assert agent_supply(soon, PREDICTIVE, NOW).certain == 10
    assert agent_supply(late, PREDICTIVE, NOW).certain == 0
    assert calls_to_place(soon, PREDICTIVE, NOW).calls > calls_to_place(late, PREDICTIVE, NOW).calls == 0


def test_agents_talking_beyond_the_average_are_about_to_be_free() -> None:
    histogram = TalkTimes()
    for seconds in range(60, 180):  # calls last 60..180 s, mean 120 s
        histogram = histogram.record(float(seconds))
    fresh = replace(busy_floor(), agents=team(talking=(10.0,) * 30), talk_times=histogram)
    long = replace(fresh, agents=team(talking=(150.0,) * 30))
    assert agent_supply(fresh, PREDICTIVE, NOW).maybe == 0.0
    # each has an 8 s look-ahead out of the 30 s its call can still last
    assert agent_supply(long, PREDICTIVE, NOW).maybe == pytest.approx(30 * 8 / 30)
    assert calls_to_place(long, PREDICTIVE, NOW).calls > calls_to_place(fresh, PREDICTIVE, NOW).calls


@pytest.mark.parametrize(
    ("talked", "histogram_calls", "expected"),
    [
        (0.0, 0, 1 - math.exp(-10 / 100)),  # no histogram: memoryless
        (500.0, 120, 1 - math.exp(-10 / 100)),  # beyond what was ever measured: memoryless
        (0.0, 120, 0.0),  # no call ends within its first 60 s
        (100.0, 120, 10 / 80),
        (175.0, 120, 1.0),
    ],
)
def test_free_probability(talked: float, histogram_calls: int, expected: float) -> None:
    histogram = TalkTimes()
    for index in range(histogram_calls):
        histogram = histogram.record(60.0 + index)
    talk_times = histogram if histogram_calls else None
    assert free_probability(talked, 10.0, 100.0, talk_times) == pytest.approx(expected)


def test_talk_times_histogram() -> None:
    histogram = TalkTimes(bucket_s=10.0, max_buckets=5)
    for seconds in (5.0, 15.0, 15.0, 49.0, 3600.0):
        histogram = histogram.record(seconds)
    assert histogram.counts == (1, 2, 0, 0, 2)  # the last bucket is open-ended: memory is bounded
    assert histogram.total == 5
    assert histogram.calls_longer_than(0.0) == 5
    assert histogram.calls_longer_than(15.0) == pytest.approx(3)
    assert histogram.calls_longer_than(100.0) == 0


@pytest.mark.parametrize(
    ("dials", "answers", "prior", "rate"),
    [
        (0, 0, 20.0, 1.0),  # nothing measured: assume every call answers (= progressive)
        (80, 20, 20.0, 0.4),
        (10000, 2500, 20.0, pytest.approx(2520 / 10020)),
        (100, 25, 0.0, 0.25),
        (0, 0, 0.0, 1.0),
    ],
)
def test_answer_rate(dials: int, answers: int, prior: float, rate: float) -> None:
    stats = PacingStats(agents=(), dials=dials, live_answers=answers)
    assert answer_rate(stats, PREDICTIVE.model_copy(update={"prior_dials": prior})) == rate


@pytest.mark.parametrize(
    ("counts", "budget"),
    [
        (AbandonCounts(), 0.0),
        (AbandonCounts(answers_24h=50, answers_30d=50), 0.015),  # half the samples: half the budget
        (CLEAN, 0.03),
        (replace(CLEAN, abandons_24h=15), 0.015),
        (replace(CLEAN, abandons_24h=45), 0.0),
        (replace(CLEAN, abandons_30d=450), 0.0075),
    ],
)
def test_abandon_budget(counts: AbandonCounts, budget: float) -> None:
    assert abandon_budget(counts, PREDICTIVE) == pytest.approx(budget)


def test_params_validation() -> None:
    with pytest.raises(ValidationError):
        PacingParams.model_validate({"abandon_target": 0})
    with pytest.raises(ValidationError):
        PacingParams.model_validate({"mode": "turbo"})
    assert PacingParams.model_validate({"mode": "predictive"}).abandon_target == 0.03


# --- abandon accounting -----------------------------------------------------------------------


def test_abandon_window_rolls_over_24_hours_and_30_days() -> None:
    window = AbandonWindow()
    events = ((0, False), (0, True), (23, True), (24, False), (29 * 24, True), (31 * 24, True))
    for hours_ago, abandoned in events:
        window = window.record(NOW - timedelta(hours=hours_ago), abandoned=abandoned)
    counts = window.counts(NOW)
    assert (counts.answers_24h, counts.abandons_24h) == (3, 2)
    assert (counts.answers_30d, counts.abandons_30d) == (5, 3)
    assert counts.rate_24h == pytest.approx(2 / 3)
    # a day later nothing is within 24 h, and the 29-day-old one has left the 30 days
    later = window.counts(NOW + timedelta(days=1))
    assert (later.answers_24h, later.answers_30d) == (0, 4)


def test_abandon_window_is_bounded_and_immutable() -> None:
    window = AbandonWindow()
    for hour in range(40 * 24):
        window = window.record(NOW + timedelta(hours=hour), abandoned=hour % 10 == 0)
    assert len(window.buckets) == 30 * 24
    before = window
    after = window.record(NOW, abandoned=True)  # a late event, out of order: dropped (too old)
    assert before.buckets is window.buckets
    assert len(after.buckets) == 30 * 24
    end = NOW + timedelta(hours=40 * 24 - 1)
    assert window.counts(end).answers_30d == 720
    assert window.counts(end).answers_24h == 24


def test_abandon_window_merges_out_of_order_events_into_their_hour() -> None:
    window = AbandonWindow()
    window = window.record(NOW + timedelta(hours=2), abandoned=False)
    window = window.record(NOW, abandoned=True)
    window = window.record(NOW + timedelta(minutes=59), abandoned=False)
    assert [(bucket.answers, bucket.abandons) for bucket in window.buckets] == [(2, 1), (1, 0)]
    assert window.counts(NOW).answers_24h == 2  # the future bucket is not counted yet


# --- the simulated shift ----------------------------------------------------------------------


def test_simulation_is_deterministic() -> None:
    first = simulate("predictive", 10, 0.25, 120.0, 0.25, 3)
    assert simulate(DialMode.PREDICTIVE, 10, 0.25, 120.0, 0.25, 3) == first
    assert simulate("predictive", 10, 0.25, 120.0, 0.25, 4) != first


def test_preview_shift_places_no_calls() -> None:
    result = simulate("preview", 5, 0.25, 120.0, 0.1, 1)
    assert (result.dials, result.occupancy) == (0, 0.0)


def test_predictive_beats_progressive_within_the_abandon_target() -> None:
    progressive = simulate("progressive", 50, 0.25, 120.0, 1.0, 7)
    predictive = simulate("predictive", 50, 0.25, 120.0, 1.0, 7)
    assert progressive.abandoned == 0
    assert predictive.abandon_rate <= 0.03
    assert predictive.occupancy >= 0.85
    assert predictive.occupancy >= progressive.occupancy + 0.2
    assert predictive.talk_s_per_agent_hour >= 1.35 * progressive.talk_s_per_agent_hour
