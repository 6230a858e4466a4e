"""The dialer's settings and the background work of its shell (DialerService holds one BackgroundWork).

Redis-bound work never runs in the engine's own event handling or ticker: it is spawned into the
service's tasks (`spawn`), each bounded by the store timeout (`bounded`), or retried with a capped
back-off for as long as `retry_for_s` when it must not be lost to an outage (`retried`: outcome
writes, agent releases). Both map store failures at their boundary (core.store_errors) and catch
the product's errors only. AMI effects (`ami`) are sent at once; a refusal is counted and logged.
An effect on a customer's channel that Asterisk did not confirm (its answer lost with the link, or
never sent: AMI was not ready) is kept in `owed` until a channel listing says whether it is still
due (dialer.calls.resync.still_due): the takeover sends it again after the reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from core.cancellation import raise_if_cancelling
from core.errors import AmiError, AmiFencedError, SwitchboardError
from core.step_deadline import bounded_step
from core.store_errors import store_available
from dialer.calls.dial_metrics import DialerMetrics
from pbx.service import ActionSender

log = logging.getLogger("switchboard.dialer")

OWED_MAX = 10_000  # unconfirmed effects kept (each is dropped at the next listing that shows it done)


@dataclass(frozen=True, slots=True)
class OwedAction:
    """An AMI effect on a call's customer that Asterisk did not confirm."""

    call_id: str
    campaign_id: str
    channel: str
    action: str
    fields: Mapping[str, str | int]


@dataclass(frozen=True)
class DialerSettings:
    round_interval_s: float = 0.5  # pacing rounds (while leader)
    round_timeout_s: float = 5.0  # a round that takes longer is cancelled (Redis frozen)
    lease_ms: int = 3000  # the pacing lease's TTL (own lease only); heartbeat 3x, takeover checks 1x
    lease_renew_s: float = 1.0  # its renewal (and a standby's takeover poll) period
    store_timeout_s: float = 2.0  # any single Redis step of the shell
    amd_timeout_s: float = 15.0  # answered, no AMD verdict by then: treated as a person
    answer_margin_s: float = 30.0  # no OriginateResponse by ring timeout + this: settled as failed
    housekeeping_s: float = 10.0  # requeue leads of dead engines, expire preview offers, gauges
    retry_for_s: float = 600.0  # outcome writes and agent releases are retried this long in an outage


class BackgroundWork:
    """The dialer shell's own tasks and how they are bounded, retried and stopped."""

    def __init__(self, settings: DialerSettings, sender: ActionSender, metrics: DialerMetrics) -> None:
        self.settings = settings
        self.sender = sender
        self.metrics = metrics
        self.tasks: set[asyncio.Task[Any]] = set()
        self.owed: OrderedDict[str, OwedAction] = OrderedDict()  # by channel
        self.closed = False
        """Set by `close`: no new round, retry or takeover starts."""

    @staticmethod
    async def then(work: Callable[[], Awaitable[None]], done: Callable[[], None]) -> None:
        """`work()`, then `done()` whatever happens. Made here, not by the caller: a task cancelled
        before it ran (at close) would leave a coroutine made outside never awaited."""
        try:
            await work()
        finally:
            done()

    async def retried(self, step: str, make: Callable[[], Awaitable[object]]) -> None:
        """Redis-bound work that must not be lost to an outage: retried with a capped back-off."""
        delay, give_up = 0.25, time.monotonic() + self.settings.retry_for_s
        bound = self.settings.store_timeout_s * 2
        while True:
            try:
                with store_available(step):  # an AMI wait inside (the desk's Hangup) ends first, as AMI's
                    async with bounded_step(bound, keep=bound / 4):
                        await make()
                return
            except SwitchboardError as exc:  # StoreUnavailableError, or a store's own refusal
                self.metrics.errors.labels(step=step).inc()
                log.warning("dialer step %s failed, retrying: %s", step, exc.message)
            raise_if_cancelling()
            if self.closed or time.monotonic() + delay > give_up:
                log.error(
                    "dialer step %s given up (%s)", step, "closing" if self.closed else "retried too long"
                )
                return
            await asyncio.sleep(delay)  # back off before retrying the store, not a synchronisation
            delay = min(delay * 2, 5.0)

    async def ami(self, action: str, fields: Mapping[str, str | int], owed: OwedAction | None = None) -> bool:
        """Send once; False only when the action was fenced (this engine does not own the calls).
        `owed`: the effect to keep while Asterisk has not confirmed it (answered, even with a refusal)."""
        confirmed = False
        try:
            result = await self.sender.send(action, fields, timeout=self.settings.store_timeout_s)
            confirmed = True
            if not result.response.ok:
                self.metrics.errors.labels(step=action.lower()).inc()
                log.warning("%s refused by Asterisk: %s", action, result.response.message)
        except AmiFencedError:
            if owed is not None:
                self.owed.pop(owed.channel, None)  # not this engine's to do any more
            return False
        except AmiError as exc:
            self.metrics.errors.labels(step=action.lower()).inc()
            kept = "; kept: sent again after the reconnect if still due" if owed is not None else ""
            log.warning("%s failed: %s%s", action, exc.message, kept)
        if owed is not None:
            self._owe(owed, confirmed)
        return True

    def _owe(self, owed: OwedAction, confirmed: bool) -> None:
        self.owed.pop(owed.channel, None)
        if not confirmed:
            self.owed[owed.channel] = owed
            while len(self.owed) > OWED_MAX:
                self.owed.popitem(last=False)

    async def bounded(self, step: str, work: Awaitable[None], timeout: float | None = None) -> None:
        bound = timeout or self.settings.store_timeout_s
        try:
            with store_available(step):  # an AMI wait inside (a hand-over's) ends first, as AMI's
                async with bounded_step(bound, keep=bound / 4):
                    await work
        except SwitchboardError as exc:  # StoreUnavailableError, AmiError, a store's own refusal
            self.metrics.errors.labels(step=step).inc()
            log.warning("dialer step %s failed: %s", step, exc.message)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def close(self, *others: asyncio.Task[Any] | None) -> None:
        """Stop: cancel the spawned tasks (and `others`), waiting a bounded time for them."""
        self.closed = True
        tasks = [task for task in (*others, *self.tasks) if task is not None]
        for task in tasks:
            task.cancel()
        if tasks:  # bounded: a library may swallow a cancellation (asyncio.wait_for on Python 3.11)
            await asyncio.wait(tasks, timeout=2.0)

    async def settled(self) -> None:
        """Wait until every task spawned so far is done (tests, graceful stop)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
