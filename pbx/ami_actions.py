"""One AMI action, sent once: its ActionID, its deadline, the fence, its outcome reported.

Owned here: what happens to an action between `AmiClient.send` (or the client's own login and
keepalive) and its answer. The bytes are encoded before anything is sent (AmiEncodeError); the
action waits for a usable connection within its timeout, is written once and never re-sent; a
timeout says whether it was sent at all. Every outcome goes to the AmiMonitor.

Actions that change calls (FENCED_ACTIONS: Originate, Bridge, Redirect, Hangup) are fenced when
the engine gives a `fence` (its ownership lease, core/lease.py): checked in the same step that
writes the bytes, so an engine frozen or cut off past its lease, or superseded by another engine,
sends none of them, even one decided before the freeze (AmiFencedError, nothing sent).
`originate_fields` builds an Originate's headers (pure).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping

from core.errors import AmiConnectionError, AmiEncodeError, AmiFencedError, AmiTimeoutError
from pbx.ami_callbacks import DISCONNECTED, ERROR, FENCED, SUCCESS, TIMEOUT, AmiMonitor
from pbx.ami_transport import AmiConnection
from pbx.codec import ActionResult, FieldValue, channel_variables, encode_action

log = logging.getLogger("switchboard.ami")

FENCED_ACTIONS = frozenset({"Originate", "Bridge", "Redirect", "Hangup"})
"""Actions that ring, connect, move or end calls: only the owner of the calls may send them."""


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


class AmiActions:
    """The actions of one AmiClient; `usable` waits for the connection an action may go out on."""

    def __init__(
        self,
        monitor: AmiMonitor,
        extra: Mapping[str, object],
        usable: Callable[[], Awaitable[AmiConnection]],
    ) -> None:
        self._monitor = monitor
        self._extra = extra
        self._usable = usable
        self._ids = itertools.count(1)
        self._id_prefix = f"sb-{uuid.uuid4().hex[:8]}-"
        self.fence: Callable[[], bool] | None = None
        """Whether this engine owns the calls now (core/lease.py `owned`); None: one engine, no fence."""

    def next_id(self) -> str:
        return f"{self._id_prefix}{next(self._ids)}"

    async def transact(
        self,
        action: str,
        fields: Mapping[str, FieldValue] | None,
        limit: float,
        action_id: str,
        protocol: AmiConnection | None,
    ) -> ActionResult:
        """Send once on `protocol` (None: the usable connection, waited for) and wait for the answer."""
        answer = await self.submit(action, fields, limit, action_id, protocol)
        return await answer

    async def submit(
        self,
        action: str,
        fields: Mapping[str, FieldValue] | None,
        limit: float,
        action_id: str,
        protocol: AmiConnection | None,
    ) -> Awaitable[ActionResult]:
        """Send once now (waiting only for a usable connection, within `limit`); returns the answer
        to await, within what is left of `limit`. What is known before the bytes leave is raised
        here: AmiEncodeError, AmiFencedError, AmiTimeoutError with `sent` False, AmiConnectionError."""
        data = encode_action(action, action_id, fields)  # AmiEncodeError before anything is sent
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + limit
        try:
            async with asyncio.timeout_at(deadline):
                target = protocol or await self._usable()
            self._check_fence(action, action_id)  # no await between the check and the write
            future = target.submit(action, action_id, data)
        except TimeoutError:
            self._monitor.action_done(action, TIMEOUT, None)
            raise AmiTimeoutError(
                f"{action} got no answer within {limit:g}s (never sent: AMI was not ready)",
                action=action, action_id=action_id, timeout=limit, sent=False,
            ) from None  # fmt: skip
        except AmiConnectionError:
            self._monitor.action_done(action, DISCONNECTED, None)
            raise
        return self._answer(action, action_id, target, future, started=started, limit=limit)

    async def _answer(
        self,
        action: str,
        action_id: str,
        target: AmiConnection,
        future: asyncio.Future[ActionResult],
        *,
        started: float,
        limit: float,
    ) -> ActionResult:
        """The answer to an action already written, by `started + limit`; reported to the monitor."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(started + limit):
                try:
                    result = await future
                finally:
                    if not future.done() or future.cancelled():
                        target.forget(action_id)
        except TimeoutError:
            self._monitor.action_done(action, TIMEOUT, None)
            raise AmiTimeoutError(
                f"{action} got no answer within {limit:g}s",
                action=action, action_id=action_id, timeout=limit, sent=True,
            ) from None  # fmt: skip
        except AmiConnectionError:
            self._monitor.action_done(action, DISCONNECTED, None)
            raise
        seconds = loop.time() - started
        self._monitor.action_done(action, SUCCESS if result.response.ok else ERROR, seconds)
        return result

    def _check_fence(self, action: str, action_id: str) -> None:
        if self.fence is None or action not in FENCED_ACTIONS or self.fence():
            return
        self._monitor.action_done(action, FENCED, None)
        log.warning("%s not sent: this engine does not own the calls (lease lapsed or taken)", action,
                    extra={**self._extra, "action": action, "action_id": action_id})  # fmt: skip
        raise AmiFencedError(
            f"{action} not sent: this engine does not own the calls now", action=action, action_id=action_id,
            sent=False,
        )  # fmt: skip
