"""scripts/chaos: every fault class under traffic, one row each, a table and bench/chaos.json.

    python -m bench.chaos [--quick] [--only CLASS ...] [--json PATH] [--no-fail] [--logs DIR]

Each row gets a fresh world (Redis, simulated PBX, fault proxy, engine processes), runs inbound
callers and a progressive campaign while its fault is injected, lets every call end, and counts
from the PBX's ground truth (bench/chaos/ledger.py). Exit status 1 when a supported row misses a
target (0 with --no-fail), 2 when a row could not run at all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import sys
import time
import traceback
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.chaos import soak_row  # noqa: F401 - registers the `soak` row
from bench.chaos.faults import FAULTS, FaultClass, Injected
from bench.chaos.ledger import Counts
from bench.chaos.world import FULL, QUICK, Plan, World

RESULTS = Path(__file__).resolve().parents[1] / "chaos.json"
TARGETS = {"lost": 0, "dialed_twice": 0, "dropped": 0, "wrong_abandons": 0, "ready_s": 2.0, "failover_s": 5.0}
ZERO = ("lost", "dialed_twice", "dropped", "wrong_abandons")


def misses(counts: Counts, injected: Injected) -> list[str]:
    """Which targets the row missed (none: it passed)."""
    found = [f"{key} {getattr(counts, key)}" for key in ZERO if getattr(counts, key) > TARGETS[key]]
    if injected.ready_s and max(injected.ready_s) > TARGETS["ready_s"]:
        found.append(f"ready {max(injected.ready_s):.2f} s > {TARGETS['ready_s']:g} s")
    if injected.failover_s and max(injected.failover_s) > TARGETS["failover_s"]:
        found.append(f"failover {max(injected.failover_s):.2f} s > {TARGETS['failover_s']:g} s")
    if counts.offered == 0:
        found.append("no traffic got through: nothing was measured")
    return found


def _worst(values: list[float]) -> float | None:
    return None if not values else (max(values) if all(map(math.isfinite, values)) else -1.0)


Result = dict[str, Any]


def result(fault: FaultClass, counts: Counts, injected: Injected, seconds: float, baseline: bool) -> Result:
    missed = misses(counts, injected) + injected.missed
    if not baseline and injected.count == 0:
        missed.append("no fault was injected")
    return {
        "class": fault.name, "title": fault.title, "supported": True, "injected": injected.count,
        **counts.as_dict(), "ready_s": _worst(injected.ready_s), "failover_s": _worst(injected.failover_s),
        "ready_samples_s": [round(v, 3) for v in injected.ready_s if math.isfinite(v)],
        "failover_samples_s": [round(v, 3) for v in injected.failover_s if math.isfinite(v)],
        "extra": injected.extra, "notes": injected.notes, "misses": missed, "met": not missed,
        "seconds": round(seconds, 1),
    }  # fmt: skip


def unsupported(fault: FaultClass, reason: str) -> dict[str, Any]:
    return {"class": fault.name, "title": fault.title, "supported": False, "met": None, "misses": [],
            "notes": [reason], "injected": 0}  # fmt: skip


async def run_row(fault: FaultClass, plan: Plan, *, logs: Path | None = None, seed: int = 10) -> Result:
    """One fault class under traffic in a fresh world: the row for the table and the JSON."""
    reason = fault.supported()
    if reason:
        return unsupported(fault, reason)
    plan = fault.plan_for(plan)
    started = time.monotonic()
    if fault.own_world is not None:  # the soak: its own engine, PBX and Redis, for minutes
        counts, injected = await fault.own_world(plan)
        return result(fault, counts, injected, time.monotonic() - started, True)
    row_logs = None
    if logs is not None:
        row_logs = logs / fault.name
        row_logs.mkdir(parents=True, exist_ok=True)
    world = World(plan, engines=fault.engines, seed=seed, log_dir=row_logs, orders=fault.sim_orders,
                  sentinel=fault.sentinel)  # fmt: skip
    async with world:
        traffic = asyncio.create_task(world.inbound_traffic(plan.traffic_s))
        try:
            injected = await fault.inject(world, plan)
        finally:
            await traffic
        await world.finish()
        if injected.unsupported:
            return unsupported(fault, injected.unsupported)
        counts = await world.count()
    return result(fault, counts, injected, time.monotonic() - started, fault.name == "baseline")


def _cell(value: Any, bad: bool = False) -> str:
    if value is None:
        return "—"
    text = f"{value:.2f}" if isinstance(value, float) else str(value)
    if isinstance(value, float) and value < 0:
        text = "never"
    return f"[red]{text}[/red]" if bad else text


def print_rows(rows: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="Chaos suite (targets: 0 lost, 0 dialed twice, 0 dropped, 0 wrong abandons; "
                  "ready <= 2 s; failover <= 5 s)")  # fmt: skip
    for name in ("fault class", "injected", "offered", "routed", "abandoned", "lost", "dialed twice",
                 "dropped", "wrong abandons", "ready s", "failover s", "met"):  # fmt: skip
        table.add_column(name, justify="left" if name == "fault class" else "right")
    for row in rows:
        if not row["supported"]:
            table.add_row(row["class"], "—", *["—"] * 9, "n/a")
            continue
        ready, failover = row["ready_s"], row["failover_s"]
        cells = [_cell(row[key], row[key] > 0) for key in ZERO]
        counts = [str(row[key]) for key in ("injected", "offered", "routed", "abandoned")]
        table.add_row(
            row["class"], *counts, *cells,
            _cell(ready, ready is not None and not 0 <= ready <= TARGETS["ready_s"]),
            _cell(failover, failover is not None and not 0 <= failover <= TARGETS["failover_s"]),
            "yes" if row["met"] else "[bold red]NO[/bold red]",
        )  # fmt: skip
    console.print(table)
    for row in rows:
        if not row["supported"]:
            console.print(f"[bold]{row['class']}[/bold]: {row['notes'][0]}", highlight=False)
        elif row.get("misses") or row.get("examples") or row.get("extra"):
            said = "; ".join(row["misses"]) or "met"
            console.print(f"[bold]{row['class']}[/bold]: {said} {row.get('examples') or ''} "
                          f"{'; '.join(row['notes'])}", highlight=False)  # fmt: skip


def write_json(path: Path, rows: list[Result], plan: Plan, quick: bool, seconds: float) -> None:
    data = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"), "mode": "quick" if quick else "full",
        "seconds": round(seconds, 1), "targets": TARGETS, "plan": asdict(plan), "rows": rows,
    }  # fmt: skip
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def choose(only: list[str] | None, quick: bool) -> list[FaultClass]:
    if only:
        unknown = [name for name in only if name not in FAULTS]
        if unknown:
            raise SystemExit(f"unknown fault class {', '.join(unknown)}; known: {', '.join(FAULTS)}")
        return [FAULTS[name] for name in only]
    return [fault for fault in FAULTS.values() if not (quick and fault.full_only)]


async def run_all(faults: list[FaultClass], plan: Plan, console: Console, logs: Path | None) -> list[Result]:
    rows = []
    for fault in faults:
        console.print(f"[bold]{fault.name}[/bold]: {fault.title} ...", highlight=False)
        try:
            rows.append(await run_row(fault, plan, logs=logs))
        except Exception as exc:  # one broken row must not hide the others
            traceback.print_exc()
            rows.append({"class": fault.name, "title": fault.title, "supported": True, "met": False,
                         "error": f"{type(exc).__name__}: {exc}", "misses": ["the row could not run"],
                         "notes": [str(exc)[:500]], "injected": 0, "offered": 0, "routed": 0, "abandoned": 0,
                         "lost": 0, "dialed_twice": 0, "dropped": 0, "wrong_abandons": 0, "ready_s": None,
                         "failover_s": None})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short rows: under 3 minutes in all")
    parser.add_argument("--only", nargs="+", metavar="CLASS", help=f"some classes: {', '.join(FAULTS)}")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where the rows go (default {RESULTS})")
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even when a target is missed")
    parser.add_argument("--logs", type=Path, help="keep each row's engine logs in this folder")
    parser.add_argument("--soak-minutes", type=float, help=f"soak length (default {FULL.soak_minutes:g})")
    args = parser.parse_args(argv)
    # The PBX keeps writing to sockets a fault has just cut until it reads their end: asyncio's
    # "socket.send() raised exception" warnings say nothing about the engine.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    console, started = Console(width=max(140, Console().width)), time.monotonic()
    plan = QUICK if args.quick else FULL
    if args.soak_minutes:
        plan = replace(plan, soak_minutes=args.soak_minutes)
    rows = asyncio.run(run_all(choose(args.only, args.quick), plan, console, args.logs))
    seconds = time.monotonic() - started
    print_rows(rows, console)
    write_json(args.json, rows, plan, args.quick, seconds)
    console.print(f"{len(rows)} rows in {seconds:.0f} s; written to {args.json}", highlight=False)
    if any("error" in row for row in rows):
        return 2
    missed = any(row["supported"] and not row["met"] for row in rows)
    return 1 if missed and not args.no_fail else 0


if __name__ == "__main__":
    sys.exit(main())
