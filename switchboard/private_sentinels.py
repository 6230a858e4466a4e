"""A Redis primary, its replica and three Sentinels as private child processes, for failover tests
and the chaos suite.

`redis-server --sentinel` (any redis-server 6+; no separate binary needed) on free ports of
127.0.0.1, each sentinel with a writable config in a temp dir (Sentinel rewrites it). Timeouts are
short so a failover completes in a few seconds: the primary is judged down after `down_after_ms`,
two of three sentinels agree (quorum 2), one is elected and promotes the replica. `start` returns
once the replica is in sync and every sentinel knows the replica and the two other sentinels, so a
failover can happen at once (about 2 s: the sentinels' hello period; the primary sends the replica
its data at once, not after Redis's default 5 s wait for more replicas). The servers are made by
`server` (PrivateRedis by default; the chaos suite passes its restartable, persistent one).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

import redis

from core.errors import StoreUnavailableError
from switchboard.private_redis import PrivateRedis, free_port

MASTER_NAME = "switchboard"
HOST = "127.0.0.1"
SYNC_AT_ONCE = ("--repl-diskless-sync-delay", "0")  # on both: after a failover the replica is primary


class Server(Protocol):
    port: int

    def start(self, timeout: float = ...) -> Any: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=Server)


class PrivateSentinels(Generic[S]):
    def __init__(
        self,
        server: Callable[..., S] = PrivateRedis,  # type: ignore[assignment]
        *,
        down_after_ms: int = 500,
        failover_timeout_ms: int = 3000,
    ) -> None:
        self.primary: S = server(args=SYNC_AT_ONCE)
        self.replica: S = server(args=("--replicaof", HOST, str(self.primary.port), *SYNC_AT_ONCE))
        self.ports = [free_port(HOST) for _ in range(3)]
        self._down_after, self._failover_timeout = down_after_ms, failover_timeout_ms
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def addresses(self) -> list[str]:
        return [f"{HOST}:{port}" for port in self.ports]

    def start(self, timeout: float = 30.0) -> PrivateSentinels[S]:
        binary = shutil.which("redis-server")
        if binary is None:
            raise StoreUnavailableError("redis-server is not installed")
        deadline = time.monotonic() + timeout
        self.primary.start()
        self.replica.start()
        _until(
            lambda: _info(self.replica.port, "replication").get("master_link_status") == "up",
            deadline, "the replica's sync with the primary",
        )  # fmt: skip
        self._dir = tempfile.TemporaryDirectory(prefix="switchboard-sentinel-")
        for port in self.ports:
            config = Path(self._dir.name) / f"sentinel-{port}.conf"
            config.write_text(self._config(port, self._dir.name), encoding="ascii")
            command, quiet = [binary, str(config), "--sentinel"], subprocess.DEVNULL
            self._processes.append(subprocess.Popen(command, stdout=quiet, stderr=quiet))
        _until(self._all_know_each_other, deadline, "the sentinels' view of each other", self._states)
        return self

    def _config(self, port: int, folder: str) -> str:
        return "\n".join([
            f"port {port}", f"bind {HOST}", f"dir {folder}",
            f"logfile {Path(folder) / f'sentinel-{port}.log'}",
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

    def _states(self) -> str:
        """What each sentinel knows, for a start that timed out."""
        seen = []
        for port, process in zip(self.ports, self._processes, strict=False):
            state = _master_state(port) or {}
            exited = process.poll()
            seen.append(
                f"{port}: exited {exited}" if exited is not None
                else f"{port}: {state.get('num-other-sentinels', '?')} other sentinels, "
                f"{state.get('num-slaves', '?')} replicas"
            )  # fmt: skip
        return "; ".join(seen)

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
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> PrivateSentinels[S]:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object | type[BaseException] | TracebackType | None) -> None:
        self.stop()


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


def _until(
    condition: Callable[[], bool], deadline: float, what: str, seen: Callable[[], str] | None = None
) -> None:
    """Poll child processes (they have no readiness signal) until `condition()` or the deadline."""
    while not condition():
        if time.monotonic() > deadline:
            detail = f" ({seen()})" if seen is not None else ""
            raise StoreUnavailableError(f"the private sentinels did not come up in time: {what}{detail}")
        time.sleep(0.05)
