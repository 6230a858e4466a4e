"""A bare AMI client over asyncio streams and pbx.codec, for tests and diagnostics.

It does what a test needs and nothing clever: send an action, await the
response with its ActionID (and the events of its EventList), await events by
name, and notice when the server closed the socket. It is deliberately not the
engine's client (no reconnect, no panoramisk), so sim tests exercise the
simulator alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
from collections.abc import Callable, Sequence

from pbx.codec import (
    AmiDecoder,
    Banner,
    Event,
    FieldValue,
    Malformed,
    Response,
    ResponseAssembler,
    encode_message,
)
from pbx.sim.waiters import SimTimeoutError, Waiters

Fields = Sequence[tuple[str, FieldValue]]


class RawAmiClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._decoder = AmiDecoder(expect_banner=True)
        self._assembler = ResponseAssembler()
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[tuple[Response, tuple[Event, ...]]]] = {}
        self._event_waiters: Waiters[Event] = Waiters()
        self.banner: str | None = None
        self._banner_seen = asyncio.Event()
        self.events: list[Event] = []
        self.messages: list[Event | Response] = []
        """Everything received after the banner, in order (responses and events)."""
        self.malformed: list[Malformed] = []
        self.closed = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, host: str, port: int, timeout: float = 5.0) -> RawAmiClient:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        client = cls(reader, writer)
        await asyncio.wait_for(client._banner_seen.wait(), timeout)
        return client

    async def _read(self) -> None:
        try:
            while data := await self._reader.read(65536):
                for item in self._decoder.feed(data):
                    self._take(item)
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed.set()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("AMI connection closed"))

    def _take(self, item: Banner | Event | Response | Malformed | object) -> None:
        if isinstance(item, Banner):
            self.banner = item.version
            self._banner_seen.set()
        elif isinstance(item, Malformed):
            self.malformed.append(item)
        elif isinstance(item, Event | Response):
            self.messages.append(item)
            result, event = self._assembler.feed(item)
            if event is not None:
                self.events.append(event)
                self._event_waiters.offer(event)
            if result is not None:
                future = self._pending.pop(result.response.action_id or "", None)
                if future is not None and not future.done():
                    future.set_result((result.response, result.events))

    def send(self, name: str, fields: Fields = (), action_id: str | None = None) -> str:
        """Write an action without waiting; returns its ActionID."""
        action_id = action_id or f"t-{next(self._ids)}"
        self._writer.write(encode_message([("Action", name), ("ActionID", action_id), *fields]))
        return action_id

    async def request_list(
        self,
        name: str,
        fields: Fields = (),
        timeout: float = 5.0,
    ) -> tuple[Response, tuple[Event, ...]]:
        """Send and await the response plus, for an EventList, its events (Complete included)."""
        action_id = f"t-{next(self._ids)}"
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[Response, tuple[Event, ...]]] = loop.create_future()
        self._pending[action_id] = future
        self.send(name, fields, action_id)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise SimTimeoutError(f"no response to {name} within {timeout} s", action=name) from None
        finally:
            self._pending.pop(action_id, None)

    async def request(self, name: str, fields: Fields = (), timeout: float = 5.0) -> Response:
        return (await self.request_list(name, fields, timeout))[0]

    async def login(self, username: str, secret: str, events: str = "on") -> Response:
        fields = [("Username", username), ("Secret", secret), ("Events", events)]
        return await self.request("Login", fields)

    async def login_md5(self, username: str, secret: str, events: str = "on") -> Response:
        challenge = await self.request("Challenge", [("AuthType", "MD5")])
        key = hashlib.md5(((challenge.get("Challenge") or "") + secret).encode()).hexdigest()
        fields = [("AuthType", "MD5"), ("Username", username), ("Key", key), ("Events", events)]
        return await self.request("Login", fields)

    async def wait_event(
        self,
        name: str,
        predicate: Callable[[Event], bool] | None = None,
        timeout: float = 5.0,
        *,
        since: int = 0,
    ) -> Event:
        """The first event `name` at index `since` or later of `events`, waiting if needed."""

        def matches(event: Event) -> bool:
            return event.name == name and (predicate is None or predicate(event))

        for event in self.events[since:]:
            if matches(event):
                return event
        return await self._event_waiters.wait(matches, timeout, f"event {name}")

    async def wait_closed(self, timeout: float = 5.0) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closed.wait(), timeout)
        return self.closed.is_set()

    def write_raw(self, data: bytes) -> None:
        self._writer.write(data)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
