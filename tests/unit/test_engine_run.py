"""Whether a previous run of an engine id is provably gone (core/engine_run.py `judge`): read from a
/proc laid out by the test, so each case is exact."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core.engine_run import INIT_PIDNS, RunIdentity, Verdict, container_id, judge

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


# -- a container restarted by Docker: another PID namespace, its engine often PID 1 again --------
CONTAINER = replace(ME, pidns="pid:[4026532500]", pid=1, start=9000, container="c0ffee", init_start=9000)


EARLIER = replace(CONTAINER, run="old", pidns="pid:[4026532400]", start=5000, init_start=5000)


@pytest.mark.parametrize(("other", "verdict"), [
    (EARLIER, Verdict.GONE),  # same PID 1 as ours, but its namespace ended with its init
    (replace(EARLIER, container="beef"), Verdict.UNKNOWN),  # a re-created container: a new id
    (replace(EARLIER, init_start=9500), Verdict.UNKNOWN),  # its init started after ours: not earlier
    (replace(EARLIER, container="", init_start=0), Verdict.UNKNOWN),  # a record from before these fields
    (replace(EARLIER, host="elsewhere"), Verdict.UNKNOWN),  # another host with the same id
])  # fmt: skip
def test_an_earlier_start_of_this_container_is_gone_and_nothing_else_is_guessed(
    tmp_path: Path, other: RunIdentity, verdict: Verdict
) -> None:
    # Our own PID 1 is alive in our namespace: the old record's "pid 1" must not be read as it.
    proc = proc_with(tmp_path, 1, "S", 9000)
    assert judge(other, CONTAINER, proc=proc) is verdict


def test_a_docker_exec_beside_the_running_engine_is_judged_by_its_pid(tmp_path: Path) -> None:
    """Same container, same PID namespace (a second engine started with `docker exec`): /proc rules."""
    second = replace(CONTAINER, run="second", pid=40, start=9900)
    assert judge(CONTAINER, second, proc=proc_with(tmp_path, 1, "S", 9000)) is Verdict.RUNNING


def mountinfo(tmp_path: Path, root: str) -> Path:
    """/proc/self/mountinfo with `root` (fstype and super options) mounted at /."""
    path = tmp_path / "mountinfo"
    path.write_text(f"27 1 0:31 / / rw,relatime - {root}\n28 27 0:5 / /proc rw,nosuid - proc proc rw\n")
    return path


def test_a_container_is_named_by_its_writable_layer_and_a_host_by_nothing(tmp_path: Path) -> None:
    layer = "overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/A:/var/lib/docker/overlay2/l/B,"
    one = mountinfo(tmp_path, layer + "upperdir=/var/lib/docker/overlay2/c1/diff,workdir=/w1")
    name = container_id("pid:[4026532400]", mountinfo=one)
    assert name and container_id("pid:[4026532500]", mountinfo=one) == name, "the same across its restarts"
    other = mountinfo(tmp_path, layer + "upperdir=/var/lib/docker/overlay2/c2/diff,workdir=/w2")
    assert container_id("pid:[4026532400]", mountinfo=other) not in ("", name), "another container"
    assert container_id(INIT_PIDNS, mountinfo=one) == "", "the initial PID namespace: a host"
    assert container_id("pid:[4026532400]", mountinfo=mountinfo(tmp_path, "ext4 /dev/vda rw")) == ""
    assert container_id("pid:[4026532400]", mountinfo=tmp_path / "missing") == ""
