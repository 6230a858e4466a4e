"""The parts of the AMI client that need no socket: settings, backoff, login and
Originate fields, the monitor the client reports to, and the ordered runner for
async event callbacks.

pbx.client, pbx.ami_actions and pbx.ami_transport (the one module that imports panoramisk) build
on these; keeping them apart keeps those modules small and lets them be tested without a connection.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from core.cancellation import raise_if_cancelling
from core.errors import AmiEncodeError, AmiLoginError
from pbx.codec import Event, FieldValue, channel_variables

log = logging.getLogger("switchboard.ami")

EventCallback = Callable[[Event], Awaitable[None] | None]
ConnectedCallback = Callable[[], Awaitable[None]]
DisconnectedCallback = Callable[[str], None]


@dataclass(frozen=True)
class AmiSettings:
    """Where and how to log in. The secret never appears in repr() or logs."""

    host: str
    port: int
    username: str
    secret: str = field(repr=False)
    auth: Literal["plain", "md5"] = "md5"
    action_timeout: float = 5.0
    connect_timeout: float = 5.0
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    ping_interval: float = 20.0  # keepalive Ping; 0 turns it off
    ping_timeout: float = 5.0  # an unanswered keepalive Ping drops the connection after this long


# Outcomes of one action, as AmiMonitor.action_done gets them.
SUCCESS, ERROR, TIMEOUT, DISCONNECTED = "success", "error", "timeout", "disconnected"
FENCED = "fenced"  # not sent: the engine does not own the calls (pbx.ami_actions FENCED_ACTIONS)


class AmiMonitor(Protocol):
    """What the client reports as it works (the engine turns it into metrics). Must not raise."""

    def action_done(self, action: str, result: str, seconds: float | None) -> None:
        """One action ended: SUCCESS or ERROR (answered, `seconds` round trip), TIMEOUT, DISCONNECTED,
        FENCED (never sent)."""

    def malformed_seen(self, reason: str) -> None:
        """A message that could not be decoded was skipped."""

    def became_ready(self, reconnect: bool) -> None:
        """Logged in and resynced; `reconnect` is False for the first connect."""


class NullMonitor:
    def action_done(self, action: str, result: str, seconds: float | None) -> None:
        pass

    def malformed_seen(self, reason: str) -> None:
        pass

    def became_ready(self, reconnect: bool) -> None:
        pass


def backoff_delay(settings: AmiSettings, attempt: int, rng: random.Random) -> float:
    """Exponential and capped, with jitter in [ceiling/2, ceiling] so engines do not reconnect in step."""
    ceiling: float = min(settings.reconnect_max, settings.reconnect_min * 2.0 ** min(attempt, 30))
    return ceiling / 2 + rng.random() * ceiling / 2


def login_fields(settings: AmiSettings, challenge: str | None) -> dict[str, FieldValue]:
    """Login headers: MD5 of challenge+secret when a challenge was given, else the plain secret."""
    fields: dict[str, FieldValue] = {"Username": settings.username}
    if challenge is not None:
        key = hashlib.md5((challenge + settings.secret).encode()).hexdigest()
        fields.update(AuthType="MD5", Key=key)
    else:
        fields["Secret"] = settings.secret
    fields["Events"] = "on"
    return fields


def login_refused(settings: AmiSettings, step: str, said: str) -> AmiLoginError:
    """The error for a refused login: what Asterisk said, and what the admin should check."""
    s = settings
    return AmiLoginError(
        f"Asterisk refused {step} of AMI user {s.username!r} at {s.host}:{s.port}: {said} "
        f"(check the username/secret in manager.conf; auth={s.auth})",
        asterisk_message=said, ami_host=s.host, ami_port=s.port, ami_user=s.username,
    )  # fmt: skip


def originate_fields(
    *,
    channel: str,
    variables: Mapping[str, str] | None,
    context: str | None,
    exten: str | None,
    priority: int,
    application: str | None,
    data: str | None,
    caller_id: str | None,
    timeout_ms: int,
) -> dict[str, FieldValue]:
    """Headers of an async Originate (always `Async: true`: panoramisk-era clients crashed without it)."""
    if (application is None) == (context is None or exten is None):
        raise AmiEncodeError("Originate needs either context+exten or application", channel=channel)
    fields: dict[str, FieldValue] = {"Channel": channel}
    if application is not None:
        fields["Application"] = application
        if data is not None:
            fields["Data"] = data
    else:
        fields.update(Context=context or "", Exten=exten or "", Priority=priority)
    if caller_id is not None:
        fields["CallerID"] = caller_id
    fields.update(Timeout=timeout_ms, Async="true")
    if variables:
        fields["Variable"] = channel_variables(variables)
    return fields


class CallbackRunner:
    """Calls on_event for each event; awaits async results one at a time, in event order.

    A failing callback is logged and never reaches the connection.
    """

    def __init__(self, callback: EventCallback | None, log_extra: Mapping[str, object]) -> None:
        self._callback = callback
        self._extra = dict(log_extra)
        self._queue: asyncio.Queue[Awaitable[None]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ami-event-callbacks")

    def deliver(self, event: Event) -> None:
        if self._callback is None:
            return
        try:
            result = self._callback(event)
        except Exception:
            log.exception("on_event callback failed", extra={**self._extra, "ami_event": event.name})
            return
        if inspect.isawaitable(result):
            self._queue.put_nowait(result)

    async def _run(self) -> None:
        while True:
            awaitable = await self._queue.get()
            try:
                await awaitable
            except Exception:
                log.exception("on_event callback failed", extra=self._extra)
            raise_if_cancelling()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # Bounded: a callback that swallows the cancel (redis-py's wait_for) must not hang close().
            await asyncio.wait([task], timeout=5.0)
        while not self._queue.empty():
            leftover = self._queue.get_nowait()
            if inspect.iscoroutine(leftover):
                leftover.close()  # never awaited: close it so Python does not warn
