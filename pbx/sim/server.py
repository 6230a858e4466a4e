"""The TCP side of the simulated Asterisk: listens, keeps sessions, fans events out.

Events are encoded once and handed to every session, which decides by login
state and event mask whether to send them. Dropping connections (a network
cut, a PBX restart) closes every client socket while the listener stays up;
stalling them (a hung PBX, a dead route) keeps them open but silent both ways.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from pbx.sim.session import AmiSession, SessionHost

logger = logging.getLogger(__name__)


class AmiServer:
    def __init__(self, host: SessionHost, banner_version: str) -> None:
        self._host = host
        self._banner_version = banner_version
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.sessions: set[AmiSession] = set()
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        logger.info("simulated Asterisk listening on %s:%d", host, self.port)
        return self.port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = AmiSession(self._host, reader, writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.sessions.add(session)
        try:
            await session.run(self._banner_version)
        finally:
            self.sessions.discard(session)
            if task is not None:
                self._tasks.discard(task)

    def broadcast(self, data: bytes, categories: frozenset[str]) -> None:
        for session in list(self.sessions):
            session.deliver(data, categories)

    def send_raw(self, data: bytes) -> None:
        for session in list(self.sessions):
            session.write(data)

    def stall_connections(self) -> None:
        for session in list(self.sessions):
            session.stall()

    async def drop_connections(self, grace_s: float = 5.0) -> None:
        for session in list(self.sessions):
            session.close()
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        if tasks:
            await asyncio.wait(tasks, timeout=grace_s)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await self.drop_connections()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5.0)
            self._server = None
