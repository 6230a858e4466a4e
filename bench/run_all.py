"""All eight benchmark figures in one run: one table, and the same rows in bench/results.json.

`scripts/bench` calls this. Each figure is a module with `run(quick) -> rows`;
they run one after the other in this process (figure 4 starts the engine in a
process of its own, so its CPU and memory are the engine's alone). Every row
gets the number of its figure; a figure that fails becomes one row saying so
(met: false) and the exit status is 1, but the other figures still run. A missed
target is a result, not a failure: it shows as NO in the table.

    python -m bench.run_all                      # everything (about 10 minutes)
    python -m bench.run_all --quick              # under a minute, smaller sizes
    python -m bench.run_all --only 2 5 6         # some figures; the file keeps the others' rows
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from bench.report import Row, print_table, row

RESULTS = Path(__file__).resolve().parent / "results.json"

FIGURES: dict[int, tuple[str, str]] = {
    1: ("bench.bench_ami", "AMI ingest"),
    2: ("bench.bench_routing", "routing decision"),
    3: ("bench.bench_blacklist", "blacklist"),
    4: ("bench.bench_engine", "end-to-end engine"),
    5: ("bench.bench_shift_outbound", "simulated shift, outbound"),
    6: ("bench.bench_shift_inbound", "simulated shift, inbound"),
    7: ("bench.bench_cost", "Redis cost per call (figure 4's engine, counted by MONITOR)"),
    8: ("bench.bench_cluster", "Redis Cluster: national-list checks and inbound routing, 3 shards vs 1"),
}


def run_figure(number: int, quick: bool, console: Console) -> tuple[list[Row], bool]:
    """The rows of one figure (or one row saying why it failed) and whether it ran."""
    module_name, title = FIGURES[number]
    console.print(f"[bold]figure {number}[/bold]: {title} ...", highlight=False)
    started = time.perf_counter()
    try:
        rows: list[Row] = importlib.import_module(module_name).run(quick)
        ok = True
    except Exception as exc:  # one broken figure must not hide the others' results
        traceback.print_exc()
        rows = [row(f"{title}: the benchmark failed", 0.0, "error", target="runs", met=False,
                    detail=f"{type(exc).__name__}: {exc}")]  # fmt: skip
        ok = False
    seconds = time.perf_counter() - started
    console.print(f"  figure {number} took {seconds:.1f} s", style="dim", highlight=False)
    return [{"figure": number, **item} for item in rows], ok


def run(figures: Sequence[int], quick: bool, console: Console) -> tuple[list[Row], bool]:
    rows: list[Row] = []
    everything_ran = True
    for number in figures:
        found, ok = run_figure(number, quick, console)
        rows += found
        everything_ran &= ok
    return rows, everything_ran


def merged(rows: list[Row], path: Path, figures: Sequence[int]) -> list[Row]:
    """`rows` plus the saved rows of the figures not run now (so `--only 5` updates figure 5 alone)."""
    if not path.exists():
        return rows
    saved = json.loads(path.read_text(encoding="utf-8"))
    kept = [item for item in saved if item.get("figure") not in figures]
    return sorted(kept + rows, key=lambda item: int(item.get("figure", 0)))  # stable: a figure's order kept


def write_results(rows: list[Row], path: Path) -> None:
    path.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under a minute in all")
    parser.add_argument("--only", type=int, nargs="+", choices=sorted(FIGURES), help="run these figures")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where the rows go (default {RESULTS})")
    args = parser.parse_args(argv)
    console = Console() if sys.stdout.isatty() else Console(width=200)
    started = time.perf_counter()
    rows, ok = run(args.only or sorted(FIGURES), args.quick, console)
    seconds = time.perf_counter() - started
    mode = "quick" if args.quick else "full"
    print_table(rows, f"Switchboard benchmarks ({mode} run, {seconds:.0f} s)", console=console)
    console.print("ratio = value / peer, both measured side by side in this run; NO = target missed.")
    saved = merged(rows, args.json, args.only) if args.only else rows
    write_results(saved, args.json)
    console.print(f"wrote {len(rows)} rows to {args.json} ({len(saved)} in all)", highlight=False)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
