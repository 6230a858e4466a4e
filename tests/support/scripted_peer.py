"""A small scripted AMI server for client tests (the panoramisk testing approach, over real TCP).

`Recorder` records what an AmiClient's callbacks were told, and waits for it.

It greets with the Asterisk banner, handles Challenge/Login (plain and MD5), Ping
and Logoff like Asterisk 22 does, records every action it receives, and answers
the rest from a per-action script: a handler returning bytes, or None for
silence. `recorded(action_id)` answers with what the real Asterisk sent in the
recording (tests/fixtures/ami), with the ActionID rewritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from pbx.client import AmiClient
from pbx.codec import Action, AmiDecoder, Event, Response, encode_banner, encode_message
from tests.support.recordings import FULL, server_stream

Reply = bytes | None
Handler = Callable[[Action, "PeerConnection"], Reply | Awaitable[Reply]]
USERNAME = "switchboard"
SECRET = "switchboard-secret"


def message(first: tuple[str, str], *headers: tuple[str, str], **fields: Any) -> bytes:
    return encode_message([first, *headers, *((k, str(v)) for k, v in fields.items())])


def reply(action: Action, status: str = "Success", **fields: Any) -> bytes:
    return message(("Response", status), ("ActionID", action.action_id or ""), **fields)


def event(name: str, *headers: tuple[str, str], **fields: Any) -> bytes:
    return message(("Event", name), *headers, **fields)


class PeerConnection:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.challenge = "424242"
        self.stalled = False

    def write(self, data: bytes) -> None:
        if not self.writer.is_closing() and not self.stalled:
            self.writer.write(data)

    def stall(self) -> None:
        """A hung peer: reads nothing, answers nothing, keeps the socket open."""
        self.stalled = True
        transport = self.writer.transport
        if isinstance(transport, asyncio.ReadTransport):
            transport.pause_reading()

    def close(self) -> None:
        self.writer.close()


class ScriptedPeer:
    def __init__(self, *, username: str = USERNAME, secret: str = SECRET, banner: bytes | None = None):
        self.username = username
        self.secret = secret
        self.banner = encode_banner("11.0.0") if banner is None else banner
        self.actions: list[Action] = []
        self.connections: list[PeerConnection] = []
        self.accepted = 0
        self.handlers: dict[str, Handler | None] = {
            "Challenge": self._challenge,
            "Login": self._login,
            "Ping": lambda action, _: reply(action, Ping="Pong", Timestamp="1795333651.980650"),
            "Logoff": self._logoff,
            "Originate": lambda action, _: reply(action, Message="Originate successfully queued"),
        }
        self._server: asyncio.Server | None = None
        self._changed = asyncio.Event()
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------
    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port or self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop listening and close every connection (the port can be reused by start())."""
        if self._server is not None:
            self._server.close()
            await self.drop_connections()
            await self._server.wait_closed()
            self._server = None

    async def drop_connections(self) -> None:
        for connection in list(self.connections):
            connection.close()
        await self.wait_for(lambda: not self.connections, timeout=5)

    def stall_connections(self) -> None:
        """Hang every open connection (no bytes either way, sockets stay open); new ones work."""
        for connection in self.connections:
            connection.stall()

    # -- scripting ---------------------------------------------------------------
    def on(self, action: str, handler: Handler | None) -> None:
        """Answer `action` with `handler`; None makes the peer silent on it."""
        self.handlers[action] = handler

    def recorded(self, recorded_action_id: str) -> Handler:
        """Answer with the recorded reply (and its EventList events) to `recorded_action_id`."""
        parts = []
        for item in AmiDecoder().feed(server_stream(FULL)):
            if isinstance(item, Event | Response) and item.action_id == recorded_action_id:
                parts.append(item.headers)

        def answer(action: Action, _: PeerConnection) -> bytes:
            new_id = action.action_id or ""
            renamed = [[(k, new_id if k == "ActionID" else v) for k, v in headers] for headers in parts]
            return b"".join(encode_message(headers) for headers in renamed)

        return answer

    async def send_raw(self, data: bytes) -> None:
        for connection in self.connections:
            connection.write(data)
            await connection.writer.drain()

    def count(self, name: str) -> int:
        return sum(1 for action in self.actions if action.name == name)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._changed.wait()

    async def wait_for_action(self, name: str, timeout: float = 5.0, count: int = 1) -> Action:
        await self.wait_for(lambda: self.count(name) >= count, timeout)
        return [action for action in self.actions if action.name == name][count - 1]

    def _notify(self) -> None:
        self._changed.set()
        self._changed.clear()

    # -- serving -------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = PeerConnection(writer)
        self.connections.append(connection)
        self.accepted += 1
        self._notify()
        decoder = AmiDecoder(expect_banner=False)
        try:
            connection.write(self.banner)
            while data := await reader.read(65536):
                for item in decoder.feed(data):
                    if isinstance(item, Action):
                        await self._answer(item, connection)
        except ConnectionError:
            pass
        finally:
            self.connections.remove(connection)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self._notify()

    async def _answer(self, action: Action, connection: PeerConnection) -> None:
        self.actions.append(action)
        self._notify()
        handler = self.handlers.get(action.name, self._unknown)
        if handler is None:
            return
        answer = handler(action, connection)
        if isinstance(answer, Awaitable):
            answer = await answer
        if answer:
            connection.write(answer)
            await connection.writer.drain()

    def _unknown(self, action: Action, _: PeerConnection) -> bytes:
        return reply(action, "Error", Message="Invalid/unknown command")

    def _challenge(self, action: Action, connection: PeerConnection) -> bytes:
        return reply(action, Challenge=connection.challenge)

    def _login(self, action: Action, connection: PeerConnection) -> bytes:
        if action.get("AuthType", "").lower() == "md5":
            expected = hashlib.md5((connection.challenge + self.secret).encode()).hexdigest()
            good = action.get("Key") == expected
        else:
            good = action.get("Secret") == self.secret
        if good and action.get("Username") == self.username:
            booted = event("FullyBooted", Privilege="system,all", Uptime=15, Status="Fully Booted")
            return reply(action, Message="Authentication accepted") + booted
        asyncio.get_running_loop().call_soon(connection.close)  # Asterisk hangs up after a refusal
        return reply(action, "Error", Message="Authentication failed")

    def _logoff(self, action: Action, connection: PeerConnection) -> bytes:
        asyncio.get_running_loop().call_soon(connection.close)
        return reply(action, "Goodbye", Message="Thanks for all the fish.")


class Recorder:
    """Callbacks that record what the client told us, and wait for it."""

    def __init__(self, peer: ScriptedPeer) -> None:
        self.peer = peer
        self.events: list[Event] = []
        self.connected = 0
        self.ready_during_resync: list[bool] = []
        self.disconnects: list[str] = []
        self.client: AmiClient | None = None
        self.before_ready: Callable[[int], Awaitable[None]] | None = None
        self.changed = asyncio.Event()

    def on_event(self, event: Event) -> None:
        self.events.append(event)
        self._notify()

    async def on_connected(self) -> None:
        assert self.client is not None
        self.ready_during_resync.append(self.client.ready)
        await self.client.send("Ping")  # actions during resync go out before `ready`
        if self.before_ready is not None:
            await self.before_ready(self.connected + 1)
        self.connected += 1
        self._notify()

    def on_disconnected(self, reason: str) -> None:
        self.disconnects.append(reason)
        self._notify()

    def _notify(self) -> None:
        self.changed.set()
        self.changed.clear()

    async def until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await self.changed.wait()
