"""Soak (issue 10): the engine at a steady inbound rate for minutes, sampled for what grows.

Same three processes as figure 4 (bench/bench_engine.py): this one runs the
simulated PBX and the load, bench/engine_proc.py the engine, and a private
redis-server holds the state. Callers arrive evenly at `--rate` calls/s for
`--minutes`; each is routed to an agent who answers after 50 ms and the caller
hangs up after 0.5 s (wrap-up 0). Every `--sample` seconds it records the
engine's RSS and CPU, Redis `used_memory` and key count, the keys grouped by
pattern (ids replaced by `*`), and Redis commands and round trips per call.
At the end it prints the growth per minute of each (a straight line fitted to
the samples after the first minute: start-up and warm caches excluded), the
key groups that grew, the live object types that grew in the engine (gc), and
with `--tracemalloc` the allocation sites that grew (slow: the engine runs
about half as fast).

Not one of the six figures and not run by the tests: `scripts/bench --soak
[--minutes 5] [--rate 20]`. The machine is shared: the load average is
printed at the start and the end; read the numbers with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bench.bench_engine import ANSWER_S, TALK_S, EngineProcess, sim_config, write_rules
from bench.chaos.ledger import UNBRIDGED_REASONS, unbridged
from bench.chaos.world import AbandonLog, abandon_records
from bench.report import Row, print_table, row
from pbx.codec import Action
from pbx.sim import SimTimeoutError, SimulatedPbx
from pbx.sim.config import CustomerProfile, SimConfig
from switchboard.private_redis import PrivateRedis

PATIENCE_S = 30.0
BENCH_COMMANDS = ("info", "scan", "dbsize", "memory|usage")  # this process's own reads, not the engine's
_ID = re.compile(r"[^:]*\d[^:]*")


# Dialled customers all answer after a short ring and talk briefly: every dial is a conversation,
# so a lead is dialled once (a busy or unanswered one would be retried later, by design).
CUSTOMERS = CustomerProfile(answer=1, busy=0, noanswer=0, congestion=0, machine=0, reject=0,
                            ring_s=(0.3, 0.8), talk_s=(0.5, 1.0))  # fmt: skip


class SoakPbx(SimulatedPbx):
    """The simulated PBX counting the dialer's customer dials (to PJSIP/...@trunk) per number."""

    def __init__(self, config: SimConfig, *, seed: int) -> None:
        self.dials: Counter[str] = Counter()
        self.bridges = 0
        super().__init__(config, seed=seed)

    def record_action(self, action: Action) -> None:
        channel = action.get("Channel") or ""
        if channel.endswith("@trunk"):  # only a customer dial names a trunk channel
            self.dials[channel] += 1
        elif action.name == "Bridge":
            self.bridges += 1
        super().record_action(action)

    @property
    def dialled(self) -> int:
        return sum(self.dials.values())


@dataclass
class Sample:
    at: float  # seconds since the load started
    calls: int  # placed so far
    rss_mib: float
    cpu_s: float
    redis_mib: float  # used_memory
    keys: int
    commands: int  # engine commands (INFO commandstats, minus this process's own)
    round_trips: int
    net_in: int  # bytes Redis received (total_net_input_bytes): what the engine wrote, mostly
    groups: dict[str, int] = field(default_factory=dict)
    commandstats: dict[str, int] = field(default_factory=dict)
    dials: int = 0  # customer dials (outbound Originates) so far


def pattern(key: bytes) -> str:
    """`sb:routing:call:1733-42` -> `sb:routing:call:*`: one group per kind of key."""
    return _ID.sub("*", key.decode(errors="replace"))


async def redis_view(client: aioredis.Redis) -> tuple[float, int, dict[str, int], dict[str, int]]:
    memory, stats = await client.info("memory"), await client.info("stats")
    groups: Counter[str] = Counter()
    async for key in client.scan_iter(count=1000):
        groups[pattern(key)] += 1
    commands = await client.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in commands.items()}
    return memory["used_memory"] / 2**20, int(stats["total_net_input_bytes"]), dict(groups), calls


def engine_commands(calls: dict[str, int]) -> int:
    return sum(n for name, n in calls.items() if name not in BENCH_COMMANDS)


async def sample(
    engine: EngineProcess, client: aioredis.Redis, started: float, calls: int, dials: int = 0
) -> Sample:
    stats = await engine.ask("stats")
    used, net_in, groups, commandstats = await redis_view(client)
    return Sample(
        at=time.perf_counter() - started, calls=calls, rss_mib=stats["rss_kib"] / 1024, cpu_s=stats["cpu_s"],
        redis_mib=used, keys=sum(groups.values()), commands=engine_commands(commandstats),
        round_trips=stats["redis_round_trips"], net_in=net_in, groups=groups, commandstats=commandstats,
        dials=dials,
    )  # fmt: skip


class Load:
    """Callers at a steady rate, until stopped."""

    def __init__(self, sim: SimulatedPbx, rate: float, callers: int = 0) -> None:
        self.sim, self.rate, self.placed, self.callers = sim, rate, 0, callers  # callers 0: all different

    async def run(self, seconds: float) -> None:
        started = time.perf_counter()
        if not self.rate:
            await asyncio.sleep(seconds)  # outbound only: nothing to place, the run lasts as long
            return
        while (due := started + self.placed / self.rate) < started + seconds:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing the arrivals, not synchronising
            caller = self.placed % self.callers if self.callers else self.placed
            await self.sim.inbound_call(f"+3670{caller:07d}", patience_s=PATIENCE_S, talk_s=TALK_S)
            self.placed += 1
            if self.placed % 1000 == 0:
                self.sim.actions.clear()  # the sim's action log is the bench's, not the engine's


@dataclass
class Soak:
    rate: float
    minutes: float
    agents: int
    sample_s: float
    fairness_minutes: float = 0
    baseline_s: float = 0  # compare the engine's objects with this point of the load, not its start
    callers: int = 0  # distinct caller numbers, reused in turn (0: every call a new one)
    outbound_agents: int = 0  # agents of the progressive campaign (their own queue)
    leads: int = 0
    ended_call_ttl: int = 0  # settings acd.ended_call_ttl; 0: its default (24 h)
    outbound: dict[str, int] = field(default_factory=dict)  # dials, numbers dialled twice, bridges, ...
    load_before: str = ""
    load_after: str = ""
    samples: list[Sample] = field(default_factory=list)
    objects_before: dict[str, int] = field(default_factory=dict)
    objects_after: dict[str, Any] = field(default_factory=dict)
    key_bytes: dict[str, float] = field(default_factory=dict)  # mean MEMORY USAGE per key group
    unbridged: dict[str, list[str]] = field(default_factory=dict)  # reason -> parties never bridged
    engine_log: str = ""  # keep the engine's log here (default: a temporary file)
    abandoned: set[str] = field(default_factory=set)  # call ids the engine recorded as abandoned


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text(encoding="ascii").split()[:3])


After = Callable[[SoakPbx, aioredis.Redis], Awaitable[None]]


async def soak(result: Soak, engine_args: list[str], after: After | None = None) -> Soak:
    """Run the plan in `result` (rate, minutes, agents, ...) and fill in its samples; `after` reads
    the PBX and Redis once every call has ended, before they stop (the chaos row counts there)."""
    result.load_before = loadavg()
    agents, fairness_minutes = result.agents, result.fairness_minutes
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp, PrivateRedis() as server:
        rules, log_path = Path(tmp) / "routing.yaml", Path(tmp) / "engine.log"
        write_rules(rules, agents, result.outbound_agents)
        if fairness_minutes:
            with rules.open("a", encoding="utf-8") as handle:
                handle.write(f"fairness: {{window_minutes: {fairness_minutes:g}}}\n")
        sim = SoakPbx(sim_config().model_copy(update={"customers": CUSTOMERS}), seed=10)
        port = await sim.start()
        client = aioredis.Redis.from_url(server.url)
        args = ["--ami-port", str(port), "--redis-url", server.url, "--rules", str(rules),
                "--leads", str(result.leads if result.outbound_agents else 0),
                "--ended-call-ttl", str(result.ended_call_ttl), *engine_args]  # fmt: skip
        with log_path.open("wb") as log:
            engine = EngineProcess(args, log)
            try:
                await _drive(result, sim, engine, client)
                if after is not None:
                    await after(sim, client)
            except Exception as exc:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{exc}; engine log ends with:\n{tail}") from exc
            finally:
                engine.stop()
                await sim.stop()
                await client.aclose()
                if result.engine_log:
                    shutil.copyfile(log_path, result.engine_log)
    result.load_after = loadavg()
    return result


async def _drive(result: Soak, sim: SoakPbx, engine: EngineProcess, client: aioredis.Redis) -> None:
    hello = await engine.read(timeout=120)
    if not hello.get("ready"):
        raise RuntimeError(f"the engine did not start: {hello}")
    result.objects_before = (await engine.ask("objects", timeout=120))["objects"]
    load = Load(sim, result.rate, result.callers)
    if result.outbound_agents:
        await engine.ask("outbound on", timeout=60)
    started, abandons = time.perf_counter(), AbandonLog()
    task = asyncio.create_task(load.run(result.minutes * 60))
    result.samples.append(await sample(engine, client, started, 0, sim.dialled))
    while not task.done():
        await asyncio.wait({task}, timeout=result.sample_s)
        if result.baseline_s and result.samples[-1].at < result.baseline_s <= time.perf_counter() - started:
            result.objects_before = (await engine.ask("baseline", timeout=120))["objects"]
        result.samples.append(await sample(engine, client, started, load.placed, sim.dialled))
        await abandons.poll(client)
        last = result.samples[-1]
        print(f"  {last.at:5.0f} s  {last.calls:6d} calls  {last.dials:6d} dials  RSS {last.rss_mib:6.1f} "
              f"MiB  Redis {last.redis_mib:6.2f} MiB  {last.keys} keys", file=sys.stderr)  # fmt: skip
    await task
    result.outbound = await wind_down(result, sim, engine, load.placed, client=client, abandons=abandons)
    result.objects_after = await engine.ask("objects", timeout=300)
    result.key_bytes = await key_sizes(client, result.samples[0].groups, result.samples[-1].groups)


async def wind_down(
    result: Soak, sim: SoakPbx, engine: EngineProcess, placed: int, *, client: aioredis.Redis,
    abandons: AbandonLog,
) -> dict[str, int]:  # fmt: skip
    """Stop dialling, let every call end, and count what the run's guarantees are about."""
    if result.outbound_agents:
        await engine.ask("outbound off", timeout=60)
    with contextlib.suppress(SimTimeoutError):
        await sim.wait_for_channel_count(0, timeout=PATIENCE_S + 30)
    left = len(sim.channels)
    dials = sim.dialled
    # Every party never bridged, from the PBX's records and the engine's (bench/chaos/ledger.py):
    # why each was not connected, so that none is left unexplained.
    await abandons.poll(client)
    result.abandoned = abandons.found | await abandon_records(client)
    result.unbridged = unbridged(sim.call_log, result.abandoned)
    found = {
        "inbound_calls": placed, "dials": dials, "numbers_dialled": len(sim.dials),
        "dialled_twice": sum(1 for n in sim.dials.values() if n > 1), "bridges": sim.bridges,
        "unbridged": sum(len(parties) for parties in result.unbridged.values()), "channels_left": left,
    }  # fmt: skip
    return found | {f"unbridged_{reason}": len(parties) for reason, parties in result.unbridged.items()}


async def key_sizes(
    client: aioredis.Redis, before: dict[str, int], after: dict[str, int]
) -> dict[str, float]:
    """Mean MEMORY USAGE of up to 20 keys of each group that grew, and of the agent records."""
    wanted = {group for group, count in after.items() if count > before.get(group, 0) or ":agent:" in group}
    sizes: dict[str, list[int]] = {group: [] for group in wanted}
    async for key in client.scan_iter(count=1000):
        group = pattern(key)
        if group in sizes and len(sizes[group]) < 20:
            sizes[group].append(int(await client.memory_usage(key) or 0))
    return {group: sum(found) / len(found) for group, found in sizes.items() if found}


def slope(samples: list[Sample], value: str) -> float:
    """Growth per minute: least squares over the samples after the first minute."""
    points = [(s.at / 60, float(getattr(s, value))) for s in samples if s.at >= 60] or [
        (s.at / 60, float(getattr(s, value))) for s in samples
    ]
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0


def per_call(samples: list[Sample], value: str, per: str = "calls") -> float:
    """Between the sample at one minute (or the first) and the last, per inbound call (`calls`),
    per customer dial (`dials`) or per both (`handled`)."""
    first = next((s for s in samples if s.at >= 60), samples[0])
    last = samples[-1]
    calls = _handled(last, per) - _handled(first, per)
    return (getattr(last, value) - getattr(first, value)) / calls if calls else 0.0


def _handled(point: Sample, per: str) -> int:
    return point.calls if per == "calls" else point.dials if per == "dials" else point.calls + point.dials


def half_slope(samples: list[Sample], value: str) -> float:
    """Growth per minute over the last half of the run (after the first half's filling)."""
    cut = samples[-1].at / 2
    return slope([s for s in samples if s.at >= cut] or samples, value)


def at_minute(samples: list[Sample], minute: float) -> Sample:
    """The sample nearest to `minute` into the run."""
    return min(samples, key=lambda s: abs(s.at - 60 * minute))


def grown(before: dict[str, int], after: dict[str, int], top: int = 8) -> str:
    diffs = Counter({name: count - before.get(name, 0) for name, count in after.items()})
    return ", ".join(f"{name} +{count}" for name, count in diffs.most_common(top) if count > 0) or "none"


def command_mix(samples: list[Sample], per: str = "calls") -> str:
    first = next((s for s in samples if s.at >= 60), samples[0])
    last = samples[-1]
    calls = max(1, _handled(last, per) - _handled(first, per))
    mix = Counter({name: n - first.commandstats.get(name, 0) for name, n in last.commandstats.items()
                   if name not in BENCH_COMMANDS})  # fmt: skip
    return ", ".join(f"{name} {n / calls:.1f}" for name, n in mix.most_common(12) if n > 0)


def unit_of(result: Soak) -> tuple[str, str]:
    """What the per-call rows divide by: inbound calls, customer dials, or both when both flow."""
    if result.outbound_agents and not result.rate:
        return "dials", "per outbound dial"
    if result.outbound_agents:
        return "handled", "per call handled (inbound call or outbound dial)"
    return "calls", "per inbound call"


def unbridged_why(result: Soak) -> str:
    """` (why: 3 caller-gave-up, ...)` for the row's detail; the full list goes to the JSON."""
    if not result.unbridged:
        return ""
    return " (" + ", ".join(f"{len(p)} {reason}" for reason, p in sorted(result.unbridged.items())) + ")"


def rows_of(result: Soak) -> list[Row]:
    samples = result.samples
    first, last = samples[0], samples[-1]
    per, unit = unit_of(result)
    out = result.outbound
    where = (f"{result.rate:g} calls/s for {result.minutes:g} min, {result.agents} agents; "
             f"outbound: {result.outbound_agents} agents, progressive; ended-call TTL "
             f"{result.ended_call_ttl or 86400} s; load average {result.load_before} -> {result.load_after}")
    return [
        row("soak: inbound calls placed", last.calls, "calls", detail=where),
        row("soak: outbound dials", out.get("dials", 0), "dials",
            detail=(f"{out.get('numbers_dialled', 0)} numbers, {out.get('dialled_twice', 0)} dialled twice; "
                    f"{out.get('bridges', 0)} bridges, {out.get('unbridged', 0)} calls never bridged"
                    f"{unbridged_why(result)}, {out.get('channels_left', 0)} channels left")),
        row("soak: engine RSS growth", slope(samples, "rss_mib"), "MiB/min",
            detail=f"RSS {first.rss_mib:.1f} -> {last.rss_mib:.1f} MiB; last half "
                   f"{half_slope(samples, 'rss_mib'):.3f} MiB/min"),
        row("soak: Redis used_memory growth", slope(samples, "redis_mib"), "MiB/min",
            detail=f"used_memory {first.redis_mib:.2f} -> {last.redis_mib:.2f} MiB; last half "
                   f"{half_slope(samples, 'redis_mib'):.3f} MiB/min"),
        row("soak: Redis key growth", slope(samples, "keys"), "keys/min",
            detail=f"{first.keys} -> {last.keys} keys; grew: {grown(first.groups, last.groups)}"),
        row(f"soak: Redis commands {unit}", per_call(samples, "commands", per), "commands",
            detail=f"per call: {command_mix(samples, per)}"),
        row(f"soak: Redis round trips {unit}", per_call(samples, "round_trips", per), "round trips",
            detail="writes of the engine's connections: one per command or pipeline"),
        row(f"soak: bytes written to Redis {unit}", per_call(samples, "net_in", per) / 1024, "KiB",
            detail="INFO stats total_net_input_bytes (this process's few reads included)"),
        row(f"soak: engine CPU {unit}", 1000 * per_call(samples, "cpu_s", per), "ms"),
        row("soak: Redis bytes per key (MEMORY USAGE, mean of 20)", 0, "",
            detail=", ".join(f"{group} {size:,.0f} B" for group, size in sorted(result.key_bytes.items()))),
        row("soak: engine objects that grew", 0, "",
            detail=grown(result.objects_before, result.objects_after.get("objects", {}))),
    ]  # fmt: skip


def compact(samples: list[Sample]) -> list[dict[str, Any]]:
    """The samples for the JSON: key groups and command counts only in the first and the last."""
    found = [asdict(s) for s in samples]
    for middle in found[1:-1]:
        del middle["groups"], middle["commandstats"]
    return found


def enough_leads(agents: int, minutes: float) -> int:
    """A dial holds its agent 2-4 s here (ring, hand-over, talk): one lead per agent per 2 s, and some."""
    return int(agents * minutes * 30 * 1.3) + 100


def summary(result: Soak) -> dict[str, float]:
    """The soak's headline numbers (the chaos suite's `soak` row carries them)."""
    samples, (per, _) = result.samples, unit_of(result)
    found: dict[str, float] = {}
    for minute in (0, 10, 20, 30):
        if minute == 0 or samples[-1].at >= 60 * minute - 30:
            point = at_minute(samples, minute)
            found[f"rss_mib_{minute}m"], found[f"redis_mib_{minute}m"] = point.rss_mib, point.redis_mib
    return {
        **found, "rss_mib_start": samples[0].rss_mib, "rss_mib_end": samples[-1].rss_mib,
        "redis_mib_start": samples[0].redis_mib, "redis_mib_end": samples[-1].redis_mib,
        "rss_slope": slope(samples, "rss_mib"), "rss_slope_last_half": half_slope(samples, "rss_mib"),
        "redis_slope": slope(samples, "redis_mib"), "redis_slope_last_half": half_slope(samples, "redis_mib"),
        "commands_per_call": per_call(samples, "commands", per),
        "round_trips_per_call": per_call(samples, "round_trips", per),
        "inbound_calls": float(samples[-1].calls), **{k: float(v) for k, v in result.outbound.items()},
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=20.0, help="inbound calls per second")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--agents", type=int, default=60, help="each call holds one for about 0.6 s")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--fairness-minutes", type=float, default=0, help="occupancy window (default: 60)")
    parser.add_argument("--baseline-after", type=float, default=0, help="seconds: growth counts from here")
    parser.add_argument("--callers", type=int, default=0, help="distinct callers, reused (default: all new)")
    parser.add_argument("--outbound-agents", type=int, default=0, help="agents of a progressive campaign")
    parser.add_argument("--leads", type=int, default=0, help="its leads (default: enough for the run)")
    parser.add_argument("--ended-call-ttl", type=int, default=0, help="seconds (default: the setting's 24 h)")
    parser.add_argument("--tracemalloc", action="store_true", help="also list the allocation sites that grew")
    parser.add_argument("--json", type=Path, help="write the samples and rows here")
    parser.add_argument("--engine-arg", action="append", default=[], help="passed to bench/engine_proc.py")
    parser.add_argument("--engine-log", type=Path, help="keep the engine's log in this file")
    parser.add_argument("--log-level", default="WARNING", help="the engine's (INFO: every call's steps)")
    args = parser.parse_args(argv)
    traced = ["--tracemalloc"] if args.tracemalloc else []
    engine_args = [*args.engine_arg, "--log-level", args.log_level, *traced]
    print(f"soak: {args.rate:g} calls/s for {args.minutes:g} min (answer {ANSWER_S:g} s, talk {TALK_S:g} s)",
          file=sys.stderr)  # fmt: skip
    leads = args.leads or enough_leads(args.outbound_agents, args.minutes)
    plan = Soak(args.rate, args.minutes, args.agents, args.sample, args.fairness_minutes, args.baseline_after,
                args.callers, args.outbound_agents, leads, args.ended_call_ttl,
                engine_log=str(args.engine_log or ""))  # fmt: skip
    result = asyncio.run(soak(plan, engine_args))
    rows = rows_of(result)
    print_table(rows, "Soak: what grows at a steady inbound rate")
    for item in rows:
        if item["detail"]:
            print(f"  {item['name']}: {item['detail']}")
    if "traced_kib" in result.objects_after:
        print(f"  traced by tracemalloc at the end: {result.objects_after['traced_kib']:,} KiB")
    for site in result.objects_after.get("malloc", []):
        print(f"  malloc +{site[1]} KiB, +{site[2]} blocks: {site[0]}")
    if args.json:
        why = {reason: {"meaning": UNBRIDGED_REASONS[reason], "parties": parties}
               for reason, parties in result.unbridged.items()}  # fmt: skip
        data = {"rows": rows, "outbound": result.outbound, "unbridged": why, "summary": summary(result),
                "samples": compact(result.samples)}  # fmt: skip
        args.json.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
