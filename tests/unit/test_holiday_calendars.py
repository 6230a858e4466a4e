"""core/holiday_calendars.py answers what `holidays.list_supported_countries()` answers, without
importing every country's module."""

from __future__ import annotations

import holidays

from core.holiday_calendars import calendar_known, country_calendar, country_codes


def test_the_registry_knows_every_country_and_subdivision_the_package_lists() -> None:
    supported = holidays.list_supported_countries()
    assert country_codes() == frozenset(supported)
    for country, subdivisions in supported.items():
        assert calendar_known(country)
        assert all(calendar_known(country, subdivision) for subdivision in subdivisions), country


def test_unknown_countries_and_subdivisions_are_refused() -> None:
    assert not calendar_known("XX")
    assert not calendar_known("hu"), "codes are upper case, as the rule files' validators pass them"
    assert not calendar_known("HU", "NOPE")


def test_a_country_calendar_names_its_holidays() -> None:
    assert country_calendar("HU", years=2026).get("2026-03-15") is not None  # national day
