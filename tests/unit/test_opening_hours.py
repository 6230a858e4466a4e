"""Opening hours in the queue's zone: across midnight, DST days, holidays; closed-queue behaviour."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import holidays
import pytest

from core.config.loader import load_text
from routing.agent_events import AgentState
from routing.opening_hours import build_hours, is_open, next_opening
from routing.queue import WaitingCall
from routing.rules import Rules
from routing.selection import Outcome, decide, pick_call
from routing.snapshot import AgentView, Snapshot

BUDAPEST = ZoneInfo("Europe/Budapest")
WEEKLY = {
    "mon": ("08:00-17:00",),
    "fri": ("08:00-12:00", "22:00-06:00"),
    "sat": ("10:00-24:00",),
    "sun": ("00:00-24:00",),
}
HOURS = build_hours("Europe/Budapest", WEEKLY, (date(2025, 12, 24),), None)


def at(text: str, zone: ZoneInfo = BUDAPEST) -> float:
    """Epoch seconds of a local wall time `YYYY-MM-DD HH:MM[:SS]`."""
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2025-06-16 07:59:59", False),  # Monday before opening
        ("2025-06-16 08:00", True),
        ("2025-06-16 16:59:59", True),
        ("2025-06-16 17:00", False),  # the end is exclusive
        ("2025-06-20 11:59", True),  # Friday morning
        ("2025-06-20 21:59", False),
        ("2025-06-20 22:00", True),  # Friday night shift...
        ("2025-06-20 23:59:59", True),
        ("2025-06-21 00:00", True),  # ...runs past midnight into Saturday
        ("2025-06-21 05:59:59", True),
        ("2025-06-21 06:00", False),
        ("2025-06-21 09:59", False),  # Saturday opens at 10
        ("2025-06-21 23:59:59", True),  # 10:00-24:00
        ("2025-06-22 00:00", True),  # Sunday all day
        ("2025-06-17 03:00", False),  # Tuesday: not listed, closed
    ],
)
def test_weekly_ranges_and_midnight(local: str, expected: bool) -> None:
    assert is_open(HOURS, at(local)) is expected


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        # spring forward: 2025-03-30 02:00 CET -> 03:00 CEST (a Sunday, open all day here)
        ("2025-03-31 07:59", False),  # Monday after the change, wall clock decides
        ("2025-03-31 08:00", True),
        # fall back: 2025-10-26 03:00 CEST -> 02:00 CET; Monday 27th 08:00 is still 08:00
        ("2025-10-27 07:59", False),
        ("2025-10-27 08:00", True),
        ("2025-10-27 16:59", True),
        ("2025-10-27 17:00", False),
    ],
)
def test_dst_days_use_the_wall_clock(local: str, expected: bool) -> None:
    assert is_open(HOURS, at(local)) is expected


def test_night_shift_across_the_spring_forward_night() -> None:
    """Friday 22:00 - 06:00 across the night the clocks jump (here: Sat 2025-03-29 -> Sun 30 has no 02:00)."""
    hours = build_hours("Europe/Budapest", {"sat": ("22:00-06:00",)}, (), None)
    start = at("2025-03-29 22:00")
    assert is_open(hours, start)
    assert is_open(hours, at("2025-03-30 01:59"))
    assert is_open(hours, at("2025-03-30 03:00"))  # 02:00-03:00 never happened
    assert not is_open(hours, at("2025-03-30 06:00"))
    assert at("2025-03-30 06:00") - start == 7 * 3600  # the shift is an hour shorter in real time


def test_fall_back_hour_happens_twice_and_is_open_both_times() -> None:
    hours = build_hours("Europe/Budapest", {"sat": ("22:00-06:00",)}, (), None)
    first = datetime(2025, 10, 26, 2, 30, tzinfo=BUDAPEST, fold=0).timestamp()
    second = datetime(2025, 10, 26, 2, 30, tzinfo=BUDAPEST, fold=1).timestamp()
    assert second - first == 3600
    assert is_open(hours, first) and is_open(hours, second)


def test_holidays_close_the_ranges_that_start_on_them() -> None:
    christmas_eve = build_hours(
        "Europe/Budapest", {"wed": ("08:00-17:00", "22:00-02:00")}, (date(2025, 12, 24),), None
    )
    assert not is_open(christmas_eve, at("2025-12-24 09:00"))
    assert not is_open(christmas_eve, at("2025-12-25 01:00"))  # that night shift started on the holiday
    assert is_open(christmas_eve, at("2025-12-31 09:00"))  # next Wednesday
    # the night shift that started the evening before a holiday ends as planned
    tuesday_night = build_hours("Europe/Budapest", {"tue": ("22:00-02:00",)}, (date(2025, 12, 24),), None)
    assert is_open(tuesday_night, at("2025-12-24 01:00"))


def test_country_holidays() -> None:
    hours = build_hours("Europe/Budapest", {"fri": ("08:00-17:00",)}, (), holidays.country_holidays("HU"))
    assert not is_open(hours, at("2025-04-18 09:00"))  # Good Friday, a public holiday in Hungary
    assert is_open(hours, at("2025-04-25 09:00"))


def test_zone_matters() -> None:
    new_york = build_hours("America/New_York", {"mon": ("08:00-17:00",)}, (), None)
    assert is_open(new_york, at("2025-06-16 08:00", ZoneInfo("America/New_York")))
    assert not is_open(new_york, at("2025-06-16 08:00"))  # 08:00 in Budapest is 02:00 in New York


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2025-06-16 07:00", "2025-06-16 08:00"),
        ("2025-06-16 12:00", "2025-06-16 12:00"),  # open now
        ("2025-06-16 17:00", "2025-06-20 08:00"),  # Monday evening -> Friday
        ("2025-06-20 13:00", "2025-06-20 22:00"),
        ("2025-03-29 06:30", "2025-03-29 10:00"),  # Saturday before the spring change
        ("2025-12-22 18:00", "2025-12-26 08:00"),  # Wed 24th is a holiday but not listed anyway
    ],
)
def test_next_opening(local: str, expected: str) -> None:
    assert next_opening(HOURS, at(local)) == at(expected)


CLOSED_RULES = """
default_tier: active
tiers: [{name: active, priority: 40}]
skills: [{name: billing}]
queues:
  - name: billing
    skill: billing
    level: 1
    hours:
      zone: Europe/Budapest
      weekly: {mon: ["08:00-17:00"]}
    when_closed: {action: ACTION}
"""


@pytest.mark.parametrize(
    ("action", "outcome", "target"),
    [
        ("exit", Outcome.EXIT, "voicemail"),
        ("overflow, queue: other", Outcome.OVERFLOW, "other"),
        ("wait", Outcome.WAIT, None),
    ],
)
def test_when_closed(action: str, outcome: Outcome, target: str | None) -> None:
    text = CLOSED_RULES.replace("ACTION", action)
    text += "  - {name: other, skill: billing, level: 1}\n" if "other" in action else ""
    rules = load_text(text, Rules)
    ready = AgentView("a", AgentState.READY, {"billing": 3})
    now = at("2025-06-16 18:00")
    arrived = WaitingCall("c", "billing", "active", 40, (("billing", 1),), entered_at=now)
    decision = decide(arrived, Snapshot.build([ready], []), rules, now)
    assert (decision.outcome, decision.target) == (outcome, target)
    if outcome is Outcome.WAIT:
        assert decision.recheck_at == at("2025-06-23 08:00")


def test_callers_admitted_before_closing_are_still_served() -> None:
    rules = load_text(CLOSED_RULES.replace("ACTION", "exit"), Rules)
    ready = AgentView("a", AgentState.READY, {"billing": 3})
    admitted = WaitingCall("c", "billing", "active", 40, (("billing", 1),), entered_at=at("2025-06-16 16:58"))
    state = Snapshot.build([ready], [admitted])
    after_closing = at("2025-06-16 17:03")
    assert decide(admitted, state, rules, after_closing).agent_id == "a"
    assert pick_call("a", state, rules, after_closing).call_id == "c"
    late = WaitingCall("late", "billing", "active", 40, (("billing", 1),), entered_at=after_closing)
    assert pick_call("a", Snapshot.build([ready], [late]), rules, after_closing).call_id is None
