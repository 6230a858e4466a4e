"""What one write of an agent's status does to its history list: append, trim, or write it whole."""

from __future__ import annotations

import pytest

from routing.acd.history import HistoryWrite, HistoryWriter
from routing.agent_events import AgentState
from routing.agents import AgentStatus, History

S = AgentState
A, B, C, D = (1.0, S.READY), (2.0, S.RESERVED), (3.0, S.BUSY), (4.0, S.READY)


def status(*history: tuple[float, AgentState]) -> AgentStatus:
    return AgentStatus("a1", history=tuple(history))


@pytest.mark.parametrize(
    ("stored", "now", "write"),
    [
        (None, (A, B), HistoryWrite(True, ("1.0 ready", "2.0 reserved"), 2)),  # unknown: whole
        ((A, B), (A, B, C), HistoryWrite(False, ("3.0 busy",), 3)),  # one change appended
        ((A, B), (B, C, D), HistoryWrite(False, ("3.0 busy", "4.0 ready"), 3)),  # pruned at the front
        ((A, B), (C, D), HistoryWrite(True, ("3.0 busy", "4.0 ready"), 2)),  # the tail was pruned away
        ((A, B), (A, B), HistoryWrite(False, (), 2)),  # no change: trim only
        ((A,), (), HistoryWrite(True, (), 0)),  # emptied: the list goes
    ],
)
def test_plan(stored: History | None, now: History, write: HistoryWrite) -> None:
    writer = HistoryWriter()
    if stored is not None:
        writer.written(status(*stored))
    assert writer.plan(status(*now)) == write


def test_a_history_read_from_an_old_status_record_is_written_whole() -> None:
    writer = HistoryWriter()
    writer.loaded("a1", (A, B), from_list=False)
    assert writer.plan(status(A, B, C)).reset
    writer.loaded("a1", (A, B), from_list=True)
    assert not writer.plan(status(A, B, C)).reset
