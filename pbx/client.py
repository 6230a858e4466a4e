"""AMI client: one session to Asterisk that survives disconnects.

The socket and panoramisk live in pbx.ami_transport (`AmiConnection`); everything
above it is here: actions have a timeout, fail with AmiConnectionError when the
connection drops, and are never re-sent (the caller decides: it has the call id).
Login (plain or MD5 challenge), backoff with jitter, keepalive and the resync hook
before `ready` live in `AmiClient`. One action's way out and back (its ActionID, deadline, the
fence on call actions for an engine that does not own the calls, its outcome) is pbx.ami_actions.

A dead link must be noticed and a reconnect must not wedge: a keepalive Ping
unanswered within `ping_timeout` aborts the connection; the resync runs bound to
the connection it was started on, so once that connection is lost its actions fail
at once (AmiConnectionError) and the resync is started over on a new connection,
never reported ready on a dead one. Every action outcome and every malformed
message goes to the AmiMonitor (the engine's metrics).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping

from core.cancellation import raise_if_cancelling, stop_task
from core.errors import (
    AmiActionError,
    AmiConnectionError,
    AmiError,
    AmiLoginError,
    AmiTimeoutError,
)
from pbx.ami_actions import AmiActions, originate_fields
from pbx.ami_callbacks import (
    AmiMonitor,
    CallbackRunner,
    ConnectedCallback,
    DisconnectedCallback,
    EventCallback,
    NullMonitor,
)
from pbx.ami_settings import AmiSettings, backoff_delay, login_fields, login_refused
from pbx.ami_transport import AmiConnection, SkipEvents, open_connection
from pbx.codec import ActionResult, Event, FieldValue, Response

__all__ = ["AmiClient", "AmiMonitor", "AmiSettings", "EventCallback"]

log = logging.getLogger("switchboard.ami")


# Set while on_connected runs, to (client, the connection it resyncs): its own actions
# (CoreShowChannels...) go out on that connection before `ready`, and fail once it is lost.
_RESYNCING: contextvars.ContextVar[tuple[object, AmiConnection] | None] = contextvars.ContextVar(
    "ami_resyncing", default=None
)


class AmiClient:
    """One AMI session to Asterisk that survives disconnects; see the module docstring."""

    def __init__(
        self,
        settings: AmiSettings,
        *,
        on_event: EventCallback | None = None,
        on_connected: ConnectedCallback | None = None,
        on_disconnected: DisconnectedCallback | None = None,
        rng: random.Random | None = None,
        monitor: AmiMonitor | None = None,
        skipping: SkipEvents | None = None,
    ) -> None:
        self._settings = settings
        self._skipping = skipping  # events nobody reads: not delivered, only counted (pbx.event_filter)
        self._monitor: AmiMonitor = monitor or NullMonitor()
        self._was_ready = False
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._rng = rng or random.Random()
        self._extra = {"ami_host": settings.host, "ami_port": settings.port, "ami_user": settings.username}
        self._protocol: AmiConnection | None = None
        self._ready = asyncio.Event()
        self._changed = asyncio.Event()
        self._started = False
        self._closing = False
        self._fatal: AmiLoginError | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._events = CallbackRunner(on_event, self._extra)
        self._actions = AmiActions(self._monitor, self._extra, self._usable_protocol)
        self.server_version: str | None = None

    @property
    def fence(self) -> Callable[[], bool] | None:
        """Whether this engine owns the calls now (core/lease.py `owned`); None: one engine, no fence."""
        return self._actions.fence

    @fence.setter
    def fence(self, fence: Callable[[], bool] | None) -> None:
        self._actions.fence = fence

    # -- state ------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        protocol = self._protocol
        return self._ready.is_set() and protocol is not None and not protocol.closed

    def contact_age(self) -> float | None:
        """Seconds since the last byte from Asterisk on the current connection (None: no connection)."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            return None
        return time.monotonic() - protocol.last_contact

    @property
    def fatal_error(self) -> AmiLoginError | None:
        """Set when Asterisk refused the login on a reconnect: the client stopped retrying."""
        return self._fatal

    async def wait_fatal(self) -> AmiLoginError:
        """Wait until a reconnect is refused for good (the engine then exits with the cause)."""
        while (fatal := self._fatal_copy()) is None:
            await self._changed.wait()
        return fatal

    def _fatal_copy(self) -> AmiLoginError | None:
        """A fresh copy each time: re-raising one object grows its traceback."""
        fatal = self._fatal
        return None if fatal is None else AmiLoginError(fatal.message, **fatal.details)

    def _notify(self) -> None:
        self._changed.set()
        self._changed.clear()  # waiters already woken keep their wake-up

    async def wait_ready(self, timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                await self._usable_protocol()
        except TimeoutError:
            raise AmiTimeoutError(f"AMI not ready within {timeout:g}s", timeout=timeout) from None

    async def wait_down(self, timeout: float) -> None:
        """Wait until the client has noticed that its connection is gone (it is then not `ready`)."""
        try:
            async with asyncio.timeout(timeout):
                while self.ready:
                    await self._changed.wait()
        except TimeoutError:
            raise AmiTimeoutError(f"AMI still connected after {timeout:g}s", timeout=timeout) from None

    async def _usable_protocol(self) -> AmiConnection:
        while True:
            if (fatal := self._fatal_copy()) is not None:
                raise fatal
            if self._closing or not self._started:
                raise AmiConnectionError("AMI client is not connected (connect() not called or closed)")
            resync = _RESYNCING.get()
            if resync is not None and resync[0] is self:
                if resync[1].closed:
                    raise AmiConnectionError("the AMI connection was lost during the resync", **self._extra)
                return resync[1]
            protocol = self._protocol
            if protocol is not None and not protocol.closed and self._ready.is_set():
                return protocol
            await self._changed.wait()

    # -- connecting ---------------------------------------------------------------
    async def connect(self) -> None:
        """First connect and login. AmiLoginError is final; AmiConnectionError if unreachable."""
        if self._started:
            raise AmiError("AmiClient.connect() was already called")
        self._started = True
        self._events.start()
        try:
            await self._establish()
        except BaseException:
            self._started = False
            await self._stop_tasks()
            raise
        self._supervisor = asyncio.create_task(self._supervise(), name="ami-supervisor")

    async def _establish(self) -> None:
        protocol = await self._open()
        try:
            await self._login(protocol)
            self._protocol = protocol
            await self._resync(protocol)
            if protocol.closed:  # the resync worked on a dead connection: its picture is not trusted
                text = "AMI connection lost during the resync; starting it over"
                raise AmiConnectionError(text, **self._extra)
        except BaseException:
            protocol.close()
            self._protocol = None
            raise
        if self._settings.ping_interval > 0:
            self._keepalive = asyncio.create_task(self._keep_alive(protocol), name="ami-keepalive")
        self._ready.set()
        self._notify()
        log.info("AMI ready", extra={**self._extra, "ami_version": self.server_version})
        self._monitor.became_ready(self._was_ready)
        self._was_ready = True

    async def _open(self) -> AmiConnection:
        protocol, self.server_version = await open_connection(
            self._settings, self._events.deliver, self._monitor, self._extra, self._skipping
        )
        return protocol

    async def _login(self, protocol: AmiConnection) -> None:
        s = self._settings
        challenge: str | None = None
        try:
            if s.auth == "md5":
                answer = await self._request(protocol, "Challenge", {"AuthType": "MD5"}, s.action_timeout)
                if not answer.response.ok:
                    raise self._login_error("the MD5 challenge", answer.response)
                challenge = answer.response.get("Challenge") or ""
            result = await self._request(protocol, "Login", login_fields(s, challenge), s.action_timeout)
        except AmiTimeoutError as exc:  # a server that greets but never answers is unusable
            text = f"AMI at {s.host}:{s.port} did not answer the login"
            raise AmiConnectionError(text, **self._extra) from exc
        if not result.response.ok:
            raise self._login_error("the login", result.response)

    def _login_error(self, step: str, response: Response) -> AmiLoginError:
        error = login_refused(self._settings, step, response.message or response.status)
        log.error(error.message, extra=self._extra)
        return error

    async def _resync(self, protocol: AmiConnection) -> None:
        if self._on_connected is None:
            return
        token = _RESYNCING.set((self, protocol))
        try:
            await self._on_connected()
        finally:
            _RESYNCING.reset(token)

    async def _supervise(self) -> None:
        while not self._closing:
            protocol = self._protocol
            if protocol is None:
                return
            reason = await protocol.lost
            self._ready.clear()
            self._protocol = None
            self._notify()
            if self._keepalive is not None:
                self._keepalive.cancel()
            if self._closing:
                return
            log.warning("AMI %s; reconnecting", reason, extra=self._extra)
            self._tell_disconnected(reason)
            if not await self._reconnect():
                return

    async def _reconnect(self) -> bool:
        for attempt in itertools.count():
            delay = backoff_delay(self._settings, attempt, self._rng)
            await asyncio.sleep(delay)
            # A close must end the attempts even if a resync (redis-py) swallowed the cancel.
            raise_if_cancelling()
            if self._closing:
                return False
            try:
                await self._establish()
            except AmiLoginError as exc:
                self._fatal = exc
                self._notify()
                self._tell_disconnected(f"login refused: {exc.message}")
                return False
            except AmiError as exc:
                log.warning("AMI reconnect %d failed: %s", attempt, exc.message, extra=self._extra)
            except Exception:
                log.exception("AMI resync after reconnect %d failed", attempt, extra=self._extra)
            else:
                return True
        return False  # pragma: no cover

    def _tell_disconnected(self, reason: str) -> None:
        try:
            if self._on_disconnected is not None:
                self._on_disconnected(reason)
        except Exception:
            log.exception("on_disconnected callback failed", extra=self._extra)

    async def _keep_alive(self, protocol: AmiConnection) -> None:
        """A Ping every ping_interval; unanswered within ping_timeout, the link is dead: abort it."""
        s = self._settings
        while not protocol.closed:
            await asyncio.sleep(s.ping_interval)
            try:
                await self._request(protocol, "Ping", None, s.ping_timeout)
            except AmiTimeoutError:
                reason = f"keepalive Ping unanswered within {s.ping_timeout:g}s (link stalled)"
                log.warning("AMI %s; dropping the connection", reason, extra=self._extra)
                protocol.abort(reason)
                return
            except AmiConnectionError:
                return
            raise_if_cancelling()

    # -- actions ----------------------------------------------------------------------
    async def send(
        self,
        action: str,
        fields: Mapping[str, FieldValue] | None = None,
        *,
        timeout: float | None = None,
        check: bool = False,
        action_id: str | None = None,
    ) -> ActionResult:
        """Send once, wait for the whole answer. Never re-sent; waits for `ready` within `timeout`."""
        limit = self._settings.action_timeout if timeout is None else timeout
        chosen_id = action_id or self._actions.next_id()
        result = await self._actions.transact(action, fields, limit, chosen_id, None)
        if check and not result.response.ok:
            raise AmiActionError(
                f"Asterisk answered {action} with {result.response.status}: {result.response.message}",
                action=action, action_id=action_id, asterisk_message=result.response.message,
            )  # fmt: skip
        return result

    async def submit(
        self,
        action: str,
        fields: Mapping[str, FieldValue] | None = None,
        *,
        timeout: float | None = None,
        action_id: str | None = None,
    ) -> Awaitable[ActionResult]:
        """Send once now and return the answer to await later: the caller goes on meanwhile (its
        next action is written after this one). What is known before the bytes leave is raised
        here (not sent: encode error, fenced, not ready within `timeout`); the rest by the answer."""
        limit = self._settings.action_timeout if timeout is None else timeout
        chosen_id = action_id or self._actions.next_id()
        return await self._actions.submit(action, fields, limit, chosen_id, None)

    async def _request(
        self, protocol: AmiConnection, action: str, fields: Mapping[str, FieldValue] | None, limit: float
    ) -> ActionResult:
        """An action on one given connection (login, keepalive), bypassing `ready`."""
        return await self._actions.transact(action, fields, limit, self._actions.next_id(), protocol)

    async def originate(
        self,
        *,
        channel: str,
        variables: Mapping[str, str] | None = None,
        context: str | None = None,
        exten: str | None = None,
        priority: int = 1,
        application: str | None = None,
        data: str | None = None,
        caller_id: str | None = None,
        timeout_ms: int = 30000,
        action_id: str | None = None,
        timeout: float | None = None,
    ) -> ActionResult:
        """Async Originate; returns Asterisk's immediate Response. The outcome comes later as an
        `OriginateResponse` event with the same ActionID (via on_event). Never re-sent."""
        fields = originate_fields(
            channel=channel, variables=variables, context=context, exten=exten, priority=priority,
            application=application, data=data, caller_id=caller_id, timeout_ms=timeout_ms,
        )  # fmt: skip
        return await self.send("Originate", fields, timeout=timeout, action_id=action_id)

    async def core_show_channels(self, timeout: float | None = None) -> list[Event]:
        """The channels Asterisk has now (CoreShowChannel events), for resync."""
        result = await self.send("CoreShowChannels", timeout=timeout, check=True)
        return [event for event in result.events if event.name == "CoreShowChannel"]

    # -- closing ----------------------------------------------------------------------
    async def close(self) -> None:
        """Log off and stop; pending and waiting actions fail with AmiConnectionError."""
        if self._closing:
            return
        self._closing = True
        protocol, self._protocol = self._protocol, None
        self._ready.clear()
        self._notify()
        if protocol is not None and not protocol.closed:
            with contextlib.suppress(AmiError):
                await self._request(protocol, "Logoff", None, min(1.0, self._settings.action_timeout))
            protocol.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await protocol.lost
        await self._stop_tasks()
        log.info("AMI client closed", extra=self._extra)

    async def _stop_tasks(self) -> None:
        for task in (self._supervisor, self._keepalive):
            await stop_task(task)  # bounded: a service's resync may swallow the cancel
        await self._events.stop()
