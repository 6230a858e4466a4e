"""AcdService: the inbound ACD as a PbxService, plus what the API and the reload code call.

It holds its parts (composition, no base class): the CallFlow (call events), the Dispatcher,
StateWrites (memory mirrors Redis), Outbound (the dialer's side), Operations (what people do
through the API, api_operations.py), Notices (outages) and Ownership (ownership.py), all sharing
one Ctx (context.py `build_ctx`) and the one lock.

Owned here: the entry points and their one lock. Call events (handle), timers (tick), the resync
after every (re)login, API requests and rule swaps all run one at a time under `lock`, so the
routing snapshot, the agent statuses and Redis never see two changes interleave. The work itself is
in callflow.py (call events), dispatcher.py (routing and the agent lifecycle), store.py (Redis),
executor.py (AMI; its answers are awaited apart, answers.py), outbound.py (the dialer's side).

Ownership (several engines on one Redis and one Asterisk; ownership.py, docs/reliability.md):
given a core.lease.Lease, the service acts only while it `owns` the ACD. A standby ignores every
call event, timer and dialer request (its AMI connection sees all the calls, but never rings,
bridges or hangs up a leg). When it becomes the owner it reloads from Redis and runs the resync an
AMI reconnect runs (`on_owned`, the runtime's Engine.resync), which adopts the callers Asterisk holds.

Wiring (the runtime): build it with the engine's AMI client as `sender`, `await load()` before the
engine starts, add it to the engine's services, and call `await replace_rules(new)` for each valid
edit of routing.yaml.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

import redis.asyncio as aioredis

from core.clock import Clock
from core.config.loader import content_hash
from core.errors import NotOwnerError
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
from routing.acd.context import AcdOptions, build_ctx
from routing.acd.dispatcher import Dispatcher
from routing.acd.events import AcdEvents
from routing.acd.executor import SentBridge
from routing.acd.notices import Notices
from routing.acd.outage_store import OutageRecord, OutageStore
from routing.acd.outbound import BridgeState, HandedCall, Outbound, PacingAgent
from routing.acd.ownership import Ownership
from routing.acd.state_writes import StateWrites, StepLock
from routing.acd.views import AgentInfo, CaseInfo, QueueInfo
from routing.agent_events import AgentState
from routing.outages import OutageSpec
from routing.queue import Needs
from routing.rules import AgentSpec, Rules

log = logging.getLogger("switchboard.acd")

_ANSWERS_BEFORE_RESYNC_S = 5.0  # the answers a lost link failed are in at once; a live link's in its timeout
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
        options, keys = options or AcdOptions(), keys or AcdKeys()
        self.lock = StepLock()
        self.ctx = ctx = build_ctx(
            redis, sender, rules, metrics, clock=clock, instance_id=instance_id, options=options, keys=keys,
            lease=lease, may_act=lambda: self.owns, lock=self.lock,
        )  # fmt: skip
        self.writes = StateWrites(ctx, self.lock)
        self.dispatcher = dispatcher = Dispatcher(ctx, self.writes)
        self.outages = OutageStore(redis, keys)
        """Declared outages and their counters (the API and CLI read and declare through it)."""
        callers = Callers(ctx, dispatcher)
        self.notices = Notices(ctx, self.outages, callers.caller_of)
        self.flow = self._call_flow(callers, options.inbound_context)
        self.operations = Operations(ctx, dispatcher, self.flow, self.lock)
        """What people do through the API (api_operations.py); the methods below hand over to it."""
        self.outbound = Outbound(ctx, dispatcher, self.flow)
        self.on_owned = on_owned
        """What runs after a takeover's reload: the engine's resync (CoreShowChannels, then every
        service's resync). None: this service's resync with the tracker it last saw."""
        self.ownership = Ownership(
            lease, self.lock, self.writes, reload=self.load, resync=self._resync_after_takeover,
            logged_in=lambda: self.ctx.executor.sender.ready,
        )  # fmt: skip
        self._next_sweep = self._next_gauges = 0.0
        self._tracker: CallTracker | None = None

    def _call_flow(self, callers: Callers, inbound_context: str) -> CallFlow:
        """The call flow with its parts: who a caller is, the outage notices, the adoption of held callers."""
        ctx, dispatcher = self.ctx, self.dispatcher
        return CallFlow(
            ctx, dispatcher, callers, notices=self.notices,
            adoption=lambda flow: Adoption(ctx, dispatcher, flow, inbound_context),
        )  # fmt: skip

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
            await flow.transfers.phone_transferred(change)
        elif isinstance(change, Bridged):
            await flow.bridged(change)

    async def resync(self, tracker: CallTracker) -> None:
        self._tracker = tracker
        if not self.owns:
            return
        await self.ctx.answers.settled(_ANSWERS_BEFORE_RESYNC_S)  # a lost link's answers first
        async with self.lock:
            self.ctx.executor.started()
            self.ctx.executor.resyncing = True
            try:
                await self.flow.resync(tracker)
                self.ownership.resynced()
            finally:
                self.ctx.executor.resyncing = False
            self._next_sweep = 0.0  # nothing is routed during the resync: the first tick after does it

    async def tick(self, now: float) -> None:
        if not self.owns:
            self.ownership.retry_if_due()  # a takeover whose reload failed is tried again
            return
        async with self.lock:
            self.ctx.executor.started()
            for timer in self.ctx.timers.due(now):
                try:
                    await self.flow.timer_fired(timer)
                except Exception:
                    log.exception("ACD timer %s failed", timer.key)
            self.writes.write_back_later(now)
            if now >= self._next_sweep:
                self._next_sweep = now + self.ctx.options.sweep_s
                if self.ctx.state.ready_agents() and self.ctx.state.snapshot.calls:
                    await self.dispatcher.dispatch_all()
            await self.notices.refresh(now)
            if now >= self._next_gauges:
                self._next_gauges = now + self.ctx.options.gauges_s
                self.refresh_gauges(now)

    async def aclose(self) -> None:
        """Stop background work (a write-back to Redis, answers awaited apart); after the engine."""
        await self.ctx.events.aclose()  # waiting screens let go
        await self.ctx.answers.aclose()
        await self.writes.aclose()
        await self.ownership.aclose()

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

    def bridge_state(self, call_id: str) -> BridgeState:
        """Whether the customer talks with an agent, may already (a Bridge awaits its answer or got
        none), or not. Read without the lock (one event loop)."""
        return self.outbound.bridge_state(call_id)

    def watch_bridges(self, heard: Callable[[str], None], refused: Callable[[str], None]) -> None:
        """`heard(call_id)` is told of each Bridge of an outbound call, just before it is sent, and
        `refused(call_id)` when Asterisk refused it (or it was never sent): it connected nobody."""
        self.ctx.executor.on_bridge, self.ctx.executor.on_refused = heard, refused

    def bridge_sent(self, caller_channel: str) -> SentBridge | None:
        """The Bridge of this caller's channel to an agent that went out and was not refused (bridged,
        or in doubt), if any: a caller found gone unseen may have talked. The last calls, in memory."""
        return self.ctx.executor.bridges_sent.get(caller_channel)

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
            token = self.ownership.token
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
            self.writes.loaded()  # what Redis holds is the state now
            self.ownership.loaded(token)
            log.info(
                "ACD loaded: %d agents, %d calls (%d waiting)",
                len(state.profiles),
                len(state.calls),
                len(state.snapshot.calls),
            )

    # -- ownership: handed to Ownership -----------------------------------------------------------
    @property
    def owns(self) -> bool:
        """This engine runs the ACD (Ownership.owns)."""
        return self.ownership.owns

    async def take_over(self) -> None:
        await self.ownership.take_over()

    async def _resync_after_takeover(self) -> None:
        if self.on_owned is not None:
            await self.on_owned()
        elif self._tracker is not None:
            await self.resync(self._tracker)

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
        return await self.notices.declare(spec, by)

    async def end_outage(self, outage_id: str) -> OutageRecord:
        return await self.notices.end(outage_id)

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
