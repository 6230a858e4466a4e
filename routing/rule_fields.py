"""The field types of the routing rules (config/routing.yaml): names, agent ids, dial strings,
E.164 prefixes, DIDs, sound files, skill levels, time ranges, and the checks of a time zone, a
region and a holiday country. Each says in its error what it accepts; routing/rules.py and
routing/menu_rules.py build the sections from them.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field

from core.config.loader import schema_pattern, text_check
from core.holiday_calendars import calendar_known
from core.phone_numbers import is_region

_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_AGENT_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_INTERFACE = r"^[A-Za-z][A-Za-z0-9]*/[^\s,&|()]+$"
_PREFIX = r"^\+[1-9][0-9]{0,14}$"
_EXTEN = r"^[A-Za-z0-9_+*#-]{1,64}$"
_DID = r"^\+?[0-9]{2,20}$"
_SOUND = r"^[A-Za-z0-9_][A-Za-z0-9_/.-]{0,127}$"
_RANGE = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


def iana_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"must be an IANA time zone like Europe/Budapest, got {value!r}") from None
    return value


def region_code(value: str) -> str:
    if not is_region(value):
        raise ValueError(f"must be a region code like HU, PL, US or GB, got {value!r}")
    return value.upper()


def holiday_country_code(value: str) -> str:
    if not calendar_known(value.upper()):
        raise ValueError(f"must be a country code the holidays calendar knows (HU, PL, ...), got {value!r}")
    return value.upper()


def _time_range(value: str) -> str:
    found = _RANGE.match(value)
    if not found:
        raise ValueError(
            f"must be a time range like 08:00-17:00 (22:00-06:00 runs past midnight), got {value!r}"
        )
    sh, sm, eh, em = (int(g) for g in found.groups())
    if sh > 23 or sm > 59 or em > 59 or eh > 24 or (eh == 24 and em):
        raise ValueError(f"has an impossible time: {value!r}")
    if (sh, sm) == (eh, em):
        raise ValueError(f"starts and ends at the same time: {value!r} (use 00:00-24:00 for all day)")
    return value


Name = Annotated[str, text_check(_NAME, "lower-case letters, digits, '-' or '_'"), schema_pattern(_NAME)]
AgentId = Annotated[str, text_check(_AGENT_ID, "letters, digits, '.', '-' or '_'"), schema_pattern(_AGENT_ID)]
Interface = Annotated[
    str,
    text_check(_INTERFACE, "a dial string like PJSIP/1001 or Local/1001@agents"),
    schema_pattern(_INTERFACE),
]
Prefix = Annotated[str, text_check(_PREFIX, "an E.164 prefix like +3620"), schema_pattern(_PREFIX)]
Extension = Annotated[
    str, text_check(_EXTEN, "a dialplan extension name like voicemail"), schema_pattern(_EXTEN)
]
Did = Annotated[
    str,
    text_check(_DID, "a dialled number as Asterisk's ${EXTEN} shows it, digits with an optional +"),
    schema_pattern(_DID),
]
Sound = Annotated[
    str, text_check(_SOUND, "an Asterisk sound file name like switchboard-menu-main"), schema_pattern(_SOUND)
]
Level = Annotated[int, Field(ge=1, le=5, description="skill level: 1 novice ... 5 expert")]
TimeRange = Annotated[
    str, AfterValidator(_time_range), Field(json_schema_extra={"pattern": r"^\d\d:\d\d-\d\d:\d\d$"})
]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
