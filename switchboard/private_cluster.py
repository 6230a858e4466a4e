"""A real Redis Cluster of private child processes, for the cluster tests and the bench.

`primaries` redis-servers with `--cluster-enabled yes` on free ports of 127.0.0.1, each with its own
temp dir (it writes its `nodes.conf` there), joined by `redis-cli --cluster create ...
--cluster-replicas 0 --cluster-yes` (the 16,384 slots split evenly). `start` returns once every
node reports `cluster_state:ok`, so the first command finds every slot served. Nothing is saved;
`stop` ends the servers and removes their folders.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import time
from types import TracebackType

import redis

from core.errors import StoreUnavailableError
from switchboard.private_redis import INSTALL_HINT, PrivateRedis

HOST = "127.0.0.1"


class PrivateCluster:
    """`primaries` cluster nodes (no replicas) owned by whoever started them."""

    def __init__(self, primaries: int = 3) -> None:
        if primaries < 3:
            raise ValueError(f"a Redis Cluster needs at least 3 primaries, got {primaries}")
        cluster = ("--cluster-enabled", "yes", "--cluster-node-timeout", "5000")
        self.nodes = [PrivateRedis(host=HOST, port=_cluster_port(), args=cluster) for _ in range(primaries)]

    @property
    def addresses(self) -> list[str]:
        return [f"{HOST}:{node.port}" for node in self.nodes]

    @property
    def url(self) -> str:
        """The first node's URL: a cluster client finds the others from it."""
        return self.nodes[0].url

    def start(self, timeout: float = 30.0) -> PrivateCluster:
        cli = shutil.which("redis-cli")
        if cli is None:
            raise StoreUnavailableError(f"redis-cli is not installed; {INSTALL_HINT}")
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            node.start()
        create = [cli, "--cluster", "create", *self.addresses, "--cluster-replicas", "0", "--cluster-yes"]
        done = subprocess.run(create, capture_output=True, timeout=timeout, check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")[-500:]
            raise StoreUnavailableError(f"redis-cli --cluster create failed: {output}")
        while not all(_state_ok(node.port) for node in self.nodes):
            if time.monotonic() > deadline:
                raise StoreUnavailableError("the private Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.05)  # polling child processes that have no readiness signal
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def flush(self) -> None:
        """Empty every primary (a test's clean start)."""
        for node in self.nodes:
            with redis.Redis(HOST, node.port, socket_timeout=5) as client:
                client.flushall()

    def __enter__(self) -> PrivateCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object | type[BaseException] | TracebackType | None) -> None:
        self.stop()


def _cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too: the OS's ephemeral ports can be above
    55535, where the bus port would not exist."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        if _free(port) and _free(port + 10000):
            return port
    raise StoreUnavailableError("no free port pair for a private cluster node")


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def _state_ok(port: int) -> bool:
    with contextlib.suppress(redis.RedisError, OSError), redis.Redis(HOST, port, socket_timeout=1) as client:
        info = client.execute_command("CLUSTER INFO")
        text = info.decode() if isinstance(info, bytes) else str(info)
        return "cluster_state:ok" in text or (isinstance(info, dict) and info.get("cluster_state") == "ok")
    return False
