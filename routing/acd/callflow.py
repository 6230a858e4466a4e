"""The inbound call's shell: Asterisk's reports in, the call table (lifecycle.py) applied, its
effects performed. What a call goes through is decided in routing/acd/lifecycle.py; this module
only matches a report to its call, gathers what the table needs to know, and carries out what it
says: AMI through the executor, Redis and the agents' table through the dispatcher.

- Reports arrive typed (pbx.switchboard_events for the dialplan's UserEvents, pbx.call_changes
  for the rest); `step(call_id, event)` applies one to the call's table and performs the effects
  in order. A Bridge's answer goes back to the table as its own event (BridgeResult), and so does
  Asterisk's report of the caller and the agent's leg in one bridge (BridgeSeen): an answer that
  came too late while the link stayed up is settled by what Asterisk did, without a resync.
- Arrival (`Admit`): classify the caller (E.164 number, dialled number, IVR choice, the CRM
  record in Redis), open a case, store the waiting call, route it, tag the caller's channel.
- Outage notices (notices.py): an arriving caller an outage in force concerns hears its notice
  before being queued; hanging up during it is served by the notice, not an abandon.
- After a (re)connect, `resync` gives the table what Asterisk shows of each call (`findings`),
  releases agents holding a call that is gone (not those the dialer holds for a call it is
  placing), adopts the callers Asterisk held that nobody announced (adoption.py), then routes
  every waiting call.
- The agent's leg is recognised exactly (calls.is_agent_leg): a Local channel's `;2` half or a
  channel that merely inherited the call id is never bridged or hung up as the agent's.
- An answered outbound call the dialer handed over (routing/acd/outbound.py) follows the same
  table from the ring on; only the inbound metrics skip it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from core.errors import StoreUnavailableError, ValidationFailedError
from core.phone_numbers import try_normalize
from pbx.call_changes import Bridged, ChannelHungUp, DialStarted, OriginateResult, Transferred
from pbx.switchboard_events import AgentAnswered, InboundArrived
from pbx.tracker import CallTracker
from routing.acd import call_events as ev
from routing.acd.callers import Callers
from routing.acd.calls import ActiveCall, CallFacts, CallState, is_agent_leg, is_leg_of, leg_base
from routing.acd.case_payloads import case_data
from routing.acd.context import Ctx
from routing.acd.dispatcher import Dispatcher
from routing.acd.held import HeldCaller
from routing.acd.lifecycle import apply
from routing.acd.store import Change
from routing.acd.timers import Timer, TimerKind
from routing.acd.transfers import Target, check_target, requeued, target_from_exten
from routing.agent_events import Answer, Hangup, Ring, WrapUpDone
from routing.agents import ON_CALL, AgentState
from routing.classify import admit, classify
from routing.queue import WaitingCall

log = logging.getLogger("switchboard.acd")


class Adopter(Protocol):
    """Takes on the held callers the engine does not know (routing/acd/adoption.py)."""

    async def adopt(self, tracker: CallTracker) -> None: ...


class NoticeGate(Protocol):
    """Outage notices before the queue (routing/acd/notices.py)."""

    async def on_arrival(self, held: HeldCaller) -> bool: ...

    async def on_gone(self, call_id: str) -> bool: ...

    async def on_unheard(self, call_id: str, outage_id: str, status: str) -> None: ...


class CallFlow:
    """See the module docstring. Its parts: `callers` (who a caller is), `notices` (outage notices
    before the queue) and the adoption of held callers after a resync, which `adoption` builds
    given this flow (it admits the callers it takes on through it)."""

    def __init__(
        self,
        ctx: Ctx,
        dispatcher: Dispatcher,
        callers: Callers,
        *,
        notices: NoticeGate | None = None,
        adoption: Callable[[CallFlow], Adopter] | None = None,
    ) -> None:
        self.ctx = ctx
        self.d = dispatcher
        self.callers = callers
        self.tracker: CallTracker | None = None
        self.notices = notices
        self.adoption = adoption(self) if adoption is not None else None

    # -- arrival -----------------------------------------------------------------------------
    async def inbound(self, arrived: InboundArrived) -> None:
        if not arrived.call_id:
            return
        held = HeldCaller(
            call_id=arrived.call_id,
            uniqueid=arrived.uniqueid,
            channel=arrived.channel,
            caller=arrived.caller,
            dialled=arrived.dialled,
            ivr=arrived.ivr,
            queue=arrived.queue,
            arrived_at=self.ctx.clock(),
        )
        unknown = held.call_id not in self.ctx.state.calls
        if unknown and self.notices is not None and await self.notices.on_arrival(held):
            return  # hears an outage notice first; its dialplan announces the caller again after it
        await self.step(held.call_id, ev.Arrived(held.arrived_at, held))

    async def _arrive(self, held: HeldCaller) -> None:
        facts = await self.admit(held, write=False)
        try:
            await self.d.route(held.call_id)  # offered at once: stored with the agent's reservation
        finally:
            await self.d.write_arrived()  # else stored waiting now
        if facts.channel and self.ctx.executor.ready:
            await self.ctx.executor.set_case(facts.channel, facts.case_id)

    async def admit(
        self, held: HeldCaller, case_id: str = "", how: str = "arrived", *, write: bool = True
    ) -> CallFacts:
        """Classify the caller, open a case (unless it has one) and store the waiting call; the
        caller's wait counts from `held.arrived_at`. Routing it is up to the caller of admit;
        `write=False`: the call is written with its first offer or by `Dispatcher.write_arrived`."""
        ctx, rules = self.ctx, self.ctx.state.rules
        queue = self.callers.queue_for(held.queue, held.dialled)
        number = try_normalize(held.caller or None, rules.default_region)
        crm, case_id = await self.callers.arrival(number, held.call_id, case_id)
        found = classify(
            held.caller or None,
            queue,
            rules,
            dialled=held.dialled or None,
            ivr_choice=held.ivr or None,
            crm_record=crm,
        )
        facts = CallFacts(
            case_id=case_id,
            uniqueid=held.uniqueid,
            channel=held.channel,
            caller=held.caller,
            number=number,
            dialled=held.dialled,
            ivr=held.ivr,
            matched=found.matched,
            crm=crm or {},
            owner=ctx.instance_id,
        )
        admitted = ActiveCall(admit(held.call_id, found, held.arrived_at), facts)
        if write:
            await self.d.commit(Change(calls=[admitted]))
        else:
            self.d.admit(admitted)
        ctx.metrics.call_offered(queue, found.tier)
        extra = {"call_id": held.call_id, "case_id": facts.case_id, "queue": queue, "tier": found.tier}
        log.info("call %s %s: %s in %s (%s)", held.call_id, how, found.tier, queue, found.matched,
                 extra=extra)  # fmt: skip
        return facts

    async def case_id(self, call_id: str, now: float) -> str:
        if not self.d.dirty:
            try:
                return await self.ctx.store.next_case_id(now)
            except StoreUnavailableError as exc:
                self.d.store_failed(exc)
        return f"call-{call_id}"  # still unique while Redis is down

    # -- events -> the table -> effects ---------------------------------------------------------
    async def originate_result(self, change: OriginateResult) -> None:
        active = self.ctx.state.call_for_action(change.action_id)
        if active is None:
            return
        now = self.ctx.clock()
        event = ev.RingAnswered(now, change.channel) if change.ok else ev.RingFailed(now, change.reason_text)
        await self.step(active.id, event)

    async def dial_started(self, change: DialStarted) -> None:
        """The agent's phone rings (for the live view: reserved -> ringing)."""
        active = self.ctx.state.calls.get(change.call_id) if change.call_id else None
        if active is None:
            return
        agent_id = active.facts.agent_id
        spec = self.ctx.state.profiles.get(agent_id)
        status = self.ctx.state.status(agent_id)
        if spec and is_leg_of(change.dest_channel, spec.interface) and status.state is AgentState.RESERVED:
            await self.step(active.id, ev.AgentRang(self.ctx.clock()))

    async def agent_answered(self, answered: AgentAnswered) -> None:
        active = self.ctx.state.calls.get(answered.call_id)
        bridged = active is not None and self._bridged_together(active, answered.channel)
        event = ev.AgentAnswered(self.ctx.clock(), answered.agent_id, answered.channel, bridged)
        await self.step(answered.call_id, event)

    async def bridged(self, change: Bridged) -> None:
        """A channel of a call entered a bridge: once the caller and the agent's answered leg share
        one, the table hears of it (BridgeSeen), whatever the engine heard of its Bridge."""
        active = self.ctx.state.calls.get(change.call_id or "")
        if active is None:
            return
        together = [leg for leg in self.legs(active, answered=True) if self._bridged_together(active, leg)]
        if together:
            await self.step(active.id, ev.BridgeSeen(self.ctx.clock(), together[0]))

    async def channel_gone(self, change: ChannelHungUp) -> None:
        unknown = change.call_id and change.call_id not in self.ctx.state.calls
        if unknown and self.notices is not None and await self.notices.on_gone(change.call_id or ""):
            return  # left after an outage notice: served by it, never queued
        if change.call_id:
            await self.step(change.call_id, ev.ChannelGone(self.ctx.clock(), change.uniqueid, change.channel))

    # -- transfers ---------------------------------------------------------------------------
    def requeued_for(self, active: ActiveCall, target: Target) -> WaitingCall:
        """The waiting call a transfer to `target` makes (routing/acd/transfers.py): a queue target
        is classified there for this caller (needs), its tier kept."""
        rules, facts, now = self.ctx.state.rules, active.facts, self.ctx.clock()
        if target.kind != "queue":
            return requeued(active.call, target, None, active.call.needs, now)
        found = classify(
            facts.caller or None, target.name, rules, dialled=facts.dialled or None,
            ivr_choice=facts.ivr or None, crm_record=facts.crm or None,
        )  # fmt: skip
        return requeued(active.call, target, rules.index.queues.get(target.name), found.needs, now)

    async def phone_transferred(self, change: Transferred) -> None:
        """Asterisk moved a talking caller (a transfer made on the phone, or the engine's own
        BlindTransfer, whose call already waits again and is left alone): into the transfer
        context, the call is routed again like an API transfer; anywhere else it leaves the ACD."""
        active = self.ctx.state.calls.get(change.call_id or "")
        if change.result == "Success" and active is None and change.call_id and change.kind == "attended":
            await self._ended_then_transferred(change)
            return
        if change.result != "Success" or active is None or active.state is not CallState.CONNECTED:
            return
        if change.transferee_uniqueid and change.transferee_uniqueid != active.facts.uniqueid:
            return  # the agent's side was moved, not our caller
        now = self.ctx.clock()
        if change.kind == "blind" and change.context == self.ctx.options.transfer_context:
            target = self._known_target(change.exten, active)
            if target is not None:
                moved = self.requeued_for(active, target)
                agent = target.name if target.kind == "agent" else ""
                await self.step(active.id, ev.TransferAsked(now, moved, target.label, agent, by_phone=True))
                return
            log.warning("call %s: transferred to %r, which names no queue, skill or agent; waiting in "
                        "its queue", active.id, change.exten)  # fmt: skip
            await self.step(
                active.id, ev.TransferAsked(now, active.call, f"queue:{active.call.queue}", by_phone=True)
            )
            return
        where = f"{change.exten}@{change.context}" if change.kind == "blind" else change.target_channel
        await self.step(active.id, ev.TransferredOut(now, where or "unknown", change.kind))

    async def _ended_then_transferred(self, change: Transferred) -> None:
        """Asterisk reported the advisor's hang-up before the AttendedTransfer: the call was closed as
        ended; it was in fact transferred. Its record says so now, whatever the order was."""
        call_id = change.call_id or ""
        try:
            stored = await self.ctx.store.call(call_id)
        except StoreUnavailableError as exc:
            self.d.store_failed(exc)
            return
        facts = stored.facts if stored is not None else None
        if (
            stored is None
            or facts is None
            or facts.outcome != "ended"
            or facts.uniqueid != change.transferee_uniqueid
        ):
            return
        if leg_base(facts.agent_channel) != leg_base(change.transferer_channel):
            return
        target = change.target_channel or "unknown"
        fixed = stored.with_facts(outcome="transferred", exit_to=target, transferred_from=facts.agent_id)
        await self.d.commit(Change(ended=[fixed]))
        data = {
            **case_data(stored),
            "from": facts.agent_id,
            "to": target,
            "mode": "attended",
            "summary": facts.summary,
        }
        self.ctx.metrics.call_transferred(stored.call.queue, stored.call.tier, "attended")
        await self.d.publish("transferred", facts.agent_id, data)

    def _known_target(self, exten: str, active: ActiveCall) -> Target | None:
        """The target a phone dialled into the transfer context, if the rules know it."""
        agents = frozenset(self.ctx.state.profiles)
        target = target_from_exten(exten, agents)
        if target is None:
            return None
        try:
            check_target(target, self.ctx.state.rules, agents, active.facts.agent_id)
        except ValidationFailedError:
            return None
        return target

    async def step(self, call_id: str, event: ev.Event) -> None:
        """Apply `event` to the call's table and perform what it says, in order."""
        active = self.ctx.state.calls.get(call_id)
        _, effects = apply(active, event)
        for effect in effects:
            if not await self._perform_call(call_id, active, effect):
                await self._perform_agent(call_id, effect)

    async def _perform_call(self, call_id: str, active: ActiveCall | None, effect: ev.Effect) -> bool:
        """The effects on calls and channels; False for an effect on the agent or the outside."""
        ctx, d = self.ctx, self.d
        if isinstance(effect, ev.Admit):
            await self._arrive(effect.held)
        elif isinstance(effect, ev.Save | ev.Close):
            saved = isinstance(effect, ev.Save)
            await d.commit(Change(calls=[effect.call]) if saved else Change(ended=[effect.call]))
        elif isinstance(effect, ev.Bridge):
            bridged = await ctx.executor.bridge(effect.caller_channel, effect.agent_channel)
            await self.step(call_id, ev.BridgeResult(ctx.clock(), effect.agent_channel, bridged))
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

    async def _perform_agent(self, call_id: str, effect: ev.Effect) -> None:
        """The effects on the agent (its table, through the dispatcher), the metrics, the stream, the log."""
        ctx, d, now = self.ctx, self.d, self.ctx.clock()
        if isinstance(effect, ev.AgentRinging):
            await d.agent_event(effect.agent_id, Ring(now, call_id))
        elif isinstance(effect, ev.AgentTalks):
            await d.agent_event(effect.agent_id, Answer(now, call_id), Change(calls=[effect.call]))
        elif isinstance(effect, ev.AgentFreed | ev.AgentWrapsUp):
            plan = ctx.state.plan(effect.call.call.queue)
            wrap_up = plan.spec.wrap_up_seconds if plan and isinstance(effect, ev.AgentWrapsUp) else 0.0
            await d.agent_event(effect.agent_id, Hangup(now, call_id, wrap_up), Change(ended=[effect.call]))
            self._note_talk(effect.call, now)
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
            if effect.kind == "transferred":  # counted where it is reported, once per transfer
                data = effect.data
                ctx.metrics.call_transferred(str(data.get("queue", "")), str(data.get("tier", "")),
                                             str(data.get("mode", "")))  # fmt: skip
            await d.publish(effect.kind, effect.agent_id, effect.data)
        elif isinstance(effect, ev.Note):
            log.log(logging.WARNING if effect.warn else logging.INFO, "call %s: %s", call_id, effect.text,
                    extra={"call_id": call_id})  # fmt: skip

    def legs(self, active: ActiveCall, *, answered: bool = False) -> list[str]:
        """The agent's legs Asterisk has for this call now (`answered`: those up), recognised
        exactly (calls.is_agent_leg): never a Local `;2` half nor a channel that merely inherited
        the call id through its Linkedid."""
        facts = active.facts
        spec = self.ctx.state.profiles.get(facts.agent_id)
        if self.tracker is None:
            return [facts.agent_channel] if facts.agent_channel and not answered else []
        return sorted(
            c.channel
            for c in self.tracker.channels_for_call(active.id)
            if c.uniqueid != facts.uniqueid
            and (c.channel == facts.agent_channel or (spec and is_agent_leg(c.channel, spec.interface)))
            and not c.channel.endswith(";2")
            and (c.answered or not answered)
        )

    def talking(self, active: ActiveCall) -> bool:
        """A connected call still is: the caller is in a bridge, or the agent's leg is there."""
        caller = self.tracker.channel(active.facts.uniqueid) if self.tracker else None
        return bool(caller is not None and caller.bridge_id) or bool(self.legs(active))

    def _bridged_together(self, active: ActiveCall, leg: str) -> bool:
        if self.tracker is None:
            return False
        caller, agent = self.tracker.channel(active.facts.uniqueid), self.tracker.channel_by_name(leg)
        return bool(caller and agent and caller.bridge_id and caller.bridge_id == agent.bridge_id)

    async def hangup_legs(self, active: ActiveCall) -> None:
        for channel in self.legs(active):
            await self.ctx.executor.hangup(channel)

    # -- timers and resync -------------------------------------------------------------------
    async def timer_fired(self, timer: Timer) -> None:
        if timer.kind is TimerKind.RECHECK:
            await self.d.route(timer.subject)
            return
        status = self.ctx.state.status(timer.subject)
        if timer.kind is TimerKind.HOLD:
            if status.call_id == timer.call_id and timer.call_id not in self.ctx.state.calls:
                log.warning("agent %s: held for call %s, which never came; releasing", timer.subject,
                            timer.call_id)  # fmt: skip
                await self.d.unhold(timer.subject, timer.call_id)
            return
        if timer.kind is TimerKind.WRAP and status.state is AgentState.WRAP_UP:
            done = Change(cancelled_timers=[timer.key])
            await self.d.agent_event(timer.subject, WrapUpDone(self.ctx.clock()), done)
        elif timer.kind is TimerKind.RING and status.call_id == timer.call_id:
            await self.step(timer.call_id, ev.RingTimedOut(self.ctx.clock(), timer.subject))

    async def resync(self, tracker: CallTracker) -> None:
        """Make the calls and agents match the channels Asterisk has after a (re)connect."""
        self.tracker = tracker
        for active in list(self.ctx.state.calls.values()):
            await self.step(active.id, self.findings(tracker, active))
        now = self.ctx.clock()
        for agent_id, status in list(self.ctx.state.statuses.items()):
            if self.d.held_for(agent_id) == status.call_id != "":
                continue  # held by the dialer for a call still being placed
            if status.state in ON_CALL and status.call_id not in self.ctx.state.calls:
                log.warning("agent %s: holds call %s, which is gone; releasing", agent_id, status.call_id)
                await self.d.agent_event(agent_id, Hangup(now, status.call_id))
        if self.adoption is not None:
            await self.adoption.adopt(tracker)
        await self.d.dispatch_all()

    def findings(self, tracker: CallTracker, active: ActiveCall) -> ev.Resynced:
        """What Asterisk shows of the call now: the caller, the agent's legs, a bridge."""
        now = self.ctx.clock()
        answered = self.legs(active, answered=True)
        leg = answered[0] if answered else ""
        if tracker.channel(active.facts.uniqueid) is None:
            return ev.Resynced(now, caller_present=False, answered_leg=leg)
        return ev.Resynced(
            now, caller_present=True, answered_leg=leg, ringing=bool(self.legs(active)),
            talking=self.talking(active), bridged=bool(leg) and self._bridged_together(active, leg),
        )  # fmt: skip
