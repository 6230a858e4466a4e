"""Benchmark 8 (issue 15 part 4): national-list checks and inbound routing on a 3-shard Redis Cluster
against one Redis, same client, same machine, side by side.

- national-list checks: `Gate.check` (internal list + a national list of `LIST_SIZE` numbers, every
  key in the `{gate}` slot), `WORKERS` concurrent checks for `seconds`;
- inbound routing: the ACD store's Redis work for one call offered at once (`arrival`: CRM record
  and case number; `reserve`: the caller stored with its agent; `commit`: the call ended, the agent
  ready again), three ACDs side by side (tags chosen so each serves from another shard), each agent
  of its own worker.

Each row reports calls (checks) per second through this one Python client and, from each server's
`INFO cpu`, how the Redis CPU spread over the shards: `total / busiest` is how many times one
Redis's capacity the cluster offers when Redis, not the client, is the limit (1.0 for work that
lives in one slot). The machine's cores are shared by the client and every server, so the measured
rate is bounded by the client; the spread is the figure that carries to a real cluster.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import redis as sync_redis
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from redis.asyncio.cluster import RedisCluster

from bench.report import Row, percentiles, row
from core.lease import Lease
from dialer.lists.gate import Gate, GateMetrics
from dialer.lists.store import InternalList, PackedStore
from routing.acd.acd_keys import AcdKeys
from routing.acd.calls import ActiveCall, CallFacts, CallState
from routing.acd.store import AcdStore, Change
from routing.acd.timers import Timer, TimerKind
from routing.agent_events import AgentState
from routing.agents import AgentStatus
from routing.queue import WaitingCall
from switchboard.private_cluster import PrivateCluster
from switchboard.private_redis import PrivateRedis

WORKERS = 24
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
Work = Callable[[int, int], Awaitable[None]]  # (worker, iteration)


def _numbers(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"+3630{rng.randrange(10**7):07d}" for _ in range(count)]


async def _load_lists(redis: Any, listed: list[str]) -> None:
    for start in range(0, len(listed), 20_000):
        await PackedStore(redis).add("hu-robinson", listed[start : start + 20_000])
    await InternalList(redis).add(listed[0], reason="do_not_call", actor="bench", now=NOW)


async def _run(work: Work, seconds: float) -> tuple[int, list[float]]:
    """WORKERS loops of `work` for `seconds`: how many ran and each one's latency (s)."""
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []

    async def loop(worker: int) -> None:
        iteration = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await work(worker, iteration)
            latencies.append(time.perf_counter() - started)
            iteration += 1

    await asyncio.gather(*(loop(worker) for worker in range(WORKERS)))
    return len(latencies), latencies


def _cpu(ports: Sequence[int]) -> list[float]:
    """Each server's CPU seconds so far (user + system, main thread and children)."""
    seconds = []
    for port in ports:
        with sync_redis.Redis("127.0.0.1", port) as client:
            info: dict[str, Any] = client.info("cpu")
            seconds.append(float(info["used_cpu_user"]) + float(info["used_cpu_sys"]))
    return seconds


async def _measured(work: Work, seconds: float, ports: Sequence[int]) -> dict[str, float]:
    await _run(work, min(0.5, seconds / 4))  # warm up: scripts loaded, connections open
    before = _cpu(ports)
    started = time.perf_counter()
    count, latencies = await _run(work, seconds)
    elapsed = time.perf_counter() - started
    used = [after - first for after, first in zip(_cpu(ports), before, strict=True)]
    p50, p99 = percentiles(latencies, 50, 99)
    busiest = max(used) or 1e-9
    return {"rate": count / elapsed, "p50_ms": p50 * 1000, "p99_ms": p99 * 1000,
            "cpu_us": sum(used) / count * 1e6, "spread": sum(used) / busiest}  # fmt: skip


def _gate_work(gate: Gate, probes: list[str]) -> Work:
    async def check(worker: int, iteration: int) -> None:
        number = probes[(worker * 7919 + iteration) % len(probes)]
        await gate.check(number, None, None, now=NOW)

    return check


async def gate_figures(redis: Any, ports: Sequence[int], list_size: int, seconds: float) -> dict[str, float]:
    listed = _numbers(list_size, 1)
    await _load_lists(redis, listed)
    probes = listed[:500] + _numbers(500, 2)  # half of them listed
    gate = Gate(redis, GateMetrics(CollectorRegistry()), default_region="HU")
    return await _measured(_gate_work(gate, probes), seconds, ports)


def acd_tags(client: RedisCluster | None, count: int = 3) -> list[str]:
    """`count` ACD tags whose slots are served by different shards (any tags on one Redis)."""
    if client is None:
        return [f"acd-{i}" for i in range(count)]
    chosen: dict[str, str] = {}
    for i in range(1000):
        tag = f"acd-{i}"
        node = client.get_node_from_key(AcdKeys(tag=tag).base)
        if node is not None and node.name not in chosen:
            chosen[node.name] = tag
        if len(chosen) == count:
            break
    return list(chosen.values())


def _call(acd: int, worker: int, iteration: int, at: float) -> ActiveCall:
    call_id = f"bench-{acd}-{worker}-{iteration}"
    waiting = WaitingCall(call_id, "support", "active", 1, (("support", 1),), at, at)
    facts = CallFacts(
        "", f"{at}.{worker}", f"PJSIP/trunk-{worker}", "+36301234567", "+36301234567", "1800", "2"
    )
    return ActiveCall(waiting, facts)


def _inbound_work(stores: list[AcdStore]) -> Work:
    """One call offered at once on ACD (worker % 3): arrival, reserve with its agent, end."""

    async def route(worker: int, iteration: int) -> None:
        store, at = stores[worker % len(stores)], time.time()
        agent = f"a{worker}"
        _, case_id = await store.arrival("+36301234567", at)
        call = _call(worker % len(stores), worker, iteration, at)
        offered = call.with_facts(state=CallState.OFFERED, agent_id=agent, case_id=case_id)
        ringing = AgentStatus(agent, AgentState.RINGING, at, at, call_id=call.id)
        timer = Timer(TimerKind.RING, agent, at + 20, call.id)
        if not await store.reserve(ringing, offered, timer, arrived=True):
            raise RuntimeError(f"agent {agent} was not ready for {call.id}")
        ready = AgentStatus(agent, AgentState.READY, at, at)
        await store.commit(Change(statuses=[ready], ended=[offered], cancelled_timers=[timer.key]))

    return route


async def inbound_figures(
    redis: Any, tags: list[str], ports: Sequence[int], seconds: float
) -> dict[str, float]:
    """As the engine runs it: each ACD's writes fenced by its owner lease (one script each)."""
    stores = []
    for tag in tags:
        keys = AcdKeys(tag=tag)
        lease = Lease(redis, keys.owner, engine_id=f"bench-{tag}", role="acd", ttl_s=600.0, renew_s=60.0)
        if not await lease.acquire():
            raise RuntimeError(f"the bench could not take the lease of {tag}")
        stores.append(AcdStore(cast(aioredis.Redis, redis), keys, lease=lease))
    for worker in range(WORKERS):
        store = stores[worker % len(stores)]
        await store.commit(Change(statuses=[AgentStatus(f"a{worker}", AgentState.READY, 1.0, 1.0)]))
        await redis.hset(store.keys.crm_customer("+36301234567"), mapping={"segment": "gold"})
    return await _measured(_inbound_work(stores), seconds, ports)


async def measure(list_size: int, seconds: float) -> dict[str, dict[str, float]]:
    figures: dict[str, dict[str, float]] = {}
    with PrivateRedis() as single:
        client = aioredis.Redis.from_url(single.url)
        try:
            figures["gate_one"] = await gate_figures(client, [single.port], list_size, seconds)
            figures["inbound_one"] = await inbound_figures(client, acd_tags(None), [single.port], seconds)
        finally:
            await client.aclose()
    with PrivateCluster(3) as cluster:
        ports = [node.port for node in cluster.nodes]
        cluster_client = RedisCluster.from_url(cluster.url)
        await cluster_client.initialize()
        try:
            figures["gate_three"] = await gate_figures(cluster_client, ports, list_size, seconds)
            tags = acd_tags(cluster_client)
            figures["inbound_three"] = await inbound_figures(cluster_client, tags, ports, seconds)
        finally:
            await cluster_client.aclose()
    return figures


def _detail(f: dict[str, float], what: str) -> str:
    return (f"{what}; p50 {f['p50_ms']:.2f} ms, p99 {f['p99_ms']:.2f} ms; Redis CPU {f['cpu_us']:.0f} us "
            f"each, spread over shards (total / busiest) {f['spread']:.2f}")  # fmt: skip


def _capacity(f: dict[str, float]) -> float:
    """Calls (checks) per second when the busiest shard's core is the limit: 1 s / its CPU per call."""
    return 1e6 * f["spread"] / f["cpu_us"]


def rows_of(f: dict[str, dict[str, float]], list_size: int) -> list[Row]:
    gate_what = f"Gate.check, internal + a national list of {list_size:,} numbers, {WORKERS} concurrent"
    inbound_what = f"arrival + reserve + end per call, 3 ACDs (one {{acd-n}} tag each), {WORKERS} concurrent"
    bound = "1 s / the busiest shard's Redis CPU per {}: the rate when Redis, not this client, is the limit"
    rows: list[Row] = []
    for kind, what, unit, name in (("gate", gate_what, "checks/s", "national-list checks"),
                                   ("inbound", inbound_what, "calls/s", "inbound routing")):  # fmt: skip
        one, three = f[f"{kind}_one"], f[f"{kind}_three"]
        where = "; every {gate} key on one shard" if kind == "gate" else ", one ACD per shard"
        rows += [
            row(f"{name}, 1 Redis", one["rate"], unit, detail=_detail(one, what)),
            row(f"{name}, 3-shard cluster", three["rate"], unit, peer=("1 Redis", one["rate"]),
                detail=_detail(three, what + where)),
            row(f"{name}: Redis-bound capacity, 3 shards", _capacity(three), unit, target="report",
                peer=("1 Redis", _capacity(one)), detail=bound.format("check" if kind == "gate" else "call")),
        ]  # fmt: skip
    return rows


def run(quick: bool) -> list[Row]:
    list_size, seconds = (50_000, 2.0) if quick else (1_000_000, 8.0)
    return rows_of(asyncio.run(measure(list_size, seconds)), list_size)


if __name__ == "__main__":
    import sys

    from bench.report import print_table

    print_table(run("--quick" in sys.argv), "Redis Cluster: 3 shards vs 1")
