"""This process's run of an engine id: a restart is recognised, a second live process refused.

Several engines share one Redis; each names itself by its `engine.id` (agent legs, ActionIDs,
dial intents, leases). A restarted engine keeps its id, so it should take its own lease and calls
back at once instead of waiting for its previous run's lease to run out; two live processes with
one id must never both act. Each process therefore draws a run nonce and keeps a presence record
`{key}` = JSON {run, host, boot, pidns, pid, start, container, init_start} with a TTL, renewed on
the lease's rhythm.

Rules it keeps (docs/reliability.md):
- `claim()` at start. No record, or our own: ours now. Another run's record:
  - it names a process of this host and PID namespace (same boot id) that is gone (no such
    PID, a zombie, or a PID reused by a later process): the previous run is provably dead, so
    it is a restart: the record is ours at once and the caller may take that run's lease over;
  - it names a process that is running here: a duplicate: DuplicateEngineError at once;
  - it names an earlier start of this same container (a Docker restart: the same writable
    layer, another PID namespace whose init started before ours): that start's PID namespace
    ended with its init, and every process in it: a restart too;
  - anything else (another host, another container, a re-created container): watched until it
    is renewed (a live duplicate: DuplicateEngineError) or runs out (a dead run: ours, as after a
    lease's TTL).
- `renew()` every lease period: a record that became another run's (a second process that
  judged us dead after a freeze) is logged as an error and counted, never silently overwritten.
- A clean stop deletes our record, so the next start is a plain one.
Proof of death is local (/proc) only; nothing here guesses from timings shorter than the TTL.
A PID alone proves nothing across namespaces (a restarted container's engine is often PID 1
again): a process is the triple (boot id, PID namespace, PID) plus its start time.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import secrets
import socket
import time
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core.cancellation import raise_if_cancelling
from core.errors import DuplicateEngineError

log = logging.getLogger("switchboard.engine_run")

POLL_S = 0.1  # how often a foreign run's record is read while judging whether it is alive
# The kernel's initial PID namespace (PROC_PID_INIT_INO, fixed): a process there is not in a container.
INIT_PIDNS = "pid:[4026531836]"

# KEYS: record. ARGV: our JSON, ttl ms, our run. {1} ours now; {0, value} another run's.
_RENEW = """
local held = redis.call('GET', KEYS[1])
if held then
  local ok, record = pcall(cjson.decode, held)
  if not ok or type(record) ~= 'table' or record['run'] ~= ARGV[3] then return {0, held} end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1}
"""
# KEYS: record. ARGV: our JSON, ttl ms, the dead run's exact value. 1 if replaced.
_REPLACE = """
if redis.call('GET', KEYS[1]) ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
_DELETE = """
local held = redis.call('GET', KEYS[1])
if not held then return 0 end
local ok, record = pcall(cjson.decode, held)
if ok and type(record) == 'table' and record['run'] == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class RunIdentity:
    """Who a run is: enough to tell, on the same host, whether its process still exists."""

    run: str
    host: str
    boot: str = ""  # the kernel's boot id: PIDs and start times mean nothing across boots
    pidns: str = ""  # the PID namespace: a PID of another container means nothing here
    pid: int = 0
    start: int = 0  # the process's start time (clock ticks since boot): a reused PID differs
    container: str = ""  # this container's writable layer, the same across its restarts ("" outside one)
    init_start: int = 0  # start time of PID 1 of our PID namespace: this start of the container

    @classmethod
    def of_this_process(cls) -> RunIdentity:
        pid, boot, pidns = os.getpid(), _read("/proc/sys/kernel/random/boot_id"), _pidns()
        return cls(
            run=secrets.token_hex(6), host=socket.gethostname(), boot=boot, pidns=pidns, pid=pid,
            start=_start_time(pid), container=container_id(pidns),
            init_start=_start_time(1),
        )  # fmt: skip

    def json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def parse(cls, raw: bytes | str) -> RunIdentity | None:
        try:
            data: Any = json.loads(raw)
            found = {k: data[k] for k in ("run", "host", "boot", "pidns", "pid", "start")}
            # A record of an engine before these fields: judged without them.
            return cls(**found, container=data.get("container", ""), init_start=data.get("init_start", 0))
        except (ValueError, TypeError, KeyError):
            return None


class Verdict(Enum):
    GONE = "gone"  # its process provably no longer exists
    RUNNING = "running"  # its process runs on this host
    UNKNOWN = "unknown"  # not checkable from here


def judge(other: RunIdentity, me: RunIdentity, *, proc: Path = Path("/proc")) -> Verdict:
    """Whether `other`'s process still exists, as far as this host can tell."""
    same_boot = other.host == me.host and other.boot and other.boot == me.boot
    if same_boot and _earlier_start_of_this_container(other, me):
        return Verdict.GONE
    if not same_boot or other.pidns != me.pidns or not other.pid or not other.start:
        return Verdict.UNKNOWN
    stat = _stat(other.pid, proc)
    if stat is None or stat[0] in ("Z", "X") or stat[1] != other.start:
        return Verdict.GONE  # no such process, a zombie (it acts no more), or a later one's PID
    return Verdict.RUNNING


def _earlier_start_of_this_container(other: RunIdentity, me: RunIdentity) -> bool:
    """A Docker restart: one container runs one start at a time, and a start's PID namespace (with
    every process in it) ends when its init dies. A later init of the same container means the
    earlier start is over. A re-created container has a new id: not provable from here."""
    return bool(
        other.container and other.container == me.container and other.pidns != me.pidns
        and 0 < other.init_start < me.init_start
    )  # fmt: skip


class EngineRun:
    """See the module docstring. `takeover` after `claim()`: True when the previous run of this
    id was provably dead (its lease may be taken over at once)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        key: str,
        *,
        engine_id: str,
        ttl_s: float,
        me: RunIdentity | None = None,
        proc: Path = Path("/proc"),
    ) -> None:
        self.key, self.engine_id, self.ttl_s = key, engine_id, ttl_s
        self.me = me or RunIdentity.of_this_process()
        self.takeover = False
        self.conflicts = 0  # renewals that found another live run's record (each one logged)
        self._redis, self._proc = redis, proc
        self._renew = redis.register_script(_RENEW)
        self._replace = redis.register_script(_REPLACE)
        self._delete = redis.register_script(_DELETE)

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl_s * 1000))

    async def claim(self) -> None:
        """Make the record ours (see the module docstring); DuplicateEngineError if another live
        process holds this id."""
        deadline = time.monotonic() + 2 * self.ttl_s  # a live run renews well within its TTL
        while True:
            held = await self._held()
            if held is None:
                return
            other = RunIdentity.parse(held)
            verdict = judge(other, self.me, proc=self._proc) if other is not None else Verdict.UNKNOWN
            if verdict is Verdict.RUNNING:
                raise self._duplicate(other)
            if verdict is Verdict.GONE and other is not None:
                if await self._replace(keys=[self.key], args=[self.me.json(), self._ttl_ms, held]) == 1:
                    self.takeover = True
                    log.warning(
                        "engine %s restarted: its previous run %s (pid %d) is gone; taking over at once",
                        self.engine_id, other.run, other.pid, extra={"engine": self.engine_id},
                    )  # fmt: skip
                    return
                continue  # the record changed meanwhile: judge again
            await self._watch(held, other, deadline)

    async def _held(self) -> bytes | None:
        """None once the record is ours; else the other run's value."""
        result = await self._renew(keys=[self.key], args=[self.me.json(), self._ttl_ms, self.me.run])
        return None if int(result[0]) == 1 else _bytes(result[1])

    async def _watch(self, held: bytes, other: RunIdentity | None, deadline: float) -> None:
        """Another host's run (or an unreadable record): alive if its record is renewed, dead
        once it runs out. Returns when it ran out (the caller claims again)."""
        last_ttl = await self._redis.pttl(self.key)
        while time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)  # polling Redis: a record's renewal sends no notification
            value, ttl = await self._redis.get(self.key), await self._redis.pttl(self.key)
            if value is None:
                return
            if value != held or ttl > last_ttl:
                raise self._duplicate(other)  # renewed (or replaced by a third run): alive
            last_ttl = ttl
        raise self._duplicate(other)

    def _duplicate(self, other: RunIdentity | None) -> DuplicateEngineError:
        where = f"on host {other.host}, pid {other.pid}, run {other.run}" if other else "(unreadable record)"
        return DuplicateEngineError(
            f"engine id {self.engine_id!r} is in use by another running process {where}: two engines must"
            " not share an id; give each its own engine.id (SWITCHBOARD_ENGINE_ID)",
            engine=self.engine_id, other=asdict(other) if other else None,
        )  # fmt: skip

    async def renew(self) -> bool:
        """Keep the record ours; False (logged as an error) when another live run has taken it."""
        held = await self._held()
        if held is None:
            return True
        self.conflicts += 1
        other = RunIdentity.parse(held)
        log.error(
            "engine id %s is also used by another process (%s): two engines share one id; this run "
            "(%s, pid %d) acts on nothing its lease does not fence",
            self.engine_id, f"host {other.host}, pid {other.pid}, run {other.run}" if other else "unreadable",
            self.me.run, self.me.pid, extra={"engine": self.engine_id},
        )  # fmt: skip
        return False

    async def run(self, every_s: float) -> None:
        """Renew the record every `every_s` (beside the lease's own timer) until cancelled."""
        while True:
            await asyncio.sleep(every_s)  # the renewal period itself, not a synchronisation
            try:
                await self.renew()
            except (RedisError, OSError) as exc:  # the lease notices and logs an outage itself
                log.debug("engine run record not renewed: %s", type(exc).__name__)
            raise_if_cancelling()

    async def release(self) -> None:
        """A clean stop: the next start needs no judging."""
        await self._delete(keys=[self.key], args=[self.me.run])


def _bytes(raw: Any) -> bytes:
    return raw if isinstance(raw, bytes) else str(raw).encode()


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _pidns() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def container_id(pidns: str, *, mountinfo: Path = Path("/proc/self/mountinfo")) -> str:
    """This container's writable layer, named by its overlay's upper directory (hashed): the same
    across restarts of the container, never another container's (not even one from an image
    committed from it), new in a re-created container. "" outside a container (the initial PID
    namespace) or when / is not an overlay with an upper directory."""
    if not pidns or pidns == INIT_PIDNS:
        return ""
    try:
        lines = mountinfo.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    for line in lines:
        before, _, after = line.partition(" - ")  # after: fstype, source, super options
        fields = after.split()
        if before.split()[4:5] != ["/"] or fields[:1] != ["overlay"] or len(fields) < 3:
            continue
        upper = [o for o in fields[2].split(",") if o.startswith("upperdir=")]
        return hashlib.sha256(upper[0].encode()).hexdigest()[:16] if upper else ""
    return ""


def _stat(pid: int, proc: Path) -> tuple[str, int] | None:
    """(state, start time) of a process from /proc/{pid}/stat; None if there is no such process."""
    try:
        text = (proc / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # after the command name, which may hold spaces
    try:
        return fields[0], int(fields[19])  # state (field 3), starttime (field 22)
    except (IndexError, ValueError):
        return None


def _start_time(pid: int) -> int:
    stat = _stat(pid, Path("/proc"))
    return stat[1] if stat is not None else 0
