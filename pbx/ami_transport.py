"""The AMI transport: the one module that imports panoramisk.

panoramisk is the transport: its `Manager` opens the TCP connection
through its `protocol_factory` hook, and our `AmiConnection` subclasses its
`AMIProtocol`. Everything above the socket is ours, because panoramisk 1.4's own
logic breaks rules the engine must keep:
- its parser guesses multi-message replies from their wording, crashes on an
  Originate without `Async` (KeyError 'async') and can raise inside
  `data_received`, dropping the connection. Our codec (`AmiDecoder`,
  `ResponseAssembler` keyed on `EventList` only) reads every byte here; one odd
  message is logged and skipped, never fatal;
- its `Manager` logs in with a plain secret only and turns a refused login into
  a silent flag, retries forever at a fixed interval, and re-sends unanswered
  actions after reconnect (FullyBooted). An Originate must never be sent twice,
  so `_Manager` switches those hooks off; actions fail with AmiConnectionError
  when the connection drops, and the caller decides (it has the call id). Login,
  backoff, keepalive and the resync live in pbx.client.AmiClient.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol

from core.errors import AmiConnectionError, AmiError
from pbx.ami_callbacks import AmiMonitor
from pbx.ami_settings import AmiSettings
from pbx.codec import (
    ActionResult,
    AmiDecoder,
    AmiItem,
    Banner,
    Event,
    Malformed,
    Response,
    ResponseAssembler,
)
from pbx.event_filter import EventFilter

__all__ = ["AmiConnection", "SkipEvents", "open_connection"]

log = logging.getLogger("switchboard.ami")


@dataclass(frozen=True, slots=True)
class SkipEvents:
    """Events `keep` refuses are not decoded or delivered; `seen(count)` hears of them instead,
    once per TCP chunk that held some (pbx.event_filter)."""

    keep: EventFilter
    seen: Callable[[int], None]


def _retrieve(future: asyncio.Future[str]) -> None:
    if not future.cancelled():
        future.exception()


class AmiConnection(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol class, with our codec and a table of unanswered actions."""

    closed: bool
    transport: asyncio.Transport

    def __init__(
        self,
        on_event: Callable[[Event], None],
        monitor: AmiMonitor,
        log_extra: Mapping[str, object],
        skipping: SkipEvents | None = None,
    ) -> None:
        super().__init__()
        self._on_event = on_event
        self._skipping = skipping
        self._monitor = monitor
        self._extra = dict(log_extra)
        self.pending: dict[str, tuple[str, asyncio.Future[ActionResult]]] = {}
        self.last_contact = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        loop = asyncio.get_running_loop()
        self.log = log
        self.decoder = AmiDecoder(keep=self._skipping.keep if self._skipping else None)
        self.assembler = ResponseAssembler()
        self.banner: asyncio.Future[str] = loop.create_future()
        self.banner.add_done_callback(_retrieve)  # nobody may be waiting any more
        self.lost: asyncio.Future[str] = loop.create_future()
        self.last_contact = time.monotonic()

    def data_received(self, data: bytes) -> None:
        self.last_contact = time.monotonic()  # skipped events count as contact too
        skipped = self.decoder.skipped
        for item in self.decoder.feed(data):
            try:
                self._dispatch(item)
            except Exception:  # one odd message must never drop the connection
                log.exception("AMI message could not be handled", extra=self._extra)
        if self._skipping is not None and self.decoder.skipped != skipped:
            try:
                self._skipping.seen(self.decoder.skipped - skipped)
            except Exception:
                log.exception("on_skipped callback failed", extra=self._extra)

    def _dispatch(self, item: AmiItem) -> None:
        if isinstance(item, Event | Response):
            result, event = self.assembler.feed(item)
            if result is not None:
                self._resolve(result)
            if event is not None:
                self._on_event(event)
        elif isinstance(item, Banner):
            if not self.banner.done():
                self.banner.set_result(item.version)
        elif isinstance(item, Malformed):
            if not self.banner.done():
                error = AmiConnectionError("peer is not an Asterisk manager", line=item.raw[:80])
                self.banner.set_exception(error)
            extra = {**self._extra, "ami_raw": item.raw[:200]}
            log.warning("AMI garbage skipped: %s", item.reason, extra=extra)
            self._monitor.malformed_seen(item.reason)
        else:
            log.warning("AMI peer sent an action to a client; skipped", extra=self._extra)

    def _resolve(self, result: ActionResult) -> None:
        action_id = result.response.action_id or ""
        entry = self.pending.pop(action_id, None)
        if entry is None:
            extra = {**self._extra, "action_id": action_id, "ami_response": result.response.status}
            log.warning("AMI response for no pending action (late or unknown); skipped", extra=extra)
        elif not entry[1].done():
            entry[1].set_result(result)

    def submit(self, name: str, action_id: str, data: bytes) -> asyncio.Future[ActionResult]:
        if self.closed:
            raise AmiConnectionError("AMI connection is closed", action=name, action_id=action_id)
        if action_id in self.pending:
            raise AmiError("ActionID already in use", action=name, action_id=action_id)
        future: asyncio.Future[ActionResult] = asyncio.get_running_loop().create_future()
        self.pending[action_id] = (name, future)
        self.transport.write(data)
        return future

    def forget(self, action_id: str) -> None:
        """Drop an action that timed out; a late answer is then logged and skipped."""
        self.pending.pop(action_id, None)
        self.assembler.abandon(action_id)

    def close(self) -> None:
        # panoramisk's close() queues unanswered actions for re-sending: never here.
        if not self.closed:
            self.closed = True
            self.transport.close()

    def abort(self, reason: str) -> None:
        """Drop the connection at once (a hung peer would never finish a clean close)."""
        if not self.lost.done():
            self.lost.set_result(reason)
        self.closed = True
        self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reason = f"connection lost: {exc}" if exc else "connection closed"
        for action_id, (name, future) in self.pending.items():
            if not future.done():
                text = f"{name} got no answer before the AMI connection was lost; it is not re-sent"
                future.set_exception(AmiConnectionError(text, action=name, action_id=action_id))
        self.pending.clear()
        if not self.banner.done():
            self.banner.set_exception(AmiConnectionError("connection closed before the AMI banner"))
        if not self.lost.done():
            self.lost.set_result(reason)


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager, used to open connections; its login, reconnect and re-send are off."""

    def connection_made(self, future: asyncio.Future[Any]) -> None:
        """The connect task is awaited by AmiClient, which logs in itself."""

    def connection_lost(self, exc: Exception | None) -> None:
        """Reconnecting is AmiClient's job (backoff + jitter, resync before ready)."""

    async def send_awaiting_actions(self, *_: Any) -> None:
        self.awaiting_actions.clear()


async def open_connection(
    settings: AmiSettings,
    on_event: Callable[[Event], None],
    monitor: AmiMonitor,
    log_extra: Mapping[str, object],
    skipping: SkipEvents | None = None,
) -> tuple[AmiConnection, str]:
    """A new TCP connection to Asterisk and its banner's version, within `connect_timeout`."""
    s = settings
    loop = asyncio.get_running_loop()
    factory = functools.partial(AmiConnection, on_event, monitor, log_extra, skipping)
    manager = _Manager(host=s.host, port=s.port, loop=loop, protocol_factory=factory)
    protocol: AmiConnection | None = None
    try:
        async with asyncio.timeout(s.connect_timeout):
            _, protocol = await manager.connect()
            assert protocol is not None
            version = await protocol.banner
        return protocol, version
    except BaseException as exc:
        if protocol is not None:
            protocol.abort("no banner")
        if isinstance(exc, TimeoutError):
            where = f"{s.host}:{s.port} within {s.connect_timeout:g}s"
            raise AmiConnectionError(f"no AMI banner from {where}", **log_extra) from None
        if isinstance(exc, OSError):
            where = f"{s.host}:{s.port}: {exc}"
            raise AmiConnectionError(f"cannot reach AMI at {where}", **log_extra) from exc
        raise
