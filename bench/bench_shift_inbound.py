"""Figure 6 of the benchmarks: a simulated inbound shift, Switchboard's routing against two baselines.

The shift (bench/shift_inbound_sim.py, policies in bench/shift_inbound_policies.py,
rules in bench/shift_inbound.yaml): 100 agents (30 novices at level 1, 50 average
at 3, 20 experts at 5, each in both skills), four tiers (key 5 %, important 15 %,
active 50 %, inactive 30 %), simple / standard / hard questions (levels 1 / 3 / 5,
35 / 50 / 15 %), Poisson arrivals at 90 % of capacity (AHT 3 s ring + 165 s talk
+ 15 s wrap-up), patience 30-600 s, 4 simulated hours, seed 1. All three policies
get the same callers, in one run:
- switchboard: routing.selection decide / pick_call as the ACD shell drives them;
- FIFO to the longest-idle agent with the skill;
- best agent first (app_queue `linear`-like): the first free agent in a fixed list, experts first.
Targets (Switchboard): key callers >= 95 % answered within 20 s, all callers
>= 80 %, occupancy of agents of the same level within 10 percentage points.
The rows also show what the baselines give up: calls answered by an agent at or
above the level the call needs, and key callers answered by an expert.

Run: `python -m bench.bench_shift_inbound [--quick]` (--quick: 2 simulated hours).
"""

from __future__ import annotations

import argparse

from bench.report import Row, print_table, row
from bench.shift_inbound_policies import run_policies
from bench.shift_inbound_sim import ShiftConfig, ShiftSummary

VIP_TARGET, OVERALL_TARGET, SPREAD_TARGET = 95.0, 80.0, 10.0
FIFO, BEST = "FIFO longest-idle", "best agent first"
TIERS = ("key", "important", "active", "inactive")


def _occupancy(summary: ShiftSummary) -> str:
    return ", ".join(f"L{lvl} {low:.0f}-{high:.0f} %" for lvl, (low, _, high) in summary.occupancy.items())


def _sl_rows(ours: ShiftSummary, fifo: ShiftSummary, best: ShiftSummary, scale: str) -> list[Row]:
    rows = []
    for tier in (*TIERS, "overall"):
        value = ours.service_level[tier]
        target = {"key": VIP_TARGET, "overall": OVERALL_TARGET}.get(tier)
        label = "key (VIP)" if tier == "key" else tier
        rows.append(
            row(f"inbound SL {label}{scale}", value, "% in 20 s",
                target=None if target is None else f">= {target:g} %",
                met=None if target is None else value >= target,
                peer=(FIFO, fifo.service_level[tier]),
                detail=f"{BEST}: {best.service_level[tier]:.1f} %; {ours.offered:,} callers")
        )  # fmt: skip
    return rows


def _judged_against_best(ours: ShiftSummary, best: ShiftSummary, scale: str) -> list[Row]:
    return [
        row(f"inbound SL key (VIP) vs {BEST}{scale}", ours.service_level["key"], "% in 20 s",
            target=f">= {VIP_TARGET:g} %", met=ours.service_level["key"] >= VIP_TARGET,
            peer=(BEST, best.service_level["key"])),
        row(f"inbound SL overall vs {BEST}{scale}", ours.service_level["overall"], "% in 20 s",
            target=f">= {OVERALL_TARGET:g} %", met=ours.service_level["overall"] >= OVERALL_TARGET,
            peer=(BEST, best.service_level["overall"])),
        row(f"inbound occupancy spread vs {BEST}{scale}", ours.spread, "pp",
            target=f"<= {SPREAD_TARGET:g} pp", met=ours.spread <= SPREAD_TARGET, peer=(BEST, best.spread),
            detail=f"{BEST} by level: {_occupancy(best)}"),
    ]  # fmt: skip


def rows_of(results: dict[str, ShiftSummary], scale: str) -> list[Row]:
    ours, fifo, best = results["switchboard"], results["fifo"], results["best_first"]
    abandons = (
        f"abandoned: {ours.abandoned:.1f} % ({FIFO} {fifo.abandoned:.1f} %, {BEST} {best.abandoned:.1f} %)"
    )
    return [
        *_sl_rows(ours, fifo, best, scale),
        row(f"inbound occupancy spread within a level{scale}", ours.spread, "pp",
            target=f"<= {SPREAD_TARGET:g} pp", met=ours.spread <= SPREAD_TARGET, peer=(FIFO, fifo.spread),
            detail=f"switchboard by level: {_occupancy(ours)}; {FIFO}: {_occupancy(fifo)}"),
        *_judged_against_best(ours, best, scale),
        row(f"inbound calls answered at the level needed{scale}", ours.at_level, "%",
            peer=(FIFO, fifo.at_level), detail=f"{BEST}: {best.at_level:.1f} %; {abandons}"),
        row(f"inbound key callers answered by an expert{scale}", ours.experts_on_key, "%",
            peer=(FIFO, fifo.experts_on_key), detail=f"{BEST}: {best.experts_on_key:.1f} %"),
    ]  # fmt: skip


def run(quick: bool, config: ShiftConfig | None = None) -> list[Row]:
    """All rows of figure 6; `config` replaces the shift (the smoke test uses a tiny one)."""
    config = config or ShiftConfig(hours=2.0 if quick else 4.0)
    full = ShiftConfig()
    notes = [f"{config.hours:g} h"] if config.hours != full.hours else []
    notes += [f"{config.agents} agents"] if config.agents != full.agents else []
    scale = f" ({', '.join(notes)})" if notes else ""
    return rows_of(run_policies(config), scale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2 simulated hours instead of 4")
    args = parser.parse_args(argv)
    print_table(run(args.quick), "Figure 6: simulated inbound shift")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
