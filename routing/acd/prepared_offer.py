"""An offer worked out and not yet written: what `Dispatcher.prepare` gives, what the store's
compare-and-set (or the arrival's one script, routing/acd/store_arrival.py) writes and what
`Dispatcher.ring` then carries out. Its own module so that the call's facts (calls.py) know
nothing of timers or agent transitions, and the store's arrival script need not import the
dispatcher."""

from __future__ import annotations

from dataclasses import dataclass

from routing.acd.calls import ActiveCall
from routing.acd.timers import Timer
from routing.agent_events import Effect
from routing.agents import AgentStatus


@dataclass(frozen=True, slots=True)
class Prepared:
    """An offer worked out, not yet written: the agent reserved for the call and its ring timer."""

    interface: str
    ring_s: float
    status: AgentStatus
    effects: tuple[Effect, ...]
    offered: ActiveCall
    timer: Timer
    held: bool  # the agent was held for this very call (by the dialer)
