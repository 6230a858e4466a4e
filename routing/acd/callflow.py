"""What the ACD does when Asterisk reports something about a call: the Asterisk contract, shell side.

- `SwitchboardInbound` UserEvent: classify the caller (E.164 number, dialled
  number, IVR choice, the CRM record in Redis), open a case, store the waiting
  call, route it.
- OriginateResponse of an agent leg: success notes the answered leg; failure
  (no answer, busy, rejected...) is a missed ring and the next agent is tried.
  The caller hears music all along: its channel is never touched.
- `SwitchboardAgentAnswered` UserEvent: Bridge the caller with the agent's leg;
  only then is the agent busy and the case handed over (event on the stream).
  A leg answering for a call that is gone is hung up.
- Hangups: the caller while waiting or while an agent is rung is abandoned (the
  ringing leg is hung up, the agent released without a miss); either side of a
  connected call ends it and the agent goes into wrap-up.
- After a (re)connect, `resync` closes calls whose caller channel is gone (one
  outcome, written with the call's end), bridges an agent who answered meanwhile,
  releases agents whose ringing leg vanished (not those the dialer holds for a
  call it is placing), adopts the callers Asterisk held that nobody announced
  (adoption.py), then routes every waiting call.
- The agent's leg is recognised exactly (calls.is_agent_leg): a Local channel's
  `;2` half or a channel that merely inherited the call id is never bridged or
  hung up as the agent's.
- An answered outbound call the dialer handed over (routing/acd/outbound.py)
  follows the same path from the ring on; only the inbound metrics skip it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from core.errors import StoreUnavailableError
from core.phone_numbers import try_normalize
from pbx.call_changes import ChannelHungUp, DialStarted, OriginateResult, UserEventSeen
from pbx.tracker import CallTracker
from routing.acd.calls import ActiveCall, CallFacts, CallState, is_agent_leg, is_leg_of, leg_base
from routing.acd.context import Ctx
from routing.acd.dispatcher import Dispatcher
from routing.acd.held import HeldCaller
from routing.acd.store import Change
from routing.acd.timers import Timer, TimerKind
from routing.agent_events import Answer, Hangup, Ring, WrapUpDone
from routing.agents import ON_CALL, AgentState
from routing.classify import admit, classify

log = logging.getLogger("switchboard.acd")


class Adopter(Protocol):
    """Takes on the held callers the engine does not know (routing/acd/adoption.py)."""

    async def adopt(self, tracker: CallTracker) -> None: ...


class CallFlow:
    def __init__(self, ctx: Ctx, dispatcher: Dispatcher) -> None:
        self.ctx = ctx
        self.d = dispatcher
        self.tracker: CallTracker | None = None
        self.adoption: Adopter | None = None
        self._dialled: dict[str, str] | None = None

    # -- arrival -----------------------------------------------------------------------------
    async def inbound(self, change: UserEventSeen) -> None:
        h = change.headers
        call_id = h.get("CallID") or change.call_id or change.uniqueid
        if not call_id or call_id in self.ctx.state.calls:
            return
        held = HeldCaller(
            call_id=call_id,
            uniqueid=change.uniqueid or call_id,
            channel=h.get("Channel", ""),
            caller=h.get("CallerIDNum", ""),
            dialled=h.get("Dialled", ""),
            ivr=h.get("IvrChoice", ""),
            queue=h.get("Queue", ""),
            arrived_at=self.ctx.clock(),
        )
        facts = await self.admit(held)
        await self.d.route(call_id)
        if facts.channel and self.ctx.executor.ready:
            await self.ctx.executor.set_case(facts.channel, facts.case_id)

    async def admit(self, held: HeldCaller, case_id: str = "", how: str = "arrived") -> CallFacts:
        """Classify the caller, open a case (unless it has one) and store the waiting call; the
        caller's wait counts from `held.arrived_at`. Routing it is up to the caller of admit."""
        ctx, rules = self.ctx, self.ctx.state.rules
        queue = self.queue_for(held.queue, held.dialled)
        number = try_normalize(held.caller or None, rules.default_region)
        crm = await self._crm(number)
        found = classify(
            held.caller or None,
            queue,
            rules,
            dialled=held.dialled or None,
            ivr_choice=held.ivr or None,
            crm_record=crm,
        )
        facts = CallFacts(
            case_id=case_id or await self.case_id(held.call_id, ctx.clock()),
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
        await self.d.commit(Change(calls=[ActiveCall(admit(held.call_id, found, held.arrived_at), facts)]))
        ctx.metrics.call_offered(queue, found.tier)
        extra = {"call_id": held.call_id, "case_id": facts.case_id, "queue": queue, "tier": found.tier}
        log.info("call %s %s: %s in %s (%s)", held.call_id, how, found.tier, queue, found.matched,
                 extra=extra)  # fmt: skip
        return facts

    def queue_for(self, named: str, dialled: str) -> str:
        """The `Queue` header if it names a queue, else the dialled number's queue, else the default."""
        queues = self.ctx.state.rules.index.queues
        if named in queues:
            return named
        if named:
            log.warning("inbound call names queue %r, which is not in the routing rules", named)
        options, region = self.ctx.options, self.ctx.state.rules.default_region
        if self._dialled is None:
            self._dialled = {try_normalize(n, region) or n: q for n, q in options.queues_by_dialled.items()}
        by_number = self._dialled.get(try_normalize(dialled or None, region) or dialled)
        if by_number is not None and by_number in queues:
            return by_number
        if options.default_queue is not None and options.default_queue in queues:
            return options.default_queue
        return self.ctx.state.rules.queues[0].name

    def forget_queue_map(self) -> None:
        """The rules changed: normalise the dialled numbers again (the default region may differ)."""
        self._dialled = None

    async def _crm(self, number: str | None) -> Mapping[str, str] | None:
        if number is None or self.d.dirty:
            return None
        try:
            return await self.ctx.store.crm_record(number)
        except StoreUnavailableError as exc:
            self.d.store_failed(exc)
            return None

    async def case_id(self, call_id: str, now: float) -> str:
        if not self.d.dirty:
            try:
                return await self.ctx.store.next_case_id(now)
            except StoreUnavailableError as exc:
                self.d.store_failed(exc)
        return f"call-{call_id}"  # still unique while Redis is down

    # -- the agent's leg -----------------------------------------------------------------
    async def originate_result(self, change: OriginateResult) -> None:
        active = self.ctx.state.call_for_action(change.action_id)
        if active is None or active.state is not CallState.OFFERED:
            return
        if change.ok:
            await self.d.commit(Change(calls=[active.with_facts(agent_channel=change.channel)]))
            return
        agent_id = active.facts.agent_id
        extra = {"call_id": active.id, "agent_id": agent_id, "reason": change.reason_text}
        log.info(
            "call %s: agent %s did not answer (%s)", active.id, agent_id, change.reason_text, extra=extra
        )
        await self.d.no_answer(active.id, agent_id)

    async def dial_started(self, change: DialStarted) -> None:
        """The agent's phone rings (for the live view: reserved -> ringing)."""
        active = self.ctx.state.calls.get(change.call_id) if change.call_id else None
        if active is None or active.state is not CallState.OFFERED:
            return
        agent_id = active.facts.agent_id
        spec = self.ctx.state.profiles.get(agent_id)
        status = self.ctx.state.status(agent_id)
        if spec and is_leg_of(change.dest_channel, spec.interface) and status.state is AgentState.RESERVED:
            await self.d.agent_event(agent_id, Ring(self.ctx.clock(), active.id))

    async def agent_answered(self, change: UserEventSeen) -> None:
        h, ctx = change.headers, self.ctx
        call_id, agent_id, channel = h.get("CallID", ""), h.get("AgentID", ""), h.get("Channel", "")
        active = ctx.state.calls.get(call_id)
        if active is not None and active.facts.agent_id == agent_id:
            if active.state is CallState.OFFERED:
                await self.connect(active, channel)
                return
            if active.state is CallState.CONNECTED and leg_base(active.facts.agent_channel) == leg_base(
                channel
            ):
                return  # already bridged (after a resync found the answered leg first)
        log.info("agent %s answered call %s, which no longer waits for them; hanging up", agent_id, call_id)
        if channel:
            await ctx.executor.hangup(channel)

    async def connect(self, active: ActiveCall, channel: str) -> None:
        """Bridge the waiting caller with the agent's answered leg; the case goes to the agent."""
        ctx, agent_id = self.ctx, active.facts.agent_id
        if self._bridged_together(active, channel):
            bridged: bool | None = True  # a Bridge done while the link dropped (seen at resync)
        else:
            bridged = await ctx.executor.bridge(active.facts.channel, channel)
        if bridged is None:
            return  # maybe bridged (the link dropped): never hang up a live talk; the resync settles it
        if not bridged:
            await ctx.executor.hangup(channel)  # the caller is gone: its hangup closes the call
            return
        now = ctx.clock()
        connected = active.with_facts(state=CallState.CONNECTED, agent_channel=channel, answered_at=now)
        await self.d.agent_event(agent_id, Answer(now, active.id), Change(calls=[connected]))
        waited = now - active.call.since
        plan = ctx.state.plan(active.call.queue)
        target = plan.spec.service_level.within_seconds if plan else 0.0
        if not active.call.outbound:  # the dialer counts its own calls
            ctx.metrics.call_answered(
                active.call.queue, active.call.tier, waited=waited, at=now, target_s=target
            )
        await self.d.publish("handover", agent_id, handover(connected, waited))

    # -- hangups ---------------------------------------------------------------------------
    async def channel_gone(self, change: ChannelHungUp) -> None:
        active = self.ctx.state.calls.get(change.call_id) if change.call_id else None
        if active is None:
            return
        if change.uniqueid == active.facts.uniqueid:
            await self.caller_left(active)
            return
        leg = active.facts.agent_channel
        if not leg or leg_base(change.channel) != leg_base(leg):
            return
        if active.state is CallState.CONNECTED:
            await self.call_ended(active, "agent")
        elif active.state is CallState.OFFERED:  # answered, then gone before the bridge
            await self.d.no_answer(active.id, active.facts.agent_id)

    async def caller_left(self, active: ActiveCall) -> None:
        if active.state is CallState.CONNECTED:
            await self.call_ended(active, "caller")
            return
        ctx, call, now = self.ctx, active.call, self.ctx.clock()
        change = Change(ended=[active.with_facts(outcome="abandoned")])
        if active.state is CallState.OFFERED:
            await self.hangup_legs(active)
            await self.d.agent_event(active.facts.agent_id, Hangup(now, call.id), change)
        else:
            await self.d.commit(change)
        waited = now - call.since
        plan = ctx.state.plan(call.queue)
        target = plan.spec.service_level.within_seconds if plan else 0.0
        if not call.outbound:
            ctx.metrics.call_abandoned(call.queue, call.tier, waited=waited, at=now, target_s=target)
        extra = {"call_id": call.id, "queue": call.queue, "waited": round(waited, 3)}
        log.info("call %s: caller hung up after %.1f s (abandoned)", call.id, waited, extra=extra)
        data = {**_case(active), "waited": round(waited, 3), "ringing": active.facts.agent_id}
        await self.d.publish("abandoned", active.facts.agent_id, data)

    async def call_ended(self, active: ActiveCall, by: str) -> None:
        ctx, now = self.ctx, self.ctx.clock()
        plan = ctx.state.plan(active.call.queue)
        wrap_up = plan.spec.wrap_up_seconds if plan else 0.0
        agent_id = active.facts.agent_id
        done = Change(ended=[active.with_facts(outcome="ended")])
        await self.d.agent_event(agent_id, Hangup(now, active.id, wrap_up), done)
        talk = now - (active.facts.answered_at or now)
        if active.facts.answered_at:  # the queue's average talk, which the service-level forecast reads
            ctx.state.snapshot = ctx.state.snapshot.with_talk_time(active.call.queue, talk)
        extra = {"call_id": active.id, "agent_id": agent_id, "talk": round(talk, 3)}
        log.info("call %s: ended by the %s after %.1f s", active.id, by, talk, extra=extra)
        await self.d.publish("ended", agent_id, {**_case(active), "talk": round(talk, 3), "ended_by": by})

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
            active = self.ctx.state.calls.get(timer.call_id)
            log.warning("agent %s: no OriginateResponse for call %s in time", timer.subject, timer.call_id)
            if active is not None:
                await self.hangup_legs(active)
            await self.d.no_answer(timer.call_id, timer.subject)

    async def resync(self, tracker: CallTracker) -> None:
        """Make the calls and agents match the channels Asterisk has after a (re)connect."""
        self.tracker = tracker
        for active in list(self.ctx.state.calls.values()):
            if tracker.channel(active.facts.uniqueid) is None:
                await self.caller_left(active)
            elif active.state is CallState.OFFERED:
                await self._resync_offer(active)
            elif active.state is CallState.CONNECTED and not self.talking(active):
                await self.call_ended(active, "agent")
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

    async def _resync_offer(self, active: ActiveCall) -> None:
        """An agent was being rung: answered meanwhile (bridge now), still ringing, or gone (release)."""
        answered = self.legs(active, answered=True)
        if answered:
            await self.connect(active, answered[0])
        elif not self.legs(active):
            log.warning(
                "call %s: the leg ringing agent %s is gone; releasing", active.id, active.facts.agent_id
            )
            await self.d.release(active)


def _case(active: ActiveCall) -> dict[str, object]:
    call, facts = active.call, active.facts
    return {
        "call_id": call.id,
        "case_id": facts.case_id,
        "queue": call.queue,
        "tier": call.tier,
        "caller": facts.number or facts.caller,
        "dialled": facts.dialled,
        "ivr": facts.ivr,
        **({"campaign": facts.campaign, "lead_id": facts.lead_id} if call.outbound else {}),
    }


def handover(active: ActiveCall, waited: float) -> dict[str, object]:
    """What travels to the agent with the call (seed 004: the customer never repeats it)."""
    facts = active.facts
    return {
        **_case(active),
        "agent_id": facts.agent_id,
        "waited": round(waited, 3),
        "summary": facts.summary,
        "matched": facts.matched,
        "customer": dict(facts.crm),
    }
