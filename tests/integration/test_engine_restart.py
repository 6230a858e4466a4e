"""A restarted engine takes its own lease back at once; a second live process with its id is refused.

Real `switchboard run` processes (so `kill -9` is real) on a private Redis and the simulated PBX
over TCP. The lease TTL is long here (20 s): a restart that waited for its previous run's lease to
run out would take that long, so "at once" is told apart from "after the TTL" without timing
guesses. core/engine_run.py judges the previous run; core/lease.py takes its lease back.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from core.engine_run import EngineRun, RunIdentity
from core.errors import DuplicateEngineError
from core.lease import Lease
from pbx.sim import SimConfig, SimulatedPbx
from routing.acd.acd_keys import AcdKeys
from switchboard.private_redis import PrivateRedis, free_port
from switchboard.runtime import EXAMPLE_CONFIG

pytestmark = pytest.mark.integration
SECRET = "restart-secret"
TTL_S = 20.0
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedPbx]:
    pbx = SimulatedPbx(SimConfig(users={"switchboard": SECRET}))
    await pbx.start()
    try:
        yield pbx
    finally:
        await pbx.stop()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait(10)


def settings_file(
    tmp_path: Path, name: str, redis: PrivateRedis, sim: SimulatedPbx, **engine: object
) -> Path:
    rules = tmp_path / "routing.yaml"
    if not rules.exists():
        shutil.copy(EXAMPLE_CONFIG / "routing.yaml", rules)
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps({  # JSON is YAML
        "ami": {"port": sim.port, "secret": SECRET, "reconnect_min": 0.1},
        "redis": {"url": redis.url},
        "http": {"port": free_port()},
        "rules": {"routing": str(rules)},
        "engine": {"lease_ttl": TTL_S, "lease_renew": 1.0, **engine},
    }))  # fmt: skip
    return path


def spawn(settings: Path, log: Path, started: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "switchboard", "run", "--settings", str(settings)],
            stdout=out, stderr=out, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    started.append(process)
    return process


async def lease_becomes(redis: aioredis.Redis, value: str, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if await redis.get(AcdKeys().owner) == value.encode():
                return
            await asyncio.sleep(0.02)  # polling Redis: another process writes the lease


async def test_a_restarted_engine_takes_its_own_lease_back_at_once(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, sim: SimulatedPbx, tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:  # fmt: skip
    """With the default engine id (host and HTTP port): the same across the restart."""
    settings, log = settings_file(tmp_path, "engine", redis_server, sim), tmp_path / "engine.log"
    engine_id = f"{socket.gethostname()}-{json.loads(settings.read_text())['http']['port']}"
    first = spawn(settings, log, processes)
    await lease_becomes(redis_client, f"1:{engine_id}", timeout=30)

    first.send_signal(signal.SIGKILL)
    first.wait(10)
    killed = time.monotonic()
    spawn(settings, log, processes)
    await lease_becomes(redis_client, f"2:{engine_id}", timeout=TTL_S)
    took = time.monotonic() - killed
    assert took < TTL_S / 2, f"owned {took:.1f} s after the kill: it waited for the old lease instead"
    assert "its previous run" in log.read_text(), "the restart was recognised as one"
    record = json.loads(await redis_client.get(AcdKeys().engine_run(engine_id)) or "{}")
    assert record["pid"] == processes[-1].pid, "the run record is the new process's"


async def test_a_second_live_process_with_the_same_id_is_refused(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, sim: SimulatedPbx, tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:  # fmt: skip
    one = settings_file(tmp_path, "one", redis_server, sim, id="sb-1")
    first = spawn(one, tmp_path / "one.log", processes)
    await lease_becomes(redis_client, "1:sb-1", timeout=30)

    second_log = tmp_path / "two.log"
    second = spawn(settings_file(tmp_path, "two", redis_server, sim, id="sb-1"), second_log, processes)
    assert await asyncio.to_thread(second.wait, 30) != 0, "the second process refused to start"
    assert "engine id 'sb-1' is in use by another running process" in second_log.read_text()
    assert f"pid {first.pid}" in second_log.read_text(), "the message names the process running it"
    assert first.poll() is None and await redis_client.get(AcdKeys().owner) == b"1:sb-1", "the first owns on"


async def test_a_run_on_another_host_is_judged_by_its_renewals(redis_client: aioredis.Redis) -> None:
    """Not checkable from here: renewed -> a live duplicate; left to run out -> dead, ours after."""
    key = AcdKeys().engine_run("sb-1")
    me = RunIdentity.of_this_process()
    elsewhere = replace(me, run="elsewhere", host="another-host", pid=1)

    async def renewing() -> None:
        while True:
            await asyncio.sleep(0.2)  # the other host's renewal period
            await redis_client.set(key, elsewhere.json(), px=500)

    await redis_client.set(key, elsewhere.json(), px=500)

    renewer = asyncio.create_task(renewing())
    try:
        with pytest.raises(DuplicateEngineError, match="on host another-host"):
            await EngineRun(redis_client, key, engine_id="sb-1", ttl_s=0.5, me=me).claim()
    finally:
        renewer.cancel()
    run = EngineRun(redis_client, key, engine_id="sb-1", ttl_s=0.5, me=me)
    await run.claim()  # the record is no longer renewed: it runs out, then it is ours
    assert not run.takeover, "not proven dead: its lease is left to run out, not taken back"
    assert RunIdentity.parse(await redis_client.get(key) or b"") == me

    await redis_client.set(key, b"not a run record", px=300)  # unreadable: judged like another host's
    await EngineRun(redis_client, key, engine_id="sb-1", ttl_s=0.5, me=me).claim()
    assert RunIdentity.parse(await redis_client.get(key) or b"") == me


async def test_taking_back_never_takes_another_engines_lease(redis_client: aioredis.Redis) -> None:
    key = AcdKeys().owner
    await redis_client.set(key, b"7:sb-2", px=20_000)
    await redis_client.hset(f"{key}:meta", mapping={"token": 7, "holder": "sb-2"})
    lease = Lease(redis_client, key, engine_id="sb-1", role="acd", ttl_s=3.0, renew_s=1.0)
    assert not await lease.take_back(), "sb-2's lease stays sb-2's until it runs out"
    assert await redis_client.get(key) == b"7:sb-2"
    await redis_client.set(key, b"7:sb-1", px=20_000)  # this engine's previous run, proven dead
    assert await lease.take_back() and await redis_client.get(key) == b"8:sb-1", "the next token"


async def test_a_restarted_container_takes_its_record_at_once_and_a_recreated_one_waits(
    redis_client: aioredis.Redis,
) -> None:
    """Docker restarts a crashed container in a new PID namespace, its engine PID 1 again: the same
    container id and an earlier init prove the old start gone. A re-created container (a new id)
    proves nothing: its predecessor's record is watched (renewed here: a live duplicate)."""
    key = AcdKeys().engine_run("sb-1")
    me = replace(
        RunIdentity.of_this_process(), pidns="pid:[4026532500]", pid=1, container="c0ffee", init_start=9000
    )
    earlier = replace(me, run="earlier", pidns="pid:[4026532400]", start=5000, init_start=5000)
    await redis_client.set(key, earlier.json(), px=int(TTL_S * 1000))

    run = EngineRun(redis_client, key, engine_id="sb-1", ttl_s=TTL_S, me=me)
    async with asyncio.timeout(TTL_S / 4):  # at once, not after the 20 s TTL
        await run.claim()
    assert run.takeover, "proven dead: its lease may be taken back at once"
    assert RunIdentity.parse(await redis_client.get(key) or b"") == me

    recreated = replace(me, run="new", pidns="pid:[4026532600]", container="beef", init_start=9900)
    with pytest.raises(DuplicateEngineError, match="sb-1"):
        async with asyncio.timeout(TTL_S / 4):  # the record is renewed (by `run`): alive, refused
            renewing = asyncio.create_task(run.run(0.05))
            try:
                await EngineRun(redis_client, key, engine_id="sb-1", ttl_s=0.5, me=recreated).claim()
            finally:
                renewing.cancel()
