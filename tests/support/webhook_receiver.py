"""A real HTTP endpoint for webhook tests: raw HTTP/1.1 over TCP on a free port, in the test's loop.

It checks every request's signature like a CRM would (switchboard.webhooks.signing.verify), can
refuse the first N requests (to exercise retries) or answer a fixed status, and lets a test wait
until a set of event ids has been accepted.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from switchboard.webhooks.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int
    signed: bool

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    @property
    def event_id(self) -> str:
        return self.headers.get(EVENT_ID_HEADER.lower(), "")


@dataclass
class WebhookReceiver:
    secret: str
    fail_first: int = 0
    status: int = 200
    requests: list[Received] = field(default_factory=list)
    url: str = ""
    _server: asyncio.Server | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def start(self, port: int = 0) -> str:
        """Listen on `port` (a free one when 0; the same one again to come back after `stop`)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hooks/switchboard"
        return self.url

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def accepted(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.status < 300]

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until `count` requests were accepted."""
        return await self.wait_until(lambda accepted: len(accepted) >= count, timeout)

    async def wait_until(
        self, check: Callable[[list[Received]], bool], timeout: float = 10.0
    ) -> list[Received]:
        """Wait until `check(accepted requests)` holds."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: check(self.accepted()))
        return self.accepted()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status = await self._record(headers, body)
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _record(self, headers: dict[str, str], body: bytes) -> int:
        signed = verify(
            self.secret, headers.get(TIMESTAMP_HEADER.lower(), ""), body,
            headers.get(SIGNATURE_HEADER.lower(), ""), now=time.time(), tolerance_s=10 * 365 * 86400,
        )  # fmt: skip
        if not signed:
            status = 401
        elif len(self.requests) < self.fail_first:
            status = 503
        else:
            status = self.status
        async with self._changed:
            self.requests.append(Received(headers, body, status, signed))
            self._changed.notify_all()
        return status
