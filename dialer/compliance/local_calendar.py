"""Local wall time and the working-day calendar, shared by the time-logic cores (calling hours,
task deadlines and reminders).

Owned here: zone names to `ZoneInfo` (a clear ValueError for an unknown one), the first instant a
local clock shows a wall time (right across DST gaps and repeats), and each country's public holidays
and working week from the `holidays` package. Pure: no I/O, no clock.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.holiday_calendars import calendar_known, country_calendar

# --- local time helpers ---------------------------------------------------------------------


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone `name`; raises ValueError (not a zoneinfo internal) for an unknown name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def require_aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def wall_to_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) at which a clock in `zone` shows `wall` (naive) or later.

    Ordinary times map one to one. In the hour skipped by a DST jump this is the jump itself
    (the first instant the clock shows a later time); in the hour repeated at the end of DST it
    is the first occurrence.
    """
    early = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    late = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if early == late:
        return early
    if _wall(early, zone) == wall and _wall(late, zone) == wall:
        return min(early, late)
    return _search_gap_end(min(early, late), max(early, late), wall, zone)


def _search_gap_end(low: datetime, high: datetime, wall: datetime, zone: ZoneInfo) -> datetime:
    """Binary search (to the microsecond) for the first instant in (low, high] whose wall >= wall."""
    step = timedelta(microseconds=1)
    while high - low > step:
        middle = low + (high - low) / 2
        if _wall(middle, zone) >= wall:
            high = middle
        else:
            low = middle
    return high


# --- holidays -------------------------------------------------------------------------------


@dataclass(frozen=True)
class YearCalendar:
    """One country's public holidays for one year, plus its weekend and working weekend days."""

    names: Mapping[date, str]
    weekend: frozenset[int]
    weekend_workdays: frozenset[date]


def holidays_supported(country: str, subdivision: str | None = None) -> bool:
    return calendar_known(country, subdivision)


@functools.lru_cache(maxsize=1024)
def year_calendar(country: str, year: int, subdivision: str | None = None) -> YearCalendar:
    """Holiday data of `country` for `year`; raises ValueError for an unsupported country."""
    if not holidays_supported(country, subdivision):
        where = f"{country}-{subdivision}" if subdivision else country
        raise ValueError(f"no holiday calendar for {where!r} in the holidays package")
    table = country_calendar(country, subdivision=subdivision, years=year)
    names = {day: str(name) for day, name in table.items()}
    workdays = frozenset(getattr(table, "weekend_workdays", ()))
    return YearCalendar(names=names, weekend=frozenset(table.weekend), weekend_workdays=workdays)


def holiday_name(country: str, day: date, subdivision: str | None = None) -> str | None:
    return year_calendar(country, day.year, subdivision).names.get(day)


def is_working_day(
    day: date,
    country: str | None,
    extra_holidays: Iterable[date] = (),
    subdivision: str | None = None,
) -> bool:
    """Monday-Friday (or the country's own working week), minus holidays and extra dates.

    Weekend days the country declares working days (Hungary's moved working Saturdays) count.
    Without a country only Saturday and Sunday are non-working.
    """
    if day in frozenset(extra_holidays):
        return False
    if country is None:
        return day.weekday() < 5  # Saturday is weekday 5
    calendar = year_calendar(country, day.year, subdivision)
    if day in calendar.weekend_workdays:
        return True
    return day.weekday() not in calendar.weekend and day not in calendar.names
