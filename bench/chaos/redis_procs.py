"""The chaos suite's Redis servers: private child processes on free loopback ports, never the
machine's own Redis.

- `ChaosRedis`: one redis-server with every write appended and fsynced (AOF, `appendfsync always`)
  to its own temp dir, so `halt()` then `start()` brings it back on the same port with its data;
  `pause()` / `resume()` freeze it (SIGSTOP / SIGCONT); `kill()` is a crash.
- `ChaosSentinels`: a primary, its replica and three Sentinels (`redis-server --sentinel`, quorum 2,
  short timeouts so a failover takes a few seconds). `start()` returns once the replica is in sync
  and every sentinel knows the replica and the other two.
Readiness of a child process has no signal: it is polled, with a deadline.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import redis

from switchboard.private_redis import INSTALL_HINT, free_port

HOST = "127.0.0.1"
MASTER_NAME = "switchboard"


def _binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError(f"redis-server is not installed; {INSTALL_HINT}")
    return found


def _until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.05)  # polling a child process that has no readiness signal


def _pong(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")
    return False


class ChaosRedis:
    """A persistent, restartable private redis-server (see the module docstring)."""

    def __init__(self, *, args: Sequence[str] = ()) -> None:
        self.port = free_port(HOST)
        self._args = tuple(args)
        self._dir = tempfile.TemporaryDirectory(prefix="chaos-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 15.0) -> ChaosRedis:
        folder = self._dir.name
        command = [
            _binary(), "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "yes",
            "--appendfsync", "always", "--dir", folder, "--logfile", str(Path(folder) / "redis.log"),
            *self._args,
        ]  # fmt: skip
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _until(lambda: _pong(self.port) or not self.running, timeout, f"redis-server on port {self.port}")
        if not self.running:
            raise RuntimeError(f"redis-server on port {self.port} exited at start (see {folder}/redis.log)")
        return self

    def halt(self) -> None:
        """SIGTERM (the AOF is complete: every write was fsynced); the data dir stays."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: a crash."""
        self._end(signal.SIGKILL)

    def _end(self, how: signal.Signals) -> None:
        if self._process is not None and self._process.poll() is None:
            self.resume()  # a frozen process never handles SIGTERM
            self._process.send_signal(how)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)

    def pause(self) -> None:
        if self.running and self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.running and self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        self.halt()
        self._dir.cleanup()


class ChaosSentinels:
    """A primary, its replica and three Sentinels watching them (see the module docstring)."""

    def __init__(self, *, down_after_ms: int = 1000, failover_timeout_ms: int = 5000) -> None:
        self.primary = ChaosRedis()
        self.replica = ChaosRedis(args=("--replicaof", HOST, str(self.primary.port)))
        self.ports = [free_port(HOST) for _ in range(3)]
        self._down_after, self._failover_timeout = down_after_ms, failover_timeout_ms
        self._dir = tempfile.TemporaryDirectory(prefix="chaos-sentinel-")
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def addresses(self) -> list[str]:
        return [f"{HOST}:{port}" for port in self.ports]

    def start(self, timeout: float = 30.0) -> ChaosSentinels:
        self.primary.start()
        self.replica.start()
        synced = lambda: _info(self.replica.port, "replication").get("master_link_status") == "up"  # noqa: E731
        _until(synced, timeout, "the replica's sync")
        for port in self.ports:
            config = Path(self._dir.name) / f"sentinel-{port}.conf"
            config.write_text(self._config(port), encoding="ascii")
            command, quiet = [_binary(), str(config), "--sentinel"], subprocess.DEVNULL
            self._processes.append(subprocess.Popen(command, stdout=quiet, stderr=quiet))
        _until(self._all_know_each_other, timeout, "the sentinels' discovery")
        return self

    def _config(self, port: int) -> str:
        folder = self._dir.name
        return "\n".join([
            f"port {port}", f"bind {HOST}", f"dir {folder}", f"logfile {folder}/sentinel-{port}.log",
            f"sentinel monitor {MASTER_NAME} {HOST} {self.primary.port} 2",
            f"sentinel down-after-milliseconds {MASTER_NAME} {self._down_after}",
            f"sentinel failover-timeout {MASTER_NAME} {self._failover_timeout}",
            f"sentinel parallel-syncs {MASTER_NAME} 1", "",
        ])  # fmt: skip

    def _all_know_each_other(self) -> bool:
        for port in self.ports:
            state = _master_state(port) or {}
            if int(str(state.get("num-other-sentinels", 0))) < 2 or int(str(state.get("num-slaves", 0))) < 1:
                return False
        return True

    def primary_port(self) -> int | None:
        """Where the first sentinel that answers says the primary is now."""
        for port in self.ports:
            with (
                contextlib.suppress(redis.RedisError, OSError),
                redis.Redis(HOST, port, socket_timeout=1) as client,
            ):
                address = client.sentinel_get_master_addr_by_name(MASTER_NAME)
                if address:
                    return int(address[1])
        return None

    def server(self, port: int) -> ChaosRedis:
        return self.primary if port == self.primary.port else self.replica

    def pause(self) -> None:
        self.primary.pause()

    def resume(self) -> None:
        self.primary.resume()
        self.replica.resume()

    def stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
        for process in self._processes:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self._processes.clear()
        self.replica.stop()
        self.primary.stop()
        self._dir.cleanup()


def _info(port: int, section: str) -> dict[str, object]:
    with contextlib.suppress(redis.RedisError, OSError), redis.Redis(HOST, port, socket_timeout=1) as client:
        found: dict[str, object] = client.info(section)
        return found
    return {}


def _master_state(port: int) -> dict[str, object] | None:
    with (
        contextlib.suppress(redis.RedisError, OSError),
        redis.Redis(HOST, port, socket_timeout=1, decode_responses=True) as client,
    ):
        state: dict[str, object] = client.sentinel_master(MASTER_NAME)
        return state
    return None
