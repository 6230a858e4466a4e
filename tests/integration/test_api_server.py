"""serve_http: uvicorn in the caller's event loop, a clear error for a busy port, graceful stop."""

from __future__ import annotations

import asyncio
import signal
import socket

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from switchboard.api import AppState, HttpBindError, TokenStore, create_app, serve_http, stop_http
from switchboard.metrics import create_metrics
from switchboard.settings import Settings


def make_app(slow_started: asyncio.Event | None = None, slow_release: asyncio.Event | None = None) -> FastAPI:
    app = create_app(AppState(Settings(), TokenStore(), create_metrics(process=False)))
    router = APIRouter()

    @router.get("/slow")
    async def slow() -> dict[str, str]:
        assert slow_started is not None and slow_release is not None
        slow_started.set()
        await slow_release.wait()
        return {"status": "finished"}

    app.include_router(router)
    return app


async def test_serves_in_the_same_loop_and_stops() -> None:
    server, task = await serve_http(make_app(), "127.0.0.1", 0)
    port = server.port
    try:
        assert port > 0
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            response = await client.get("/healthz")
        assert response.status_code == 200 and response.json()["status"] == "ok"
        assert "server" not in response.headers
    finally:
        await stop_http(server, task)
    assert task.done() and task.exception() is None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


async def test_stop_lets_a_request_in_flight_finish() -> None:
    started, release = asyncio.Event(), asyncio.Event()
    server, task = await serve_http(make_app(started, release), "127.0.0.1", 0)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        request = asyncio.create_task(client.get("/slow"))
        await asyncio.wait_for(started.wait(), 10)
        stopping = asyncio.create_task(stop_http(server, task))
        release.set()
        response = await asyncio.wait_for(request, 10)
        await asyncio.wait_for(stopping, 10)
    assert response.json() == {"status": "finished"}


async def test_busy_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(HttpBindError) as exc:
            await serve_http(make_app(), "127.0.0.1", port)
    assert f"cannot listen on 127.0.0.1:{port}" in exc.value.message
    assert "SWITCHBOARD_HTTP_PORT" in exc.value.message
    assert exc.value.details == {"host": "127.0.0.1", "port": port}


async def test_server_leaves_signal_handlers_alone() -> None:
    before = signal.getsignal(signal.SIGTERM)
    server, task = await serve_http(make_app(), "127.0.0.1", 0)
    try:
        assert signal.getsignal(signal.SIGTERM) is before
    finally:
        await stop_http(server, task)
