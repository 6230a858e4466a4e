"""For tests of ownership among engines (core/lease.py): a monotonic clock a test can stop or move
on, and waiting until a lease is owned."""

from __future__ import annotations

import asyncio
import time

from core.lease import Lease


class FreezableClock:
    """Monotonic time a test can stop (a paused process still believes it owns) or move on (its
    lease lapses at once)."""

    def __init__(self) -> None:
        self.frozen: float | None = None
        self.offset = 0.0

    def __call__(self) -> float:
        return (self.frozen if self.frozen is not None else time.monotonic()) + self.offset

    def freeze(self) -> None:
        self.frozen = time.monotonic()

    def advance(self, seconds: float) -> None:
        self.offset += seconds


async def became_owner(lease: Lease, timeout: float) -> None:
    owned = asyncio.Event()
    lease.on_change(lambda now_owned: owned.set() if now_owned else None)
    if not lease.owned:
        async with asyncio.timeout(timeout):
            await owned.wait()
