"""The chaos suite's Redis servers: private child processes on free loopback ports, never the
machine's own Redis.

- `ChaosRedis`: one redis-server with every write appended and fsynced (AOF, `appendfsync always`)
  to its own temp dir, so `halt()` then `start()` brings it back on the same port with its data;
  `pause()` / `resume()` freeze it (SIGSTOP / SIGCONT); `kill()` is a crash.
- `ChaosSentinels`: switchboard/private_sentinels.py's primary, replica and three Sentinels, on
  ChaosRedis servers.
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

from switchboard.private_redis import INSTALL_HINT, free_port
from switchboard.private_sentinels import HOST, PrivateSentinels


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


class ChaosSentinels(PrivateSentinels[ChaosRedis]):
    """A primary, its replica and three Sentinels (switchboard/private_sentinels.py) on ChaosRedis
    servers, with the chaos suite's slower timeouts."""

    def __init__(self, *, down_after_ms: int = 1000, failover_timeout_ms: int = 5000) -> None:
        super().__init__(ChaosRedis, down_after_ms=down_after_ms, failover_timeout_ms=failover_timeout_ms)

    def server(self, port: int) -> ChaosRedis:
        return self.primary if port == self.primary.port else self.replica

    def pause(self) -> None:
        self.primary.pause()

    def resume(self) -> None:
        self.primary.resume()
        self.replica.resume()
