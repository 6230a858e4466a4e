"""Figure 7 of the benchmarks (figure 4's cost per call): what one call costs in Redis, counted by Redis.

The engine (bench/engine_proc.py, its own process: `switchboard.runtime.Runtime` with the
dialer) runs against the simulated PBX (real AMI over TCP) on a private redis-server, and
`redis-cli monitor` on that server writes down every command Redis executes, those inside
Lua scripts too (MONITOR shows them as client `lua`). The counts are Redis's, not an estimate.

This process marks the command log with its own `ECHO` at the moments that delimit a call
(a blocking client, so the mark lands in order with what the engine already got answered):
- **inbound**: one caller at a time; a mark just before the simulated PBX sends the caller's
  `UserEvent SwitchboardInbound`, and one when it receives the agent's Originate for that call.
  Every command between the two marks is the call's cost before its Originate; the engine had
  an answer to each of them before it sent the Originate, so none is missed. The caller then
  talks and hangs up, and the next caller comes once no channel is left.
- **outbound**: one agent of a progressive campaign, customers busy after 50-100 ms, so
  dials follow one another; the commands between a mark when the campaign starts and one
  when the last counted dial is settled, less what the idle engine sends in as long
  (measured just before, the campaign paused), per dial.

Round trips: one per command the engine sends, one per MULTI...EXEC block and one per
script (the engine sends no non-transactional pipeline on these paths). Per inbound call,
the figure is the median over the callers (a background command of the engine, the owner
lease's renewal, may fall inside one caller's window; the detail gives the range).

Run: `python -m bench.bench_cost [--quick]` from the repository root.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis as sync_redis

from bench.bench_engine import EngineProcess, TimedPbx, sim_config, write_rules
from bench.report import Row, print_table, row
from pbx.codec import Action
from pbx.sim import SimConfig
from pbx.sim.events import Headers
from switchboard.private_redis import PrivateRedis

INBOUND_ROUND_TRIPS, INBOUND_COMMANDS, DIAL_COMMANDS = 1, 8, 20  # issue 15's ceilings
MARK = "sbcost"
_LINE = re.compile(r'^(?P<time>[\d.]+) \[\d+ (?P<client>[^\]]+)\] "(?P<command>[^"]+)"(?P<args>.*)$')


@dataclass(frozen=True)
class Plan:
    calls: int  # inbound callers, one at a time
    dials: int  # outbound dials counted
    idle_s: float  # the idle engine's background, measured this long


FULL = Plan(calls=40, dials=40, idle_s=6.0)
QUICK = Plan(calls=10, dials=12, idle_s=3.0)


@dataclass(frozen=True)
class Command:
    at: float
    client: str  # "127.0.0.1:port", or "lua" inside a script
    name: str
    args: str


def parse_monitor(lines: Iterable[str]) -> list[Command]:
    found = []
    for line in lines:
        if match := _LINE.match(line.strip()):
            name = match["command"].upper()
            found.append(Command(float(match["time"]), match["client"], name, match["args"]))
    return found


def round_trips(commands: Sequence[Command]) -> int:
    """Commands a client sent, a MULTI...EXEC block and a script counted once (see the docstring)."""
    trips, in_multi = 0, set[str]()
    for command in commands:
        if command.client == "lua":
            continue
        if command.name == "MULTI":
            in_multi.add(command.client)
            trips += 1
        elif command.client in in_multi:
            if command.name in ("EXEC", "DISCARD"):
                in_multi.discard(command.client)
        else:
            trips += 1
    return trips


@dataclass
class Cost:
    commands: int
    round_trips: int
    names: Counter[str] = field(default_factory=Counter)


def cost_of(commands: Sequence[Command]) -> Cost:
    return Cost(len(commands), round_trips(commands), Counter(c.name for c in commands))


def between(commands: Sequence[Command], start: str, end: str) -> list[Command]:
    """The engine's commands between the marks `start` and `end` (the marks and this process's
    other commands left out)."""
    inside, found, ours = False, list[Command](), ""
    for command in commands:
        if command.name == "ECHO" and MARK in command.args:
            if f'"{start}"' in command.args:
                inside, ours = True, command.client
            elif inside and f'"{end}"' in command.args:
                return found
            continue
        if inside and command.client != ours:
            found.append(command)
    raise ValueError(f"the command log has no marks {start!r} ... {end!r}")


class MarkedPbx(TimedPbx):
    """The simulated PBX, marking Redis's command log when a caller arrives and when its
    agent's Originate comes in."""

    def __init__(self, config: SimConfig, *, seed: int, port: int) -> None:
        self.marker = sync_redis.Redis(port=port, socket_timeout=5)
        self.marked: set[str] = set()
        super().__init__(config, seed=seed)

    def mark(self, label: str) -> None:
        self.marker.echo(f"{MARK}:{label}")

    def _on_event(self, headers: Headers) -> None:
        if headers[0][1] == "UserEvent":
            fields = dict(headers)
            if fields.get("UserEvent") == "SwitchboardInbound":
                self.mark(f"in:{fields.get('CallID', '')}")
        super()._on_event(headers)

    def record_action(self, action: Action) -> None:
        super().record_action(action)  # stamps originate_at for the agent's Originate
        for call_id in self.originate_at:
            if call_id not in self.marked:
                self.marked.add(call_id)
                self.mark(f"out:{call_id}")


async def _until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():  # type: ignore[operator]
        if time.perf_counter() > deadline:
            raise TimeoutError(f"cost bench: {what} did not happen within {timeout:g} s")
        await asyncio.sleep(0.02)


@dataclass
class Measured:
    inbound: list[Cost]
    dial: Cost
    dials: int
    idle_per_s: float
    window_s: float


def _size(path: Path) -> int:
    return path.stat().st_size


def start_monitor(port: int, log: Path) -> subprocess.Popen[bytes]:
    """`redis-cli monitor` writing every command Redis executes to `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(["redis-cli", "-p", str(port), "monitor"], stdout=out)


def read_log(log: Path, keep: Path | None) -> list[Command]:
    text = log.read_text(errors="replace")
    if keep is not None:
        keep.write_text(text, encoding="utf-8")
    return parse_monitor(text.splitlines())


async def quiet(log: Path, still_s: float = 0.3, timeout: float = 10.0) -> None:
    """Until Redis's command log has not grown for `still_s`: the engine has finished with the last
    call (its hangup, wrap-up and event writes), so the next caller's window holds its own commands."""
    deadline, size, since = time.perf_counter() + timeout, -1, time.perf_counter()
    while time.perf_counter() < deadline:
        now_size = _size(log)
        if now_size != size:
            size, since = now_size, time.perf_counter()
        elif time.perf_counter() - since >= still_s:
            return
        await asyncio.sleep(0.05)


async def one_call(sim: MarkedPbx, index: int, log: Path) -> str:
    """One caller, routed, talking and gone, and the engine quiet again; returns its call id."""
    known = len(sim.inbound_at)
    await sim.inbound_call(caller=f"+3670{index:07d}", patience_s=10.0, talk_s=0.05)
    await _until(lambda: len(sim.inbound_at) > known, 10, "the caller's UserEvent")
    call_id = list(sim.inbound_at)[-1]
    await _until(lambda: list(sim.originate_at)[-1:] == [call_id], 10, f"the Originate for {call_id}")
    await sim.wait_for_channel_count(0, timeout=10)
    await quiet(log)
    return call_id


async def _drive(
    sim: MarkedPbx, engine: EngineProcess, plan: Plan, log: Path
) -> tuple[list[str], int, float]:
    """Run the calls and dials; returns the inbound call ids, the dials counted and the window's length."""
    hello = await engine.read(timeout=120)
    if not hello.get("ready"):
        raise RuntimeError(f"the engine did not start: {hello}")
    await quiet(log)
    calls = []
    for index in range(plan.calls):
        calls.append(await one_call(sim, index, log))
    sim.mark("idle:start")
    await asyncio.sleep(plan.idle_s)
    sim.mark("idle:end")
    sim.mark("dial:start")
    started, first = time.perf_counter(), len(sim.trunk_originates)
    await engine.ask("outbound on")
    await _until(lambda: len(sim.trunk_originates) - first >= plan.dials + 1, 60, f"{plan.dials} dials")
    # the dials counted are those before the last one began: each of them is settled
    sim.mark("dial:end")
    window = time.perf_counter() - started
    await engine.ask("outbound off")
    return calls, plan.dials, window


async def measure(plan: Plan, keep: Path | None = None) -> Measured:
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp, PrivateRedis() as redis:
        rules, log_path, monitor_path = (
            Path(tmp) / name for name in ("routing.yaml", "engine.log", "monitor")
        )
        write_rules(rules, agents=2, outbound_agents=1)
        monitor = start_monitor(redis.port, monitor_path)
        try:
            await _until(lambda: _size(monitor_path) > 0, 10, "redis-cli monitor's OK")
            sim = MarkedPbx(sim_config(), seed=4, port=redis.port)
            port = await sim.start()
            args = ["--ami-port", str(port), "--redis-url", redis.url, "--rules", str(rules),
                    "--leads", str(plan.dials * 3), "--log-level", "WARNING"]  # fmt: skip
            with log_path.open("wb") as log:
                engine = EngineProcess(args, log)
                try:
                    calls, dials, window = await _drive(sim, engine, plan, monitor_path)
                except Exception as exc:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{exc}; engine log ends with:\n{tail}") from exc
                finally:
                    engine.stop()
                    await sim.stop()
                    sim.marker.close()
        finally:
            monitor.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                monitor.wait(timeout=10)
        commands = read_log(monitor_path, keep)
    inbound = [cost_of(between(commands, f"{MARK}:in:{c}", f"{MARK}:out:{c}")) for c in calls]
    idle = between(commands, f"{MARK}:idle:start", f"{MARK}:idle:end")
    idle_s = idle[-1].at - idle[0].at if len(idle) > 1 else plan.idle_s
    return Measured(inbound, cost_of(between(commands, f"{MARK}:dial:start", f"{MARK}:dial:end")),
                    dials, len(idle) / max(idle_s, plan.idle_s), window)  # fmt: skip


def _median(values: Sequence[int]) -> float:
    return float(statistics.median(values))


def _top(names: Counter[str], per: float) -> str:
    return ", ".join(f"{name} {count / per:.3g}" for name, count in names.most_common(8))


def rows_of(found: Measured) -> list[Row]:
    calls = found.inbound
    commands, trips = [c.commands for c in calls], [c.round_trips for c in calls]
    median_call = sorted(calls, key=lambda c: c.commands)[len(calls) // 2]
    idle = found.idle_per_s * found.window_s
    per_dial = (found.dial.commands - idle) / found.dials
    trips_per_dial = (found.dial.round_trips - idle) / found.dials
    return [
        row("inbound call: Redis round trips before its Originate", _median(trips), "round trips",
            target=f"<= {INBOUND_ROUND_TRIPS}", met=_median(trips) <= INBOUND_ROUND_TRIPS,
            detail=(f"median of {len(calls)} callers one at a time (range {min(trips)}-{max(trips)}); "
                    "MULTI...EXEC and a script count once; counted by redis-cli monitor")),
        row("inbound call: Redis commands before its Originate", _median(commands), "commands",
            target=f"<= {INBOUND_COMMANDS}", met=_median(commands) <= INBOUND_COMMANDS,
            detail=(f"median of {len(calls)} callers (range {min(commands)}-{max(commands)}), those inside "
                    f"scripts included; the median call's: {_top(median_call.names, 1)}")),
        row("outbound dial: Redis commands per dial", per_dial, "commands",
            target=f"<= {DIAL_COMMANDS}", met=per_dial <= DIAL_COMMANDS,
            detail=(f"{found.dials} dials of one agent, progressive, customers busy; "
                    f"{found.dial.commands:,} commands in {found.window_s:.1f} s less the idle engine's "
                    f"{found.idle_per_s:.1f}/s; per dial: {_top(found.dial.names, found.dials)}")),
        row("outbound dial: Redis round trips per dial", trips_per_dial, "round trips",
            detail="the same window; the idle engine's commands taken as round trips"),
        row("idle engine: Redis commands per second", found.idle_per_s, "commands/s",
            detail="the owner lease, the dialer's heartbeat, the ACD's sweeps (no call)"),
    ]  # fmt: skip


def run(quick: bool, plan: Plan | None = None, keep: Path | None = None) -> list[Row]:
    """The rows; `keep`: where to copy Redis's command log (redis-cli monitor's output)."""
    plan = plan or (QUICK if quick else FULL)
    return rows_of(asyncio.run(measure(plan, keep)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer calls and dials")
    parser.add_argument("--monitor", type=Path, help="keep Redis's command log (MONITOR) in this file")
    args = parser.parse_args(argv)
    print_table(run(args.quick, keep=args.monitor), "Figure 7: Redis cost per call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
