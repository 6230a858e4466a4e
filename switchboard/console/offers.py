"""The preview offer on every advisor screen of this engine (the stream's `me`), read for all of
them at once.

Why: each advisor screen shows its preview offer and looked it up once a second and after every
event (stream.py): 300 open screens were 300 Redis reads a second or more, one connection each.
Here one read answers every open screen (LeadStore.current_offers: two round trips whatever their
number), and its answers are kept `fresh_s` (stream.py: 0.25 s; a screen asks once a second and
after every event, so a new offer shows at most that much later than before). A take or a pass
through this engine's API forgets that advisor's answer (`forget`): their other screens read it
at their next ask.

Owned here: which advisors to read (the open screens, `screen()`, and whoever asks) and the one
read in flight that every screen asking meanwhile awaits. A read that fails fails the screens that
awaited it (they say `problem` and end; the client reconnects); the next ask reads again.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from dialer.leads.model import Lead

ReadOffers = Callable[[Sequence[str]], Awaitable[dict[str, Lead | None]]]
BOARD_ATTR = "console_offers"  # on the app's state (stream.py builds it with the first advisor screen)


class OfferBoard:
    def __init__(self, read: ReadOffers, *, fresh_s: float, clock: Callable[[], float] = time.monotonic):
        self._read = read
        self._fresh_s = fresh_s
        self._clock = clock
        self._screens: Counter[str] = Counter()
        self._asking: set[str] = set()  # asked while a read without them was under way: the next one
        self._changed: set[str] = set()  # forgotten while the read under way ran: not kept from it
        self._known: dict[str, Lead | None] = {}
        self._read_at = float("-inf")
        self._reading: tuple[asyncio.Task[dict[str, Lead | None]], frozenset[str]] | None = None

    @contextmanager
    def screen(self, advisor: str) -> Iterator[None]:
        """An advisor's screen open for the block: read with every read from now on."""
        self._screens[advisor] += 1
        try:
            yield
        finally:
            self._screens[advisor] -= 1
            if not self._screens[advisor]:
                del self._screens[advisor]

    def forget(self, advisor: str) -> None:
        """Their offer changed through this engine: the next ask reads it."""
        self._known.pop(advisor, None)
        if self._reading is not None:
            self._changed.add(advisor)

    async def offer(self, advisor: str) -> Lead | None:
        if advisor in self._known and self._clock() - self._read_at < self._fresh_s:
            return self._known[advisor]
        while True:
            if self._reading is None:
                advisors = sorted({*self._screens, *self._asking, advisor})
                self._asking.clear()
                self._changed.clear()
                task = asyncio.create_task(self._refresh(advisors), name="console-offers")
                task.add_done_callback(self._read_done)
                self._reading = task, frozenset(advisors)
            task, covered = self._reading
            # a read that started before this advisor asked, or before their offer changed through
            # this engine (`forget`), does not answer them: the next one does
            answers = advisor in covered and advisor not in self._changed
            if not answers:
                self._asking.add(advisor)
            # shielded: a screen closing does not cancel the read the others await
            found = await asyncio.shield(task)
            if answers:
                return found[advisor]

    def _read_done(self, task: asyncio.Task[dict[str, Lead | None]]) -> None:
        """The read ended (answered, failed or cancelled): the next ask starts another. Its error
        was told to every screen awaiting it (or they are gone): retrieved here, not logged."""
        if self._reading is not None and self._reading[0] is task:
            self._reading = None
        if not task.cancelled():
            task.exception()

    async def _refresh(self, advisors: list[str]) -> dict[str, Lead | None]:
        started = self._clock()
        found = await self._read(advisors)
        self._known, self._read_at = {a: found[a] for a in advisors if a not in self._changed}, started
        return found


def forget_offer(app: Any, advisor: str) -> None:
    """An advisor took or passed their offer through this engine's API: their screen reads it now."""
    board: OfferBoard | None = getattr(app.state, BOARD_ATTR, None)
    if board is not None:
        board.forget(advisor)
