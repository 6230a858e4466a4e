"""Start and stop a private redis-server: temp dir, free port, nothing saved.

Used by `switchboard demo` (when no Redis URL is configured) and by the test
suite, so neither ever touches a Redis that someone else runs on this machine.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from core.errors import StoreUnavailableError

INSTALL_HINT = (
    "install it with `apt-get install redis-server` (scripts/demo and scripts/test do this as root)"
)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class PrivateRedis:
    """A redis-server child process owned by whoever started it."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        maxmemory: str = "",
        args: Sequence[str] = (),
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._maxmemory = maxmemory
        self._args = tuple(args)  # more redis-server options, e.g. ("--replicaof", host, port)
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> PrivateRedis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise StoreUnavailableError(f"redis-server is not installed; {INSTALL_HINT}")
        self._dir = tempfile.TemporaryDirectory(prefix="switchboard-redis-")
        args = [
            binary, "--port", str(self.port), "--bind", self.host, "--save", "", "--appendonly", "no",
            "--dir", self._dir.name, "--logfile", str(Path(self._dir.name) / "redis.log"),
        ]
        if self._maxmemory:
            args += ["--maxmemory", self._maxmemory]
        args += self._args
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise StoreUnavailableError("private redis-server exited at start", port=self.port)
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.02)  # polling a child process that has no readiness signal
        raise StoreUnavailableError("private redis-server did not answer PING in time", port=self.port)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def kill(self) -> None:
        """SIGKILL: the server dies at once, as in a crash (its temp dir stays until `stop`)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(5)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def pause(self) -> None:
        """Stop the server's process (SIGSTOP) to simulate an unreachable Redis."""
        if self._process is not None:
            self._process.send_signal(19)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(18)

    def __enter__(self) -> PrivateRedis:
        return self.start()

    def __exit__(self, *exc: object | type[BaseException] | TracebackType | None) -> None:
        self.stop()
