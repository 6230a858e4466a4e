"""Route every waiting call at once (after a restart or a rules reload) without double-booking agents.

Owned here: the sequential pass over the whole queue: calls are decided in
serving order (queue.ordered), and each offered agent is marked reserved in the
working snapshot before the next call is decided, so two calls are never
offered the same agent. Calls that are offered, overflow or exit leave the
returned snapshot; the shell performs the decisions and re-adds overflowed
calls under their new queue.
"""

from __future__ import annotations

from dataclasses import replace

from routing.agent_events import AgentState
from routing.queue import ordered
from routing.rules import Rules
from routing.selection import Decision, Outcome, decide
from routing.snapshot import Snapshot


def dispatch(snapshot: Snapshot, rules: Rules, now: float) -> tuple[list[Decision], Snapshot]:
    """A decision for every waiting call, highest priority first, and the snapshot after them."""
    decisions: list[Decision] = []
    for call in ordered(snapshot.calls.values(), rules, now):
        decision = decide(call, snapshot, rules, now, limit=1)
        decisions.append(decision)
        if decision.outcome is Outcome.WAIT:
            continue
        if decision.agent_id is not None:
            agent = snapshot.agents[decision.agent_id]
            snapshot = snapshot.with_agent(replace(agent, state=AgentState.RESERVED))
        snapshot = snapshot.without_call(call.id)
    return decisions, snapshot
