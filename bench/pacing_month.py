"""A 30-day run of short outbound days: the 24 h and 30 d abandon windows across days (figure 5).

Owns `month(...) -> Month`. Day k starts 24 h after day k-1, with seed + k (a different day of
calls, the same for every pacer). Switchboard's campaign carries its abandon window from day to
day, as the engine's Redis does; the VICIdial model starts each day afresh (its drop percentage
is the day's). `worst_24h` is the highest abandon rate of any full 24 h window, one ending every 5 minutes
from the end of the first day on (a window ending mid-shift holds the end of yesterday and the
start of today); `first_day` the same over the windows ending on the first day, which hold only
the campaign's first minutes or hours; `rate_30d` is the month's. Pure.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import timedelta
from itertools import accumulate

from bench.pacing_sim import SHIFT_START, ShiftResult, simulate
from bench.pacing_windows import rolling, worst_abandon
from bench.vicidial_adapt import AdaptMethod, AdaptSettings, VicidialPacer
from dialer.pacing.abandon_window import AbandonWindow

_DAY_S = 86400.0


@dataclass(frozen=True)
class Month:
    days: int
    occupancy: float
    answers: int
    abandoned: int
    worst_24h: float  # full 24 h windows: ending 24 h or more after the campaign's first call
    first_day: float  # the windows ending on the first day, which hold only the campaign's first hours
    worst_hour: float

    @property
    def rate_30d(self) -> float:
        return self.abandoned / self.answers if self.answers else 0.0


@dataclass(frozen=True)
class Day:
    """One day of the month: the answer rate (start, end of day) and the shift length."""

    start_rate: float
    end_rate: float | None
    hours: float


def _day(pacer: str, day: Day, index: int, agents: int, *, seed: int, window: AbandonWindow) -> ShiftResult:
    peer = None
    if pacer != "predictive":
        peer = VicidialPacer(AdaptSettings(method=AdaptMethod(pacer), day_s=day.hours * 3600.0))
    return simulate("predictive", agents, day.start_rate, 120.0, day.hours, seed + index,
                    answer_rate_end=day.end_rate, pacer=peer,
                    start=SHIFT_START + timedelta(days=index), window=window)  # fmt: skip


def worst_window(times: list[float], abandoned: list[bool], width_s: float, *, end_s: float, from_s: float
                 ) -> float:  # fmt: skip
    """Highest abandons / answers over windows (t - width, t], t every 5 min from `from_s` to `end_s`."""
    drops = [0, *accumulate(int(flag) for flag in abandoned)]
    worst, t = 0.0, from_s
    while t <= end_s:
        low, high = bisect.bisect_right(times, t - width_s), bisect.bisect_right(times, t)
        if high > low:
            worst = max(worst, (drops[high] - drops[low]) / (high - low))
        t += 300.0
    return worst


def month(pacer: str, day: Day, days: int = 30, agents: int = 50, seed: int = 1) -> Month:
    """`days` days of `pacer` ("predictive" or an AdaptMethod value), the abandon window carried."""
    window, answers, busy, worst_hour = AbandonWindow(), [], 0.0, 0.0
    for index in range(days):
        result = _day(pacer, day, index, agents, seed=seed, window=window)
        window = result.window if pacer == "predictive" else window
        answers += [(index * _DAY_S + at, abandoned) for at, abandoned in result.answers]
        busy += sum(to - since for since, to in result.busy)
        worst_hour = max(worst_hour, worst_abandon(rolling(result)).abandon_rate)
    answers.sort()
    times, flags = [at for at, _ in answers], [flag for _, flag in answers]
    return Month(
        days=days,
        occupancy=busy / (agents * day.hours * 3600.0 * days),
        answers=len(flags),
        abandoned=sum(flags),
        worst_24h=worst_window(times, flags, _DAY_S, end_s=days * _DAY_S, from_s=_DAY_S),
        first_day=worst_window(times, flags, _DAY_S, end_s=_DAY_S, from_s=300.0),
        worst_hour=worst_hour,
    )
