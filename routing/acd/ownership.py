"""Who runs the ACD among engines sharing one Redis and one Asterisk, and taking it over.

Owned here (docs/reliability.md): given a core.lease.Lease, the ACD acts only while this engine
`owns` it: it holds the lease and has reloaded the state from Redis under that lease's token. A
standby ignores every call event, timer and dialer request; its Redis writes are fenced anyway.
When the lease comes (back), `take_over` reloads the state from Redis, or, when nobody else owned
it since this engine did (Lease.continues), writes back what memory has that Redis may lack; then
it resyncs with Asterisk, whose events went unhandled meanwhile. No lease: one engine, it owns.
`settled`: it owns and has resynced since (the dialer plans the calls it takes over only then, so
its abandon decisions never race the Bridges of the ACD's takeover resync).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from core.cancellation import stop_task
from core.errors import NotOwnerError, StoreUnavailableError
from core.lease import Lease
from routing.acd.state_writes import StateWrites

log = logging.getLogger("switchboard.acd")
_NEVER = object()  # no resync yet


class Ownership:
    """`reload` loads the state from Redis (AcdService.load, which calls `loaded`); `resync` runs the
    resync with Asterisk after a takeover; `logged_in` says whether AMI is logged in now."""

    def __init__(
        self,
        lease: Lease | None,
        lock: asyncio.Lock,
        writes: StateWrites,
        *,
        reload: Callable[[], Awaitable[None]],
        resync: Callable[[], Awaitable[None]],
        logged_in: Callable[[], bool],
    ) -> None:
        self.lease = lease
        self._lock = lock
        self._writes = writes
        self._reload = reload
        self._resync = resync
        self._logged_in = logged_in
        self._owned_token: int | None = None
        self._last_token: int | None = None  # of the last ownership whose state memory holds
        self._loaded = False
        self._resynced_under: object = _NEVER  # the token of the ownership it last resynced in
        self._takeover: asyncio.Task[None] | None = None
        if lease is not None:
            lease.on_change(self.lease_changed)

    @property
    def owns(self) -> bool:
        """This engine runs the ACD: no lease (one engine), or it holds the lease and has reloaded
        the state from Redis under its current token."""
        lease = self.lease
        return lease is None or (lease.owned and self._owned_token == lease.token)

    @property
    def settled(self) -> bool:
        """It owns and has matched Asterisk's channels since it took over."""
        return self.owns and self._resynced_under == self.token

    def resynced(self) -> None:
        self._resynced_under = self.token

    @property
    def token(self) -> int | None:
        """The lease's current fencing token (None: no lease)."""
        return self.lease.token if self.lease is not None else None

    def loaded(self, token: int | None) -> None:
        """The state was loaded from Redis under `token` (taken before the load began)."""
        self._owned_token = self._last_token = token
        self._loaded = True

    def retry_if_due(self) -> None:
        """On a tick while not owning: a takeover whose reload failed is tried again."""
        if self.lease is not None and self.lease.owned:
            self.lease_changed(True)

    def lease_changed(self, owned: bool) -> None:
        if not owned:
            self._owned_token = None
        elif self._loaded and (self._takeover is None or self._takeover.done()):
            self._takeover = asyncio.create_task(self.take_over(), name="acd-takeover")

    async def take_over(self) -> None:
        """This engine (again) owns the ACD: reload the state from Redis, or, when nobody else owned
        it since this engine did (Lease.continues), write back what memory has that Redis may lack;
        then resync with Asterisk (events went unhandled while it did not own)."""
        lease = self.lease
        while lease is not None and lease.owned and self._owned_token != lease.token:
            try:
                own_again = self._last_token is not None and lease.continues == self._last_token
                await (self._resume() if own_again else self._reload())
            except (StoreUnavailableError, NotOwnerError) as exc:  # tried again at the next tick
                log.error("ACD takeover: could not reload from Redis: %s", exc.message)
                return
        if not self.owns or not self._logged_in():
            return  # not logged in to Asterisk: the resync after the login does it
        try:
            await self._resync()
        except Exception:  # the next reconnect's resync is the fallback; the ACD keeps running
            log.exception("ACD takeover: the resync with Asterisk failed")

    async def _resume(self) -> None:
        async with self._lock:
            token = self.token
            if self._writes.dirty:
                await self._writes.rewrite()
            self._owned_token = self._last_token = token
            log.warning("ACD: this engine owns it again, nobody did meanwhile; its state is kept")

    async def aclose(self) -> None:
        """Stop a takeover under way."""
        await stop_task(self._takeover)  # bounded: a Redis command may swallow the cancel
