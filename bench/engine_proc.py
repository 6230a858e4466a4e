"""The engine under test in benchmark figure 4, as a process of its own.

Runs `switchboard.runtime.Runtime` (what `switchboard run` starts: Redis, the ACD,
the HTTP API, the rules reloader, the AMI client) against the simulated PBX, logs
in every agent of the given routing rules, and, with `--leads`, gives the
runtime's dialer one progressive campaign of that many leads for the outbound
agents of the rules (queue `outbound`; the ACD holds them for each dial). Its own
process, so the CPU and memory it reports are the engine's alone.

It talks to bench/bench_engine.py over its stdin / stdout, one JSON object per line:
- it writes `{"ready": true, ...stats}` once everything is up and logged in;
- `stats` -> `{"cpu_s": user + system seconds, "sys_s": system seconds, "rss_kib", "peak_rss_kib",
  "decisions", "redis_commands", "gc_pause_s" and "gc_runs" by generation}`
  (resource.getrusage, VmRSS and VmHWM from /proc/self/status, the ACD's
  decision-latency histogram as {action: [count, seconds]}, Redis INFO total_commands_processed);
- `outbound on` / `outbound off` -> the campaign runs / is paused, then `{"ok": true}`;
- `objects` -> `{"objects": {type name: live count}}` (gc), for the soak bench to see what grows;
  with `--tracemalloc`, `{"malloc": [[site, KiB grown since ready, blocks grown]]}` too;
- `baseline` -> what `objects` says, and later `objects` compare with now instead of with ready;
- `quit` (or stdin closed) -> everything stops, the process exits.
`redis_round_trips` in `stats` counts the writes of the engine's Redis connections (one per command,
one per pipeline or transaction): a bench-only wrapper, no hook in product code. With the environment
variable BENCH_ROUND_TRIP_SITES=path, it also counts them by the engine's calling function (the two
nearest frames outside redis-py) and writes `[[site, count], ...]` there when the process exits.
Logs go to stderr at the level given (INFO by default, as in production).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import resource
import sys
import time
import tracemalloc
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio.connection import AbstractConnection

from bench import engine_timing
from dialer.campaigns.rules import Campaigns
from dialer.loop.campaign_control import CampaignState
from switchboard.launch import freeze_started
from switchboard.logs import configure_logging
from switchboard.runtime import Parts, Runtime
from switchboard.settings import Settings

USER, SECRET = "bench", "bench-secret"
CAMPAIGN = "bench"


def campaigns() -> Campaigns:
    """One progressive campaign allowed to dial at (nearly) any hour: the bench may run at night."""
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    always = {day: ["00:00-23:59"] for day in days}
    return Campaigns.model_validate({"campaigns": [{
        "id": CAMPAIGN, "name": "Benchmark", "mode": "progressive", "queue": "outbound",
        "ring_timeout_s": 20, "calling_hours": {**always, "closed_on_holidays": False},
    }]})  # fmt: skip


ROUND_TRIPS = [0]
SITES: Counter[str] = Counter()  # with BENCH_ROUND_TRIP_SITES=path: round trips by calling function
_LIBRARY = ("/redis/", "/asyncio/", "engine_proc.py")


def count_round_trips() -> None:
    """Count every write of a redis-py connection: one per command, one per pipeline."""
    send = AbstractConnection.send_packed_command
    by_site = bool(os.environ.get("BENCH_ROUND_TRIP_SITES"))

    async def counted(self: AbstractConnection, *args: Any, **kwargs: Any) -> None:
        ROUND_TRIPS[0] += 1
        if by_site:
            SITES[_site()] += 1
        await send(self, *args, **kwargs)

    AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]


def _site() -> str:
    """The first two frames of the engine's own code above redis-py (a coroutine's awaiter is its f_back)."""
    frame, names = sys._getframe(2), list[str]()
    while frame is not None and len(names) < 2:
        name = frame.f_code.co_filename
        if not any(part in name for part in _LIBRARY):
            names.append(f"{Path(name).stem}.{frame.f_code.co_name}")
        frame = frame.f_back  # type: ignore[assignment]
    return " < ".join(names)


def objects() -> dict[str, Any]:
    """Live objects per type (the 40 most numerous) and, under tracemalloc, the sites that grew."""
    gc.collect()
    counts = Counter(type(o).__name__ for o in gc.get_objects())
    found: dict[str, Any] = {"objects": dict(counts.most_common(40))}
    if tracemalloc.is_tracing() and BASELINE:
        stats = tracemalloc.take_snapshot().compare_to(BASELINE[0], "lineno")
        found["malloc"] = [[str(s.traceback), s.size_diff // 1024, s.count_diff] for s in stats[:15]]
        found["traced_kib"] = tracemalloc.get_traced_memory()[0] // 1024
    return found


BASELINE: list[tracemalloc.Snapshot] = []
PROFILE: list[cProfile.Profile] = []  # with --profile: on from `ready` to `quit`


def outbound_number(index: int) -> str:
    return f"+3630{index:07d}"


def decisions(parts: Parts) -> dict[str, list[float]]:
    """The ACD's `switchboard_acd_decision_seconds` histogram: {action: [count, total seconds]}."""
    found: dict[str, list[float]] = {}
    for metric in parts.metrics.registry.collect():
        if metric.name != "switchboard_acd_decision_seconds":
            continue
        for sample in metric.samples:
            totals = found.setdefault(sample.labels["action"], [0.0, 0.0])
            if sample.name.endswith("_count"):
                totals[0] = sample.value
            elif sample.name.endswith("_sum"):
                totals[1] = sample.value
    return found


def memory_kib() -> dict[str, int]:
    """The current and the peak resident set (VmRSS, VmHWM) of this process, in KiB.

    Not ru_maxrss: Linux carries it over exec, so a child started by a big parent reports the
    parent's peak."""
    found = {}
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return {"rss_kib": found["VmRSS"], "peak_rss_kib": found["VmHWM"]}


GC_PAUSES = [0.0, 0.0, 0.0]  # seconds spent in collections of each generation, since the start
GC_RUNS = [0, 0, 0]
_gc_started = [0.0]


def _time_collections(phase: str, info: dict[str, int]) -> None:
    """gc.callbacks hook: the collector's pauses by generation (a full one walks every tracked object)."""
    if phase == "start":
        _gc_started[0] = time.perf_counter()
        return
    generation = info["generation"]
    GC_PAUSES[generation] += time.perf_counter() - _gc_started[0]
    GC_RUNS[generation] += 1


async def stats(parts: Parts) -> dict[str, Any]:
    """CPU and memory of this process, the ACD's own decision latency (event in -> AMI action
    accepted) as count and total seconds per action, and Redis's command counter."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    info = await parts.redis.info("stats")
    return {
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "sys_s": usage.ru_stime,
        **memory_kib(),
        "decisions": decisions(parts),
        "redis_commands": int(info["total_commands_processed"]),
        "redis_round_trips": ROUND_TRIPS[0],
        "gc_pause_s": list(GC_PAUSES),
        "gc_runs": list(GC_RUNS),
    }


class Outbound:
    """The runtime's dialer with one campaign of leads (its agents are in the routing rules)."""

    def __init__(self, parts: Parts, leads: int) -> None:
        self.parts, self.leads = parts, leads
        self.dialer = parts.dialer
        self.dialer.replace_campaigns(campaigns())

    async def start(self) -> None:
        now = datetime.now(UTC)
        for start in range(0, self.leads, 1000):
            batch = [
                {"lead_id": f"L{i}", "customer_id": f"C{i}", "name": f"Customer {i}",
                 "phones": [outbound_number(i)], "crm": {"do_not_call": False}}
                for i in range(start, min(self.leads, start + 1000))
            ]  # fmt: skip
            await self.parts.stores.leads.upsert_many(batch, now=now, actor="bench", campaign_id=CAMPAIGN)

    async def switch(self, on: bool) -> None:
        state = CampaignState.RUNNING if on else CampaignState.PAUSED
        await self.dialer.set_state(CAMPAIGN, state, "bench")


async def serve(parts: Parts, outbound: Outbound | None) -> None:
    """Answer the parent's commands until `quit` or the end of stdin."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    if tracemalloc.is_tracing():
        BASELINE.append(tracemalloc.take_snapshot())
    reply({"ready": True, "pid": os.getpid(), "agents": len(parts.acd.rules.agents), **await stats(parts)})
    try:
        for profile in PROFILE:  # the steady state only: not the start-up (rules, leads' import)
            profile.enable()
        await answer(parts, outbound, reader)
    finally:
        for profile in PROFILE:
            profile.disable()


async def answer(parts: Parts, outbound: Outbound | None, reader: asyncio.StreamReader) -> None:
    while line := (await reader.readline()).decode().strip():
        if line == "quit":
            return
        if line == "stats":
            reply(await stats(parts))
        elif line == "objects":
            reply(objects())
        elif line == "baseline":  # compare later `objects` with now (after caches and windows filled)
            BASELINE[:] = [tracemalloc.take_snapshot()] if tracemalloc.is_tracing() else []
            reply(objects())
        elif line in ("outbound on", "outbound off") and outbound is not None:
            await outbound.switch(line.endswith("on"))
            reply({"ok": True})
        else:
            reply({"error": f"unknown command {line!r}"})


def reply(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


async def main_async(args: argparse.Namespace) -> None:
    ttl = {"acd": {"ended_call_ttl": args.ended_call_ttl}} if args.ended_call_ttl else {}
    settings = Settings(
        ami={"host": "127.0.0.1", "port": args.ami_port, "username": USER, "secret": SECRET},
        redis={"url": args.redis_url},
        http={"host": "127.0.0.1", "port": 0},
        rules={"routing": args.rules},
        log={"format": "json", "level": args.log_level},
        **ttl,  # type: ignore[arg-type]
    )
    configure_logging(settings.log.format, settings.log.level, secrets=settings.secrets())
    runtime = Runtime(settings)
    outbound = None
    try:
        parts = await runtime.start()
        freeze_started()  # as `switchboard run` does (switchboard/entry.py)
        for agent in parts.acd.rules.agents:
            await parts.acd.login(agent.id)
        if args.leads:
            outbound = Outbound(parts, args.leads)
            await outbound.start()
        await serve(parts, outbound)
    finally:
        await runtime.stop()


def write_sites() -> None:
    if path := os.environ.get("BENCH_ROUND_TRIP_SITES"):
        Path(path).write_text(json.dumps(SITES.most_common()), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ami-port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--rules", type=Path, required=True, help="routing.yaml with the agents")
    parser.add_argument("--leads", type=int, default=0, help="leads of the outbound campaign")
    parser.add_argument("--ended-call-ttl", type=int, default=0, help="acd.ended_call_ttl (s); 0: default")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument("--profile", type=Path, help="cProfile of the steady state (from ready to quit) here")
    parser.add_argument("--timing", type=Path, help="where events' time went (engine_timing)")
    parser.add_argument("--tracemalloc", action="store_true", help="trace allocations (slow): `objects`")
    args = parser.parse_args(argv)
    count_round_trips()
    gc.callbacks.append(_time_collections)
    if args.timing is not None:
        engine_timing.install()
    if args.tracemalloc:
        tracemalloc.start(4)
    if args.profile is None:
        asyncio.run(main_async(args))
        write_sites()
        if args.timing is not None:
            engine_timing.write(args.timing)
        return 0
    PROFILE.append(cProfile.Profile())
    asyncio.run(main_async(args))
    PROFILE[0].dump_stats(args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
