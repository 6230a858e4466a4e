"""Opening hours: is a queue open at instant `now` (epoch seconds), in the queue's own zone.

Rules it keeps:
- Wall-clock time in the queue's zone decides, so 08:00 is 08:00 on DST days too
  (on the spring-forward day the missing hour simply never occurs).
- A range whose end is not after its start runs across midnight: `22:00-06:00`
  on Friday is open Friday 22:00 until Saturday 06:00. It belongs to the day it
  starts on: a holiday closes the ranges that start on it, and the night shift
  that started the evening before a holiday ends as planned.
- `24:00` may end a range; `00:00-24:00` is all day.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class HoursPlan:
    """Hours in seconds of the local day; `weekly[0]` is Monday."""

    zone: ZoneInfo
    weekly: tuple[tuple[tuple[int, int], ...], ...]
    closed_dates: frozenset[date]
    country: Container[date] | None = None

    def is_holiday(self, day: date) -> bool:
        return day in self.closed_dates or (self.country is not None and day in self.country)


def parse_range(text: str) -> tuple[int, int]:
    """`"08:00-17:30"` -> (28800, 63000) seconds since local midnight (already validated)."""
    start, end = text.split("-")
    return _seconds(start), _seconds(end)


def _seconds(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def build_hours(
    zone: str, weekly: dict[str, tuple[str, ...]], closed: tuple[date, ...], country: Container[date] | None
) -> HoursPlan:
    days = tuple(tuple(sorted(parse_range(r) for r in weekly.get(day, ()))) for day in _DAYS)
    return HoursPlan(ZoneInfo(zone), days, frozenset(closed), country)


def is_open(hours: HoursPlan, now: float) -> bool:
    """True when `now` falls in an opening range (today's, or last night's running past midnight)."""
    local = datetime.fromtimestamp(now, hours.zone)
    second = local.hour * 3600 + local.minute * 60 + local.second
    today = local.date()
    weekday = local.weekday()
    if not hours.is_holiday(today):
        for start, end in hours.weekly[weekday]:
            if start <= second < end or (end <= start <= second):
                return True
    yesterday = today - timedelta(days=1)
    if hours.is_holiday(yesterday):
        return False
    return any(end <= start and second < end for start, end in hours.weekly[(weekday - 1) % 7])


def next_opening(hours: HoursPlan, now: float, horizon_days: int = 14) -> float | None:
    """The first instant after `now` at which the queue is open, or None within the horizon."""
    if is_open(hours, now):
        return now
    today = datetime.fromtimestamp(now, hours.zone).date()
    for offset in range(horizon_days + 1):
        day = today + timedelta(days=offset)
        if hours.is_holiday(day):
            continue
        for start, _ in hours.weekly[day.weekday()]:
            at = _instant(hours.zone, day, start)
            if at > now and is_open(hours, at):
                return at
    return None


def _instant(zone: ZoneInfo, day: date, second: int) -> float:
    midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
    wall = midnight + timedelta(seconds=second)  # wall-clock arithmetic: 08:00 local on DST days too
    return wall.timestamp()
