"""The engine's CPU per inbound call and per originate (issue 15, figure 4): a measuring tool, not a figure.

The same three processes as figure 4 (bench/bench_engine.py's `engine_against_sim`: a private
redis-server, the simulated PBX in this process, bench/engine_proc.py in its own): a fixed inbound
load (`--calls-per-s` for `--seconds`, every call routed, bridged and hung up), then the engine
settles, then its dialer runs for `--outbound-s`. The engine's CPU (getrusage user + system, read
over its stdin / stdout) before and after each phase, divided by the calls or the originates of the
phase, with the engine's log records (lines of its JSON log, INFO as in production) and Redis
commands per call. The inbound phase counts from the first arrival to the last call's hang-up, so
the ticker's work over that time is in it too (the idle engine's share is printed apart).

Then the same inbound load against bench/null_engine.py (unless `--no-null`): the engine's AMI
client doing only the AMI work a call needs (every event read and decoded, the agent's Originate,
the Bridge; no Redis, no routing, no log). Its CPU per call is the floor under the engine's, and
the ratio between the two says how much of the engine's cost is its own. This process's CPU (the
simulated PBX and the load) is printed for both.

    python -m bench.engine_cpu [--calls-per-s 40] [--seconds 15] [--outbound-s 10] [--no-null]
                               [--profile PATH]

`--profile PATH` writes engine_proc's cProfile of the steady state (from ready to quit: neither the
rules' loading nor the leads' import); read it with `python -m pstats PATH`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import bench_engine
from bench.bench_engine import EngineProcess, Plan, TimedPbx, ready_null_engine
from pbx.sim import SimTimeoutError

IDLE_S = 2.0  # the engine's CPU while nothing happens: its ticker and timers
RAMP_S = 1.0  # outbound: the first pacing rounds, not measured


def log_records(path: Path) -> int:
    """Lines the engine wrote to its log so far (one JSON record a line)."""
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


async def idle(engine: EngineProcess) -> float:
    """The engine's CPU share over IDLE_S with no call."""
    before = await engine.ask("stats")
    await asyncio.sleep(IDLE_S)
    after = await engine.ask("stats")
    return float(after["cpu_s"] - before["cpu_s"]) / IDLE_S


async def calls_through(
    sim: TimedPbx, engine: EngineProcess, rate: int, seconds: float, first: int
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """`rate` calls/s for `seconds` from call number `first`, until every call has hung up: (the
    process's `stats` before, after, and the phase's counts with this process's CPU)."""
    before, bridged, own = await engine.ask("stats"), sim.bridges, bench_engine.cpu_s()
    sim.inbound_at.clear()
    sim.originate_at.clear()
    started = time.perf_counter()
    calls = await bench_engine.place_calls(sim, rate, seconds, first=first)
    await sim.routed(list(sim.inbound_at), bridged + calls, bench_engine.DRAIN_S)
    with contextlib.suppress(SimTimeoutError):
        await sim.wait_for_channel_count(0, timeout=bench_engine.SETTLE_S)
    elapsed = time.perf_counter() - started
    after = await engine.ask("stats")
    sim.forget_actions()
    phase = {"calls": calls, "routed": len(sim.originate_at), "seconds": elapsed}
    return before, after, {**phase, "sim_cpu_s": bench_engine.cpu_s() - own}


async def inbound(
    sim: TimedPbx, engine: EngineProcess, log: Path, rate: int, seconds: float
) -> dict[str, Any]:
    """`rate` calls/s for `seconds`, until every call has hung up: CPU, log records and Redis commands
    per call."""
    lines = log_records(log)
    before, after, phase = await calls_through(sim, engine, rate, seconds, first=0)
    return {
        **phase,
        "cpu_s": after["cpu_s"] - before["cpu_s"],
        "sys_s": after["sys_s"] - before["sys_s"],
        "log_records": log_records(log) - lines,
        "redis_commands": after["redis_commands"] - before["redis_commands"] - 1,  # less the INFO of `stats`
        "redis_round_trips": after["redis_round_trips"] - before["redis_round_trips"] - 1,
        "gc_pause_s": [b - a for a, b in zip(before["gc_pause_s"], after["gc_pause_s"], strict=True)],
        "gc_runs": [b - a for a, b in zip(before["gc_runs"], after["gc_runs"], strict=True)],
    }


async def outbound(sim: TimedPbx, engine: EngineProcess, log: Path, seconds: float) -> dict[str, float]:
    """The dialer for `seconds` after its ramp (bench_engine's window): CPU and Redis commands per
    originate; log records per originate over the whole window, ramp included."""
    lines, first = log_records(log), len(sim.trunk_originates)
    window = await bench_engine.outbound_window(sim, engine, seconds, RAMP_S)
    dialed = max(1, len(sim.trunk_originates) - first)
    return {**window, "log_per_originate": (log_records(log) - lines) / dialed}


async def null_inbound(sim: TimedPbx, log: Path, rate: int, seconds: float) -> dict[str, Any]:
    """The same load against bench/null_engine.py on the same simulated PBX: its CPU per call."""
    with contextlib.suppress(SimTimeoutError):
        await sim.wait_for_channel_count(0, timeout=bench_engine.SETTLE_S)
    with log.open("ab") as out:
        null = await ready_null_engine(sim.port, out)
        try:
            before, after, phase = await calls_through(sim, null, rate, seconds, first=5_000_000)
        finally:
            null.stop()
    return {**phase, "cpu_s": after["cpu_s"] - before["cpu_s"]}


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    plan = Plan(
        rates=(args.calls_per_s,), step_s=args.seconds, min_calls=0, agents=3 * args.calls_per_s + 20,
        outbound_agents=args.outbound_agents, outbound_s=args.outbound_s, leads=args.leads, deadline_s=0.0,
        ramp_s=RAMP_S,
    )  # fmt: skip
    engine_args = ["--profile", str(args.profile)] if args.profile else []
    with tempfile.TemporaryDirectory(prefix="engine-cpu-") as tmp:
        async with bench_engine.engine_against_sim(plan, Path(tmp), engine_args) as (sim, engine, log):
            idle_share = await idle(engine)
            calls = await inbound(sim, engine, log, args.calls_per_s, args.seconds)
            settled = await bench_engine.settle(sim, engine)
            dials = await outbound(sim, engine, log, args.outbound_s) if args.outbound_s > 0 else None
        try:
            null = None if args.no_null else await null_inbound(sim, log, args.calls_per_s, args.seconds)
        finally:
            await sim.stop()  # on an error before, engine_against_sim stopped it
    return {"idle_share": idle_share, "inbound": calls, "settled_s": settled, "outbound": dials, "null": null}


def report(found: dict[str, Any]) -> list[str]:
    calls, idle_share = found["inbound"], found["idle_share"]
    count = max(1, calls["calls"])
    idle_ms = 1000 * idle_share * calls["seconds"] / count
    lines = [
        f"inbound: {1000 * calls['cpu_s'] / count:.2f} ms CPU per call "
        f"({calls['calls']} calls, {calls['routed']} routed, over {calls['seconds']:.1f} s: "
        f"{calls['cpu_s'] / calls['seconds']:.0%} of a core; idle engine {idle_share:.1%} of a core, "
        f"{idle_ms:.2f} ms of it per call; in the kernel: {1000 * calls['sys_s'] / count:.2f} ms per call)",
        f"inbound: the simulated PBX and the load (this process) {1000 * calls['sim_cpu_s'] / count:.2f} ms "
        "CPU per call",
        f"inbound: {calls['log_records'] / count:.1f} log records and "
        f"{calls['redis_commands'] / count:.1f} Redis commands ({calls['redis_round_trips'] / count:.1f} "
        "round trips) per call",
        "inbound: garbage collector "
        + ", ".join(
            f"gen {gen}: {runs} runs, {1000 * pause:.1f} ms ({1000 * pause / count:.3f} ms per call)"
            for gen, (runs, pause) in enumerate(zip(calls["gc_runs"], calls["gc_pause_s"], strict=True))
        ),
    ]
    if null := found["null"]:
        null_ms, engine_ms = 1000 * null["cpu_s"] / max(1, null["calls"]), 1000 * calls["cpu_s"] / count
        lines.append(
            f"null engine (AMI work only, same load): {null_ms:.2f} ms CPU per call ({null['routed']} of "
            f"{null['calls']} routed over {null['seconds']:.1f} s; simulated PBX "
            f"{1000 * null['sim_cpu_s'] / max(1, null['calls']):.2f} ms per call): the engine is "
            f"{engine_ms / max(null_ms, 1e-9):.1f}x it, {engine_ms - null_ms:.2f} ms a call its own"
        )
    if dials := found["outbound"]:
        lines += [
            f"outbound: {1000 * dials['cpu'] / max(dials['rate'], 1e-9):.2f} ms CPU per originate "
            f"({dials['rate']:.0f} originates/s, {dials['cpu']:.0%} of a core; "
            f"after {found['settled_s']:.1f} s settling)",
            f"outbound: {dials['log_per_originate']:.1f} log records and "
            f"{dials['redis_per_originate']:.1f} Redis commands "
            f"({dials['round_trips_per_originate']:.1f} round trips) per originate",
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls-per-s", type=int, default=40, help="inbound arrival rate")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long calls arrive")
    parser.add_argument("--outbound-s", type=float, default=10.0, help="dialing s (0: none)")
    parser.add_argument("--outbound-agents", type=int, default=100, help="agents of the outbound campaign")
    parser.add_argument("--leads", type=int, default=10_000, help="leads of the outbound campaign")
    parser.add_argument("--no-null", action="store_true", help="skip the null engine's run")
    parser.add_argument("--profile", type=Path, help="engine_proc's cProfile of the steady state, here")
    parser.add_argument("--json", action="store_true", help="print the measures as one JSON object too")
    args = parser.parse_args(argv)
    found = asyncio.run(measure(args))
    print("\n".join(report(found)))
    if args.json:
        print(json.dumps(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
