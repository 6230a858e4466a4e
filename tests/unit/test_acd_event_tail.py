"""The ACD events kept in memory (routing/acd/event_tail.py): which reads they answer, in stream
order, `since` exclusive, `count` honoured, and none from before what they still hold."""

from __future__ import annotations

from dataclasses import dataclass

from routing.acd.event_tail import EventTail, parse_id


@dataclass(frozen=True)
class Ev:
    id: str


def _ids(found: list[Ev] | None) -> list[str] | None:
    return None if found is None else [e.id for e in found]


def test_ids_compare_as_numbers_and_a_bare_time_is_its_first_sequence() -> None:
    assert parse_id("10-2") > parse_id("9-30")
    assert parse_id("5") == parse_id("5-0") == (5, 0)


def test_a_read_after_an_id_gets_the_following_events_in_order_up_to_count() -> None:
    tail: EventTail[Ev] = EventTail("100-0", size=10)
    tail.add([Ev("101-0"), Ev("101-1"), Ev("102-0")])
    assert _ids(tail.after("100-0", 100)) == ["101-0", "101-1", "102-0"]
    assert _ids(tail.after("101-0", 100)) == ["101-1", "102-0"], "since is exclusive"
    assert _ids(tail.after("100-5", 1)) == ["101-0"], "count honoured; any id between two events works"
    assert _ids(tail.after("102-0", 100)) == [], "nothing newer yet: the reader waits"
    assert _ids(tail.after("200-0", 100)) == [], "an id the feed has not reached: it waits for it"
    assert tail.last == "102-0"


def test_a_read_from_before_the_tail_is_left_to_redis() -> None:
    tail: EventTail[Ev] = EventTail("100-0", size=10)
    tail.add([Ev("101-0")])
    assert tail.after("0", 100) is None, "since=0: the oldest events are only in Redis"
    assert tail.after("99-9", 100) is None
    empty: EventTail[Ev] = EventTail("0", size=10)  # the stream was empty when the feed started
    empty.add([Ev("5-0")])
    assert _ids(empty.after("0", 100)) == ["5-0"]


def test_the_tail_keeps_the_newest_events_and_forgets_the_oldest() -> None:
    tail: EventTail[Ev] = EventTail("0", size=3)
    tail.add([Ev(f"{n}-0") for n in range(1, 8)])  # 7 > 2 x 3: trimmed to the newest 3
    assert len(tail) == 3
    assert tail.after("3-0", 100) is None, "3-0's successor 4-0 is gone from memory"
    assert tail.after("3-5", 100) is None
    assert _ids(tail.after("4-0", 100)) == ["5-0", "6-0", "7-0"], "the newest dropped id still resumes"
    assert _ids(tail.after("5-0", 100)) == ["6-0", "7-0"]
