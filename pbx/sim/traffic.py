"""The inbound traffic generator: Poisson arrivals of callers from weighted tiers.

Inter-arrival times are exponential with mean 60 / arrivals_per_minute
simulated seconds; each caller is drawn from a tier pool by weight (the tier
is the generator's ground truth for benchmarks, never sent over AMI: the engine
must classify callers itself), then a dialled number and an IVR choice by
weight. All draws use the simulator's seeded RNG, so a seed replays a shift.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pbx.sim.config import TrafficConfig
from pbx.sim.inbound import place_inbound

if TYPE_CHECKING:
    from pbx.sim.clock import Timer
    from pbx.sim.core import PbxCore


def _weighted(core: PbxCore, weights: dict[str, float]) -> str | None:
    if not weights:
        return None
    return core.rng.choices(list(weights), weights=list(weights.values()))[0]


class TrafficGenerator:
    def __init__(self, core: PbxCore, config: TrafficConfig) -> None:
        self._core = core
        self.config = config
        self.placed = 0
        self.running = False
        self._timer: Timer | None = None

    def start(self) -> None:
        if not self.running:
            self.running = True
            self._schedule()

    def stop(self) -> None:
        self.running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        if self.config.max_calls is not None and self.placed >= self.config.max_calls:
            self.stop()
            return
        delay = self._core.rng.expovariate(self.config.arrivals_per_minute / 60.0)
        self._timer = self._core.later(delay, self._arrive)

    def _arrive(self) -> None:
        self._timer = None
        if not self.running:
            return
        self.arrive_now()
        self._schedule()

    def arrive_now(self) -> str:
        """Place one caller now (also used by tests and demos); returns the channel name."""
        core, config = self._core, self.config
        pool = core.rng.choices(config.tiers, weights=[tier.weight for tier in config.tiers])[0]
        number = pool.number(core.rng.randrange(pool.size))
        dialled = _weighted(core, config.dialled) or ""
        ivr = _weighted(core, config.ivr_choices)
        self.placed += 1
        channel = place_inbound(
            core,
            number,
            dialled,
            ivr_choice=ivr,
            tier_hint=pool.tier,
            patience_s=core.endpoints.draw(config.patience_s),
            talk_s=core.endpoints.draw(config.talk_s),
        )
        return channel.name
