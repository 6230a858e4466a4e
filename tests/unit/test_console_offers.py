"""The advisor screens' preview offers, read for all screens at once (switchboard/console/offers.py):
how many reads many screens cost, who each read covers, and what a failed or slow read does. The
read is a plain function over a dict standing for Redis, which the tests hold and release."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence

from dialer.leads.model import Lead
from switchboard.console.offers import OfferBoard

FRESH_S = 0.9


class Offers:
    """What Redis holds (advisor -> lead id) and the reads asked of it; `gate` holds each read."""

    def __init__(self) -> None:
        self.held: dict[str, str] = {}
        self.reads: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None
        self.started = asyncio.Event()  # a read began

    async def read(self, advisors: Sequence[str]) -> dict[str, Lead | None]:
        self.reads.append(list(advisors))
        found = {a: offered(self.held[a]) if a in self.held else None for a in advisors}  # read now,
        self.started.set()
        await self.gate.wait()  # answered when the test says
        if self.fail is not None:
            raise self.fail
        return found


def offered(lead_id: str) -> Lead:
    return Lead.from_hash({"lead_id": lead_id, "name": "Kiss Anna", "status": "offered"})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def board(offers: Offers, clock: Clock) -> OfferBoard:
    return OfferBoard(offers.read, fresh_s=FRESH_S, clock=clock)


def lead_id(found: Lead | None) -> str | None:
    return found.lead_id if found is not None else None


async def test_a_hundred_open_screens_cost_one_read_a_tick() -> None:
    offers, clock = Offers(), Clock()
    offers.held["a7"] = "L7"
    b = board(offers, clock)
    advisors = [f"a{n}" for n in range(100)]
    with screens(b, advisors):
        first = await asyncio.gather(*(b.offer(a) for a in advisors))
        again = await asyncio.gather(*(b.offer(a) for a in advisors))  # the next event, same tick
        clock.now += FRESH_S
        later = await asyncio.gather(*(b.offer(a) for a in advisors))

    assert len(offers.reads) == 2, "one read for all screens, then one a tick"
    assert sorted(offers.reads[0]) == sorted(advisors)
    assert [lead_id(x) for x in first] == [lead_id(x) for x in again] == [lead_id(x) for x in later]
    assert lead_id(first[7]) == "L7" and lead_id(first[8]) is None


async def test_an_advisor_asking_while_a_read_without_them_runs_gets_the_next_read() -> None:
    offers, clock = Offers(), Clock()
    offers.held["late"] = "L1"
    b = board(offers, clock)
    with screens(b, ["early"]):
        early = await held_read(offers, b, "early")
        late = asyncio.create_task(b.offer("late"))  # its screen opened after the read started
        offers.gate.set()
        assert await early is None
        assert lead_id(await late) == "L1", "read again, with them"
    assert offers.reads == [["early"], ["early", "late"]]


async def test_a_screen_closing_does_not_cancel_the_read_the_others_await() -> None:
    offers, clock = Offers(), Clock()
    offers.held["b"] = "L2"
    b = board(offers, clock)
    with screens(b, ["a", "b"]):
        closing = await held_read(offers, b, "a")
        staying = asyncio.create_task(b.offer("b"))  # joins that read
        await asyncio.sleep(0)
        closing.cancel()
        offers.gate.set()
        assert lead_id(await staying) == "L2"
    assert closing.cancelled() and len(offers.reads) == 1


async def test_a_failed_read_fails_its_screens_and_the_next_ask_reads_again() -> None:
    offers, clock = Offers(), Clock()
    b = board(offers, clock)
    offers.fail = ConnectionError("Redis is down")
    with screens(b, ["a", "b"]):
        results = await asyncio.gather(b.offer("a"), b.offer("b"), return_exceptions=True)
        assert [type(r) for r in results] == [ConnectionError, ConnectionError]
        offers.fail, offers.held["a"] = None, "L3"
        assert lead_id(await b.offer("a")) == "L3", "not the failure, not a stale answer"
    assert len(offers.reads) == 2


async def test_a_take_through_this_engine_shows_at_once_and_closed_screens_are_not_read() -> None:
    offers, clock = Offers(), Clock()
    offers.held["a"] = "L4"
    b = board(offers, clock)
    with screens(b, ["a"]):
        with screens(b, ["gone"]):
            assert lead_id(await b.offer("a")) == "L4"
        del offers.held["a"]
        assert lead_id(await b.offer("a")) == "L4", "within the tick: the answer kept"
        b.forget("a")  # the advisor declined through this engine's API
        assert await b.offer("a") is None
    assert offers.reads == [["a", "gone"], ["a"]]


async def test_a_take_during_a_read_is_not_hidden_by_that_read() -> None:
    offers, clock = Offers(), Clock()
    offers.held["a"] = "L5"
    b = board(offers, clock)
    with screens(b, ["a"]):
        reading = await held_read(offers, b, "a")
        del offers.held["a"]  # taken through this engine while the read was under way
        b.forget("a")
        other_tab = asyncio.create_task(b.offer("a"))  # asks while that read still runs
        await asyncio.sleep(0)
        offers.gate.set()
        assert lead_id(await reading) == "L5", "that read's own answer"
        assert await other_tab is None, "not the read from before the take: the next one"
        assert await b.offer("a") is None, "kept from the read after the take"
    assert len(offers.reads) == 2


async def held_read(offers: Offers, b: OfferBoard, advisor: str) -> asyncio.Task[Lead | None]:
    """`advisor` asks; the read that starts is under way (held at the gate) when this returns."""
    offers.gate.clear()
    task = asyncio.create_task(b.offer(advisor))
    await asyncio.wait_for(offers.started.wait(), 5)
    return task


@contextlib.contextmanager
def screens(b: OfferBoard, advisors: list[str]) -> Iterator[None]:
    """A screen open for each advisor for the block."""
    with contextlib.ExitStack() as stack:
        for advisor in advisors:
            stack.enter_context(b.screen(advisor))
        yield
