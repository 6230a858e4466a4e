"""The fault classes of the chaos suite: what each injects, and the times it measures.

Each class is a `FaultClass` in `FAULTS` (insertion order is the table's order). Its `inject`
runs while the row's traffic flows and returns an `Injected`: how many faults went in, the engine's
time to ready after each restart, the failover times, and extra columns. `supported()` returns a
reason when the engine under test lacks the feature (the row then says "not supported by this
engine" instead of failing), so rows light up when the branches that add them merge.

Hook for other rows (the soak, bench/chaos/soak_row.py): `register(FaultClass(...))` with
`full_only=True` and `own_world` when it runs its own processes; what it measures (RSS, Redis
memory) goes in `Injected.extra` (the JSON and the table's detail), its own misses in `missed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

import httpx
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bench.chaos.ledger import Counts
from bench.chaos.redis_procs import ChaosRedis
from bench.chaos.world import EngineProcess, Plan, World
from pbx.sim.faultproxy import ENGINE_ACTIONS
from routing.acd.acd_keys import AcdKeys
from switchboard.settings import Settings

GARBAGE = (
    b"\x00\xff\xfe binary noise\r\n\r\n",
    b"this line has no colon\r\nEvent: \r\n\r\n",
    b"Response: Success\r\nActionID: nobody-asked-for-this\r\nMessage: stray\r\n\r\n",
    b"Event: UserEvent\r\nUserEvent: SwitchboardInbound\r\nCallID: \r\n\r\n",
    b"Event: Hangup\r\nChannel: PJSIP/none-00000000\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\nCause: x\r\n\r\n",
)


@dataclass
class Injected:
    count: int = 0
    ready_s: list[float] = field(default_factory=list)  # engine restart -> /readyz 200
    failover_s: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)
    unsupported: str | None = None  # found out while running: the engine lacks the feature
    missed: list[str] = field(default_factory=list)  # targets of the row's own (e.g. the soak's slopes)


Inject = Callable[[World, Plan], Awaitable[Injected]]
OwnWorld = Callable[[Plan], Awaitable[tuple[Counts, Injected]]]


@dataclass(frozen=True)
class FaultClass:
    name: str
    title: str
    inject: Inject
    supported: Callable[[], str | None] = lambda: None
    engines: int = 1
    sentinel: bool = False  # Redis behind a primary, a replica and three Sentinels
    full_only: bool = False
    sim_orders: bool = False  # the simulator delivers Asterisk 22's other event orders too
    own_world: OwnWorld | None = None  # runs its own processes and traffic instead of a World's (soak)
    plan_for: Callable[[Plan], Plan] = lambda plan: plan  # the row's own timings, if it needs any


FAULTS: dict[str, FaultClass] = {}


def register(fault: FaultClass) -> FaultClass:
    FAULTS[fault.name] = fault
    return fault


# -- the AMI link ------------------------------------------------------------------------------------
async def _reconnected(world: World, timeout: float) -> None:
    """Until the engine is logged in again (its /readyz says so), or `timeout`."""
    for engine in world.engines:
        if engine.process is not None and engine.process.poll() is None:
            await engine.wait_ready(timeout, since=time.monotonic())


def cut_after(action: str, *, force_login: bool = False) -> Inject:
    async def inject(world: World, plan: Plan) -> Injected:
        assert world.proxy is not None
        proxy, done, name = world.proxy, Injected(), action.lower()
        deadline = time.monotonic() + plan.traffic_s
        for _ in range(plan.repeats):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            before = proxy.stats.cuts[name]
            proxy.cut_after(name)
            if force_login:
                await proxy.drop(count=False)  # the engine reconnects and logs in: that Login is cut
                await world.arrival()  # a caller comes in while the link is down
            cut = await proxy.wait_until(lambda: proxy.stats.cuts[name] > before, left)  # noqa: B023
            proxy.disarm()
            if not cut:
                done.notes.append(f"no {action} passed within the traffic window")
                break
            done.count += 1
            await _reconnected(world, 20.0)
            if done.count < plan.repeats:
                await asyncio.sleep(plan.gap_s)  # spacing between two faults, part of the schedule
        return done

    return inject


async def stall(world: World, plan: Plan) -> Injected:
    assert world.proxy is not None
    done = Injected()
    for index in range(max(1, plan.repeats // 2)):
        if index:
            await asyncio.sleep(plan.gap_s)
        await world.proxy.stall(plan.stall_s)
        done.count += 1
        await _reconnected(world, 20.0)
    return done


LATE_BY_S = 1.0  # a late Bridge's answer comes this long after the engine's action timeout


def keepalive_waits_for_late_answers(plan: Plan) -> Plan:
    """The keepalive's Ping may wait through a late answer (and its ping interval): the link stays up."""
    return replace(plan, ping_timeout_s=plan.ping_s + plan.action_timeout_s + LATE_BY_S + 2.0)


async def late_bridge(world: World, plan: Plan) -> Injected:
    """A Bridge answered after the engine's action timeout over a link that stays up: a stall armed
    on the next Bridge, longer than the action timeout and shorter than the Ping's reply timeout.
    No reconnect, so no resync: the engine must follow Asterisk's BridgeEnter."""
    assert world.proxy is not None
    proxy, done = world.proxy, Injected()
    deadline = time.monotonic() + plan.traffic_s
    for _ in range(plan.repeats):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        stalls, connections = proxy.stats.stalls, proxy.stats.connections
        proxy.stall_at("Bridge", plan.action_timeout_s + LATE_BY_S)
        if not await proxy.wait_until(lambda: proxy.stats.stalls > stalls, left):  # noqa: B023
            proxy.disarm()
            done.notes.append("no Bridge passed within the traffic window")
            break
        await proxy.gate()  # until the stall is over and the Bridge reaches the PBX
        done.count += 1
        if proxy.stats.connections != connections:
            done.notes.append("the link was dropped during a late Bridge (a resync settled it)")
        if done.count < plan.repeats:
            await asyncio.sleep(plan.gap_s)  # spacing between two faults, part of the schedule
    return done


async def garbage(world: World, plan: Plan) -> Injected:
    assert world.proxy is not None
    done, started = Injected(), time.monotonic()
    while time.monotonic() - started < plan.traffic_s:
        for blob in GARBAGE:
            world.proxy.inject(blob)
            done.count += 1
        await asyncio.sleep(plan.gap_s / 2)
    return done


async def reorder(world: World, plan: Plan) -> Injected:
    assert world.proxy is not None
    world.proxy.reorder(0.5)
    await asyncio.sleep(plan.traffic_s)  # reordering stays on for the whole traffic window
    world.proxy.reorder(0.0)
    orders = getattr(world.sim.config, "order", None)
    notes = [f"simulator event orders: {orders!r}" if orders is not None else "simulator has no event orders"]
    return Injected(count=world.proxy.stats.swaps, notes=notes)


# -- the engine process ------------------------------------------------------------------------------
async def kill9(world: World, plan: Plan) -> Injected:
    """Kill -9 and restart at once; ready = spawn -> /readyz, and `owner_s_max` = kill -> the
    restarted engine owns the ACD again (its lease under a new token: it acts on calls)."""
    done, engine = Injected(), world.engines[0]
    owner_s: list[float] = []
    for _ in range(plan.repeats):
        await asyncio.sleep(plan.gap_s)
        token = await _lease_token(world)
        killed = time.monotonic()
        await asyncio.to_thread(engine.kill9)
        done.count += 1
        await world.arrival()  # a caller comes in while no engine runs
        engine.spawn()
        ready = await engine.wait_ready(30.0)
        if ready is None:
            done.notes.append(f"not ready 30 s after restart {done.count}: {world.tail(engine, 300)}")
            done.ready_s.append(float("inf"))
            break
        done.ready_s.append(ready)
        owned = await _owned_again(world, token, killed)
        owner_s.append(owned)
        done.notes.append(f"kill -> ready {time.monotonic() - killed:.2f} s, owns the ACD {owned:.2f} s")
    if owner_s:
        done.extra["owner_s_max"] = round(max(owner_s), 3)
    return done


async def _lease_token(world: World) -> int:
    assert world.redis is not None
    value = await world.redis.get(AcdKeys().owner)
    text = value.decode() if isinstance(value, bytes) else str(value or "")
    return int(text.split(":", 1)[0]) if text else 0


async def _owned_again(world: World, token: int, since: float, timeout: float = 30.0) -> float:
    """Seconds from `since` until the ACD's lease holds a token above `token` (inf: not within timeout)."""
    while time.monotonic() - since < timeout:
        if await _lease_token(world) > token:
            return time.monotonic() - since
        await asyncio.sleep(0.05)  # polling Redis: a lease change has no notification
    return float("inf")


# -- Redis -------------------------------------------------------------------------------------------
async def redis_freeze(world: World, plan: Plan) -> Injected:
    done = Injected()
    for _ in range(max(1, plan.repeats // 2)):
        await asyncio.sleep(plan.gap_s)
        world.redis_server.pause()
        try:
            await asyncio.sleep(plan.outage_s)  # the outage's length
        finally:
            world.redis_server.resume()
        done.count += 1
    return done


async def redis_restart(world: World, plan: Plan) -> Injected:
    done = Injected()
    for _ in range(max(1, plan.repeats // 2)):
        await asyncio.sleep(plan.gap_s)
        world.redis_down = True
        await asyncio.to_thread(world.redis_server.halt)
        await asyncio.sleep(plan.outage_s)  # the outage's length
        await asyncio.to_thread(world.redis_server.start)
        world.redis_down = False
        ready = await world.engines[0].wait_ready(30.0, since=time.monotonic())
        done.ready_s.append(float("inf") if ready is None else ready)
        done.count += 1
    return done


def sentinel_supported() -> str | None:
    if "sentinel" not in Settings.model_fields:
        return "not supported by this engine (no Redis Sentinel settings)"
    return None


async def sentinel_failover(world: World, plan: Plan) -> Injected:
    """Kill -9 the primary; failover = until the engine's first write lands on the promoted replica
    (an ACD event in its stream: the traffic writes one about every second, which bounds the error)."""
    assert world.sentinels is not None
    done, sentinels = Injected(), world.sentinels
    await asyncio.sleep(plan.gap_s)
    old = await asyncio.to_thread(sentinels.primary_port)
    killed_wall, killed = time.time(), time.monotonic()
    await asyncio.to_thread(sentinels.server(old or sentinels.primary.port).kill)
    done.count = 1
    while time.monotonic() - killed < 30.0:
        port = await asyncio.to_thread(sentinels.primary_port)
        if port is not None and port != old:
            done.notes.append(f"sentinels promoted the replica after {time.monotonic() - killed:.2f} s")
            written = await _first_write_after(sentinels.server(port), killed_wall, killed + 30.0)
            done.failover_s.append(float("inf") if written is None else written - killed_wall)
            return done
        await asyncio.sleep(0.1)  # polling the sentinels: a promotion has no notification here
    done.failover_s.append(float("inf"))
    done.notes.append("the sentinels never promoted the replica")
    return done


async def _first_write_after(server: ChaosRedis, since_wall: float, deadline: float) -> float | None:
    """The wall time of the first ACD event written to `server` after `since_wall`, or None."""
    client = aioredis.from_url(server.url, socket_timeout=1.0)
    try:
        while time.monotonic() < deadline:
            with contextlib.suppress(RedisError, OSError):
                last = await client.xrevrange(AcdKeys().events, count=1)
                if last:
                    entry_id = last[0][0]
                    text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                    stamp = int(text.split("-")[0]) / 1000
                    if stamp > since_wall:
                        return stamp
            await asyncio.sleep(0.05)  # polling: the engine's writes have no notification
    finally:
        await client.aclose()
    return None


# -- two engines -------------------------------------------------------------------------------------
LEASE_WORDS = ("leader", "owner", "lease", "fenc")


async def owned_keys(world: World, instance: str) -> dict[str, str]:
    """The leases this engine instance holds: string keys named like a lease (leader, owner, lease,
    fencing) whose value names the instance, or whose value is the instance id itself. Call records
    that merely mention an instance (its agent legs) are not leases."""
    assert world.redis is not None
    found = {}
    async for raw in world.redis.scan_iter(count=1000):
        key = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        with contextlib.suppress(Exception):
            value = await world.redis.get(raw)
            text = value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")
            if text == instance or (instance in text and any(word in key for word in LEASE_WORDS)):
                found[key] = text
    return found


async def owner_killed(world: World, plan: Plan) -> Injected:
    """Kill -9 whichever engine owns something; failover = until the survivor owns all of it."""
    done = Injected()
    await asyncio.sleep(plan.gap_s)
    owner = survivor = None
    for engine in world.engines:
        leases = await owned_keys(world, engine.instance_id)
        if leases and owner is None:
            owner, owned = engine, leases
    if owner is None:
        done.unsupported = "not supported by this engine (no lease in Redis names an engine)"
        return done
    survivor = next(engine for engine in world.engines if engine is not owner)
    killed = time.monotonic()
    await asyncio.to_thread(owner.kill9)
    done.count = 1
    done.notes.append(f"owner held {sorted(owned)}")
    while time.monotonic() - killed < 3 * 5.0:
        taken = await owned_keys(world, survivor.instance_id)
        if set(owned) <= set(taken):
            done.failover_s.append(time.monotonic() - killed)
            return done
        await asyncio.sleep(0.05)  # polling Redis: a lease change has no notification
    done.failover_s.append(float("inf"))
    return done


async def owner_frozen(world: World, plan: Plan) -> Injected:
    """SIGSTOP the owner past its lease; the other engine takes over; SIGCONT. The woken engine must
    act on no call (pbx.client fences Originate, Bridge, Redirect, Hangup): the ledger's drops,
    double dials and wrong abandons say whether it did; `fenced` counts what it held back."""
    done = Injected()
    await asyncio.sleep(plan.gap_s)
    owner = None
    for engine in world.engines:
        if owner is None and await owned_keys(world, engine.instance_id):
            owner = engine
    if owner is None:
        done.unsupported = "not supported by this engine (no lease in Redis names an engine)"
        return done
    survivor = next(engine for engine in world.engines if engine is not owner)
    token, frozen = await _lease_token(world), time.monotonic()
    owner.freeze()
    done.count = 1
    done.failover_s.append(await _owned_again(world, token, frozen, timeout=15.0))
    await asyncio.sleep(plan.gap_s)  # the survivor serves while the old owner stays frozen
    owner.thaw()
    await asyncio.sleep(plan.gap_s)  # the woken engine's chance to act wrongly, under traffic
    done.extra["fenced"] = await _metric_sum(owner, "switchboard_ami_actions_total", 'result="fenced"')
    holder = await owned_keys(world, survivor.instance_id)
    done.notes.append(f"frozen {time.monotonic() - frozen:.1f} s; then the survivor held {sorted(holder)}")
    return done


async def _metric_sum(engine: EngineProcess, name: str, label: str) -> float:
    """The sum of a counter's samples with `label` from the engine's /metrics (0 when unreadable)."""
    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient(timeout=5.0) as client:
            text = (await client.get(f"http://127.0.0.1:{engine.http_port}/metrics")).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name) and label in line)  # fmt: skip
    return 0.0


def _none(world: World, plan: Plan) -> Awaitable[Injected]:
    async def nothing() -> Injected:
        return Injected()

    return nothing()


register(FaultClass("baseline", "no fault (the instrument's control row)", _none))
for _action in ENGINE_ACTIONS[:-1]:  # Login has a row of its own below
    _title = f"AMI cut right after the engine sends {_action}"
    register(FaultClass(f"ami-cut-{_action.lower()}", _title, cut_after(_action)))
_title = "AMI cut right after the engine sends Login (a reconnect forced first)"
register(FaultClass("ami-cut-login", _title, cut_after("Login", force_login=True)))
register(FaultClass("ami-stall", "AMI stalled longer than the keepalive", stall))
_title = "a Bridge answered after the action timeout, the AMI link kept up (no resync)"
register(FaultClass("ami-late-bridge", _title, late_bridge, plan_for=keepalive_waits_for_late_answers))
register(FaultClass("ami-garbage", "garbage bytes in the engine-bound stream", garbage))
register(FaultClass("ami-reorder", "events of one call reordered (proxy swaps; the sim's orders if any)",
                    reorder, sim_orders=True))  # fmt: skip
register(FaultClass("engine-kill9", "kill -9 of the engine, restarted at once (repeatedly)", kill9))
register(FaultClass("redis-freeze", "Redis frozen (SIGSTOP / SIGCONT)", redis_freeze))
register(FaultClass("redis-restart", "Redis stopped and restarted (AOF persistence)", redis_restart))
register(FaultClass("sentinel-failover", "Redis primary killed -9, Sentinel fails over", sentinel_failover,
                    sentinel_supported, sentinel=True))  # fmt: skip
register(FaultClass("two-engines-owner-killed", "two engines, the owner killed -9", owner_killed, engines=2))
_title = "two engines, the owner frozen (SIGSTOP) past its lease, then woken"
register(FaultClass("two-engines-owner-frozen", _title, owner_frozen, engines=2))
