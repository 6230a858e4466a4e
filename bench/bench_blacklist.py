"""Benchmark 3 (issue 6): the blacklist store, national list import and the dial gate.

Measured side by side in one run against a private redis-server:
- import of a generated raw national-format file (mixed `+36 30 123 4567`, `06301234567`,
  `0036301234567`, `06-30/123-4567`, ...) end to end, versus the same import normalising every
  line with phonenumbers (on the first 1M lines, 200k with --quick: it needs ~30 µs a line);
- Redis memory per number (INFO used_memory delta / numbers) of the packed list versus the
  naive SET of E.164 strings holding the same numbers;
- exact batch check rate (PackedStore.contains_many) versus SMISMEMBER on the naive SET, both
  through redis-py with batches of 1,000, and that both give the expected answer for every probe;
- single-number gate latency (Gate.check: one Lua round trip, audit on block) p50 / p99, and its
  p50 for a campaign that needs consent (the register read in the same Lua call).

    python bench/bench_blacklist.py              # 10M numbers (a few minutes)
    python bench/bench_blacklist.py --quick      # 200k numbers
`run(quick)` returns the rows for scripts/bench.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from dialer.consent.store import ConsentStore
from dialer.lists.fast_numbers import reference_chunk
from dialer.lists.gate import Gate, GateMetrics
from dialer.lists.importer import import_list
from dialer.lists.store import PackedStore
from switchboard.private_redis import PrivateRedis

SPACE = 5 * 10**7  # Hungarian mobile numbers: 5 prefixes x 10**7
PREFIXES = ("20", "30", "31", "50", "70")
STEP, OFFSET = 7_919_337, 1_234_567  # x -> (STEP * i + OFFSET) % SPACE is a permutation of the space
FORMATS = (
    "+36 {p} {a} {b}",
    "06{p}{a}{b}",
    "0036{p}{a}{b}",
    "06-{p}/{a}-{b}",
    "+36{p}{a}{b}",
    "36{p}{a}{b}",
    "06 {p} {a} {b}",
    "(06 {p}) {a}-{b}",
)
LIST = "hu-robinson"
CHECK_BATCH = 1000


def number_at(index: int) -> tuple[str, str]:
    """The index-th distinct generated number as (prefix, 7 subscriber digits)."""
    x = (STEP * index + OFFSET) % SPACE
    return PREFIXES[x // 10**7], f"{x % 10**7:07d}"


def e164_at(index: int) -> str:
    prefix, sub = number_at(index)
    return f"+36{prefix}{sub}"


def generate(path: Path, count: int) -> None:
    """`count` distinct numbers, one a line, in the national formats cycled."""
    with path.open("w") as handle:
        for start in range(0, count, 100_000):
            lines = []
            for index in range(start, min(count, start + 100_000)):
                prefix, sub = number_at(index)
                fmt = FORMATS[index % len(FORMATS)]
                lines.append(fmt.format(p=prefix, a=sub[:3], b=sub[3:]) + "\n")
            handle.writelines(lines)


async def used_memory(redis: aioredis.Redis) -> int:
    """used_memory once background frees (UNLINK of a replaced list) are done."""
    for _ in range(1000):
        info = await redis.info("memory")
        if not int(info.get("lazyfree_pending_objects", 0)):
            return int(info["used_memory"])
        await asyncio.sleep(0.01)  # polling the server's own counter; nothing to await instead
    raise RuntimeError("redis kept freeing in the background")


def row(name: str, value: float, unit: str, target: str, met: bool, **peer: Any) -> dict[str, Any]:
    """One result row; `peer=(name, value)` and `ratio=` when there is a peer."""
    other: tuple[str, float] | None = peer.get("peer")
    ratio = peer.get("ratio", None if other is None or not other[1] else value / other[1])
    return {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "target": target,
        "peer": None if other is None else {"name": other[0], "value": round(other[1], 3)},
        "ratio": None if ratio is None else round(ratio, 3),
        "met": met,
    }


async def import_rate(redis: aioredis.Redis, path: Path, name: str, **options: Any) -> tuple[float, int]:
    started = time.perf_counter()
    report = await import_list(redis, path, name, "replace", "HU", **options)
    return report.lines / (time.perf_counter() - started), report.count


async def naive_set(redis: aioredis.Redis, count: int) -> None:
    """The naive SET of E.164 strings holding the same numbers."""
    pipe = redis.pipeline(transaction=False)
    for start in range(0, count, 10_000):
        pipe.sadd("naive", *[e164_at(i) for i in range(start, min(count, start + 10_000))])
        if len(pipe) >= 20:
            await pipe.execute()
    await pipe.execute()


def probes(count: int, size: int) -> tuple[list[str], list[bool]]:
    rng = random.Random(3)
    members = [e164_at(i) for i in rng.sample(range(count), size // 2)]
    others = [e164_at(i) for i in rng.sample(range(count, SPACE), size - size // 2)]
    numbers = [(n, True) for n in members] + [(n, False) for n in others]
    rng.shuffle(numbers)
    return [n for n, _ in numbers], [m for _, m in numbers]


Check = Callable[[Sequence[str]], Awaitable[list[Any]]]


async def check_rate(check: Check, numbers: list[str]) -> tuple[float, list[bool]]:
    answers: list[bool] = []
    started = time.perf_counter()
    for start in range(0, len(numbers), CHECK_BATCH):
        answers += [bool(a) for a in await check(numbers[start : start + CHECK_BATCH])]
    return len(numbers) / (time.perf_counter() - started), answers


async def best_rates(
    checks: dict[str, Check], numbers: list[str], truth: list[bool]
) -> dict[str, tuple[float, int]]:
    """Best-of-3 rate of each check, run interleaved (the machine is noisy), and its wrong answers."""
    best: dict[str, tuple[float, int]] = {}
    for _ in range(3):
        for name, check in checks.items():
            rate, answers = await check_rate(check, numbers)
            wrong = sum(a != t for a, t in zip(answers, truth, strict=True))
            best[name] = (max(rate, best.get(name, (0.0, 0))[0]), max(wrong, best.get(name, (0.0, 0))[1]))
    return best


async def blocked(verdicts: Awaitable[list[Any]]) -> list[bool]:
    return [verdict.blocked for verdict in await verdicts]


def _quantiles(times: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(times, n=100)
    return cuts[49] * 1e6, cuts[98] * 1e6


async def gate_latency(
    redis: aioredis.Redis, gate: Gate, numbers: list[str], consent_purpose: str | None = None
) -> dict[str, float]:
    """Gate.check p50/p99 (µs), and a bare PING's through the same client, interleaved, for scale.
    `consent_purpose`: as for a campaign that needs consent (the same Lua call reads the register)."""
    now = datetime.now(UTC)
    gate_times, ping_times = [], []
    for number in numbers:
        started = time.perf_counter()
        await gate.check(number, "bench", "lead", now=now, consent_purpose=consent_purpose, call_id="bench")
        gate_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        await redis.ping()
        ping_times.append(time.perf_counter() - started)
    (p50, p99), (ping50, ping99) = _quantiles(gate_times), _quantiles(ping_times)
    return {"p50": p50, "p99": p99, "ping50": ping50, "ping99": ping99}


async def consent_gate_latency(redis: aioredis.Redis, gate: Gate, numbers: list[str]) -> dict[str, float]:
    """Gate.check latency for a campaign that needs consent, every probe number consented."""
    now = datetime.now(UTC)
    given = (now - timedelta(days=1)).isoformat()
    consents = ConsentStore(redis, default_region="HU")
    items = [
        {"customer_id": "bench", "number": n, "purpose": "marketing", "source": "bench", "given_at": given}
        for n in numbers
    ]
    report = await consents.give_many(items, actor="bench", now=now)
    assert not report.errors, report.errors[:3]
    return await gate_latency(redis, gate, numbers, consent_purpose="marketing")


async def measure_store(
    redis: aioredis.Redis, path: Path, peer_path: Path, count: int, probe_count: int
) -> dict[str, Any]:
    before = await used_memory(redis)
    figures: dict[str, Any] = {}
    figures["rate"], stored = await import_rate(redis, path, LIST)
    figures["bytes"] = (await used_memory(redis) - before) / stored
    before = await used_memory(redis)
    await naive_set(redis, count)
    figures["naive_bytes"] = (await used_memory(redis) - before) / count
    numbers, truth = probes(count, probe_count)
    store = PackedStore(redis)
    gate = Gate(redis, GateMetrics(CollectorRegistry()), default_region="HU")
    figures["checks"] = await best_rates(
        {
            "naive": lambda b: redis.smismember("naive", list(b)),
            "ours": lambda b: store.contains_many(LIST, b),
            "gate": lambda b: blocked(gate.check_many(b)),
        },
        numbers,
        truth,
    )
    figures.update(await gate_latency(redis, gate, numbers[:5000]))
    figures["consent"] = await consent_gate_latency(redis, gate, numbers[:5000])
    figures["peer_rate"], _ = await import_rate(redis, peer_path, "peer", normalizer=reference_chunk)
    return figures


async def measure(count: int, peer_lines: int, probe_count: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-blacklist-") as tmp, PrivateRedis() as server:
        path, peer_path = Path(tmp) / "national.txt", Path(tmp) / "peer.txt"
        generate(path, count)
        generate(peer_path, min(peer_lines, count))
        redis = aioredis.Redis.from_url(server.url)
        try:
            f = await measure_store(redis, path, peer_path, count, probe_count)
        finally:
            await redis.aclose()
    rows = rows_of(f)
    for r in rows:  # per-bucket overhead only amortises over millions: say at what size it ran
        r["name"] = f"{r['name']} ({count:,} numbers)" if count != 10_000_000 else r["name"]
        r["scale"] = count
    return rows


def rows_of(f: dict[str, Any]) -> list[dict[str, Any]]:
    peer = ("phonenumbers per line (same import)", f["peer_rate"])
    (ours, wrong), (naive, naive_wrong), (gate, gate_wrong) = (
        f["checks"][k] for k in ("ours", "naive", "gate")
    )
    speedup = f["rate"] / f["peer_rate"]
    return [
        row("blacklist import", f["rate"], "numbers/s", ">= 300000", f["rate"] >= 300_000, peer=peer),
        row("blacklist import vs phonenumbers", speedup, "x", ">= 8", speedup >= 8, peer=peer, ratio=speedup),
        row(
            "blacklist memory",
            f["bytes"],
            "B/number",
            "<= 8",
            f["bytes"] <= 8,
            peer=("naive Redis SET of E.164", f["naive_bytes"]),
        ),
        row(
            "blacklist exact batch check",
            ours,
            "checks/s",
            ">= 0.5x peer",
            ours >= 0.5 * naive and not wrong,
            peer=("SMISMEMBER on the naive SET", naive),
        ),
        row(
            "blacklist wrong answers",
            wrong + gate_wrong,
            "answers",
            "== 0",
            not (wrong or gate_wrong or naive_wrong),
        ),
        row("gate check latency p50", f["p50"], "us", "report", True, peer=("redis-py PING", f["ping50"])),
        row("gate check latency p99", f["p99"], "us", "report", True, peer=("redis-py PING", f["ping99"])),
        row("gate check_many (API, all lists)", gate, "numbers/s", "report", True),
        row(
            "gate check latency p50, consent needed",
            f["consent"]["p50"],
            "us",
            "report",
            True,
            peer=("gate check latency p50", f["p50"]),
        ),
    ]


def run(quick: bool, numbers: int | None = None) -> list[dict[str, Any]]:
    count = numbers or (200_000 if quick else 10_000_000)
    peer_lines = min(count, 200_000 if quick else 1_000_000)
    return asyncio.run(measure(count, peer_lines, 20_000 if quick else 100_000))


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'figure':36} {'value':>14} {'unit':10} {'target':16} {'peer':>14} {'ratio':>8}  met")
    for r in rows:
        peer = "" if r["peer"] is None else f"{r['peer']['value']:,.1f}"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(
            f"{r['name']:36} {r['value']:>14,.1f} {r['unit']:10} {r['target']:16} {peer:>14} {ratio:>8}  "
            f"{'yes' if r['met'] else 'NO'}"
        )
    for r in rows:
        if r["peer"] is not None:
            print(f"  peer of {r['name']!r}: {r['peer']['name']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=None, help="list size (default 10,000,000)")
    parser.add_argument("--quick", action="store_true", help="200,000 numbers")
    args = parser.parse_args()
    print_table(run(args.quick, args.numbers))


if __name__ == "__main__":
    main()
