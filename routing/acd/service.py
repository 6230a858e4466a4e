"""AcdService: the inbound ACD as a PbxService, plus what the API and the reload code call.

It holds its parts (composition, no base class): the CallFlow (call events), the Dispatcher,
Outbound (the dialer's side) and Operations (what people do through the API, api_operations.py),
all sharing one Ctx and the one lock.

Owned here: the entry points and their one lock. Call events (handle), timers
(tick), the resync after every (re)login, API requests and rule swaps all run
one at a time under `_lock`, so the routing snapshot, the agent statuses and
Redis never see two changes interleave. The work itself is in callflow.py
(call events), dispatcher.py (routing and the agent lifecycle), store.py
(Redis), executor.py (AMI), outbound.py (the dialer's held agents and answered calls).

Ownership (several engines on one Redis and one Asterisk; docs/reliability.md): given a
core.lease.Lease, the service acts only while it `owns` the ACD: it holds the lease and has
reloaded the state from Redis under that lease's token. A standby ignores every call event, timer
and dialer request (its AMI connection sees all the calls, but never rings, bridges or hangs up
a leg); its Redis writes are fenced anyway. When it becomes the owner it reloads from Redis and
runs the resync an AMI reconnect runs (`on_owned`, the runtime's Engine.resync), which adopts the
callers Asterisk holds.

Wiring (the runtime): build it with the engine's AMI client as `sender`, `await
load()` before the engine starts, add it to the engine's services, and call
`await replace_rules(new)` for each valid edit of routing.yaml.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

import redis.asyncio as aioredis

from core.clock import Clock
from core.config.loader import content_hash
from core.errors import NotOwnerError, StoreUnavailableError, ValidationFailedError
from core.lease import Lease
from pbx.call_changes import (
    Bridged,
    CallChange,
    ChannelHungUp,
    DialStarted,
    OriginateResult,
    Transferred,
    UserEventSeen,
)
from pbx.codec import Event
from pbx.service import ActionSender
from pbx.switchboard_events import AgentAnswered, InboundArrived, NoticeUnheard, decode
from pbx.tracker import CallTracker
from routing.acd.acd_keys import AcdKeys
from routing.acd.acd_metrics import AcdMetrics
from routing.acd.adoption import Adoption
from routing.acd.api_operations import Operations
from routing.acd.callers import Callers
from routing.acd.callflow import CallFlow
from routing.acd.calls import CallState
from routing.acd.context import AcdOptions, Ctx
from routing.acd.dispatcher import Dispatcher
from routing.acd.events import AcdEvents
from routing.acd.executor import Executor
from routing.acd.notices import Notices
from routing.acd.outage_store import OutageRecord, OutageStore
from routing.acd.outbound import HandedCall, Outbound, PacingAgent
from routing.acd.state import AcdState
from routing.acd.store import AcdStore
from routing.acd.timers import Timers
from routing.acd.views import AgentInfo, CaseInfo, QueueInfo
from routing.agent_events import AgentState
from routing.outages import OutageSpec, check_numbers
from routing.queue import Needs
from routing.rules import AgentSpec, Rules

log = logging.getLogger("switchboard.acd")

RECOVERY_EVERY_S = 1.0
_RELEVANT = (UserEventSeen, OriginateResult, ChannelHungUp, DialStarted, Transferred, Bridged)


class AcdService:
    """See the module docstring. `instance_id` goes on every agent leg (SWITCHBOARD_ENGINE)."""

    name = "acd"

    def __init__(
        self,
        redis: aioredis.Redis,
        sender: ActionSender,
        rules: Rules,
        metrics: AcdMetrics,
        *,
        clock: Clock = time.time,
        instance_id: str = "acd",
        options: AcdOptions | None = None,
        keys: AcdKeys | None = None,
        lease: Lease | None = None,
        on_owned: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        options = options or AcdOptions()
        keys = keys or AcdKeys()
        executor = Executor(
            sender,
            metrics,
            instance_id=instance_id,
            agent_context=options.agent_context,
            exit_context=options.exit_context,
            transfer_context=options.transfer_context,
            action_timeout_s=options.action_timeout_s,
            may_act=lambda: self.owns,
        )
        ctx = Ctx(
            state=AcdState(rules),
            store=AcdStore(redis, keys, ended_ttl_s=options.ended_call_ttl_s, lease=lease),
            events=AcdEvents(redis, keys),
            executor=executor,
            timers=Timers(),
            metrics=metrics,
            clock=clock,
            options=options,
            instance_id=instance_id,
        )
        dispatcher = Dispatcher(ctx)
        callers = Callers(ctx, dispatcher)
        self.outages = OutageStore(redis, keys)
        """Declared outages and their counters (the API and CLI read and declare through it)."""
        self.notices = Notices(ctx, self.outages, callers.caller_of)
        flow = CallFlow(
            ctx, dispatcher, callers, notices=self.notices,
            adoption=lambda flow: Adoption(ctx, dispatcher, flow, options.inbound_context),
        )  # fmt: skip
        self.ctx, self.dispatcher, self.flow, self.lock = ctx, dispatcher, flow, asyncio.Lock()
        self.operations = Operations(ctx, dispatcher, flow, self.lock)
        """What people do through the API (api_operations.py); the methods below hand over to it."""
        self.outbound = Outbound(ctx, dispatcher, flow)
        self._next_sweep = 0.0
        self._next_gauges = 0.0
        self._next_recovery = 0.0
        self._recovery: asyncio.Task[None] | None = None
        self.lease = lease
        self.on_owned = on_owned
        """What runs after a takeover's reload: the engine's resync (CoreShowChannels, then every
        service's resync). None: this service's resync with the tracker it last saw."""
        self._owned_token: int | None = None
        self._last_token: int | None = None  # of the last ownership whose state memory holds
        self._loaded = False
        self._tracker: CallTracker | None = None
        self._takeover: asyncio.Task[None] | None = None
        if lease is not None:
            lease.on_change(self._lease_changed)

    @property
    def rules(self) -> Rules:
        return self.ctx.state.rules

    @property
    def events(self) -> AcdEvents:
        return self.ctx.events

    # -- PbxService -----------------------------------------------------------------------
    async def handle(self, event: Event, changes: Sequence[CallChange]) -> None:
        relevant = [c for c in changes if isinstance(c, _RELEVANT)]
        if not relevant or not self.owns:
            return
        async with self.lock:
            self.ctx.executor.started()
            for change in relevant:
                try:
                    await self._on_change(change)
                except Exception:  # one bad change must not stop the others of this event
                    log.exception("ACD failed on %s", type(change).__name__, extra={"event": event.name})

    async def _on_change(self, change: CallChange) -> None:
        flow = self.flow
        if isinstance(change, UserEventSeen):
            announced = decode(change)
            if isinstance(announced, InboundArrived):
                await flow.inbound(announced)
            elif isinstance(announced, AgentAnswered):
                await flow.agent_answered(announced)
            elif isinstance(announced, NoticeUnheard) and flow.notices is not None:
                await flow.notices.on_unheard(announced.call_id, announced.outage_id, announced.status)
        elif isinstance(change, OriginateResult):
            await flow.originate_result(change)
        elif isinstance(change, ChannelHungUp):
            await flow.channel_gone(change)
        elif isinstance(change, DialStarted):
            await flow.dial_started(change)
        elif isinstance(change, Transferred):
            await flow.phone_transferred(change)
        elif isinstance(change, Bridged):
            await flow.bridged(change)

    async def resync(self, tracker: CallTracker) -> None:
        self._tracker = tracker
        if not self.owns:
            return
        async with self.lock:
            self.ctx.executor.started()
            self.ctx.executor.resyncing = True
            try:
                await self.flow.resync(tracker)
            finally:
                self.ctx.executor.resyncing = False
            self._next_sweep = 0.0  # nothing is routed during the resync: the first tick after does it

    async def tick(self, now: float) -> None:
        if not self.owns:
            if self.lease is not None and self.lease.owned:
                self._lease_changed(True)  # a takeover whose reload failed is tried again
            return
        async with self.lock:
            self.ctx.executor.started()
            for timer in self.ctx.timers.due(now):
                try:
                    await self.flow.timer_fired(timer)
                except Exception:
                    log.exception("ACD timer %s failed", timer.key)
            self._recover_later(now)
            if now >= self._next_sweep:
                self._next_sweep = now + self.ctx.options.sweep_s
                if self.ctx.state.ready_agents() and self.ctx.state.snapshot.calls:
                    await self.dispatcher.dispatch_all()
            await self.notices.refresh(now)
            if now >= self._next_gauges:
                self._next_gauges = now + self.ctx.options.gauges_s
                self.refresh_gauges(now)

    async def aclose(self) -> None:
        """Stop background work (a pending write-back to Redis); call after the engine stopped."""
        for task in (self._recovery, self._takeover):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _recover_later(self, now: float) -> None:
        """While Redis is failing, try to write the whole state back (in the background, once a second)."""
        if not self.dispatcher.dirty or now < self._next_recovery:
            return
        if self._recovery is not None and not self._recovery.done():
            return
        self._next_recovery = now + RECOVERY_EVERY_S
        self._recovery = asyncio.create_task(self._recover(), name="acd-redis-recovery")

    async def _recover(self) -> None:
        if not await self.ctx.store.ping():  # outside the lock: a dead Redis must not stall calls
            return
        async with self.lock:
            try:
                await self.ctx.store.rewrite(self.ctx.state, self.ctx.timers.persistent())
            except (StoreUnavailableError, NotOwnerError):  # not owning: the owner's state stands
                return
            self.dispatcher.dirty = False
        log.warning("Redis is back; the ACD state was written again")

    def refresh_gauges(self, now: float) -> None:
        state, metrics = self.ctx.state, self.ctx.metrics
        state.rebuild(now)
        metrics.set_agent_states(state.agent_counts(), [str(s) for s in AgentState])
        metrics.set_waiting(state.waiting_counts(), state.rules.index.queues, state.oldest_waits(now))
        metrics.set_queue_agents(state.queue_agent_counts(), [str(s) for s in AgentState])
        for agent_id, view in state.snapshot.agents.items():
            metrics.set_occupancy(agent_id, view.occupancy)
        targets = {q.name: q.service_level.target_percent / 100 for q in state.rules.queues}
        metrics.refresh_service_levels(targets, now)

    # -- the dialer (dialer/desk/acd.py) ---------------------------------------------------------
    def agents_for(self, queue: str | None, needs: Needs) -> list[PacingAgent]:
        """Agents who could take a campaign's calls, in a pacing state (not paused, logged in)."""
        return self.outbound.agents_for(queue, needs)

    async def hold(
        self, queue: str | None, needs: Needs, call_id: str, *, agent_id: str | None = None
    ) -> str | None:
        """Hold a ready agent (the named one, else routing's choice) for a call about to be dialed."""
        if not self.owns:
            return None
        async with self.lock:
            self.ctx.executor.started()
            return await self.outbound.hold(queue, needs, call_id, agent_id)

    async def release_hold(self, agent_id: str, call_id: str) -> None:
        if not self.owns:  # the owner's hold timer gives the agent back
            log.warning("agent %s: hold for call %s left to the ACD's owner", agent_id, call_id)
            return
        async with self.lock:
            await self.outbound.release(agent_id, call_id)

    async def take_outbound(self, call: HandedCall) -> None:
        """An answered outbound call: ring its held agent, else route it like a waiting call.
        NotOwnerError on an engine that does not own the ACD (the dialer's grace period ends it)."""
        if not self.owns:
            raise NotOwnerError("this engine does not own the ACD", role="acd", call_id=call.call_id)
        async with self.lock:
            self.ctx.executor.started()
            await self.outbound.take(call)

    def maybe_bridged(self, call_id: str) -> bool:
        """The call's Bridge to its answered agent awaits its answer or got none (in doubt): the
        customer may be talking already. Read without the lock (the Bridge holds it meanwhile)."""
        active = self.ctx.state.calls.get(call_id)
        if active is None or active.state is not CallState.OFFERED:
            return False
        return active.facts.bridge_in_doubt or active.facts.channel in self.ctx.executor.bridging

    async def withdraw_outbound(self, call_id: str) -> None:
        if not self.owns:
            return
        async with self.lock:
            self.ctx.executor.started()
            await self.outbound.withdraw(call_id)

    # -- start and rules ----------------------------------------------------------------------
    async def load(self, source: str = "") -> None:
        """Rebuild the ACD from Redis (seeding routing.yaml's agents first); call before the engine starts."""
        async with self.lock:
            token = self.lease.token if self.lease is not None else None
            ctx, now = self.ctx, self.ctx.clock()
            await ctx.store.seed_profiles(ctx.state.rules.agents)
            stored = await ctx.store.load()
            state = ctx.state
            state.profiles, state.sources = stored.profiles, stored.sources
            state.statuses, state.calls = stored.statuses, stored.calls
            ctx.timers.clear()
            for timer in stored.timers:
                ctx.timers.set(timer)
            self.refresh_gauges(now)
            await self.notices.load()
            await self._rules_in_force(source)
            self.dispatcher.dirty = False  # what Redis holds is the state now
            self.dispatcher.forget_arrived()  # never written; Asterisk's held callers are adopted
            self._owned_token = self._last_token = token
            self._loaded = True
            log.info(
                "ACD loaded: %d agents, %d calls (%d waiting)",
                len(state.profiles),
                len(state.calls),
                len(state.snapshot.calls),
            )

    # -- ownership --------------------------------------------------------------------------------
    @property
    def owns(self) -> bool:
        """This engine runs the ACD: no lease (one engine), or it holds the lease and has reloaded
        the state from Redis under its current token."""
        lease = self.lease
        return lease is None or (lease.owned and self._owned_token == lease.token)

    def _lease_changed(self, owned: bool) -> None:
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
                await (self._resume() if own_again else self.load())
            except (StoreUnavailableError, NotOwnerError) as exc:  # tried again at the next tick
                log.error("ACD takeover: could not reload from Redis: %s", exc.message)
                return
        if not self.owns or not self.ctx.executor.sender.ready:
            return  # not logged in to Asterisk: the resync after the login does it
        try:
            if self.on_owned is not None:
                await self.on_owned()
            elif self._tracker is not None:
                await self.resync(self._tracker)
        except Exception:  # the next reconnect's resync is the fallback; the ACD keeps running
            log.exception("ACD takeover: the resync with Asterisk failed")

    async def _resume(self) -> None:
        async with self.lock:
            token = self.lease.token if self.lease is not None else None
            if self.dispatcher.dirty:
                await self.ctx.store.rewrite(self.ctx.state, self.ctx.timers.persistent())
                self.dispatcher.dirty = False
            self._owned_token = self._last_token = token
            log.warning("ACD: this engine owns it again, nobody did meanwhile; its state is kept")

    async def replace_rules(self, rules: Rules, source: str = "") -> None:
        """Swap the rules in one step; every waiting caller is classified and routed again under them."""
        async with self.lock:
            self.ctx.executor.started()
            self.ctx.state.rules = rules
            self.flow.callers.forget_queue_map()
            if not self.owns:  # a standby keeps the rules for its takeover; the owner re-routes
                await self._rules_in_force(source)
                return
            await self.operations.reclassify()
            await self._rules_in_force(source)
            await self.dispatcher.dispatch_all()

    async def _rules_in_force(self, source: str) -> None:
        now, rules = self.ctx.clock(), self.ctx.state.rules
        digest = content_hash(rules)
        thresholds = {q.name: q.service_level.within_seconds for q in rules.queues}
        self.ctx.metrics.rules_applied(digest, now, source, thresholds)
        try:
            await self.ctx.store.set_rules_active(digest, now, source)
        except Exception as exc:
            log.error("could not record the active rules in Redis: %s", exc)
        log.info("routing rules %s in force", digest[:12], extra={"rules_hash": digest, "source": source})

    # -- what people do through the API: handed to api_operations.Operations ----------------------
    async def login(self, agent_id: str) -> AgentInfo:
        return await self.operations.login(agent_id)

    async def ready(self, agent_id: str) -> AgentInfo:
        return await self.operations.ready(agent_id)

    async def pause(self, agent_id: str, reason: str) -> AgentInfo:
        return await self.operations.pause(agent_id, reason)

    async def logout(self, agent_id: str) -> AgentInfo:
        return await self.operations.logout(agent_id)

    async def put_agent(self, spec: AgentSpec) -> AgentInfo:
        return await self.operations.put_agent(spec)

    async def set_skills(self, agent_id: str, skills: Mapping[str, int]) -> AgentInfo:
        return await self.operations.set_skills(agent_id, skills)

    def agents(self) -> list[AgentInfo]:
        return self.operations.agents()

    def agent(self, agent_id: str) -> AgentInfo:
        return self.operations.agent(agent_id)

    def queues(self) -> list[QueueInfo]:
        return self.operations.queues()

    async def case(self, call_id: str) -> CaseInfo:
        return await self.operations.case(call_id)

    async def set_summary(self, call_id: str, summary: str) -> CaseInfo:
        return await self.operations.set_summary(call_id, summary)

    async def declare_outage(self, spec: OutageSpec, by: str) -> OutageRecord:
        """Declare an outage (refused: numbers that are not numbers, an end already past); callers
        it concerns hear its notice from its start, in this engine at once, in others within 1 s."""
        now = self.ctx.clock()
        problems = check_numbers(spec, self.rules.default_region)
        if spec.ends_at <= now:
            problems.append("ends_at is already past: the outage would never be announced")
        if problems:
            raise ValidationFailedError("outage not declared: " + "; ".join(problems), problems=problems)
        record = await self.outages.declare(spec, by, now)
        await self.notices.refresh(now, force=True)
        return record

    async def end_outage(self, outage_id: str) -> OutageRecord:
        """End an outage now: nobody hears its notice from now on (its counters stay)."""
        now = self.ctx.clock()
        record = await self.outages.end(outage_id, now)
        await self.notices.refresh(now, force=True)
        return record

    async def put_customer(self, number: str, record: Mapping[str, str]) -> str:
        return await self.operations.put_customer(number, record)

    def may_handle(self, call_id: str, agent_id: str) -> bool:
        return self.operations.may_handle(call_id, agent_id)

    async def transfer(self, call_id: str, to: str, *, warm: bool = False, level: int = 1) -> CaseInfo:
        return await self.operations.transfer(call_id, to, warm=warm, level=level)

    async def complete_transfer(self, call_id: str) -> CaseInfo:
        return await self.operations.complete_transfer(call_id)

    async def cancel_transfer(self, call_id: str) -> CaseInfo:
        return await self.operations.cancel_transfer(call_id)
