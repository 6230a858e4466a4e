"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1, in the test's event loop), no tests here.

It records every message it accepts, parsed, so a test asserts on what a mailbox would receive.
`stop()` and `start()` take it down and bring it back on the same port (the SMTP-down tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        return part.get_content() if part is not None else ""  # type: ignore[no-any-return]

    def header(self, name: str) -> str:
        return str(self.message[name])


@dataclass
class SmtpServer:
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw: Any = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(list(envelope.rcpt_tos), message))
        async with self._arrived:
            self._arrived.notify_all()
        return "250 OK"

    async def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 10.0) -> None:
        """Until the messages received satisfy `predicate` (an engine sends them on its own tick)."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: predicate(self.received))

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        factory = lambda: SMTP(self, hostname="test.local")  # noqa: E731
        self._server = await loop.create_server(factory, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def to(self, address: str) -> list[Received]:
        return [item for item in self.received if address in item.recipients]


@contextlib.asynccontextmanager
async def smtp_server() -> AsyncIterator[SmtpServer]:
    server = SmtpServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
