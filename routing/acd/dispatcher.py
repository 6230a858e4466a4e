"""Routing in the shell: the pure core's decisions and agent effects, carried out.

Owned here: `route` (decide for one waiting call and act), `dispatch_all` (every
waiting call at once, in serving order, after a restart, reconnect or rules
change), `seek` (an agent became ready: pick_call), the offer itself, overflow
and exits, and the agent lifecycle (`agent_event`: routing.agents.apply, then
persist, then perform the effects).
Rules it keeps:
- Persist, then act: the agent is reserved in Redis (compare-and-set) before its
  Originate goes out, so a crash in between leaves a reservation the next
  resync releases, never a second Originate. The writes, and memory mirroring
  Redis while Redis fails (`dirty`), are state_writes.py's; the dispatcher hands
  its callers' writes over to it.
- Nothing is routed while AMI is down or resyncing (`executor.ready`): waiting
  calls stay waiting and the first tick after the resync dispatches them.
- A failed ring never routes again from inside itself: routes it triggers are
  deferred to the next tick (a RECHECK timer due now), so a run of failing
  rings is a loop over ticks, never a recursion.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import Any

from core.errors import (
    AmiActionError,
    AmiEncodeError,
    AmiError,
    AmiTimeoutError,
    NotFoundError,
    StoreUnavailableError,
)
from routing.acd.agent_log import log_moved
from routing.acd.calls import ActiveCall, CallState
from routing.acd.context import Ctx
from routing.acd.prepared_offer import Prepared
from routing.acd.state_writes import StateWrites
from routing.acd.store import Change
from routing.acd.timers import Timer, TimerKind
from routing.agent_events import (
    AgentState,
    CancelRingTimer,
    Effect,
    Hangup,
    Hold,
    NoAnswer,
    Offer,
    RequeueCall,
    SeekCall,
    Stale,
    StartRingTimer,
    StartWrapUp,
    StateChanged,
)
from routing.agent_events import Event as AgentEvent
from routing.agents import AgentStatus, AgentTransitionError, apply
from routing.batch_dispatch import dispatch
from routing.classify import classify, transfer
from routing.selection import Decision, Outcome, decide, pick_call

log = logging.getLogger("switchboard.acd")

DEFAULT_PAUSE_AFTER = 3


class Dispatcher:
    def __init__(self, ctx: Ctx, writes: StateWrites) -> None:
        self.ctx = ctx
        self.writes = writes
        self.deferring = False  # inside a ring failure: routes wait for the next tick

    # -- persistence: handed to StateWrites -------------------------------------------------
    @property
    def dirty(self) -> bool:
        """Memory is ahead of Redis (StateWrites.dirty)."""
        return self.writes.dirty

    async def commit(self, change: Change) -> None:
        await self.writes.commit(change)

    def admit(self, active: ActiveCall) -> None:
        self.writes.admit(active)

    async def write_arrived(self) -> None:
        await self.writes.write_arrived()

    async def publish(self, kind: str, agent_id: str, data: Mapping[str, Any]) -> None:
        await self.writes.publish(kind, agent_id, data)

    def mirror(self, change: Change) -> None:
        self.writes.mirror(change)

    def store_failed(self, exc: StoreUnavailableError) -> None:
        self.writes.store_failed(exc)

    # -- agents -----------------------------------------------------------------------------
    async def agent_event(
        self, agent_id: str, event: AgentEvent, change: Change | None = None
    ) -> AgentStatus:
        """Apply `event` to the agent (AgentTransitionError if not allowed), persist with `change`,
        then perform the effects."""
        old = self.ctx.state.status(agent_id)
        new, effects = apply(old, event, window=self.ctx.state.window_s)
        change = change if change is not None else Change()
        if new != old:
            change.statuses.append(new)
        self._timer_effects(effects, change)
        await self.commit(change)
        self._log_effects(effects)
        for effect in effects:
            if isinstance(effect, RequeueCall):
                await self.requeue(effect.call_id, effect.declined_by)
            elif isinstance(effect, SeekCall):
                await self.seek(effect.agent_id)
        return new

    def _timer_effects(self, effects: tuple[Effect, ...], change: Change) -> None:
        now, grace = self.ctx.clock(), self.ctx.options.ring_grace_s
        for effect in effects:
            if isinstance(effect, StartRingTimer):
                at = now + effect.seconds + grace
                change.timers.append(Timer(TimerKind.RING, effect.agent_id, at, effect.call_id))
            elif isinstance(effect, CancelRingTimer):
                change.cancelled_timers.append(f"{TimerKind.RING}:{effect.agent_id}")
            elif isinstance(effect, StartWrapUp):
                change.timers.append(Timer(TimerKind.WRAP, effect.agent_id, now + effect.seconds))

    def _log_effects(self, effects: tuple[Effect, ...]) -> None:
        for effect in effects:
            if isinstance(effect, StateChanged):
                self.ctx.metrics.agent_moved(str(effect.old), str(effect.new))
                log_moved(effect)
            elif isinstance(effect, Stale):
                log.debug("agent %s: stale %s (%s)", effect.agent_id, effect.event, effect.reason)

    async def no_answer(self, call_id: str, agent_id: str, change: Change | None = None) -> None:
        """The agent did not take the call: a missed ring; the call goes to the next choice (unless
        `change`, written with it, ends the call)."""
        status = self.ctx.state.status(agent_id)
        if status.call_id != call_id or status.state not in (AgentState.RESERVED, AgentState.RINGING):
            return
        active = self.ctx.state.calls.get(call_id)
        plan = self.ctx.state.plan(active.call.queue) if active else None
        pause_after = plan.spec.missed_rings_before_pause if plan else DEFAULT_PAUSE_AFTER
        await self.agent_event(agent_id, NoAnswer(self.ctx.clock(), call_id, pause_after), change)

    async def release(self, active: ActiveCall) -> None:
        """Ringing ended without the agent's fault (leg lost, never sent): no miss; route the call again."""
        agent_id = active.facts.agent_id
        back = active.waiting_again(active.call)
        await self.agent_event(agent_id, Hangup(self.ctx.clock(), active.id), Change(calls=[back]))
        await self.route(active.id)

    # -- agents held by the dialer ---------------------------------------------------------
    async def hold(self, agent_id: str, call_id: str) -> bool:
        """Take a ready agent for an outbound call being placed (compare-and-set in Redis, like an
        offer); a safety timer gives them back if the call is never handed over."""
        ctx, now = self.ctx, self.ctx.clock()
        try:
            status, effects = apply(ctx.state.status(agent_id), Hold(now, call_id), window=ctx.state.window_s)
        except AgentTransitionError:
            return False
        timer = Timer(TimerKind.HOLD, agent_id, now + ctx.options.hold_ttl_s, call_id)
        if not await self.writes.hold(agent_id, status, timer):
            return False
        self.mirror(Change(statuses=[status], timers=[timer]))
        self._log_effects(effects)
        return True

    def held_for(self, agent_id: str) -> str:
        """The call the dialer holds this agent for ('' if none)."""
        timer = self.ctx.timers.get(TimerKind.HOLD, agent_id)
        return timer.call_id if timer is not None else ""

    async def unhold(self, agent_id: str, call_id: str) -> None:
        """The held agent is free again, without a miss (the call reached nobody, or was withdrawn)."""
        done = Change(cancelled_timers=[f"{TimerKind.HOLD}:{agent_id}"])
        await self.agent_event(agent_id, Hangup(self.ctx.clock(), call_id), done)

    async def requeue(self, call_id: str, agent_id: str) -> None:
        active = self.ctx.state.calls.get(call_id)
        if active is None or active.state is not CallState.OFFERED or active.facts.agent_id != agent_id:
            return
        await self.commit(Change(calls=[active.waiting_again(active.call.declined(agent_id))]))
        await self.route(call_id)

    async def seek(self, agent_id: str) -> None:
        """The agent is ready: offer them the most urgent waiting call they fit."""
        if not self.ctx.executor.ready or self.deferring:
            return  # deferred: the call's RECHECK or the next sweep offers it
        state = self.ctx.state
        pick = pick_call(agent_id, state.snapshot, state.rules, self.ctx.clock())
        active = state.calls.get(pick.call_id) if pick.call_id else None
        if active is not None:
            await self.offer(active, agent_id, pick.reason)

    # -- calls ------------------------------------------------------------------------------
    async def route(self, call_id: str, hops: int = 0) -> None:
        state = self.ctx.state
        active = state.calls.get(call_id)
        if active is None or active.state is not CallState.WAITING or not self.ctx.executor.ready:
            return
        if self.deferring:
            self.ctx.timers.set(Timer(TimerKind.RECHECK, call_id, self.ctx.clock()))
            return
        await self.perform(active, decide(active.call, state.snapshot, state.rules, self.ctx.clock()), hops)

    async def dispatch_all(self) -> None:
        """Route every waiting call, most urgent first, without offering one agent twice."""
        if not self.ctx.executor.ready:
            return
        state = self.ctx.state
        decisions, _ = dispatch(state.snapshot, state.rules, self.ctx.clock())
        for decision in decisions:
            active = state.calls.get(decision.call_id)
            if active is None or active.state is not CallState.WAITING:
                continue
            agent = decision.agent_id
            if agent is not None and state.status(agent).state is not AgentState.READY:
                await self.route(decision.call_id)  # the pass is out of date for this call
                continue
            await self.perform(active, decision)

    async def perform(self, active: ActiveCall, decision: Decision, hops: int = 0) -> None:
        self.ctx.timers.cancel(TimerKind.RECHECK, active.id)
        if decision.outcome is Outcome.OFFER and decision.agent_id is not None:
            await self.offer(active, decision.agent_id, decision.reason)
        elif decision.outcome is Outcome.WAIT:
            if decision.recheck_at is not None:
                self.ctx.timers.set(Timer(TimerKind.RECHECK, active.id, decision.recheck_at))
        elif decision.outcome is Outcome.OVERFLOW:
            await self.overflow(active, decision.target or "", hops, decision.reason)
        else:
            await self.leave(active, decision.target, decision.reason)

    async def offer(self, active: ActiveCall, agent_id: str, reason: str) -> bool:
        """Reserve the agent (compare-and-set in Redis), then ring them."""
        p = self.prepare(active, agent_id, self.ctx.clock())
        if p is not None and not await self.writes.reserve(p.status, p.offered, p.timer, held=p.held):
            await self._lost_race(agent_id, active)
            return False
        return p is not None and await self.ring(p, reason)

    def prepare(self, active: ActiveCall, agent_id: str, now: float, action: str = "") -> Prepared | None:
        """The agent reserved and the call offered, not yet written (None: the agent cannot take it)."""
        ctx = self.ctx
        spec, plan = ctx.state.profiles.get(agent_id), ctx.state.plan(active.call.queue)
        if spec is None or plan is None:
            return None
        ring_s, current = plan.spec.ring_timeout_seconds, ctx.state.status(agent_id)
        held = current.state is AgentState.RESERVED  # by the dialer, for this call (apply checks)
        try:
            status, effects = apply(current, Offer(now, active.id, ring_s), window=ctx.state.window_s)
        except AgentTransitionError as exc:
            log.warning("call %s: %s", active.id, exc.message, extra=exc.details)
            return None
        action = action or ctx.executor.new_action_id()
        offered = active.with_facts(state=CallState.OFFERED, agent_id=agent_id, action_id=action)
        timer = Timer(TimerKind.RING, agent_id, now + ring_s + ctx.options.ring_grace_s, active.id)
        return Prepared(spec.interface, ring_s, status, effects, offered, timer, held)

    async def ring(self, p: Prepared, reason: str) -> bool:
        """Ring the agent of an offer Redis took (memory mirrors it first)."""
        ctx, offered, agent_id, action = self.ctx, p.offered, p.status.agent_id, p.offered.facts.action_id
        unhold = [f"{TimerKind.HOLD}:{agent_id}"] if p.held else []
        ctx.timers.cancel(TimerKind.RECHECK, offered.id)  # it waits no more (a seek may offer it early)
        self.mirror(Change(statuses=[p.status], calls=[offered], timers=[p.timer], cancelled_timers=unhold))
        self._log_effects(p.effects)
        extra = {"call_id": offered.id, "agent_id": agent_id, "case_id": offered.facts.case_id}
        log.info("call %s: ringing agent %s (%s)", offered.id, agent_id, reason, extra=extra)
        try:
            answer = await ctx.executor.start_ring(p.interface, offered, agent_id, p.ring_s, action)
        except AmiError as exc:  # it never left
            await self._ring_failed(offered, exc)
            return True
        ctx.answers.follow(self._ring_answer(answer), lambda failed: self._ring_answered(offered, failed))
        return True

    @staticmethod
    async def _ring_answer(answer: Awaitable[None]) -> AmiError | None:
        try:
            await answer
        except AmiError as exc:
            return exc
        return None

    async def _ring_answered(self, offered: ActiveCall, failed: AmiError | None) -> None:
        """The agent's Originate was answered (under the lock): a refusal, or no answer, is settled as
        when the ACD waited for it, if the call is still offered to that agent by that Originate."""
        active = self.ctx.state.calls.get(offered.id)
        if failed is None or active is None or not self.ctx.executor.may_act():
            return
        if active.state is not CallState.OFFERED or active.facts.action_id != offered.facts.action_id:
            return  # the call moved on meanwhile (its caller left, the ring timer fired)
        await self._ring_failed(active, failed)

    async def offer_consult(self, consulting: ActiveCall, agent_id: str) -> bool:
        """Reserve a ready agent for a consult (compare-and-set, as the dialer's hold: the call is not
        waiting) and ring them; the call stays `consulting`. False if the agent is not free."""
        ctx, now = self.ctx, self.ctx.clock()
        spec, plan = ctx.state.profiles.get(agent_id), ctx.state.plan(consulting.call.queue)
        if spec is None:
            return False
        ring_s = plan.spec.ring_timeout_seconds if plan else 20.0
        if ctx.state.status(agent_id).state is not AgentState.READY:
            return False
        offer = Offer(now, consulting.id, ring_s)
        status, effects = apply(ctx.state.status(agent_id), offer, window=ctx.state.window_s)
        action_id = ctx.executor.new_action_id()
        rung = consulting.with_facts(agent_id=agent_id, action_id=action_id)
        timer = Timer(TimerKind.RING, agent_id, now + ring_s + ctx.options.ring_grace_s, consulting.id)
        if not await self.writes.hold(agent_id, status, timer):
            return False
        await self.commit(Change(calls=[rung]))
        self.mirror(Change(statuses=[status], timers=[timer]))
        self._log_effects(effects)
        log.info(
            "call %s: ringing agent %s for a consult",
            consulting.id,
            agent_id,
            extra={"call_id": consulting.id},
        )
        try:
            await ctx.executor.ring(spec.interface, rung, agent_id, ring_s, action_id)
        except AmiError as exc:
            log.warning(
                "call %s: could not ring agent %s for a consult: %s", consulting.id, agent_id, exc.message
            )
            await self.no_answer(consulting.id, agent_id)
            return False
        return True

    async def _lost_race(self, agent_id: str, active: ActiveCall) -> None:
        """Redis says the agent is no longer ready or the call no longer waiting: believe Redis."""
        log.warning("call %s: agent %s was taken meanwhile (another engine?)", active.id, agent_id)
        try:
            await self.writes.believe_redis(agent_id)
        except StoreUnavailableError as exc:
            self.store_failed(exc)
            return
        self.ctx.timers.set(Timer(TimerKind.RECHECK, active.id, self.ctx.clock() + 1.0))

    async def _ring_failed(self, offered: ActiveCall, exc: AmiError) -> None:
        deferring, self.deferring = self.deferring, True
        try:
            await self._settle_failed_ring(offered, exc)
        finally:
            self.deferring = deferring

    async def _settle_failed_ring(self, offered: ActiveCall, exc: AmiError) -> None:
        agent_id = offered.facts.agent_id
        extra = {"call_id": offered.id, "agent_id": agent_id, "error": exc.error_id}
        if isinstance(exc, AmiActionError | AmiEncodeError):
            log.warning(
                "call %s: could not ring agent %s: %s", offered.id, agent_id, exc.message, extra=extra
            )
            await self.no_answer(offered.id, agent_id)
        elif isinstance(exc, AmiTimeoutError) and not exc.details.get("sent", True):
            await self.release(offered)
        else:  # maybe sent: the ring timer or the resync after the reconnect settles it; never re-sent
            log.warning(
                "call %s: ringing agent %s unconfirmed: %s", offered.id, agent_id, exc.message, extra=extra
            )

    async def overflow(self, active: ActiveCall, target: str, hops: int, reason: str) -> None:
        ctx, facts, old = self.ctx, active.facts, active.call
        try:
            found = classify(
                facts.caller or None,
                target,
                ctx.state.rules,
                dialled=facts.dialled or None,
                ivr_choice=facts.ivr or None,
                crm_record=facts.crm or None,
            )
        except NotFoundError:
            await self.leave(active, None, f"overflow target {target!r} is not a queue")
            return
        moved = ActiveCall(transfer(old, found, ctx.clock()), facts).with_facts(matched=found.matched)
        await self.commit(Change(calls=[moved], left_queues=[(old.id, old.queue)]))
        ctx.metrics.call_routed_out(old.queue, old.tier, "overflow")
        ctx.metrics.call_offered(target, found.tier)
        log.info("call %s: %s -> %s (%s)", old.id, old.queue, target, reason, extra={"call_id": old.id})
        if hops < ctx.options.max_overflow_hops:
            await self.route(old.id, hops + 1)

    async def leave(self, active: ActiveCall, exten: str | None, reason: str) -> None:
        """The caller leaves the ACD to a dialplan exit (closed, max wait, queue removed)."""
        ctx, call = self.ctx, active.call
        target = exten or ctx.options.default_exit
        await self.commit(Change(ended=[active.with_facts(outcome="routed_out", exit_to=target)]))
        ctx.metrics.call_routed_out(call.queue, call.tier, "exit")
        log.info("call %s: leaves to %s (%s)", call.id, target, reason, extra={"call_id": call.id})
        await ctx.executor.redirect(active.facts.channel, target)
        data = {"call_id": call.id, "case_id": active.facts.case_id, "queue": call.queue, "exit": target}
        await self.publish("routed_out", "", {**data, "reason": reason})
