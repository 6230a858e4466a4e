"""Benchmark 3 (issue 6): the blacklist store, national list import and the dial gate.

Measured side by side in one run against a private redis-server:
- import of a generated raw national-format file (mixed `+36 30 123 4567`, `06301234567`,
  `0036301234567`, `06-30/123-4567`, ...) end to end, versus the same import normalising every
  line with phonenumbers (on the first `--peer-lines` lines: phonenumbers needs ~30 µs a line);
- Redis memory per number (INFO used_memory delta / numbers) of the packed list versus the
  naive SET of E.164 strings holding the same numbers;
- exact batch check rate (PackedStore.contains_many) versus SMISMEMBER on the naive SET, both
  through redis-py with batches of 1,000, and that both give the expected answer for every probe;
- single-number gate latency (Gate.check: one Lua round trip, audit on block) p50 / p99.

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from dialer.blacklist import PackedStore
from dialer.blacklist_import import import_list
from dialer.gate import Gate, GateMetrics
from dialer.numbers import reference_chunk
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
    return int((await redis.info("memory"))["used_memory"])


async def timed(action: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await action()
    return time.perf_counter() - started, result


def row(
    name: str, value: float, unit: str, target: str, met: bool, peer: tuple[str, float] | None = None
) -> dict[str, Any]:
    ratio = None if peer is None or not peer[1] else round(value / peer[1], 3)
    return {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "target": target,
        "peer": None if peer is None else {"name": peer[0], "value": round(peer[1], 3)},
        "ratio": ratio,
        "met": met,
    }


async def measure_import(
    redis: aioredis.Redis, path: Path, peer_path: Path, peer_lines: int
) -> dict[str, float]:
    before = await used_memory(redis)
    seconds, report = await timed(lambda: import_list(redis, path, LIST, "replace", "HU"))
    memory = await used_memory(redis) - before
    peer_seconds, peer_report = await timed(
        lambda: import_list(redis, peer_path, "peer", "replace", "HU", normalizer=reference_chunk)
    )
    assert peer_report.count == min(peer_lines, report.count)
    await PackedStore(redis).drop("peer", actor="bench", reason="peer run", now=datetime.now(UTC))
    return {
        "count": report.count,
        "rate": report.lines / seconds,
        "peer_rate": peer_report.lines / peer_seconds,
        "bytes": memory / report.count,
        "rejected": report.rejected,
    }


async def naive_set(redis: aioredis.Redis, count: int) -> float:
    """Bytes per number of the naive SET of E.164 strings holding the same numbers."""
    before = await used_memory(redis)
    pipe = redis.pipeline(transaction=False)
    for start in range(0, count, 10_000):
        pipe.sadd("naive", *[e164_at(i) for i in range(start, min(count, start + 10_000))])
        if len(pipe) >= 20:
            await pipe.execute()
    await pipe.execute()
    return (await used_memory(redis) - before) / count


def probes(count: int, size: int) -> tuple[list[str], list[bool]]:
    rng = random.Random(3)
    members = [e164_at(i) for i in rng.sample(range(count), size // 2)]
    others = [e164_at(i) for i in rng.sample(range(count, SPACE), size - size // 2)]
    numbers = [(n, True) for n in members] + [(n, False) for n in others]
    rng.shuffle(numbers)
    return [n for n, _ in numbers], [m for _, m in numbers]


async def check_rate(
    check: Callable[[Sequence[str]], Awaitable[list[Any]]], numbers: list[str]
) -> tuple[float, list[bool]]:
    answers: list[bool] = []
    started = time.perf_counter()
    for start in range(0, len(numbers), CHECK_BATCH):
        answers += [bool(a) for a in await check(numbers[start : start + CHECK_BATCH])]
    return len(numbers) / (time.perf_counter() - started), answers


async def gate_latency(redis: aioredis.Redis, numbers: list[str]) -> tuple[float, float, float]:
    gate = Gate(redis, GateMetrics(CollectorRegistry()), default_region="HU")
    now = datetime.now(UTC)
    times = []
    for number in numbers:
        started = time.perf_counter()
        await gate.check(number, "bench", "lead", now=now)
        times.append(time.perf_counter() - started)
    quantiles = statistics.quantiles(times, n=100)
    many_rate, _ = await check_rate(gate.check_many, numbers)
    return quantiles[49] * 1e6, quantiles[98] * 1e6, many_rate


async def measure(count: int, peer_lines: int, probe_count: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-blacklist-") as tmp, PrivateRedis() as server:
        path, peer_path = Path(tmp) / "national.txt", Path(tmp) / "peer.txt"
        generate(path, count)
        generate(peer_path, min(peer_lines, count))
        redis = aioredis.Redis.from_url(server.url)
        try:
            imported = await measure_import(redis, path, peer_path, peer_lines)
            naive_bytes = await naive_set(redis, count)
            numbers, truth = probes(count, probe_count)
            store = PackedStore(redis)
            naive_rate, naive_answers = await check_rate(
                lambda b: redis.smismember("naive", list(b)), numbers
            )
            ours_rate, our_answers = await check_rate(lambda b: store.contains_many(LIST, b), numbers)
            p50, p99, many_rate = await gate_latency(redis, numbers[:5000])
        finally:
            await redis.aclose()
    wrong = sum(a != t for a, t in zip(our_answers, truth, strict=True))
    wrong_naive = sum(a != t for a, t in zip(naive_answers, truth, strict=True))
    peer = ("phonenumbers per line", imported["peer_rate"])
    return [
        row(
            "blacklist import", imported["rate"], "numbers/s", ">= 300000", imported["rate"] >= 300_000, peer
        ),
        row(
            "blacklist import vs phonenumbers",
            imported["rate"] / imported["peer_rate"],
            "x",
            ">= 8",
            imported["rate"] >= 8 * imported["peer_rate"],
            peer,
        ),
        row(
            "blacklist memory",
            imported["bytes"],
            "B/number",
            "<= 8",
            imported["bytes"] <= 8,
            ("naive Redis SET of E.164", naive_bytes),
        ),
        row(
            "blacklist exact batch check",
            ours_rate,
            "checks/s",
            ">= 0.5x peer",
            ours_rate >= 0.5 * naive_rate and wrong == 0,
            ("SMISMEMBER", naive_rate),
        ),
        row("blacklist wrong answers", wrong, "answers", "== 0", wrong == 0 and wrong_naive == 0),
        row("gate check latency p50", p50, "us", "report", True),
        row("gate check latency p99", p99, "us", "<= 1000 (ours)", p99 <= 1000),
        row("gate check_many (API, all lists)", many_rate, "numbers/s", "report", True),
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
