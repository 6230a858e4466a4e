"""Which public-holiday calendars exist, and one country's calendar, without loading them all.

`holidays.list_supported_countries()` imports every country's module (~280 modules, 60-100 ms of
CPU) and builds a fresh dict on each call: at start-up (a rule file naming a country is checked
while it loads) and on each dial's calling-hours check. The package's registry names the countries
without importing them; a country's own module (its subdivisions, its calendar) is loaded the
first time that country is used. `holidays` itself is imported on first use too: an engine with
no country in its rules never loads it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any


@functools.cache
def country_codes() -> frozenset[str]:
    """Every country code the holidays package has a calendar for (aliases such as UK included)."""
    from holidays.registry import EntityLoader  # noqa: PLC0415 - only when a country is named

    return frozenset(EntityLoader.get_country_codes())


@functools.lru_cache(maxsize=512)
def calendar_known(country: str, subdivision: str | None = None) -> bool:
    """Whether `country` (and `subdivision` of it, when given) has a holiday calendar."""
    if country not in country_codes():
        return False
    if subdivision is None:
        return True
    import holidays  # noqa: PLC0415 - loads this one country's module only

    return subdivision in getattr(holidays, country).subdivisions


def country_calendar(
    country: str, *, subdivision: str | None = None, years: Iterable[int] | int | None = None
) -> Any:
    """`holidays.country_holidays(...)`: a dict-like {date: name} of the country's public holidays."""
    import holidays  # noqa: PLC0415 - see the module docstring

    return holidays.country_holidays(country, subdiv=subdivision, years=years)
