"""Calling hours in the callee's local time: table tests with an injected `now`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from dialer.compliance.calling_hours import (
    CallingWindow,
    Permission,
    PermissionReason,
    TimeRange,
    may_call,
)
from dialer.compliance.local_calendar import is_working_day, wall_to_instant

BUDAPEST = ZoneInfo("Europe/Budapest")
WARSAW = ZoneInfo("Europe/Warsaw")
NEW_YORK = ZoneInfo("America/New_York")
HU = "+36301234567"
PL = "+48601234567"
US = "+12125551234"
AU_MOBILE = "+61412345678"  # eight candidate zones, Perth to Lord Howe Island
TOLL_FREE_INTL = "+80012345678"  # non-geographic: no zone, no country

DEFAULT = CallingWindow()
EVERY_DAY = CallingWindow.model_validate(
    {day: ["08:00-21:00"] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")}
    | {"saturday": ["08:00-21:00"], "sunday": ["08:00-21:00"], "closed_on_holidays": False}
)

HOLIDAYS_OPEN = DEFAULT.model_copy(update={"closed_on_holidays": False})


def local(zone: ZoneInfo, year: int, month: int, day: int, *clock: int) -> datetime:
    """A wall-clock time in `zone`; `clock` is (hour, minute, second, microsecond), zeros omitted."""
    hour, minute, second, micro = (*clock, 0, 0, 0, 0)[:4]
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)


def bud(year: int, month: int, day: int, *clock: int) -> datetime:
    return local(BUDAPEST, year, month, day, *clock)


def nyc(year: int, month: int, day: int, *clock: int) -> datetime:
    return local(NEW_YORK, year, month, day, *clock)


def utc(year: int, month: int, day: int, *clock: int) -> datetime:
    return local(ZoneInfo("UTC"), year, month, day, *clock).astimezone(UTC)


@pytest.mark.parametrize(
    ("number", "window", "now", "expected"),
    [
        # inside and at the edges of a weekday window (Friday 2026-03-27, CET = UTC+1)
        (HU, DEFAULT, bud(2026, 3, 27, 12, 0), (True, "allowed", utc(2026, 3, 27, 11, 0))),
        (HU, DEFAULT, bud(2026, 3, 27, 8, 0), (True, "allowed", utc(2026, 3, 27, 7, 0))),
        (HU, DEFAULT, bud(2026, 3, 27, 7, 59, 59), (False, "outside-hours", utc(2026, 3, 27, 7, 0))),
        (HU, DEFAULT, bud(2026, 3, 27, 20, 59, 59, 999999), (True, "allowed", None)),
        # the end is exclusive; next opening is Saturday's shorter window (09:00)
        (HU, DEFAULT, bud(2026, 3, 27, 21, 0), (False, "outside-hours", utc(2026, 3, 28, 8, 0))),
        # Saturday after its window: Sunday closed, and Monday 2026-03-30 is after the DST change
        (HU, DEFAULT, bud(2026, 3, 28, 16, 0), (False, "outside-hours", utc(2026, 3, 30, 6, 0))),
        (HU, DEFAULT, bud(2026, 3, 29, 12, 0), (False, "day-closed", utc(2026, 3, 30, 6, 0))),
        # across midnight on a weekday
        (HU, DEFAULT, bud(2026, 3, 30, 23, 30), (False, "outside-hours", utc(2026, 3, 31, 6, 0))),
        (HU, DEFAULT, bud(2026, 3, 31, 0, 30), (False, "outside-hours", utc(2026, 3, 31, 6, 0))),
        # holidays of the callee's country: HU Good Friday, then Saturday opens at 09:00
        (HU, DEFAULT, bud(2026, 4, 3, 10, 0), (False, "holiday", utc(2026, 4, 4, 7, 0))),
        # Saturday evening before Easter: Sunday closed, Easter Monday a holiday -> Tuesday
        (HU, DEFAULT, bud(2026, 4, 4, 16, 0), (False, "outside-hours", utc(2026, 4, 7, 6, 0))),
        # PL Independence Day (Wednesday) -> Thursday 08:00 CET
        (PL, DEFAULT, local(WARSAW, 2026, 11, 11, 10, 0), (False, "holiday", utc(2026, 11, 12, 7, 0))),
        # US: Independence Day observed on Friday 2026-07-03, then the weekend's July 4 -> Monday 08:00 EDT
        (US, DEFAULT, nyc(2026, 7, 3, 12, 0), (False, "holiday", utc(2026, 7, 6, 12, 0))),
        # the callee's zone, not the server's: 12:00 UTC is 07:00 in New York
        (US, DEFAULT, utc(2026, 1, 14, 12, 0), (False, "outside-hours", utc(2026, 1, 14, 13, 0))),
        (US, DEFAULT, utc(2026, 1, 14, 13, 0), (True, "allowed", None)),
        # DST: Budapest's 2026-03-29 has 23 hours; 08:00 CEST is 06:00 UTC, not 07:00
        (HU, EVERY_DAY, bud(2026, 3, 28, 22, 0), (False, "outside-hours", utc(2026, 3, 29, 6, 0))),
        # DST end: 2026-10-25 has 25 hours; 08:00 CET is 07:00 UTC
        (HU, EVERY_DAY, bud(2026, 10, 24, 22, 0), (False, "outside-hours", utc(2026, 10, 25, 7, 0))),
        # New York springs forward on 2026-03-08
        (US, EVERY_DAY, nyc(2026, 3, 7, 21, 30), (False, "outside-hours", utc(2026, 3, 8, 12, 0))),
        # every candidate zone must be inside: at 00:00 UTC it's 10:00 in Sydney but 06:30 on Cocos
        (AU_MOBILE, DEFAULT, utc(2026, 6, 2, 0, 0), (False, "outside-hours", utc(2026, 6, 2, 1, 30))),
        (AU_MOBILE, DEFAULT, utc(2026, 6, 2, 1, 30), (True, "allowed", None)),
        # unknown zone, unparseable number: refused, no next time
        (TOLL_FREE_INTL, DEFAULT, utc(2026, 6, 2, 10, 0), (False, "zone-unknown", None)),
        ("not a number", DEFAULT, utc(2026, 6, 2, 10, 0), (False, "invalid-number", None)),
        # holidays off: Good Friday is an ordinary Friday
        (HU, HOLIDAYS_OPEN, bud(2026, 4, 3, 10, 0), (True, "allowed", None)),
    ],
)
def test_may_call(
    number: str, window: CallingWindow, now: datetime, expected: tuple[bool, str, datetime | None]
) -> None:
    allowed, reason, next_allowed = expected
    permission = may_call(number, window, now)
    assert (permission.allowed, permission.reason.value) == (allowed, reason), permission.detail
    if allowed:
        assert permission.next_allowed_at == now
        assert permission.open_until is not None and permission.open_until > now
    else:
        assert permission.next_allowed_at == next_allowed
    if next_allowed is not None and not allowed:
        assert may_call(number, window, next_allowed).allowed
        assert not may_call(number, window, next_allowed - timedelta(microseconds=1)).allowed


def test_multi_zone_common_window_closes_with_the_earliest_zone() -> None:
    permission = may_call(AU_MOBILE, DEFAULT, utc(2026, 6, 2, 1, 30))
    assert len(permission.zones) == 8
    # Lord Howe Island (UTC+10:30 in June) reaches 21:00 first
    assert permission.open_until == utc(2026, 6, 2, 10, 30)


def test_zone_override_wins_over_the_number() -> None:
    now = utc(2026, 6, 2, 0, 0)  # 10:00 in Sydney
    assert not may_call(AU_MOBILE, DEFAULT, now).allowed
    permission = may_call(AU_MOBILE, DEFAULT, now, zone_override="Australia/Sydney")
    assert permission.allowed
    assert permission.zones == ("Australia/Sydney",)


def test_bad_zone_override_is_refused_not_raised() -> None:
    permission = may_call(HU, DEFAULT, utc(2026, 6, 2, 10, 0), zone_override="Mars/Olympus")
    assert (permission.allowed, permission.reason) == (False, PermissionReason.ZONE_UNKNOWN)
    assert "Mars/Olympus" in permission.detail


def test_fallback_zone_and_country_for_non_geographic_numbers() -> None:
    window = DEFAULT.model_copy(update={"fallback_zone": "Europe/Budapest"})
    refused = may_call(TOLL_FREE_INTL, window, local(BUDAPEST, 2026, 6, 2, 10, 0))
    assert refused.reason is PermissionReason.HOLIDAYS_UNKNOWN  # fail closed without a calendar
    window = window.model_copy(update={"fallback_country": "HU"})
    assert may_call(TOLL_FREE_INTL, window, local(BUDAPEST, 2026, 6, 2, 10, 0)).allowed


def test_extra_closed_dates_apply_on_the_callees_local_date() -> None:
    window = CallingWindow.model_validate({"extra_closed_dates": ["2026-06-02"]})
    tuesday_noon = local(BUDAPEST, 2026, 6, 2, 12, 0)
    permission = may_call(HU, window, tuesday_noon)
    assert (permission.allowed, permission.reason) == (False, PermissionReason.HOLIDAY)
    assert permission.next_allowed_at == utc(2026, 6, 3, 6, 0)
    by_country = CallingWindow.model_validate({"extra_closed_dates_by_country": {"PL": ["2026-06-02"]}})
    assert may_call(HU, by_country, tuesday_noon).allowed
    assert not may_call(PL, by_country, local(WARSAW, 2026, 6, 2, 12, 0)).allowed


def test_split_day_window() -> None:
    window = CallingWindow.model_validate({"monday": ["13:00-20:00", "09:00-12:00"]})
    assert may_call(HU, window, local(BUDAPEST, 2026, 6, 1, 10, 0)).open_until == utc(2026, 6, 1, 10, 0)
    lunch = may_call(HU, window, local(BUDAPEST, 2026, 6, 1, 12, 30))
    assert (lunch.allowed, lunch.next_allowed_at) == (False, utc(2026, 6, 1, 11, 0))
    assert "09:00-12:00, 13:00-20:00" in lunch.detail


def test_no_window_within_horizon() -> None:
    window = CallingWindow.model_validate(
        {"tuesday": [], "wednesday": [], "thursday": [], "friday": [], "saturday": [], "horizon_days": 3}
    )
    permission = may_call(HU, window, local(BUDAPEST, 2026, 6, 2, 10, 0))
    assert permission == Permission(
        False, PermissionReason.NO_WINDOW, None, permission.detail, ("Europe/Budapest",)
    )
    assert "next 3 days" in permission.detail


def test_dst_gap_opens_at_the_jump() -> None:
    # 02:30 does not exist in Budapest on 2026-03-29: the clock jumps from 02:00 to 03:00 (01:00 UTC)
    assert wall_to_instant(datetime(2026, 3, 29, 2, 30), BUDAPEST) == utc(2026, 3, 29, 1, 0)
    # 02:30 happens twice on 2026-10-25: the first one (CEST) counts
    assert wall_to_instant(datetime(2026, 10, 25, 2, 30), BUDAPEST) == utc(2026, 10, 25, 0, 30)
    window = EVERY_DAY.model_copy(update={"sunday": (TimeRange(start=time(2, 30), end=time(4, 0)),)})
    permission = may_call(HU, window, local(BUDAPEST, 2026, 3, 29, 0, 30))
    assert permission.next_allowed_at == utc(2026, 3, 29, 1, 0)
    assert may_call(HU, window, utc(2026, 3, 29, 1, 0)).open_until == utc(2026, 3, 29, 2, 0)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        may_call(HU, DEFAULT, datetime(2026, 6, 2, 10, 0))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"monday": ["21:00-08:00"]}, "ends before it starts"),
        ({"monday": ["08:00-12:00", "11:00-14:00"]}, "overlap"),
        ({"monday": ["8 to 12"]}, "not a range"),
        ({"monday": ["08:00-25:00"]}, "clock time"),
        ({"fallback_zone": "Europe/Atlantis"}, "unknown time zone"),
        ({"fallback_country": "XX"}, "no holiday calendar"),
        ({"extra_closed_dates_by_country": {"ZZ": ["2026-01-01"]}}, "no holiday calendar"),
        ({"holiday_subdivisions": {"GB": "XYZ"}}, "no holiday calendar"),
        ({"mondays": ["08:00-12:00"]}, "Extra inputs are not permitted"),
    ],
)
def test_window_validation(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CallingWindow.model_validate(data)


def test_window_is_frozen_and_yaml_shaped() -> None:
    window = CallingWindow.model_validate(
        {"saturday": [{"start": "10:00", "end": "14:00"}], "holiday_subdivisions": {"GB": "ENG"}}
    )
    assert str(window.saturday[0]) == "10:00-14:00"
    with pytest.raises(ValidationError):
        window.closed_on_holidays = False  # type: ignore[misc]


@pytest.mark.parametrize(
    ("day", "country", "working"),
    [
        (date(2026, 1, 10), "HU", True),  # Hungarian working Saturday
        (date(2026, 1, 2), "HU", False),  # the bridge day it pays for
        (date(2026, 1, 3), "HU", False),  # an ordinary Saturday
        (date(2026, 11, 11), "PL", False),
        (date(2026, 11, 12), "PL", True),
        (date(2026, 1, 10), None, False),  # no country: Saturday/Sunday only
    ],
)
def test_is_working_day(day: date, country: str | None, working: bool) -> None:
    assert is_working_day(day, country) is working


def test_each_window_gets_its_own_hours_when_asked_in_turn() -> None:
    """A campaign's answer is kept for the next dial (dialer/compliance/calling_hours.py): another
    window asked for the same number at the same instant, or a window made anew in place of one
    gone, must still get its own hours."""
    sunday_noon = bud(2026, 3, 29, 12, 0)  # DEFAULT has no Sunday hours; EVERY_DAY has
    for _ in range(3):
        assert not may_call(HU, DEFAULT, sunday_noon).allowed
        assert may_call(HU, EVERY_DAY, sunday_noon).allowed
    for hours in ("08:00-21:00", "13:00-21:00", "08:00-21:00"):
        window = CallingWindow.model_validate({"sunday": [hours], "closed_on_holidays": False})
        assert may_call(HU, window, sunday_noon).allowed is (hours == "08:00-21:00")
        del window  # its id may be given to the next window
