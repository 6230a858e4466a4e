"""How the ACD logs its agents' state changes: which at INFO, which at DEBUG.

The steps every call takes its agent through (`CALL_CYCLE`: reserved, ringing, busy, wrap-up, ready
again) are logged at DEBUG: the call's own INFO records say them (arrived, ringing whom and why,
ended), and five more records a call cost about 5 % of the engine's CPU per call and most of its
log volume (docs/operations.md, "Logs"). A person's or the engine's decision about an agent (log in
or out, a pause, a missed ring, auto-pause) stays at INFO.
"""

from __future__ import annotations

import logging

from routing.agent_events import AgentState, StateChanged

log = logging.getLogger("switchboard.acd")

_A = AgentState
CALL_CYCLE = frozenset({
    (_A.READY, _A.RESERVED), (_A.RESERVED, _A.RINGING), (_A.RINGING, _A.BUSY), (_A.RESERVED, _A.BUSY),
    (_A.BUSY, _A.WRAP_UP), (_A.BUSY, _A.READY), (_A.WRAP_UP, _A.READY), (_A.RESERVED, _A.READY),
})  # fmt: skip


def log_moved(change: StateChanged) -> None:
    level = logging.DEBUG if (change.old, change.new) in CALL_CYCLE else logging.INFO
    if log.isEnabledFor(level):
        extra = {"agent_id": change.agent_id, "state": str(change.new), "reason": change.reason}
        log.log(level, "agent %s: %s -> %s", change.agent_id, change.old, change.new, extra=extra)
