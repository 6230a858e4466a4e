"""The chaos suite's `soak` row (issue 10, full run only): state that grows with time is bounded.

Runs bench/bench_soak.py's soak with its own engine process, simulated PBX and Redis (not a
World: the row lasts `Plan.soak_minutes`, 30 by default): steady inbound callers and a
progressive campaign whose customers all answer and talk briefly, with the ended-call records
kept `TTL_S` (settings acd.ended_call_ttl) so the run shows Redis flattening once they expire,
and the occupancy window shortened to `WINDOW_MINUTES` so the agents' histories fill early.
It counts from the PBX's ground truth like every row (bench/chaos/ledger.py), and is met when
nothing was lost, dialed twice or dropped and the engine's RSS and Redis used_memory grew less
than `SLOPE_LIMIT` over the last half of the run.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from bench.bench_soak import Soak, SoakPbx, enough_leads, soak, summary
from bench.chaos.faults import FaultClass, Injected, register
from bench.chaos.ledger import Counts, count
from bench.chaos.world import Plan, World, abandon_records

RATE = 5.0  # inbound calls per second
AGENTS, OUTBOUND_AGENTS = 10, 10
TTL_S = 300  # ended-call records: 5 minutes, so a 30-minute run shows them expiring
WINDOW_MINUTES = 5  # occupancy window: the agents' histories are full after 5 minutes, not 60
CALLERS = 2000  # callers call again (the number cache, 8,192 numbers, is not what fills)
SLOPE_LIMIT = 0.5  # MiB per minute, engine RSS and Redis used_memory, over the last half
SAMPLE_S = 10.0


async def soak_row(plan: Plan) -> tuple[Counts, Injected]:
    minutes = plan.soak_minutes
    run = Soak(RATE, minutes, AGENTS, SAMPLE_S, fairness_minutes=WINDOW_MINUTES, callers=CALLERS,
               outbound_agents=OUTBOUND_AGENTS, leads=enough_leads(OUTBOUND_AGENTS, minutes),
               ended_call_ttl=TTL_S)  # fmt: skip
    found: list[Counts] = []

    async def tally(sim: SoakPbx, client: aioredis.Redis) -> None:
        dials = [number for number in sim.originated_numbers() if number.startswith("+")]
        # the run's abandon records were read as they came (the ACD's event stream is capped)
        found.append(count(sim.call_log, dials, run.abandoned | await abandon_records(client)))

    await soak(run, ["--log-level", "WARNING"], after=tally)
    extra = summary(run)
    done = Injected(count=1, extra={key: round(value, 4) for key, value in extra.items()})
    for name in ("rss", "redis"):
        grew = extra[f"{name}_slope_last_half"]
        if grew > SLOPE_LIMIT:
            done.missed.append(f"{name} grew {grew:.3f} MiB/min over the last half > {SLOPE_LIMIT:g}")
    done.notes.append(
        f"{RATE:g} calls/s + progressive outbound ({OUTBOUND_AGENTS} agents) for {minutes:g} min, "
        f"ended-call TTL {TTL_S} s, occupancy window {WINDOW_MINUTES} min; "
        f"RSS {extra['rss_mib_start']:.1f} -> {extra['rss_mib_end']:.1f} MiB, "
        f"Redis {extra['redis_mib_start']:.2f} -> {extra['redis_mib_end']:.2f} MiB; last-half slopes "
        f"{extra['rss_slope_last_half']:.3f} / {extra['redis_slope_last_half']:.3f} MiB/min "
        f"(limit {SLOPE_LIMIT:g}); load average {run.load_before} -> {run.load_after}"
    )
    return found[0], done


async def _not_in_a_world(world: World, plan: Plan) -> Injected:
    raise RuntimeError("the soak row runs its own processes (FaultClass.own_world)")


_TITLE = "steady inbound + outbound for minutes (30 in the full run): RSS and Redis flat"
register(FaultClass("soak", _TITLE, _not_in_a_world, full_only=True, own_world=soak_row))
