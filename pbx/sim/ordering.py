"""Event delivery orders: the simulator can deliver a call's events in each order a real Asterisk 22
produces, not only the usual one (docs/sim.md, "Event orders").

Asterisk raises channel and bridge events through Stasis (a message bus; the manager formats
them on its own thread) but sends OriginateResponse straight from the thread that placed the
call, and a channel's Hangup and the BridgeLeave of its bridge come from different threads. So:
- `originate_response_first`: the OriginateResponse overtakes the events of its channel still
  queued in Stasis, down to the channel's Newchannel (measured on a real Asterisk 22: about 1
  call in 16). The simulator holds the originated channel's events (both Local halves) from
  Newchannel on and sends them right after the OriginateResponse; the order is a real one, the
  hold is longer than Asterisk's lag (it spans the ring);
- `hangup_before_bridge_leave`: a hung-up channel's Hangup comes before the BridgeLeave events
  (its own and its peer's) and the BridgeDestroy of the bridge it was in.
- `originate_response_after_answer`, `far_half_up_first` (pbx/sim/originate.py): where the
  OriginateResponse and the `;2` Newstate Up fall among an answered Local channel's events;
- `partner_hangup_first` (pbx/sim/core.py): which half of a Local channel sends its Hangup first.
Each is a probability per call (SimConfig.order; the measured frequencies by default), drawn from
an RNG of its own, seeded from the PBX's: the orders never shift the seeded outcomes and times.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from pbx.sim.events import Headers

Sink = Callable[[Headers], None]


@dataclass(eq=False)
class Hold:
    """Events of some channels kept back until `Sequencer.release`."""

    uniqueids: set[str]
    events: list[Headers] = field(default_factory=list)


def _mentions(headers: Headers, uniqueids: set[str]) -> bool:
    return any(key.endswith("Uniqueid") and value in uniqueids for key, value in headers)


class Sequencer:
    def __init__(self, rng: random.Random, sink: Sink) -> None:
        self._rng = rng
        self._sink = sink
        self._holds: list[Hold] = []
        self._capture: list[Headers] | None = None

    def draw(self, probability: float) -> bool:
        return probability > 0 and (probability >= 1 or self._rng.random() < probability)

    def emit(self, headers: Headers) -> None:
        if self._capture is not None:
            self._capture.append(headers)
            return
        for hold in self._holds:
            if _mentions(headers, hold.uniqueids):
                hold.events.append(headers)
                return
        self._sink(headers)

    # -- OriginateResponse first ---------------------------------------------------------
    def hold(self, *uniqueids: str) -> Hold:
        hold = Hold(set(uniqueids))
        self._holds.append(hold)
        return hold

    def add(self, hold: Hold, uniqueid: str) -> None:
        hold.uniqueids.add(uniqueid)

    def release(self, hold: Hold, first: Headers | None = None) -> None:
        """Send `first` (the OriginateResponse), then what was held, in its order."""
        if hold in self._holds:
            self._holds.remove(hold)
        if first is not None:
            self._sink(first)
        for headers in hold.events:
            self.emit(headers)

    # -- Hangup before BridgeLeave ---------------------------------------------------------
    def capture(self) -> None:
        self._capture = []

    def captured(self) -> list[Headers]:
        taken, self._capture = self._capture or [], None
        return taken

    def send_later(self, events: list[Headers]) -> None:
        for headers in events:
            self.emit(headers)
