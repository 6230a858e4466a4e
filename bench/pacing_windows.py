"""Occupancy and abandon rate of a simulated outbound shift over rolling windows (figure 5).

Owns `rolling(result, width_s, step_s) -> [Window]`: every window [start, start + width) that
fits in the shift, one every `step_s`, with its occupancy (talk + wrap-up inside the window /
agents x width) and abandon rate (abandons / live answers answered inside it). Pure.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.pacing_sim import ShiftResult


@dataclass(frozen=True)
class Window:
    start_s: float
    end_s: float
    occupancy: float
    answers: int
    abandoned: int

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.answers if self.answers else 0.0


def window(result: ShiftResult, start_s: float, end_s: float) -> Window:
    busy = sum(max(0.0, min(to, end_s) - max(since, start_s)) for since, to in result.busy)
    inside = [abandoned for at, abandoned in result.answers if start_s <= at < end_s]
    staffed = result.agents * (end_s - start_s)
    return Window(start_s, end_s, busy / staffed if staffed else 0.0, len(inside), sum(inside))


def rolling(result: ShiftResult, width_s: float = 3600.0, step_s: float = 300.0) -> list[Window]:
    """Every window of `width_s` inside the shift, one every `step_s` (the whole shift if shorter)."""
    end = result.hours * 3600.0
    if width_s >= end:
        return [window(result, 0.0, end)]
    count = int((end - width_s) // step_s) + 1
    return [window(result, k * step_s, k * step_s + width_s) for k in range(count)]


def worst_abandon(windows: list[Window]) -> Window:
    return max(windows, key=lambda item: item.abandon_rate)


def lowest_occupancy(windows: list[Window]) -> Window:
    return min(windows, key=lambda item: item.occupancy)


def wait_p50(result: ShiftResult) -> float:
    return statistics.median(result.waits) if result.waits else 0.0
