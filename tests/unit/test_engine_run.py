"""Whether a previous run of an engine id is provably gone (core/engine_run.py `judge`): read from a
/proc laid out by the test, so each case is exact."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core.engine_run import RunIdentity, Verdict, judge

ME = RunIdentity(run="new", host="sb-host", boot="boot-1", pidns="pid:[4026531836]", pid=200, start=9000)
OLD = replace(ME, run="old", pid=100, start=5000)


def proc_with(tmp_path: Path, pid: int, state: str, start: int) -> Path:
    """/proc/{pid}/stat as Linux writes it (the command name may hold spaces and parentheses)."""
    fields = [state, *["0"] * 18, str(start), "0", "0"]
    (tmp_path / str(pid)).mkdir()
    (tmp_path / str(pid) / "stat").write_text(f"{pid} (python -m (sb)) {' '.join(fields)}\n")
    return tmp_path


def test_a_run_whose_process_is_gone_is_dead(tmp_path: Path) -> None:
    assert judge(OLD, ME, proc=tmp_path) is Verdict.GONE


@pytest.mark.parametrize(("state", "start", "verdict"), [
    ("S", 5000, Verdict.RUNNING),  # still there (sleeping)
    ("T", 5000, Verdict.RUNNING),  # stopped (SIGSTOP): it will wake up and act
    ("Z", 5000, Verdict.GONE),  # a zombie acts no more
    ("S", 7777, Verdict.GONE),  # its PID now belongs to a later process
])  # fmt: skip
def test_a_process_of_this_host_is_checked_by_pid_and_start_time(
    tmp_path: Path, state: str, start: int, verdict: Verdict
) -> None:
    assert judge(OLD, ME, proc=proc_with(tmp_path, 100, state, start)) is verdict


@pytest.mark.parametrize("other", [
    replace(OLD, host="other-host"),
    replace(OLD, boot="boot-0"),  # before a reboot: its PID means nothing now
    replace(OLD, pidns="pid:[4026532000]"),  # another container's PID
    replace(OLD, boot="", pidns=""),  # a host without /proc
])  # fmt: skip
def test_a_run_elsewhere_cannot_be_judged_from_here(tmp_path: Path, other: RunIdentity) -> None:
    assert judge(other, ME, proc=tmp_path) is Verdict.UNKNOWN


def test_the_identity_round_trips_and_a_foreign_record_is_unreadable() -> None:
    assert RunIdentity.parse(OLD.json()) == OLD
    assert RunIdentity.parse(b"not json") is None
    assert RunIdentity.parse(b'{"run": "x"}') is None


def test_this_process_can_judge_itself_running() -> None:
    me = RunIdentity.of_this_process()
    assert judge(replace(me, run="other"), replace(me, run="mine")) is Verdict.RUNNING
