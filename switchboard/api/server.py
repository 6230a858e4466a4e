"""Run the HTTP API inside the engine's own event loop (uvicorn, no extra thread or process).

`serve_http` binds the socket itself, so a port in use is a clear error at
once (uvicorn alone would call sys.exit inside the loop), and returns after
the server accepts connections. Signals stay with the engine: this server
installs no signal handlers (uvicorn's default would swallow SIGINT/SIGTERM).
`stop_http` lets in-flight requests finish for a grace period, then closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from core.cancellation import stop_task
from core.errors import SwitchboardError

GRACE_S = 5


class HttpBindError(SwitchboardError):
    """The HTTP port could not be opened (in use, no permission, bad address)."""

    error_id = "http-bind-failed"


class HttpServer(uvicorn.Server):
    """uvicorn.Server that reports startup through an event and leaves signals alone."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self.port = 0
        """The bound port once started (useful when asked for port 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.servers and self.servers[0].sockets:
            self.port = int(self.servers[0].sockets[0].getsockname()[1])
        self.ready.set()


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        hint = "choose another http.port (SWITCHBOARD_HTTP_PORT)"
        message = f"cannot listen on {host}:{port}: {reason}; {hint}"
        raise HttpBindError(message, host=host, port=port) from None
    sock.set_inheritable(True)
    return sock


async def serve_http(
    app: FastAPI, host: str, port: int, *, access_log: bool = False, grace_s: int = GRACE_S
) -> tuple[HttpServer, asyncio.Task[None]]:
    """Start serving `app`; returns once it accepts connections. Stop with `stop_http`."""
    sock = bind(host, port)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=access_log,
        lifespan="off",
        timeout_graceful_shutdown=grace_s,
        server_header=False,
    )
    server = HttpServer(config)
    app.state.http_server = server  # long-lived responses (the console's stream) end when it stops
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"http {host}:{port}")
    ready = asyncio.create_task(server.ready.wait())
    try:
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ready.cancel()
    if task.done():
        sock.close()
        task.result()  # raises what made the server stop
        raise HttpBindError(f"HTTP server on {host}:{port} stopped during startup", host=host, port=port)
    return server, task


async def stop_http(server: HttpServer, task: asyncio.Task[None], grace_s: int = GRACE_S) -> None:
    """Graceful stop: refuse new connections, let requests finish, force after `grace_s`."""
    server.should_exit = True
    try:
        await asyncio.wait_for(asyncio.shield(task), grace_s + 1.0)
    except TimeoutError:
        server.force_exit = True
        await stop_task(task)  # bounded: a request handler may swallow the cancel
