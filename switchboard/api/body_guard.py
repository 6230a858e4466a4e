"""Request bodies: authenticated before they are read, and never larger than their route allows.

FastAPI reads (and buffers) a request's body before any dependency runs, so without
this an unauthenticated client could make the engine hold hundreds of MiB before it
answers 401. This ASGI middleware runs first:
- a request with a body to /api/ needs a known bearer token, or the web console's valid
  session cookie (the same tokens file decides), before one byte of the body is kept:
  401 otherwise (the role, and a cookie's CSRF header, are still checked by the route);
- the body may be at most `http.max_body_bytes` (`http.max_bulk_body_bytes` for
  the bulk routes, paths ending in `:bulk`): a larger Content-Length is answered 413
  at once; a body without one (chunked) is read up to the limit, then 413.
A body within its limit is read here (bounded memory) and handed to the app as is.

A refused body that is small and arriving is read and dropped before the answer (at most
`DRAIN_S`), so the connection stays open for the client's next request. Closing a socket
with unread bytes makes the kernel send a reset, which can destroy the answer before the
client reads it (schemathesis saw exactly that on its requests without a token).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request

from switchboard.api.errors import error_response
from switchboard.api.state import AppState
from switchboard.console import session as console_session

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
BULK_SUFFIX = ":bulk"
DRAIN_S = 1.0


class BodyGuard:
    """ASGI middleware: see the module docstring."""

    def __init__(self, app: App, state: AppState) -> None:
        self.app = app
        self.state = state

    def limit_for(self, path: str) -> int:
        http = self.state.settings.http
        return http.max_bulk_body_bytes if path.endswith(BULK_SUFFIX) else http.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        length = _content_length(headers)
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if not chunked and not length:
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = self.limit_for(path)
        if path.startswith("/api/") and not self._authenticated(scope, headers.get("authorization", "")):
            message = "a request body needs a known bearer token or console session"
            drained = length is not None and length <= limit and await _drain(receive, limit)
            await _refuse(scope, receive, send, 401, "unauthorized", message, keep_alive=drained)
            return
        if length is not None and length > limit:
            await _too_large(scope, receive, send, limit)
            return
        body = await _read_up_to(receive, limit)
        if body is None:
            await _too_large(scope, receive, send, limit)
            return
        await self.app(scope, _replay(body, receive), send)

    def _authenticated(self, scope: Scope, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer":
            return self.state.tokens.authenticate(token.strip()) is not None
        # No bearer header: the console's signed cookie (headers only, the body stays unread).
        return console_session.current_session(Request(scope)) is not None


def _content_length(headers: dict[str, str]) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None


async def _drain(receive: Receive, limit: int) -> bool:
    """Read and drop a refused body of at most `limit` bytes; False if it is not all here in time."""
    size = 0
    try:
        async with asyncio.timeout(DRAIN_S):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return False
                size += len(message.get("body", b""))
                if size > limit:
                    return False
                if not message.get("more_body", False):
                    return True
    except TimeoutError:
        return False


async def _read_up_to(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)  # the client went away: the app sees an empty or partial body
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as the server would

    return replay


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    message = f"the request body is larger than this route allows ({limit} bytes)"
    await _refuse(scope, receive, send, 413, "payload-too-large", message, limit_bytes=limit)


async def _refuse(  # noqa: PLR0917
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    error_id: str,
    message: str,
    *,
    keep_alive: bool = False,
    **details: Any,
) -> None:
    # Unless the body was drained, its unread rest is not wanted: the connection ends.
    headers = {} if keep_alive else {"Connection": "close"}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    response = error_response(status, error_id, message, details, headers)
    await response(scope, receive, send)
