"""A model of VICIdial's adaptive dial level (ADAPT_HARD_LIMIT, ADAPT_TAPERED): figure 5's real peer.

Written from VICIdial's public documentation (docs/PREDICTIVE.txt of its distribution: the ADAPT
dial methods and the campaign settings they use), not from its code:
- `dial_method` ADAPT_HARD_LIMIT dials predictively up to the dropped percentage and does not
  allow aggressive dialing once the day's drop percentage reaches it, until it goes down;
  ADAPT_TAPERED may run over the dropped percentage early in the shift and gets stricter as
  the day goes on, toward `adaptive_latest_server_time` (when dialing stops for the day).
- `auto_dial_level`: lines per counted agent; the dialer keeps level x agents lines up. With
  `available_only_ratio_tally` = N (the default) agents taking calls count too (READY and
  INCALL), not only those waiting. An ADAPT method starts the level at 1.0 and only the
  dialer moves it, between 1.0 and `adaptive_maximum_level` (default 3.0).
- `adaptive_dl_diff_target`: the target of agents waiting minus calls waiting (0: balanced;
  -1: one agent always free; +1: one call always on hold). `adaptive_intensity` (0 default,
  positive more aggressive, negative less) scales the size of each adjustment.
- The drop percentage is the day's: dropped calls / answered calls since the start of the day.

What the documentation leaves open is our choice, stated here and in docs/performance.md:
the level is re-evaluated every `adjust_every_s` = 15 s (the documented interval; the day's
drop percentage is refreshed once a minute, also as documented); one step moves it by
gain x (mean agents waiting - mean calls waiting + dl_diff_target) / counted agents, scaled
by 2 ** (intensity / 20) up and by its inverse down; over the limit, "no aggressive dialing"
is the level 1.0 (`OverLimit.FLOOR`; `HOLD`, only no increases, let the day's drops run to
3-13 %); the taper allows limit x (2 - elapsed share / 0.5) in the first half of the day and
the limit after. `gain` = 0.02 gave VICIdial its highest occupancy in a sweep (0.005-1.0).
Pure: `next_level` is a table-testable function, `VicidialPacer` keeps its few numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class OverLimit(StrEnum):
    """Two readings of "not allow aggressive dialing" over the drop limit (the docs leave it open)."""

    FLOOR = "floor"  # the level falls to 1.0 (no over-dialing at all)
    HOLD = "hold"  # the level may not rise; it still falls with the agents/calls differential


class AdaptMethod(StrEnum):
    HARD_LIMIT = "ADAPT_HARD_LIMIT"
    TAPERED = "ADAPT_TAPERED"


@dataclass(frozen=True)
class AdaptSettings:
    """VICIdial campaign settings modelled, with VICIdial's defaults."""

    method: AdaptMethod = AdaptMethod.HARD_LIMIT
    dropped_percentage: float = 3.0  # adaptive_dropped_percentage
    maximum_level: float = 3.0  # adaptive_maximum_level
    intensity: float = 0.0  # adaptive_intensity
    dl_diff_target: float = 0.0  # adaptive_dl_diff_target
    available_only_ratio_tally: bool = False
    day_s: float = 4 * 3600.0  # start of day to adaptive_latest_server_time
    adjust_every_s: float = 15.0
    gain: float = 0.02  # our choice, VICIdial's best in a sweep (docs/performance.md)
    minimum_level: float = 1.0  # "the dial_level will never drop below 1.0"
    over_limit: OverLimit = OverLimit.FLOOR
    drop_refresh_s: float = 60.0  # the day's drop percentage is recomputed once a minute


@dataclass(frozen=True)
class Floor:
    """What the adaptive process sees at one moment (averages over the last interval for waits)."""

    drop_pct: float  # the day's dropped / answered, in percent
    elapsed_share: float  # of the day, 0..1
    agents_waiting: float
    calls_waiting: float
    counted_agents: int


def allowed_drop_pct(settings: AdaptSettings, elapsed_share: float) -> float:
    """The drop percentage the method tolerates at this point of the day."""
    limit = settings.dropped_percentage
    if settings.method is AdaptMethod.TAPERED:
        return limit * (1.0 + max(0.0, 1.0 - elapsed_share / 0.5))
    return limit


def next_level(level: float, floor: Floor, settings: AdaptSettings) -> float:
    """The dial level after one 15 s adjustment, within [minimum_level, maximum_level]."""
    over = floor.drop_pct >= allowed_drop_pct(settings, floor.elapsed_share)
    if over and settings.over_limit is OverLimit.FLOOR:
        return settings.minimum_level
    # dl_diff_target +1 aims at one call on hold (agents - calls = -1), -1 at one agent free
    diff = floor.agents_waiting - floor.calls_waiting + settings.dl_diff_target
    step = settings.gain * diff / max(1, floor.counted_agents)
    factor = float(2.0 ** (settings.intensity / 20.0))  # > 1: faster up, slower down; < 1: the reverse
    step = step * factor if step > 0 else step / factor
    if over:  # HOLD: no aggressive dialing until the drop percentage is under the limit again
        step = min(step, 0.0)
    return min(settings.maximum_level, max(settings.minimum_level, level + step))


def lines_to_dial(level: float, ready: int, talking: int, lines_up: int, settings: AdaptSettings) -> int:
    """New calls to place: level x counted agents, minus the lines already up (ringing, queued, talking)."""
    counted = ready if settings.available_only_ratio_tally else ready + talking
    return max(0, math.floor(level * counted + 1e-9) - lines_up)


@dataclass
class VicidialPacer:
    """The adaptive loop: samples the floor every tick, adjusts the level every `adjust_every_s`."""

    settings: AdaptSettings
    level: float = 1.0
    next_adjust_s: float = 0.0
    waiting_agents_sum: float = 0.0
    waiting_calls_sum: float = 0.0
    samples: int = 0
    drop_pct: float = 0.0
    next_drop_s: float = 0.0

    def calls(  # noqa: PLR0917 - the floor as the simulator counts it
        self, now_s: float, ready: int, talking: int, lines_up: int, calls_waiting: int, drop_pct: float
    ) -> int:
        self.waiting_agents_sum += ready
        self.waiting_calls_sum += calls_waiting
        self.samples += 1
        if now_s >= self.next_drop_s:
            self.drop_pct, self.next_drop_s = drop_pct, now_s + self.settings.drop_refresh_s
        if now_s >= self.next_adjust_s:
            floor = Floor(
                drop_pct=self.drop_pct,
                elapsed_share=min(1.0, now_s / self.settings.day_s),
                agents_waiting=self.waiting_agents_sum / self.samples,
                calls_waiting=self.waiting_calls_sum / self.samples,
                counted_agents=ready if self.settings.available_only_ratio_tally else ready + talking,
            )
            self.level = next_level(self.level, floor, self.settings)
            self.next_adjust_s = now_s + self.settings.adjust_every_s
            self.waiting_agents_sum = self.waiting_calls_sum = 0.0
            self.samples = 0
        return lines_to_dial(self.level, ready, talking, lines_up, self.settings)
