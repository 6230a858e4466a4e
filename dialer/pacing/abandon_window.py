"""The abandon rate's windows: live answers and abandons per clock hour over the last 30 days.

Owned here: the accounting the predictive pacing and the campaign stats read (the 24 h and 30 d
abandon rates the 3% cap is judged on). Pure: the caller passes the time.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from datetime import datetime

_HOUR_S = 3600
_DAY_HOURS = 24
_MONTH_HOURS = 30 * 24


@dataclass(frozen=True)
class AbandonCounts:
    answers_24h: int = 0
    abandons_24h: int = 0
    answers_30d: int = 0
    abandons_30d: int = 0

    @property
    def rate_24h(self) -> float:
        return self.abandons_24h / self.answers_24h if self.answers_24h else 0.0

    @property
    def rate_30d(self) -> float:
        return self.abandons_30d / self.answers_30d if self.answers_30d else 0.0


@dataclass(frozen=True)
class HourBucket:
    hour: int  # hours since the Unix epoch (UTC), so DST never merges or splits a bucket
    answers: int = 0
    abandons: int = 0


def _hour_of(at: datetime) -> int:
    return math.floor(at.timestamp() / _HOUR_S)


@dataclass(frozen=True)
class AbandonWindow:
    """Live answers and abandons per clock hour over the last 30 days (<= 720 buckets).

    The "24 h" window is the current hour and the 23 before it, the "30 d" window the current
    hour and the 719 before it. Immutable: `record` returns a new window.
    """

    buckets: tuple[HourBucket, ...] = ()

    def record(self, at: datetime, *, abandoned: bool) -> AbandonWindow:
        """Count one live answer at `at`, and one abandon if it was abandoned."""
        hour = _hour_of(at)
        hours = [bucket.hour for bucket in self.buckets]
        index = bisect.bisect_left(hours, hour)
        buckets = list(self.buckets)
        if index < len(buckets) and buckets[index].hour == hour:
            old = buckets[index]
            buckets[index] = HourBucket(hour, old.answers + 1, old.abandons + int(abandoned))
        else:
            buckets.insert(index, HourBucket(hour, 1, int(abandoned)))
        newest = buckets[-1].hour
        return AbandonWindow(tuple(bucket for bucket in buckets if bucket.hour > newest - _MONTH_HOURS))

    def counts(self, now: datetime) -> AbandonCounts:
        hour = _hour_of(now)
        day = [bucket for bucket in self.buckets if hour - _DAY_HOURS < bucket.hour <= hour]
        month = [bucket for bucket in self.buckets if hour - _MONTH_HOURS < bucket.hour <= hour]
        return AbandonCounts(
            answers_24h=sum(bucket.answers for bucket in day),
            abandons_24h=sum(bucket.abandons for bucket in day),
            answers_30d=sum(bucket.answers for bucket in month),
            abandons_30d=sum(bucket.abandons for bucket in month),
        )
