"""The one vocabulary of the rule files (routing, campaigns, dispositions, tasks), and the old spellings.

Owned here: how the four files spell the same ideas, so a supervisor learns it once:
- durations are values with a unit under a key without one: `wrap_up: 20s`,
  `ring_timeout: 30s`, `after: 2m`, `window: 60m` (s, m, h, d; a bare number is seconds);
- weekdays are full names: `monday` ... `sunday`;
- extra closed days are `extra_closed_dates: [2026-12-24]`; a fixed country's public
  holidays are `holiday_country: HU` (campaigns' `closed_on_holidays: true` means the
  callee's own country, a different rule).
The old spellings (`wrap_up_seconds`, `ring_timeout_s`, `mon`, `holidays`, `extra_holidays`,
`country`, ...) are accepted for one release: `deprecations` finds them with their place, the
loader logs them and `check-config` prints them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AliasChoices, BeforeValidator, WithJsonSchema

from core.config.yaml_marks import Loc, Parsed

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SHORT_WEEKDAYS = {day[:3]: day for day in WEEKDAYS}

# old key -> the key to write now (every rule file; the keys are distinct enough to be global)
RENAMED: dict[str, str] = {
    "wrap_up_seconds": "wrap_up",
    "ring_timeout_seconds": "ring_timeout",
    "max_wait_seconds": "max_wait",
    "after_seconds": "after",
    "within_seconds": "within",
    "window_minutes": "window",
    "ring_timeout_s": "ring_timeout",
    "preview_offer_s": "preview_offer",
    "abandon_grace_s": "abandon_grace",
    "holidays": "extra_closed_dates",
    "extra_holidays": "extra_closed_dates",
}


def to_seconds(value: Any) -> Any:
    """`20s`, `2m`, `1.5h`, `1d` -> seconds; numbers are seconds already; the rest is pydantic's to refuse."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * UNITS[match.group(2)]
    return value


def to_minutes(value: Any) -> Any:
    """For a field kept in minutes: `60m`, `1h` -> 60; a bare number stays minutes (the old key's unit)."""
    if isinstance(value, str):
        seconds = to_seconds(value)
        return seconds / 60 if isinstance(seconds, float) else value
    return value


DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*[smhd]\s*$"
_DURATION_SCHEMA = {"anyOf": [{"type": "string", "pattern": DURATION_PATTERN}, {"type": "number"}],
                    "description": "a duration: 20s, 10m, 2h, 1d (a bare number: seconds)"}  # fmt: skip
Seconds = Annotated[float, BeforeValidator(to_seconds), WithJsonSchema(_DURATION_SCHEMA)]
Minutes = Annotated[float, BeforeValidator(to_minutes), WithJsonSchema(_DURATION_SCHEMA)]


def spelled(new: str, old: str) -> AliasChoices:
    """`Field(validation_alias=spelled("wrap_up", "wrap_up_seconds"))`: the new key, and the old one."""
    return AliasChoices(new, old)


def full_weekdays(value: Any) -> Any:
    """A weekday mapping with `mon`-style keys -> full names (the validator of a `weekly:` mapping)."""
    if isinstance(value, dict):
        return {SHORT_WEEKDAYS.get(key, key) if isinstance(key, str) else key: v for key, v in value.items()}
    return value


def short_weekdays(value: Any) -> Any:
    """The other way, for a model that keeps `mon`-style keys inside (routing's opening hours)."""
    full = {day: short for short, day in SHORT_WEEKDAYS.items()}
    if isinstance(value, dict):
        return {full.get(key, key) if isinstance(key, str) else key: v for key, v in value.items()}
    return value


def file_loc(loc: Loc, parsed: Parsed) -> Loc:
    """A model path -> the path as written: a weekday kept short inside is written in full in the file."""
    parts = list(loc)
    for index in range(1, len(parts)):
        part = parts[index]
        if parts[index - 1] == "weekly" and isinstance(part, str) and part in SHORT_WEEKDAYS:
            full = [*parts[:index], SHORT_WEEKDAYS[part]]
            if tuple(str(p) for p in full) in parsed.marks:
                parts[index] = SHORT_WEEKDAYS[part]
    return tuple(parts)


def deprecations(parsed: Parsed) -> list[tuple[Loc, int, int, str]]:
    """(path, line, column, sentence) for each old spelling in a parsed rule file."""
    found = []
    later = "; accepted until the next release"
    for key, mark in parsed.marks.items():
        leaf = key[-1] if key else ""
        path = tuple(int(part) if part.isdigit() else part for part in key)
        if leaf == "seconds" and len(key) >= 2 and key[-2] == "max_wait":
            sentence = f"`seconds` is the old spelling: write `after` (with a unit, e.g. 10m){later}"
            found.append((path, mark.line, mark.column, sentence))
        elif leaf in RENAMED:
            unit = "" if RENAMED[leaf] == "extra_closed_dates" else " (with a unit, e.g. 20s, 10m)"
            sentence = f"`{leaf}` is the old spelling: write `{RENAMED[leaf]}`{unit}{later}"
            found.append((path, mark.line, mark.column, sentence))
        elif leaf in SHORT_WEEKDAYS and len(key) >= 2 and key[-2] == "weekly":
            new = SHORT_WEEKDAYS[leaf]
            sentence = f"`{leaf}` is the old spelling: write `{new}`{later}"
            found.append((path, mark.line, mark.column, sentence))
    return sorted(found, key=lambda item: (item[1], item[2]))
