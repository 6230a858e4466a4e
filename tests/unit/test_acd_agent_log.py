"""Which agent state changes reach an INFO log (routing/acd/agent_log.py): a person's or the
engine's decision about an agent does; the steps every call takes its agent through do not (the
call's own records say them)."""

from __future__ import annotations

import logging

import pytest

from routing.acd.agent_log import log_moved
from routing.agent_events import AgentState, StateChanged

A = AgentState


@pytest.mark.parametrize(
    ("old", "new", "level"),
    [
        (A.LOGGED_OUT, A.READY, logging.INFO),  # logged in
        (A.READY, A.PAUSED, logging.INFO),  # a pause
        (A.RINGING, A.READY, logging.INFO),  # a missed ring
        (A.RINGING, A.PAUSED, logging.INFO),  # paused after missed rings
        (A.WRAP_UP, A.LOGGED_OUT, logging.INFO),  # logged out
        (A.READY, A.RESERVED, logging.DEBUG),
        (A.RESERVED, A.RINGING, logging.DEBUG),
        (A.RINGING, A.BUSY, logging.DEBUG),
        (A.BUSY, A.WRAP_UP, logging.DEBUG),
        (A.WRAP_UP, A.READY, logging.DEBUG),
        (A.RESERVED, A.READY, logging.DEBUG),  # a dialer's hold given back
    ],
)
def test_an_agent_state_change_is_logged_at_its_level(
    caplog: pytest.LogCaptureFixture, old: AgentState, new: AgentState, level: int
) -> None:
    caplog.set_level(logging.DEBUG, logger="switchboard.acd")
    log_moved(StateChanged("1001", old, new, at=0.0, reason="test"))
    [record] = caplog.records
    assert (record.levelno, record.getMessage()) == (level, f"agent 1001: {old} -> {new}")
    assert (record.__dict__["agent_id"], record.__dict__["state"]) == ("1001", str(new))


def test_at_info_the_call_cycle_costs_no_record(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="switchboard.acd")
    for old, new in [(A.READY, A.RESERVED), (A.RESERVED, A.RINGING), (A.RINGING, A.BUSY), (A.BUSY, A.READY)]:
        log_moved(StateChanged("1001", old, new, at=0.0))
    assert caplog.records == []
