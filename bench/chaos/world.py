"""One chaos row's world: a private Redis (persistent), the simulated PBX, the fault proxy on the AMI
link, and the engine as real `switchboard run` processes (so `kill -9` is real).

The PBX runs in this process and is the ground truth (pbx.sim call records, the Originates it got);
the engine is set up the way an operator would: settings, routing and campaign files, API tokens,
agents logged in and leads pushed over its HTTP API, the campaign started by a supervisor.
Every wait has a timeout and waits on a condition; nothing here decides a row's verdict.
"""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel

from bench.chaos.ledger import Counts, count
from bench.chaos.redis_procs import ChaosRedis, ChaosSentinels
from dialer.dialer_keys import DialKeys
from pbx.sim import AgentPhone, CallRecord, SimConfig, SimTimeoutError, SimulatedPbx
from pbx.sim.config import CustomerProfile, EventOrder
from pbx.sim.faultproxy import FaultProxy
from routing.acd.acd_keys import AcdKeys
from switchboard.private_redis import free_port
from switchboard.private_sentinels import HOST, MASTER_NAME
from switchboard.settings import AmiSection

USER, SECRET = "chaos", "chaos-secret"
TOKEN = "chaos-supervisor-token-0123456789"
CAMPAIGN = "chaos"
SLOW_AGENT = "2002"  # the outbound agent who answers after the 2 s grace: abandons, Redirects, Hangups
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Plan:
    """Sizes and timings of one row (seconds are real seconds: the PBX runs at time scale 1)."""

    traffic_s: float  # inbound arrivals and the campaign run this long
    inbound_per_s: float
    repeats: int  # how many times a repeated fault is injected
    gap_s: float  # between two injections
    patience_s: float = 9.0  # a waiting caller (or an answered customer on hold) hangs up after this
    talk_s: tuple[float, float] = (1.5, 3.0)
    inbound_agents: int = 6
    outbound_agents: int = 3
    leads: int = 300
    outage_s: float = 3.0  # Redis frozen / stopped this long
    soak_minutes: float = 30.0  # the `soak` row (bench/chaos/soak_row.py), full run only
    ping_s: float = 2.0  # the engine's AMI keepalive (ami.ping_interval); stalls outlast it
    action_timeout_s: float = 3.0
    ping_timeout_s: float | None = None  # the keepalive Ping's reply timeout (None: the action timeout)

    def __post_init__(self) -> None:
        # A caller who arrives when an outage starts must still be there when it ends: a call that
        # began and ended wholly inside a blackout is invisible to any engine, and is not the
        # engine's loss to count.
        if self.patience_s < self.stall_s + 2 or self.patience_s < self.outage_s + 2:
            raise ValueError(f"patience_s {self.patience_s:g} must outlast the stall ({self.stall_s:g} s) "
                             f"and the Redis outage ({self.outage_s:g} s) by 2 s")  # fmt: skip

    @property
    def drain_s(self) -> float:
        return self.patience_s + self.talk_s[1] + 10.0

    @property
    def stall_s(self) -> float:
        return self.ping_s + self.action_timeout_s + 2.0


QUICK = Plan(traffic_s=6.0, inbound_per_s=1.0, repeats=2, gap_s=2.0)
FULL = Plan(traffic_s=90.0, inbound_per_s=2.0, repeats=10, gap_s=5.0)


def event_orders() -> dict[str, Any]:
    """The simulator's other Asterisk 22 event orders (SimConfig.order), each at probability 0.5."""
    return {"order": EventOrder.every_order(0.5)}


def sim_config(plan: Plan, *, orders: bool = False) -> SimConfig:
    customers = CustomerProfile(
        answer=0.85, busy=0.15, noanswer=0, congestion=0, machine=0, reject=0, ring_s=(0.3, 1.0),
        signal_s=(0.1, 0.3), talk_s=plan.talk_s, patience_s=(plan.patience_s, plan.patience_s),
    )  # fmt: skip
    return SimConfig(
        users={USER: SECRET}, time_scale=1.0, default_agent=AgentPhone(answer_after_s=0.3),
        agents={SLOW_AGENT: AgentPhone(answer_after_s=3.0)}, customers=customers, amd_s=(0.2, 0.4),
        playback_s=0.5, event_history=0, **(event_orders() if orders else {}),
    )  # fmt: skip


def rules_yaml(plan: Plan) -> str:
    lines = [
        "version: 1", "default_tier: active", "tiers:", "  - {name: active, priority: 40}",
        "skills:", "  - {name: support}", "  - {name: sales}", "queues:",
        "  - {name: support, skill: support, level: 1, wrap_up_seconds: 0, ring_timeout_seconds: 6}",
        "  - {name: sales, skill: sales, level: 1, wrap_up_seconds: 0, ring_timeout_seconds: 6}", "agents:",
    ]  # fmt: skip
    lines += [f'  - {{id: "{1000 + i}", name: A{i}, interface: PJSIP/{1000 + i}, skills: {{support: 3}}}}'
              for i in range(plan.inbound_agents)]  # fmt: skip
    lines += [f'  - {{id: "{2000 + i}", name: S{i}, interface: PJSIP/{2000 + i}, skills: {{sales: 3}}}}'
              for i in range(plan.outbound_agents)]  # fmt: skip
    return "\n".join(lines) + "\n"


def campaigns_yaml() -> str:
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    hours = "\n".join(f'      {day}: ["00:00-23:59"]' for day in days)
    # Every retry delay is hours: any number the PBX sees twice within a row was dialed twice early.
    return (
        "version: 1\ncampaigns:\n  - id: chaos\n    name: Chaos\n    mode: progressive\n"
        "    dial_string: PJSIP/{number}@trunk\n    queue: sales\n    ring_timeout_s: 10\n"
        f"    calling_hours:\n{hours}\n      closed_on_holidays: false\n"
        "    caps:\n      retry_after: {busy: 1h, no_answer: 1h, congestion: 1h, failed: 1h,"
        " answering_machine: 1h, abandoned: 72h}\n"
    )


def settings_yaml(plan: Plan, *, ami_port: int, redis: dict[str, Any], http_port: int, engine_id: str) -> str:
    """The engine's settings file; `redis` is `{"redis": {"url": ...}}` or `{"sentinel": {...}}`.
    Each engine keeps its `engine.id` across restarts, as a deployed engine does (docs/reliability.md):
    a restarted engine knows its own calls and lease at once.
    A keepalive with its own reply timeout (ami.ping_timeout, where the engine has it) gets the
    action timeout unless the plan names one, so every stall (Plan.stall_s) outlasts the keepalive."""
    ami: dict[str, Any] = {
        "host": "127.0.0.1", "port": ami_port, "username": USER, "secret": SECRET, "connect_timeout": 2,
        "action_timeout": plan.action_timeout_s, "reconnect_min": 0.2, "reconnect_max": 1.0,
        "ping_interval": plan.ping_s,
    }  # fmt: skip
    if "ping_timeout" in AmiSection.model_fields:
        ami["ping_timeout"] = plan.ping_timeout_s or plan.action_timeout_s
    return json.dumps({
        "ami": ami,
        **redis,
        "http": {"host": "127.0.0.1", "port": http_port, "tokens_file": "tokens.yaml"},
        "engine": {"id": engine_id},
        "rules": {"routing": "routing.yaml", "campaigns": "campaigns.yaml"},
        "log": {"format": "json", "level": "INFO"},
    })  # fmt: skip  (JSON is YAML)


def compile_engine() -> None:
    """Bytecode for the engine's packages, as a deployed engine has it (pip compiles what it installs
    into the image): with PYTHONDONTWRITEBYTECODE set, as in many development shells, each restarted
    engine would compile ~200 modules again (0.2-0.3 s of CPU) before it can be ready."""
    for package in ("core", "pbx", "routing", "dialer", "switchboard"):
        compileall.compile_dir(ROOT / package, quiet=1)


class EngineProcess:
    """`python -m switchboard run --settings FILE` as a child process, restartable."""

    def __init__(self, settings: Path, log: Path, http_port: int, engine_id: str) -> None:
        self.settings, self.log, self.http_port, self.engine_id = settings, log, http_port, engine_id
        self.process: subprocess.Popen[bytes] | None = None
        self.spawned_at = 0.0

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0

    @property
    def instance_id(self) -> str:
        """How the engine names itself in Redis (its `engine.id`)."""
        return self.engine_id

    def spawn(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "switchboard", "run", "--settings", str(self.settings)],
                stdout=out, stderr=out, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        self.spawned_at = time.monotonic()

    async def wait_ready(self, timeout: float, *, since: float | None = None) -> float | None:
        """Seconds from spawn (or `since`, a monotonic time) until /readyz answers 200 (AMI logged in,
        Redis up); None on timeout or when the process is gone."""
        since = self.spawned_at if since is None else since
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    return None
                with contextlib.suppress(httpx.HTTPError):
                    reply = await client.get(f"http://127.0.0.1:{self.http_port}/readyz")
                    if reply.status_code == 200:
                        return time.monotonic() - since
                await asyncio.sleep(0.05)  # polling: /readyz is the engine's only readiness signal
        return None

    def freeze(self) -> None:
        """SIGSTOP: the process keeps its sockets and its beliefs, and runs on after `thaw`."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def kill9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


class World:
    """Redis, PBX, proxy and engines of one row; `async with World(plan, engines=n)`."""

    def __init__(
        self,
        plan: Plan,
        *,
        engines: int = 1,
        seed: int = 10,
        log_dir: Path | None = None,
        orders: bool = False,
        sentinel: bool = False,
    ) -> None:
        self.plan, self.seed = plan, seed
        self._engine_count = engines
        self._tmp = tempfile.TemporaryDirectory(prefix="chaos-")
        self.dir = Path(self._tmp.name)
        self.log_dir = log_dir or self.dir
        self.sentinels = ChaosSentinels() if sentinel else None
        self.redis_server = self.sentinels.primary if self.sentinels is not None else ChaosRedis()
        self.sim = SimulatedPbx(sim_config(plan, orders=orders), seed=seed)
        self.proxy: FaultProxy | None = None
        self.engines: list[EngineProcess] = []
        self.redis: aioredis.Redis | None = None
        self._callers = 0
        self.redis_down = False

    async def __aenter__(self) -> World:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        await asyncio.to_thread(compile_engine)
        if self.sentinels is not None:
            await asyncio.to_thread(self.sentinels.start)
            addresses = [(HOST, port) for port in self.sentinels.ports]
            self.redis = Sentinel(addresses, socket_timeout=1.0).master_for(MASTER_NAME, socket_timeout=2.0)
        else:
            await asyncio.to_thread(self.redis_server.start)
            self.redis = aioredis.from_url(self.redis_server.url)
        await self.sim.start()
        self.proxy = FaultProxy("127.0.0.1", self.sim.port, seed=self.seed)
        await self.proxy.start()
        (self.dir / "routing.yaml").write_text(rules_yaml(self.plan))
        (self.dir / "campaigns.yaml").write_text(campaigns_yaml())
        (self.dir / "tokens.yaml").write_text(
            f"tokens:\n  - {{name: chaos, role: supervisor, token: {TOKEN}}}\n"
            f"  - {{name: chaos-crm, role: admin, token: {TOKEN}-crm}}\n"
        )
        for index in range(self._engine_count):
            self.add_engine(index)
        first = self.engines[0]
        first.spawn()
        if await first.wait_ready(60) is None:
            raise RuntimeError(f"the engine did not become ready; log: {self.tail(first)}")
        await self.setup(first)
        for engine in self.engines[1:]:
            engine.spawn()
            if await engine.wait_ready(60) is None:
                raise RuntimeError(f"engine {engine.pid} did not become ready; log: {self.tail(engine)}")

    def add_engine(self, index: int) -> EngineProcess:
        assert self.proxy is not None
        http_port = free_port()
        settings = self.dir / f"settings-{index}.yaml"
        redis: dict[str, Any] = {"redis": {"url": self.redis_server.url}}
        if self.sentinels is not None:
            redis = {"sentinel": {"addresses": self.sentinels.addresses, "master_name": MASTER_NAME}}
        engine_id = f"chaos-engine-{index}"
        text = settings_yaml(
            self.plan, ami_port=self.proxy.port, redis=redis, http_port=http_port, engine_id=engine_id
        )
        settings.write_text(text)
        engine = EngineProcess(settings, self.log_dir / f"engine-{index}.log", http_port, engine_id)
        self.engines.append(engine)
        return engine

    def tail(self, engine: EngineProcess, size: int = 1500) -> str:
        with contextlib.suppress(OSError):
            return engine.log.read_text(errors="replace")[-size:]
        return "(no log)"

    async def api(self, method: str, path: str, body: Any = None, *, crm: bool = False) -> httpx.Response:
        """One API request to the first engine that answers (a killed one is skipped)."""
        headers = {"Authorization": f"Bearer {TOKEN}-crm" if crm else f"Bearer {TOKEN}"}
        last: Exception | None = None
        for engine in self.engines:
            url = f"http://127.0.0.1:{engine.http_port}{path}"
            try:
                async with httpx.AsyncClient(timeout=10.0) as client:
                    reply = await client.request(method, url, json=body, headers=headers)
            except httpx.HTTPError as exc:
                last = exc
                continue
            reply.raise_for_status()
            return reply
        raise RuntimeError(f"no engine answered {method} {path}: {last}")

    async def setup(self, engine: EngineProcess) -> None:
        plan = self.plan
        agents = [str(1000 + i) for i in range(plan.inbound_agents)]
        agents += [str(2000 + i) for i in range(plan.outbound_agents)]
        for agent in agents:
            await self.api("POST", f"/api/v1/acd/agents/{agent}/login")
        leads = [{"lead_id": f"L{i}", "customer_id": f"C{i}", "name": f"Customer {i}",
                  "phones": [outbound_number(i)], "crm": {}} for i in range(plan.leads)]  # fmt: skip
        if leads:
            await self.api("POST", "/api/v1/leads:bulk", {"campaign_id": CAMPAIGN, "leads": leads}, crm=True)
        await self.api("POST", f"/api/v1/campaigns/{CAMPAIGN}/start", {"reason": "chaos"})

    # -- traffic -----------------------------------------------------------------------------------
    async def inbound_traffic(self, seconds: float) -> int:
        """Callers at `plan.inbound_per_s`, evenly spaced, each with its own number."""
        rate, started = self.plan.inbound_per_s, time.monotonic()
        placed = 0
        while (due := started + placed / rate) < started + seconds:
            await asyncio.sleep(max(0.0, due - time.monotonic()))  # the arrival schedule itself
            await self.arrival()
            placed += 1
        return placed

    async def arrival(self) -> str:
        """One inbound caller now, with its own number; returns the caller's channel."""
        self._callers += 1
        talk = self.sim.rng.uniform(*self.plan.talk_s)
        number = f"+3670{self._callers:07d}"
        return await self.sim.inbound_call(caller=number, patience_s=self.plan.patience_s, talk_s=talk)

    async def finish(self) -> None:
        """Undo any fault still on, stop dialing, and let every call end (or time out)."""
        assert self.proxy is not None
        self.proxy.disarm()
        self.proxy.reorder(0.0)
        if self.redis_down:
            await asyncio.to_thread(self.redis_server.start)
            self.redis_down = False
        with contextlib.suppress(Exception):
            await self.api("POST", f"/api/v1/campaigns/{CAMPAIGN}/pause", {"reason": "chaos row over"})
        with contextlib.suppress(SimTimeoutError):
            await self.sim.wait_for_channel_count(0, timeout=self.plan.drain_s)

    # -- counting ----------------------------------------------------------------------------------
    def parties(self) -> list[CallRecord]:
        """The PBX's party records; a party still on the line gets its call id from its channel."""
        live = self.sim.channels
        found = []
        for record in self.sim.call_log:
            channel = live.get(record.channel) if record.ended is None else None
            call_id = channel.variables.get("SWITCHBOARD_CALL_ID", "") if channel is not None else ""
            found.append(replace(record, call_id=call_id) if channel is not None else record)
        return found

    def customer_dials(self) -> list[str]:
        """Every customer number the PBX was asked to dial (agents' extensions have no `+`)."""
        return [number for number in self.sim.originated_numbers() if number.startswith("+")]

    async def abandon_records(self) -> set[str]:
        assert self.redis is not None
        return await abandon_records(self.redis)

    async def count(self, grace_s: float = 3.0) -> Counts:
        """The row's counts. The engine writes an abandon record just after the hang-up it saw, so a
        party that looks lost is given `grace_s` for its record to land before it is counted lost."""
        parties, dials = self.parties(), self.customer_dials()
        deadline = time.monotonic() + grace_s
        while True:
            counts = count(parties, dials, await self.abandon_records())
            if counts.lost == 0 or time.monotonic() > deadline:
                return counts
            await asyncio.sleep(0.1)  # polling Redis: the engine's writes have no notification

    async def close(self) -> None:
        for engine in self.engines:  # the row is counted: no need to wait for a graceful stop
            await asyncio.to_thread(engine.kill9)
        if self.proxy is not None:
            await self.proxy.stop()
        await self.sim.stop()
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.aclose()
        if self.sentinels is not None:
            await asyncio.to_thread(self.sentinels.stop)
        else:
            await asyncio.to_thread(self.redis_server.stop)
        self._tmp.cleanup()


async def abandon_records(redis: aioredis.Redis) -> set[str]:
    """Call ids the engine recorded as abandoned (or routed out): ACD events, dial attempts."""
    found: set[str] = set()
    entries: list[tuple[Any, dict[bytes, bytes]]] = await redis.xrange(AcdKeys().events)  # type: ignore[assignment]
    for _id, fields in entries:
        found.update(abandoned_call(fields))
    async for key in redis.scan_iter(DialKeys().number_attempts("*")):
        members: list[bytes] = await redis.zrange(key, 0, -1)  # type: ignore[assignment]
        for member in members:
            call_id, _, rest = member.decode().partition("|")
            if rest.split("|", 1)[0] == "abandoned":
                found.add(call_id)
    return found


def abandoned_call(fields: dict[bytes, bytes]) -> set[str]:
    """The call id of an ACD event that records an abandon (or a routing out); empty otherwise."""
    if fields.get(b"type") not in (b"abandoned", b"routed_out"):
        return set()
    with contextlib.suppress(ValueError, AttributeError, KeyError):
        return {str(json.loads(fields[b"data"]).get("call_id", ""))}
    return set()


class AbandonLog:
    """The ACD's abandon records read as they are written: its event stream is capped (10,000
    entries), so a run longer than a few minutes loses its first records before it ends."""

    def __init__(self) -> None:
        self.found: set[str] = set()
        self._last = b""

    async def poll(self, redis: aioredis.Redis) -> None:
        while True:
            start = b"(" + self._last if self._last else b"-"
            entries: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(  # type: ignore[assignment]
                AcdKeys().events, min=start, count=5000
            )
            if not entries:
                return
            for _id, fields in entries:
                self.found.update(abandoned_call(fields))
            self._last = entries[-1][0]


def outbound_number(index: int) -> str:
    return f"+3630{index:07d}"
