"""Who hears which outage notice (routing/outages.py): segments, windows, and what a declaration refuses."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from pbx.sim.conf import parse_conf
from pbx.sim.dialplan import NOTICE_DIALPLAN
from routing.outages import Caller, OutageSpec, affects, check_numbers, notice_for

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_790_000_000.0


def spec(segment: dict[str, Any], **changes: Any) -> OutageSpec:
    data: dict[str, Any] = {
        "id": "o1",
        "title": "Fibre cut",
        "segment": segment,
        "text": "We know about the fault in your area; it is fixed by 18:00.",
        "starts_at": NOW - 60,
        "ends_at": NOW + 3600,
    }
    data.update(changes)
    return OutageSpec.model_validate(data)


NORTH_INTERNET = {
    "crm": [{"field": "region", "values": ["North"]}, {"field": "service", "values": ["internet"]}]
}
SEGMENTS = [
    # (segment, caller number, dialled line, tier, CRM record, hears it)
    ({"prefixes": ["+3652"]}, "06 52 123 456", None, "active", None, True),  # national format, same number
    ({"prefixes": ["+3652"]}, "+3613334444", None, "active", None, False),
    ({"prefixes": ["+3652"]}, None, None, "active", None, False),  # withheld number: not in a prefix
    ({"prefixes": ["+3652", "+3646"]}, "+36461234567", None, "active", None, True),  # any of the prefixes
    ({"callers": ["06 30 123 4567"]}, "+36301234567", None, "active", None, True),
    ({"callers": ["06 30 123 4567"]}, "+36301234568", None, "active", None, False),
    ({"dialled": ["+3615550200"]}, "+36301234567", "+3615550300", "active", None, False),
    ({"dialled": ["+3615550200"]}, "+36301234567", "15550200", "active", None, True),  # same number in HU
    ({"dialled": ["+3615550200"]}, "+36301234567", "+3615550200", "active", None, True),
    ({"dialled": ["15550200"]}, "+36301234567", "15550200", "active", None, True),  # a DID as written
    ({"tiers": ["key"]}, "+36301234567", None, "key", None, True),
    ({"tiers": ["key"]}, "+36301234567", None, "active", None, False),
    (NORTH_INTERNET, "+36301234567", None, "active", {"region": "north", "service": "Internet"}, True),
    (
        NORTH_INTERNET,
        "+36301234567",
        None,
        "active",
        {"region": "north", "service": "tv"},
        False,
    ),  # every field
    (NORTH_INTERNET, "+36301234567", None, "active", {"region": "north"}, False),
    (NORTH_INTERNET, "+36301234567", None, "active", None, False),  # no CRM record
    (
        {"prefixes": ["+3652"], "tiers": ["key"]},
        "+36521234567",
        None,
        "active",
        None,
        False,
    ),  # kinds: all hold
    ({"prefixes": ["+3652"], "tiers": ["key"]}, "+36521234567", None, "key", None, True),
]


@pytest.mark.parametrize(("segment", "number", "dialled", "tier", "crm", "hears"), SEGMENTS)
def test_a_segment_concerns_exactly_its_callers(  # noqa: PLR0917
    segment: dict[str, Any], number: str | None, dialled: str | None, tier: str, crm: Any, hears: bool
) -> None:
    assert affects(spec(segment), Caller(number, dialled, tier, crm), "HU") is hears


@pytest.mark.parametrize(
    ("at", "hears"),
    [(NOW - 61, False), (NOW - 60, True), (NOW, True), (NOW + 3599.9, True), (NOW + 3600, False)],
)
def test_the_window_includes_its_start_and_excludes_its_end(at: float, hears: bool) -> None:
    found = notice_for([spec({"prefixes": ["+3652"]})], Caller("+36521234567", None, "active"), at, "HU")
    assert (found is not None) is hears


def test_of_several_outages_the_latest_started_is_played() -> None:
    older = spec({"prefixes": ["+36"]}, id="country", starts_at=NOW - 600)
    newer = spec({"prefixes": ["+3652"]}, id="debrecen", starts_at=NOW - 60)
    other = spec({"prefixes": ["+3646"]}, id="miskolc", starts_at=NOW - 10)
    found = notice_for([older, newer, other], Caller("+36521234567", None, "active"), NOW, "HU")
    assert found is not None and found.id == "debrecen"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"segment": {}}, "names no callers: give at least one of callers, prefixes, dialled, tiers or crm"),
        ({"text": None}, "needs a message: a recording (Asterisk sound file) or a text"),
        ({"ends_at": NOW - 60}, "ends_at must be after starts_at"),
        ({"segment": {"prefixes": ["3652"]}}, "String should match pattern"),
        ({"id": "Debrecen Fibre"}, "String should match pattern"),
        ({"recording": "bad name!"}, "String should match pattern"),
    ],
)
def test_a_declaration_without_target_message_or_window_is_refused(
    changes: dict[str, Any], message: str
) -> None:
    segment = changes.pop("segment", {"prefixes": ["+3652"]})
    with pytest.raises(ValidationError, match=re.escape(message)):
        spec(segment, **changes)


def test_numbers_that_are_not_numbers_are_named() -> None:
    bad = spec({"callers": ["06 30 123 4567", "06 20 98"], "dialled": ["15550200"]})
    assert check_numbers(bad, "HU") == [
        "segment.callers[1] is not a possible phone number: '06 20 98' "
        "(a local number without its area code) (default_region HU)"
    ]


def test_the_simulator_plays_the_notice_context_the_snippet_ships() -> None:
    shipped = (ROOT / "config" / "asterisk" / "extensions_switchboard.conf").read_text(encoding="utf-8")
    start = shipped.index("[switchboard-notice]")
    end = shipped.index("; ---", start)
    assert parse_conf(shipped[start:end]) == parse_conf(NOTICE_DIALPLAN)
