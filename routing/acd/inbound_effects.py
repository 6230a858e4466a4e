"""The inbound call table's effects, performed (the table is routing/acd/lifecycle.py; the shell
that feeds it is routing/acd/callflow.py): AMI through the executor, Redis and the agents' table
through the dispatcher, the metrics, the event stream and the log, in the order the table gives.

Two effects feed the table again: a Bridge's answer comes back as its own event (BridgeResult),
and a consult offered to an agent who is not free is cancelled (ConsultCancelled); both go
through the flow's `step`, as any event. Nothing waits for the Bridge's answer: the ACD goes on
to its next event and the answer is handed back under its lock when it comes
(routing/acd/answers.py), so other events of the call may come first (the table takes them in
any order: a BridgeSeen connects the call before its answer, a hangup ends it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from routing.acd import call_events as ev
from routing.acd.calls import ActiveCall
from routing.acd.context import Ctx
from routing.acd.dispatcher import Dispatcher
from routing.acd.events import StreamEntry
from routing.acd.held import HeldCaller
from routing.acd.offer_transitions import leg_gone_at_bridge
from routing.acd.store import Change
from routing.agent_events import Answer, Hangup, Ring
from routing.agents import AgentState

log = logging.getLogger("switchboard.acd")

COMMITS_FIRST = (ev.Save, ev.Close, ev.AgentTalks, ev.AgentFreed, ev.AgentWrapsUp)
"""Effects whose first Redis write is the commit of the call's change (with its agent's, if any)."""
QUIET = (ev.Note, ev.CountAnswered, ev.CountAbandoned)
"""Effects with no I/O and no state: a Publish after them still describes the commit before them."""


def folded(effects: tuple[ev.Effect, ...]) -> dict[int, list[int]]:
    """Which Publish effects (their indexes) describe the commit of which effect before them: those
    following it with only quiet effects between. They ride in that commit (StateWrites.carry)."""
    folds: dict[int, list[int]] = {}
    at: int | None = None
    for index, effect in enumerate(effects):
        if isinstance(effect, COMMITS_FIRST):
            at = index
            folds[at] = []
        elif isinstance(effect, ev.Publish) and at is not None:
            folds[at].append(index)
        elif not isinstance(effect, QUIET):
            at = None
    return {index: publishes for index, publishes in folds.items() if publishes}


class InboundEffects:
    """Performs one effect at a time (`perform`). Given by the flow: `step` (an event to the
    call's table), `arrive` (an admitted caller stored and routed), `hangup_legs` (the agent's
    legs Asterisk has for a call, hung up) and `shown` (whether Asterisk last showed a Bridge's caller
    and its agent leg: (caller_here, leg_here))."""

    def __init__(
        self,
        ctx: Ctx,
        dispatcher: Dispatcher,
        *,
        step: Callable[[str, ev.Event], Awaitable[None]],
        arrive: Callable[[HeldCaller], Awaitable[None]],
        hangup_legs: Callable[[ActiveCall], Awaitable[None]],
        shown: Callable[[str, ev.Bridge], tuple[bool, bool]],
    ) -> None:
        self.ctx = ctx
        self.d = dispatcher
        self.step = step
        self._arrive = arrive
        self.hangup_legs = hangup_legs
        self.shown = shown

    async def perform_all(
        self, call_id: str, active: ActiveCall | None, effects: tuple[ev.Effect, ...]
    ) -> None:
        """The table's effects for `call_id` in order; an event describing a commit's change rides in
        that commit (`folded`), the others are published as the table says (held for the step)."""
        writes, folds, written = self.d.writes, folded(effects), set[int]()
        for index, effect in enumerate(effects):
            riding = folds.get(index, [])
            if riding:
                publishes = [p for p in (effects[i] for i in riding) if isinstance(p, ev.Publish)]
                writes.carry([StreamEntry(p.kind, p.agent_id, p.data) for p in publishes])
            try:
                await self.perform(call_id, active, effect, published=index in written)
            finally:
                if riding and not writes.carried_left():
                    written.update(riding)

    async def perform(
        self, call_id: str, active: ActiveCall | None, effect: ev.Effect, *, published: bool = False
    ) -> None:
        """One effect of the table's for `call_id` (`active`: the call before the event); `published`:
        a Publish whose event its commit took already."""
        if not await self._perform_call(call_id, active, effect):
            await self._perform_agent(call_id, effect, published)

    async def _perform_call(self, call_id: str, active: ActiveCall | None, effect: ev.Effect) -> bool:
        """The effects on calls and channels; False for an effect on the agent or the outside."""
        ctx, d = self.ctx, self.d
        if isinstance(effect, ev.Admit):
            await self._arrive(effect.held)
        elif isinstance(effect, ev.Save | ev.Close):
            saved = isinstance(effect, ev.Save)
            await d.commit(Change(calls=[effect.call]) if saved else Change(ended=[effect.call]))
        elif isinstance(effect, ev.Bridge):
            if ctx.abandoning.get(call_id, 0.0) > ctx.clock():  # routing/acd/outbound.py `abandoning`
                log.info("call %s: not bridged, the dialer abandons it", call_id, extra={"call_id": call_id})
                return True
            outbound = active is not None and bool(active.facts.campaign)
            marked = call_id if outbound else ""  # the dial record's Bridge marks (outbound only)
            answer = await ctx.executor.start_bridge(effect.caller_channel, effect.agent_channel, marked)
            offer = active.facts.action_id if active is not None else ""
            ctx.answers.follow(answer, lambda bridged: self._bridged(call_id, effect, bridged, marked, offer))
        elif isinstance(effect, ev.HangUp):
            await ctx.executor.hangup(effect.channel)
        elif isinstance(effect, ev.HangUpLegs):
            if active is not None:
                await self.hangup_legs(active)
        elif isinstance(effect, ev.Requeue):
            if active is not None:
                await d.release(active)
        else:
            return await self._perform_transfer(call_id, effect)
        return True

    async def _bridged(
        self, call_id: str, effect: ev.Bridge, bridged: bool | None, marked: str, offer: str
    ) -> None:
        """The Bridge's answer, handed back under the ACD's lock: to the call's table as its own event,
        a refusal told apart: the agent's leg gone (the caller there) or the caller gone."""
        refusal = self.ctx.executor.bridge_done(effect.caller_channel, effect.agent_channel, bridged, marked)
        if not self.ctx.executor.may_act():  # a standby ignores what it hears, as it ignores events
            return
        caller_here, leg_here = self.shown(call_id, effect)
        leg_gone = bridged is False and leg_gone_at_bridge(
            refusal, caller_here=caller_here, leg_here=leg_here
        )
        result = ev.BridgeResult(self.ctx.clock(), effect.agent_channel, bridged, leg_gone, offer)
        await self.step(call_id, result)

    async def _perform_transfer(self, call_id: str, effect: ev.Effect) -> bool:
        """The effects of a transfer on the call and its channels; False for any other effect."""
        executor = self.ctx.executor
        if isinstance(effect, ev.MoveCaller):
            await executor.move_caller(effect.agent_channel, effect.caller_channel, effect.exten)
        elif isinstance(effect, ev.HoldForConsult):
            await executor.hold_for_consult(effect.caller_channel, effect.agent_channel)
        elif isinstance(effect, ev.OfferConsult):
            await self._offer_consult(call_id, effect.agent_id)
        elif isinstance(effect, ev.Route):
            await self._route(call_id, effect.agent)
        else:
            return False
        return True

    async def _offer_consult(self, call_id: str, agent_id: str) -> None:
        consulting = self.ctx.state.calls.get(call_id)
        if consulting is not None and not await self.d.offer_consult(consulting, agent_id):
            await self.step(call_id, ev.ConsultCancelled(self.ctx.clock(), f"agent {agent_id} is not free"))

    async def _route(self, call_id: str, agent_id: str) -> None:
        """A transferred call: to the named agent if they are free (else by the rules), or by the rules."""
        active = self.ctx.state.calls.get(call_id)
        if active is None:
            return
        free = bool(agent_id) and self.ctx.state.status(agent_id).state is AgentState.READY
        if free and self.ctx.executor.ready and await self.d.offer(active, agent_id, "transferred by name"):
            return
        await self.d.route(call_id)

    def _note_talk(self, ended: ActiveCall, now: float) -> None:
        """The queue's average talk, which the service-level forecast reads (routing/forecast.py)."""
        answered_at = ended.facts.answered_at
        if answered_at:
            state = self.ctx.state
            state.snapshot = state.snapshot.with_talk_time(ended.call.queue, now - answered_at)

    async def _publish(self, effect: ev.Publish, published: bool) -> None:
        """The stream's event (unless its commit wrote it: `published`), and a transfer counted."""
        if effect.kind == "transferred":  # counted where it is reported, once per transfer
            data = effect.data
            self.ctx.metrics.call_transferred(str(data.get("queue", "")), str(data.get("tier", "")),
                                              str(data.get("mode", "")))  # fmt: skip
        if not published:
            await self.d.publish(effect.kind, effect.agent_id, effect.data)

    async def _perform_agent(self, call_id: str, effect: ev.Effect, published: bool) -> None:
        """The effects on the agent (its table, through the dispatcher), the metrics, the stream, the log."""
        ctx, d, now = self.ctx, self.d, self.ctx.clock()
        if isinstance(effect, ev.AgentRinging):
            await d.agent_event(effect.agent_id, Ring(now, call_id))
        elif isinstance(effect, ev.AgentTalks):
            await d.agent_event(effect.agent_id, Answer(now, call_id), Change(calls=[effect.call]))
        elif isinstance(effect, ev.AgentFreed | ev.AgentWrapsUp):
            plan = ctx.state.plan(effect.call.call.queue)
            wrap_up = plan.spec.wrap_up_seconds if plan and isinstance(effect, ev.AgentWrapsUp) else 0.0
            self._note_talk(effect.call, now)  # before the commit, which memory may mirror before it is sent
            await d.agent_event(effect.agent_id, Hangup(now, call_id, wrap_up), Change(ended=[effect.call]))
        elif isinstance(effect, ev.Missed):
            await d.no_answer(call_id, effect.agent_id)
        elif isinstance(effect, ev.AgentLeaves):
            plan = ctx.state.plan(ctx.state.calls[call_id].call.queue) if call_id in ctx.state.calls else None
            wrap_up = plan.spec.wrap_up_seconds if plan and effect.wrap_up else 0.0
            await d.agent_event(effect.agent_id, Hangup(now, call_id, wrap_up))
        elif isinstance(effect, ev.CountAnswered | ev.CountAbandoned):
            plan = ctx.state.plan(effect.queue)
            target = plan.spec.service_level.within_seconds if plan else 0.0
            metrics = ctx.metrics
            count = metrics.call_answered if isinstance(effect, ev.CountAnswered) else metrics.call_abandoned
            count(effect.queue, effect.tier, waited=effect.waited, at=now, target_s=target)
        elif isinstance(effect, ev.Publish):
            await self._publish(effect, published)
        elif isinstance(effect, ev.Note):
            log.log(logging.WARNING if effect.warn else logging.INFO, "call %s: %s", call_id, effect.text,
                    extra={"call_id": call_id})  # fmt: skip
