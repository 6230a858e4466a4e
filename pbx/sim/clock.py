"""Simulated time: an epoch clock that can run faster than real time, and a manual one.

Every delay in the simulator (ringing, talking, patience, Wait()) is in
simulated seconds and goes through a `Clock`, so a demo or a benchmark can
compress a shift (`ScaledClock(time_scale=60)`: a simulated minute per real
second) and unit tests can step time by hand (`ManualClock.advance`) without
sleeping. Timers are plain callbacks, as asyncio's `call_later` runs them.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """What the simulator needs from time."""

    def now(self) -> float:
        """Simulated epoch seconds."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run `callback` after `delay` simulated seconds (0: as soon as possible)."""
        ...


class ScaledClock:
    """Real time on asyncio's loop, sped up by `time_scale`, starting at `start` epoch."""

    def __init__(
        self,
        time_scale: float = 1.0,
        start: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self._monotonic = monotonic
        self._origin = monotonic()
        self._start = time.time() if start is None else start

    def now(self) -> float:
        return self._start + (self._monotonic() - self._origin) * self.time_scale

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        loop = asyncio.get_running_loop()
        if delay <= 0:
            return loop.call_soon(callback)
        return loop.call_later(delay / self.time_scale, callback)

    def real_seconds(self, simulated: float) -> float:
        return simulated / self.time_scale


class _ManualTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """Time that moves only when told to: `advance(seconds)` fires due timers in order."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._queue: list[tuple[float, int, _ManualTimer]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = _ManualTimer(self._now + max(delay, 0.0), callback)
        heapq.heappush(self._queue, (timer.when, next(self._order), timer))
        return timer

    @property
    def pending(self) -> int:
        return sum(1 for _, _, timer in self._queue if not timer.cancelled)

    def advance(self, seconds: float = 0.0) -> None:
        """Move time forward, running every timer that falls due (including new ones)."""
        target = self._now + seconds
        while self._queue and self._queue[0][0] <= target:
            when, _, timer = heapq.heappop(self._queue)
            if timer.cancelled:
                continue
            self._now = max(self._now, when)
            timer.callback()
        self._now = target
