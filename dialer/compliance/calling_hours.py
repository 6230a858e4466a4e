"""Calling hours in the callee's local time: may this number be dialed now, and if not, when.

Owns the campaign's calling-window model (`CallingWindow`, embedded in the campaign YAML), the
number -> zone and number -> holiday-country lookups, and `may_call`. Pure: no I/O, the caller
passes `now`; zones come from `zoneinfo`, holidays from the `holidays` package.

Rules it keeps (DESIGN.md section 2.6):
- The window applies to the **callee's** local time. The zone comes from a per-lead override if
  given, otherwise from the E.164 number (`phonenumbers.timezone`). A number that maps to several
  zones (a US toll-free number, a Russian mobile) may be called only when the call is inside the
  window in **every** candidate zone. A number with no known zone is not called (unless the
  window names a `fallback_zone`).
- A day is closed if its weekday has no ranges, or if it is a public holiday of the callee's
  country (the number's region) or one of the configured extra dates, judged on the callee's
  local date. If holidays must be honoured but the country's calendar is unknown, the number is
  not called (fail closed).
- A range `08:00-21:00` on local date D is open from the first instant the callee's clock shows
  08:00 on D until the first instant it shows 21:00 (end exclusive). On a DST day a boundary in
  the skipped hour opens/closes at the jump; one in the repeated hour uses its first occurrence.
  `next_allowed_at` is computed on these instants, so it is right across midnight, weekends,
  holidays and DST changes.
- Local wall time and the holiday calendar are dialer.compliance.local_calendar (shared with deadlines).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Self
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as phone_timezone
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.config.vocabulary import spelled
from dialer.compliance.local_calendar import (
    holiday_name,
    holidays_supported,
    require_aware,
    wall_to_instant,
    zone_named,
)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNKNOWN_ZONE = "Etc/Unknown"
_NON_GEOGRAPHIC_REGION = "001"
_FIRST_LOOK_DAYS = 8
Interval = tuple[datetime, datetime]


# --- the window model -----------------------------------------------------------------------


def _parse_clock(text: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a clock time like 08:00") from exc


class TimeRange(BaseModel):
    """One open range of a day, `start` inclusive, `end` exclusive; YAML: "08:00-21:00"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            start, sep, end = value.partition("-")
            if not sep:
                raise ValueError(f"{value!r} is not a range like 08:00-21:00")
            return {"start": _parse_clock(start), "end": _parse_clock(end)}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("calling hours are local clock times; drop the UTC offset")
        if self.end <= self.start:
            raise ValueError(f"range {self} ends before it starts")
        return self

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def _ranges(*texts: str) -> tuple[TimeRange, ...]:
    return tuple(TimeRange.model_validate(text) for text in texts)


class CallingWindow(BaseModel):
    """A campaign's calling hours per weekday in the callee's local time, and its closed days."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Full weekday names (core.config.vocabulary); `mon` ... accepted for one release.
    monday: tuple[TimeRange, ...] = Field(_ranges("08:00-21:00"), validation_alias=spelled("monday", "mon"))
    tuesday: tuple[TimeRange, ...] = Field(_ranges("08:00-21:00"), validation_alias=spelled("tuesday", "tue"))
    wednesday: tuple[TimeRange, ...] = Field(
        _ranges("08:00-21:00"), validation_alias=spelled("wednesday", "wed")
    )
    thursday: tuple[TimeRange, ...] = Field(
        _ranges("08:00-21:00"), validation_alias=spelled("thursday", "thu")
    )
    friday: tuple[TimeRange, ...] = Field(_ranges("08:00-21:00"), validation_alias=spelled("friday", "fri"))
    saturday: tuple[TimeRange, ...] = Field(
        _ranges("09:00-15:00"), validation_alias=spelled("saturday", "sat")
    )
    sunday: tuple[TimeRange, ...] = Field((), validation_alias=spelled("sunday", "sun"))
    closed_on_holidays: bool = True
    holiday_subdivisions: dict[str, str] = Field(default_factory=dict)
    extra_closed_dates: tuple[date, ...] = ()
    extra_closed_dates_by_country: dict[str, tuple[date, ...]] = Field(default_factory=dict)
    fallback_zone: str | None = None
    fallback_country: str | None = None
    horizon_days: int = Field(default=31, ge=1, le=400)

    @field_validator(*WEEKDAYS)
    @classmethod
    def _no_overlap(cls, ranges: tuple[TimeRange, ...]) -> tuple[TimeRange, ...]:
        ordered = tuple(sorted(ranges, key=lambda item: item.start))
        for before, after in itertools.pairwise(ordered):
            if after.start < before.end:
                raise ValueError(f"ranges {before} and {after} overlap")
        return ordered

    @field_validator("fallback_zone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            zone_named(name)
        return name

    @model_validator(mode="after")
    def _known_countries(self) -> Self:
        countries = [*self.extra_closed_dates_by_country, *self.holiday_subdivisions]
        if self.fallback_country is not None:
            countries.append(self.fallback_country)
        for country in countries:
            if not holidays_supported(country, self.holiday_subdivisions.get(country)):
                raise ValueError(f"no holiday calendar for country {country!r}")
        return self

    def ranges_on(self, day: date) -> tuple[TimeRange, ...]:
        ranges: tuple[TimeRange, ...] = getattr(self, WEEKDAYS[day.weekday()])
        return ranges

    def extra_dates(self, country: str | None) -> frozenset[date]:
        own = self.extra_closed_dates_by_country.get(country, ()) if country else ()
        return frozenset((*self.extra_closed_dates, *own))


# --- the decision ---------------------------------------------------------------------------


class PermissionReason(StrEnum):
    ALLOWED = "allowed"
    OUTSIDE_HOURS = "outside-hours"
    DAY_CLOSED = "day-closed"
    HOLIDAY = "holiday"
    ZONE_UNKNOWN = "zone-unknown"
    HOLIDAYS_UNKNOWN = "holidays-unknown"
    INVALID_NUMBER = "invalid-number"
    NO_WINDOW = "no-window"


@dataclass(frozen=True)
class Permission:
    """`next_allowed_at` is `now` when allowed, the next opening (UTC) when not, None if never
    within the window's horizon or if the number can't be judged; `open_until` ends the
    current common window when allowed."""

    allowed: bool
    reason: PermissionReason
    next_allowed_at: datetime | None
    detail: str = ""
    zones: tuple[str, ...] = ()
    open_until: datetime | None = None


@dataclass(frozen=True)
class _Callee:
    zones: tuple[ZoneInfo, ...]
    country: str | None


def _refuse(reason: PermissionReason, detail: str, zones: tuple[str, ...] = ()) -> Permission:
    return Permission(False, reason, None, detail, zones)


def _resolve_zones(
    number: phonenumbers.PhoneNumber, window: CallingWindow, zone_override: str | None
) -> tuple[str, ...]:
    if zone_override:
        return (zone_override,)
    names = tuple(name for name in phone_timezone.time_zones_for_number(number) if name != _UNKNOWN_ZONE)
    if names:
        return names
    return (window.fallback_zone,) if window.fallback_zone else ()


def _resolve_country(number: phonenumbers.PhoneNumber, window: CallingWindow) -> str | None:
    region = phonenumbers.region_code_for_number(number)
    if region and region != _NON_GEOGRAPHIC_REGION:
        return region
    return window.fallback_country


def _callee(number_e164: str, window: CallingWindow, zone_override: str | None) -> _Callee | Permission:
    try:
        number = phonenumbers.parse(number_e164, None)
    except phonenumbers.NumberParseException as exc:
        return _refuse(PermissionReason.INVALID_NUMBER, f"{number_e164!r} is not an E.164 number: {exc}")
    names = _resolve_zones(number, window, zone_override)
    if not names:
        return _refuse(PermissionReason.ZONE_UNKNOWN, f"no time zone known for {number_e164}")
    try:
        zones = tuple(zone_named(name) for name in names)
    except ValueError as exc:
        return _refuse(PermissionReason.ZONE_UNKNOWN, f"{number_e164}: {exc}", names)
    country = _resolve_country(number, window)
    subdivision = window.holiday_subdivisions.get(country) if country else None
    if window.closed_on_holidays and (country is None or not holidays_supported(country, subdivision)):
        detail = f"no holiday calendar for {number_e164} (country {country or 'unknown'})"
        return _refuse(PermissionReason.HOLIDAYS_UNKNOWN, detail, names)
    return _Callee(zones, country)


def _closed_because(
    day: date, window: CallingWindow, country: str | None
) -> tuple[PermissionReason, str] | None:
    """Why local date `day` is closed for this country, or None if it has open ranges."""
    if window.closed_on_holidays:
        if day in window.extra_dates(country):
            return PermissionReason.HOLIDAY, f"{day} is a configured closed date"
        name = holiday_name(country, day, window.holiday_subdivisions.get(country)) if country else None
        if name is not None:
            return PermissionReason.HOLIDAY, f"{day} is a holiday in {country}: {name}"
    if not window.ranges_on(day):
        return PermissionReason.DAY_CLOSED, f"no calling hours on {WEEKDAYS[day.weekday()]}s"
    return None


def _range_intervals(day: date, zone: ZoneInfo, window: CallingWindow) -> list[Interval]:
    intervals = []
    for span in window.ranges_on(day):
        start = wall_to_instant(datetime.combine(day, span.start), zone)
        end = wall_to_instant(datetime.combine(day, span.end), zone)
        if start < end:
            intervals.append((start, end))
    return intervals


def _day_intervals(day: date, zone: ZoneInfo, window: CallingWindow, country: str | None) -> list[Interval]:
    if _closed_because(day, window, country) is not None:
        return []
    return _range_intervals(day, zone, window)


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _intersect(left: list[Interval], right: list[Interval]) -> list[Interval]:
    result: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start, end = max(left[i][0], right[j][0]), min(left[i][1], right[j][1])
        if start < end:
            result.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return result


# open_intervals' answers: the same all day for every number of a campaign's zone, and asked for at
# each dial. The window is kept with its answer: its id names it only while it lives.
_OPEN: dict[tuple[int, ZoneInfo, str | None, date, int], tuple[CallingWindow, tuple[Interval, ...]]] = {}
_OPEN_MAX = 512


def open_intervals(
    zone: ZoneInfo, window: CallingWindow, country: str | None, first_day: date, days: int
) -> list[Interval]:
    """The window's open instants (UTC, merged) in `zone` for `days` local dates from `first_day`."""
    key = (id(window), zone, country, first_day, days)
    known = _OPEN.get(key)
    if known is not None and known[0] is window:
        return list(known[1])
    spans = (_day_intervals(first_day + timedelta(days=k), zone, window, country) for k in range(days))
    merged = _merge(interval for day in spans for interval in day)
    if len(_OPEN) >= _OPEN_MAX:
        _OPEN.clear()
    _OPEN[key] = (window, tuple(merged))
    return merged


def _common_intervals(callee: _Callee, window: CallingWindow, now: datetime, days: int) -> list[Interval]:
    common: list[Interval] | None = None
    for zone in callee.zones:
        first_day = now.astimezone(zone).date() - timedelta(days=1)
        own = open_intervals(zone, window, callee.country, first_day, days + 2)
        common = own if common is None else _intersect(common, own)
    return common or []


def _upcoming(callee: _Callee, window: CallingWindow, now: datetime) -> list[Interval]:
    """Common open intervals not yet over at `now`: a week ahead first, the horizon if need be."""
    for days in sorted({min(_FIRST_LOOK_DAYS, window.horizon_days), window.horizon_days}):
        upcoming = [span for span in _common_intervals(callee, window, now, days) if span[1] > now]
        if upcoming:
            return upcoming
    return []


def _why_closed(callee: _Callee, window: CallingWindow, now: datetime) -> tuple[PermissionReason, str]:
    """The first candidate zone in which `now` is outside the window, and why."""
    for zone in callee.zones:
        local = now.astimezone(zone)
        closed = _closed_because(local.date(), window, callee.country)
        if closed is not None:
            return closed[0], f"{closed[1]} [{zone.key}]"
        inside = any(start <= now < end for start, end in _range_intervals(local.date(), zone, window))
        if not inside:
            ranges = ", ".join(str(span) for span in window.ranges_on(local.date()))
            return PermissionReason.OUTSIDE_HOURS, f"{local:%a %H:%M} {zone.key} is outside {ranges}"
    return PermissionReason.OUTSIDE_HOURS, "the candidate zones have no common open hours now"


def may_call(
    number_e164: str, window: CallingWindow, now: datetime, zone_override: str | None = None
) -> Permission:
    """May `number_e164` be dialed at `now` under `window`? If not: why, and from when."""
    require_aware(now, "now")
    callee = _callee(number_e164, window, zone_override)
    if isinstance(callee, Permission):
        return callee
    names = tuple(zone.key for zone in callee.zones)
    now_utc = now.astimezone(UTC)
    upcoming = _upcoming(callee, window, now_utc)
    if upcoming and upcoming[0][0] <= now_utc:
        return Permission(True, PermissionReason.ALLOWED, now_utc, "", names, upcoming[0][1])
    reason, detail = _why_closed(callee, window, now_utc)
    if upcoming:
        return Permission(False, reason, upcoming[0][0], detail, names)
    detail = f"{detail}; no common calling window in the next {window.horizon_days} days"
    return Permission(False, PermissionReason.NO_WINDOW, None, detail, names)
