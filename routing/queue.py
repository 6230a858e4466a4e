"""Waiting calls and their order: priority first, then longest waiting, with aging.

Rules it keeps:
- A call's effective priority starts at its tier's priority in its queue and
  rises linearly with its time in the queue, reaching the rules' top priority
  (one above every configured priority) at 80% of its max wait (`AGING_SHARE`).
  So a caller of the lowest tier overtakes every later caller of any tier with
  a fifth of its max wait left for an agent to become free: a stream of VIPs
  cannot push it beyond its max wait while calls keep being answered.
- Equal effective priority: longest waiting first, then call id (total order,
  so the same state always gives the same queue order, also after a restart).
- The priority of a waiting call comes from the *current* rules (its tier's
  priority in its queue), so a rules reload re-orders waiting callers at once.
- An answered outbound call (`outbound`) is above every inbound caller, aged or
  not: its customer already answered and hangs on a seconds-long grace.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from routing.plan import QueuePlan
    from routing.rules import Rules

AGING_SHARE = 0.8
"""Share of its max wait after which a waiting call has the top priority."""

Needs = tuple[tuple[str, int], ...]
"""Required skills with levels; the first is the primary skill that ranks agents."""


@dataclass(frozen=True, slots=True)
class WaitingCall:
    """A caller held by Asterisk, waiting for an agent in `queue`."""

    id: str
    queue: str
    tier: str
    priority: int
    needs: Needs
    entered_at: float
    arrived_at: float | None = None
    declined_by: frozenset[str] = field(default_factory=frozenset)
    outbound: bool = False
    """An answered outbound call the dialer handed over: the customer is on the line and is
    abandoned after a grace of seconds, so it is served first and never overflows or exits."""

    @property
    def since(self) -> float:
        """When the caller first arrived (before any overflow)."""
        return self.entered_at if self.arrived_at is None else self.arrived_at

    def declined(self, agent_id: str) -> WaitingCall:
        """This call after `agent_id` failed to answer it: that agent is not offered it again."""
        return replace(self, declined_by=self.declined_by | {agent_id})


def effective_priority(base: float, top: float, waited: float, max_wait: float) -> float:
    """`base` rising linearly to `top` at AGING_SHARE of `max_wait` seconds of waiting, then staying there."""
    ramp = max_wait * AGING_SHARE
    if waited <= 0:
        return base
    if waited >= ramp:
        return max(top, base)
    return base + (top - base) * (waited / ramp)


def call_priority(call: WaitingCall, plan: QueuePlan | None, top: float, now: float) -> float:
    """The effective priority of `call` at `now` under the current rules."""
    if call.outbound:
        return top + 1.0
    if plan is None:
        return float(call.priority)
    base = plan.priorities.get(call.tier, call.priority)
    return effective_priority(base, top, now - call.entered_at, plan.max_wait_of(call.tier))


def order_key(call: WaitingCall, plan: QueuePlan | None, top: float, now: float) -> tuple[float, float, str]:
    """Sort key: smaller is served first."""
    return (-call_priority(call, plan, top, now), call.entered_at, call.id)


def ordered(calls: Iterable[WaitingCall], rules: Rules, now: float) -> list[WaitingCall]:
    """All `calls` in serving order at `now` (for live views, explain and tests; O(n log n))."""
    index = rules.index
    return sorted(calls, key=lambda c: order_key(c, index.queues.get(c.queue), index.top_priority, now))
