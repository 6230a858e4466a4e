"""One reader of the ACD's event stream per engine, fanned out in memory (`AcdEvents.read` uses it).

Why: a blocking XREAD holds a connection of the engine's Redis pool for its whole block, and every
open console (SSE) and long poll did one: about 100 screens took every connection the ACD's
commits and the dialer's gate need. Here one task blocks on the stream (one connection, whatever
the number of screens) and keeps the newest events in memory (event_tail.py); a waiting reader
takes its events from memory and waits on an asyncio.Event, not on Redis. A reader further back
than memory (`since=0`, a client long gone) reads Redis once, without BLOCK. After a read that
found events the task waits GATHER_S before the next: a busy ACD's events come in one read, not
one round trip each.

Owned here: the task and the waits. The task's read fails: the readers waiting read Redis once
themselves (a dropped feed connection fails none of them; a Redis really down fails each with
StoreUnavailableError, as their own XREAD did), and the task retries with backoff from its last
id (no event lost, none twice). It reads whatever the ACD's ownership: a standby's API serves the
owner's events. `stop` cancels it and lets every waiting reader go (with what it has: nothing);
a read after it looks once, without BLOCK, and waits out its time (the screens of a stopping
engine end with its HTTP server, and take no connection its last writes need).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic

from core.cancellation import raise_if_cancelling, stop_task
from core.errors import StoreUnavailableError
from routing.acd.event_tail import E, EventTail

log = logging.getLogger("switchboard.acd.events")

TAIL_EVENTS = 2_000  # a console reconnecting after a short break resumes from memory
BATCH = 500
BACKOFF_S = (0.05, 2.0)
GATHER_S = 0.02  # after a read that found events: the events of the next 20 ms come in one read

Read = Callable[[str, int, int | None], Awaitable[list[E]]]
"""Events after an id: (since, count, block ms or None: no BLOCK); StoreUnavailableError if Redis failed."""


class _Wake:
    """Set once, when the memory changed, the task failed (`error`) or stopped."""

    __slots__ = ("error", "event")

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.error: StoreUnavailableError | None = None


class EventFeed(Generic[E]):
    def __init__(
        self,
        read: Read[E],
        newest: Callable[[], Awaitable[str]],
        *,
        chunk_s: float,
        tail: int = TAIL_EVENTS,
        backoff_s: tuple[float, float] = BACKOFF_S,
        gather_s: float = GATHER_S,
    ) -> None:
        self._read = read
        self._newest = newest
        self._block_ms = max(1, int(chunk_s * 1000))  # shorter than the socket timeout (events.py)
        self._size = tail
        self._backoff = backoff_s
        self._gather_s = gather_s
        self._tail: EventTail[E] | None = None  # None until the task has read where the stream ends
        self._error: StoreUnavailableError | None = None
        self._wake = _Wake()
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    def start(self) -> None:
        if self._task is None and not self._stopped:
            self._task = asyncio.create_task(self._run(), name="acd-event-feed")

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._stopped = True
        await stop_task(task)
        self._notify(None)

    async def read(
        self, since: str, count: int, wait_s: float, direct: Callable[[], Awaitable[list[E]]]
    ) -> list[E]:
        """The first `count` events after `since`, waiting up to `wait_s` for the first one.
        `direct` reads them from Redis without BLOCK (for a `since` older than memory)."""
        if self._stopped:  # the engine is stopping: no blocking read on its pool, no busy loop either
            late = await direct()
            if not late:
                await asyncio.sleep(wait_s)
            return late
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            wake = self._wake  # taken before looking: a change from now on wakes this reader
            found = self._from_memory(since, count)
            if found is None:
                found = await direct()
                raise_if_cancelling()  # the reader is gone (redis-py may swallow its cancel)
            if found or self._stopped:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            try:
                async with asyncio.timeout(remaining):
                    await wake.event.wait()
            except TimeoutError:
                return []
            # On wake.error the loop reads Redis itself (memory is off while the feed fails): only a
            # Redis that is really down fails this reader, not one dropped feed connection.

    def _from_memory(self, since: str, count: int) -> list[E] | None:
        if self._tail is None or self._error is not None:  # while failing, Redis says (its error, today's)
            return None
        return self._tail.after(since, count)

    def _notify(self, error: StoreUnavailableError | None) -> None:
        wake, self._wake = self._wake, _Wake()
        wake.error = error
        wake.event.set()

    async def _run(self) -> None:
        delay = self._backoff[0]
        while True:
            raise_if_cancelling()  # a swallowed cancel (core/cancellation.py) still stops the loop
            try:
                await self._step()
                delay = self._backoff[0]
            except StoreUnavailableError as exc:
                if self._error is None:
                    log.warning("ACD event feed: %s; retrying from %s", exc, self._position())
                self._fail(exc)
            except Exception as exc:  # a bug must not end the feed of every screen
                log.exception("ACD event feed failed; retrying from %s", self._position())
                self._fail(StoreUnavailableError(f"reading ACD events failed: {exc}"))
            else:
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])

    async def _step(self) -> None:
        if self._tail is None:
            self._tail = EventTail(await self._newest(), self._size)
        block = None if self._error is not None else self._block_ms  # just back: say so at once
        events = await self._read(self._tail.last, BATCH, block)
        self._tail.add(events)
        if events or self._error is not None:
            if self._error is not None:
                log.info("ACD event feed: reading again from %s", self._tail.last)
            self._error = None
            self._notify(None)
        if 0 < len(events) < BATCH:
            # A busy ACD publishes several events a call: one read per event cost a round trip
            # each (about 2 an inbound call). Screens see an event about gather_s later.
            await asyncio.sleep(self._gather_s)

    def _fail(self, error: StoreUnavailableError) -> None:
        self._error = error
        self._notify(error)

    def _position(self) -> str:
        return self._tail.last if self._tail is not None else "the newest event"
