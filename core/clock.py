"""The clock every layer is handed: epoch seconds from an injected callable.

Owned here: the `Clock` type. Production passes `time.time`; tests pass their own function (or
pbx.sim.clock's ManualClock / ScaledClock, the simulator's richer clocks with timers), so
time-dependent logic never reads the wall clock itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]


def utc(epoch: float) -> datetime:
    """Epoch seconds from a Clock as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch, UTC)
