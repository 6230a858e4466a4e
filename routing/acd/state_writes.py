"""Memory mirrors Redis: the ACD's writes, and what happens while Redis cannot take them.

Owned here: every change of the ACD's state goes to Redis first and then to memory (`commit`,
`mirror`); the compare-and-set writes of an offer and of a hold; calls admitted in memory but
not written yet (an arriving call is written with its first offer's reservation: one round trip);
and the `dirty` mark with the whole state written back once Redis answers again (`rewrite`; tried
in the background once a second by `write_back_later`, under the ACD's lock).
Rules it keeps:
- If Redis fails, calls are still served from memory and the whole state is written again once
  Redis answers (`dirty`); meanwhile nothing is written piecemeal and API events are skipped.
- A write refused because the lease lapsed under it marks memory ahead of Redis too, so owning
  again without anyone else owning meanwhile writes the whole state back.
- A compare-and-set that finds the agent changed (another engine?) believes Redis.
- A stream event never goes out before the state it describes, in Redis or in memory (the API
  answers from memory). One made in a step (one hold of the ACD's lock, `StepLock`: an AMI event,
  a timer round, an API operation) is held and written last by the step's next commit (same script
  or MULTI/EXEC: one round trip), else with the step's other held events in one round trip as the
  step ends; a commit refused (lease lapsed) or failed gives them back for the step's end, written
  unfenced as when each was published at once. An event the table knows describes the change a
  commit records (`carry`: inbound_effects.folded) rides in that commit, and memory mirrors the
  change BEFORE it is sent: the fold of 069a4a0 mirrored after, so the console read the handover
  while the API still said `ringing`. Such a commit refused or failed writes neither, as the event
  after such a commit was never published before (the step stopped, or Redis was marked failing);
  a refused one also puts memory back as it was, as when it mirrored after (`_mirror_first`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any

from core.cancellation import stop_task
from core.errors import NotOwnerError, StoreUnavailableError
from routing.acd.calls import ActiveCall
from routing.acd.context import Ctx
from routing.acd.events import StreamEntry
from routing.acd.store import Change
from routing.acd.timers import Timer, TimerKind
from routing.agents import AgentStatus

log = logging.getLogger("switchboard.acd")

WRITE_BACK_EVERY_S = 1.0


class StepLock(asyncio.Lock):
    """The ACD's lock. Each hold of it is one step; `at_step_end` runs as it ends, before the next
    step can start (StateWrites writes the step's held stream events: steps keep their order)."""

    def __init__(self) -> None:
        super().__init__()
        self.at_step_end: Callable[[], Awaitable[None]] | None = None

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self.at_step_end is not None:
                await self.at_step_end()
        finally:
            self.release()


class StateWrites:
    def __init__(self, ctx: Ctx, lock: StepLock) -> None:
        self.ctx = ctx
        self._lock = lock  # the service's: taken by the background write-back; a hold of it is a step
        lock.at_step_end = self.end_step
        self._next_write_back = 0.0
        self._write_back: asyncio.Task[None] | None = None
        self.dirty = False
        """Memory is ahead of Redis (Redis failed, or the lease lapsed under a write)."""
        # Calls just arrived, in memory but not yet in Redis: each is written with its agent's
        # reservation when it is offered at once (one round trip for both), else by the next commit.
        self._arrived: dict[str, ActiveCall] = {}
        # The step's stream events not written yet, in order (`publish`, `end_step`).
        self._held: list[StreamEntry] = []
        # Events describing the change the next commit records (`carry`): written by it, last.
        self._carried: list[StreamEntry] = []

    async def commit(self, change: Change) -> None:
        """Write `change` (and the calls admitted but not yet written) to Redis and mirror `change`
        in memory (memory alone while Redis is failing)."""
        written = {a.id for a in change.calls} | {a.id for a in change.ended}
        arrived = [a for a in self._arrived.values() if a.id not in written]  # else `change` has it newer
        self._arrived.clear()
        carried, self._carried = self._carried, []
        if self.dirty or not (change or arrived):  # nothing written: carried events wait like any other
            self._held.extend(carried if not self.dirty else ())
            self.mirror(change)
            return
        held, self._held = self._held, []
        undo = self._mirror_first(change) if carried else None  # readers of the events find their state
        try:
            await self.ctx.store.commit(
                replace(change, calls=[*arrived, *change.calls], events=[*held, *carried])
            )
        except StoreUnavailableError as exc:
            self._held[:0] = held  # tried again as the step ends
            self.store_failed(exc)  # memory keeps the change, written back with the whole state
        except BaseException as exc:  # refused (lease lapsed), or cancelled: memory as if never tried
            self._held[:0] = held  # written unfenced as the step ends, as publish did
            if undo is not None:
                undo()
            if isinstance(exc, NotOwnerError):
                self.lost_lease()  # memory has the arrived calls Redis lacks
            raise
        if not carried:
            self.mirror(change)

    def _mirror_first(self, change: Change) -> Callable[[], None]:
        """Mirror `change` now, before its write; returns what puts memory back as it was (a refused
        write must leave no trace: the resync after owning again then ends what it still finds)."""
        state, timers = self.ctx.state, self.ctx.timers
        agents = {s.agent_id: state.statuses.get(s.agent_id) for s in change.statuses}
        calls = {a.id: state.calls.get(a.id) for a in (*change.calls, *change.ended)}
        keys = [*change.cancelled_timers, *(t.key for t in change.timers)]
        keys += [f"{TimerKind.RECHECK}:{a.id}" for a in change.ended]
        before = {key: timers.get_key(key) for key in keys}
        self.mirror(change)

        def undo() -> None:
            now = self.ctx.clock()
            for agent_id, status in agents.items():
                state.set_status(status or AgentStatus(agent_id), now)
            for call_id, active in calls.items():
                if active is None:
                    state.drop_call(call_id)
                else:
                    state.put_call(active)
            for key, timer in before.items():
                if timer is None:
                    timers.cancel_key(key)
                else:
                    timers.set(timer)

        return undo

    def admit(self, active: ActiveCall) -> None:
        """A call just arrived: in memory now; in Redis with its offer's reservation if it is offered
        before anything else is written, else with the next write (`write_arrived` at the latest)."""
        if not self.dirty:
            self._arrived[active.id] = active
        self.mirror(Change(calls=[active]))

    def loaded(self) -> None:
        """The state was loaded from Redis: it is the state now, and calls admitted in memory only
        are not this state's (Asterisk's held callers are adopted)."""
        self.dirty = False
        self._arrived.clear()

    async def write_arrived(self) -> None:
        """Write the admitted calls not written yet (the call was not offered at once: it waits)."""
        if self._arrived:
            await self.commit(Change())

    async def publish(self, kind: str, agent_id: str, data: Mapping[str, Any]) -> None:
        """An event for the API; skipped (and lost) while Redis is failing, never delaying a call.
        Inside a step it is held for the step's next commit or its end; outside one, written now."""
        if self.dirty:
            return
        entry = StreamEntry(kind, agent_id, data)
        if self._lock.locked():
            self._held.append(entry)
        else:
            await self.ctx.events.publish_all([entry])

    def carry(self, events: list[StreamEntry]) -> None:
        """`events` describe the change the next commit records: they go with it (see the module)."""
        self._carried = list(events) if not self.dirty else []

    def carried_left(self) -> bool:
        """True when no commit took the carried events (dropped here: the caller publishes them)."""
        left, self._carried = bool(self._carried), []
        return left

    async def end_step(self) -> None:
        """The step's held events no commit took, in order, in one round trip (failures logged)."""
        if self._held:
            held, self._held = self._held, []
            await self.ctx.events.publish_all(held)

    def mirror(self, change: Change) -> None:
        state, now = self.ctx.state, self.ctx.clock()
        for status in change.statuses:
            state.set_status(status, now)
        for active in change.calls:
            state.put_call(active)
        for active in change.ended:
            state.drop_call(active.id)
            self.ctx.timers.cancel(TimerKind.RECHECK, active.id)
        for key in change.cancelled_timers:
            self.ctx.timers.cancel_key(key)
        for timer in change.timers:
            self.ctx.timers.set(timer)

    async def reserve(self, status: AgentStatus, offered: ActiveCall, timer: Timer, *, held: bool) -> bool:
        """The offer's compare-and-set: the agent reserved and the call offered in one write (with the
        call itself if it was never written). False: Redis says the agent or the call changed."""
        waiting = self._arrived.pop(offered.id, None)  # never written: admitted and offered in one write
        if self.dirty:
            return True  # Redis is behind memory; it gets the whole state once it is back
        try:
            done = await self.ctx.store.reserve(
                status, offered, timer, held=held, arrived=waiting is not None
            )
        except StoreUnavailableError as exc:
            self.store_failed(exc)
            return True
        except NotOwnerError:
            if waiting is not None:
                self._arrived[offered.id] = waiting
            self.lost_lease()
            raise
        if not done and waiting is not None:
            self._arrived[offered.id] = waiting  # not offered: it is written waiting, like any call
        return bool(done)

    async def hold(self, agent_id: str, status: AgentStatus, timer: Timer) -> bool:
        """A hold's compare-and-set (the dialer's, or a consult's: the call is not waiting). False: the
        agent changed meanwhile, and memory now has Redis's status."""
        if not self.dirty:
            try:
                if not await self.ctx.store.hold(status, timer):
                    await self.believe_redis(agent_id)
                    return False
            except StoreUnavailableError as exc:
                self.store_failed(exc)
        return True

    async def believe_redis(self, agent_id: str) -> None:
        """A compare-and-set found the agent changed (another engine?): take Redis's status."""
        fresh = await self.ctx.store.agent_status(agent_id)
        if fresh is not None:
            self.ctx.state.set_status(fresh, self.ctx.clock())

    async def rewrite(self) -> None:
        """Write the whole state back (Redis answers again, or this engine owns the ACD again)."""
        await self.ctx.store.rewrite(self.ctx.state, self.ctx.timers.persistent())
        self.dirty = False

    def write_back_later(self, now: float) -> None:
        """While Redis is failing, try to write the whole state back (in the background, once a second)."""
        if not self.dirty or now < self._next_write_back:
            return
        if self._write_back is not None and not self._write_back.done():
            return
        self._next_write_back = now + WRITE_BACK_EVERY_S
        self._write_back = asyncio.create_task(self._write_back_now(), name="acd-redis-recovery")

    async def _write_back_now(self) -> None:
        if not await self.ctx.store.ping():  # outside the lock: a dead Redis must not stall calls
            return
        async with self._lock:
            try:
                await self.rewrite()
            except (StoreUnavailableError, NotOwnerError):  # not owning: the owner's state stands
                return
        log.warning("Redis is back; the ACD state was written again")

    async def aclose(self) -> None:
        """Stop a write-back under way."""
        await stop_task(self._write_back)  # bounded: a Redis command may swallow the cancel

    def lost_lease(self) -> None:
        """A write refused because the lease lapsed under it: memory is ahead of Redis (a call just
        arrived is only in memory). Marked like a store failure, so that owning again without anyone
        else owning meanwhile writes the whole state back (Ownership._resume); if another engine
        owned meanwhile, its state is loaded and the caller is adopted from Asterisk."""
        if not self.dirty:
            log.warning("the ACD lease lapsed under a write; memory is ahead of Redis until it is back")
        self.dirty = True

    def store_failed(self, exc: StoreUnavailableError) -> None:
        if not self.dirty:
            log.error("Redis failed; serving calls from memory until it is back: %s", exc.message)
        self.dirty = True
