"""What the AMI client tells the code that uses it: the callbacks it calls, the monitor it reports
every action's outcome to, and the ordered runner for async event callbacks.

A callback or monitor that fails is logged and never reaches the connection.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from core.cancellation import raise_if_cancelling
from pbx.codec import Event

log = logging.getLogger("switchboard.ami")

EventCallback = Callable[[Event], Awaitable[None] | None]
ConnectedCallback = Callable[[], Awaitable[None]]
DisconnectedCallback = Callable[[str], None]


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


class CallbackRunner:
    """Calls on_event for each event; awaits async results one at a time, in event order.

    A failing callback is logged and never reaches the connection.
    """

    def __init__(self, callback: EventCallback | None, log_extra: Mapping[str, object]) -> None:
        self._callback = callback
        self._extra = dict(log_extra)
        # A deque and one wake-up future rather than an asyncio.Queue: the same order, with a few
        # calls less per event (two dozen events a call; docs/performance.md, figure 4's CPU).
        self._queue: deque[Awaitable[None]] = deque()
        self._wakeup: asyncio.Future[None] | None = None
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
            self._queue.append(result)
            wakeup = self._wakeup
            if wakeup is not None and not wakeup.done():
                wakeup.set_result(None)

    async def _run(self) -> None:
        queue = self._queue
        while True:
            while not queue:
                self._wakeup = asyncio.get_running_loop().create_future()
                await self._wakeup
            awaitable = queue.popleft()
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
        while self._queue:
            leftover = self._queue.popleft()
            if inspect.iscoroutine(leftover):
                leftover.close()  # never awaited: close it so Python does not warn
