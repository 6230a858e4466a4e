"""The inbound call's shell: Asterisk's reports in, the call table (lifecycle.py) applied, its
effects performed. What a call goes through is decided in routing/acd/lifecycle.py; this module
only matches a report to its call, gathers what the table needs to know, and has what it says
carried out (routing/acd/inbound_effects.py: AMI through the executor, Redis and the agents'
table through the dispatcher). A phone's transfers and the waiting call a transfer makes are
routing/acd/transfer_flow.py's.

- Reports arrive typed (pbx.switchboard_events for the dialplan's UserEvents, pbx.call_changes
  for the rest); `step(call_id, event)` applies one to the call's table and has the effects
  performed in order. A Bridge's answer goes back to the table as its own event (BridgeResult),
  and so does Asterisk's report of the caller and the agent's leg in one bridge (BridgeSeen): an
  answer that came too late while the link stayed up is settled by what Asterisk did, without a
  resync.
- Arrival (`Admit`): classify the caller (E.164 number, dialled number, IVR choice, the CRM
  record in Redis), open a case, store the waiting call, route it, tag the caller's channel. A
  caller an agent can take at once is offered by one script instead (early_offer.py).
- Outage notices (notices.py): an arriving caller an outage in force concerns hears its notice
  before being queued; hanging up during it is served by the notice, not an abandon.
- After a (re)connect, `resync` gives the table what Asterisk shows of each call (`findings`),
  releases agents holding a call that is gone (not those the dialer holds for a call it is
  placing), hangs up the channels whose Hangup was not confirmed and are still up (an agent's leg
  answered while AMI was down for a call withdrawn meanwhile), adopts the callers Asterisk held
  that nobody announced (adoption.py), then routes
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

from core.errors import StoreUnavailableError
from core.phone_numbers import try_normalize
from pbx.call_changes import Bridged, ChannelHungUp, DialStarted, OriginateResult
from pbx.switchboard_events import AgentAnswered, InboundArrived
from pbx.tracker import CallTracker
from routing.acd import call_events as ev
from routing.acd.callers import Callers
from routing.acd.calls import ActiveCall, CallFacts, is_agent_leg, is_leg_of
from routing.acd.context import Ctx
from routing.acd.dispatcher import Dispatcher
from routing.acd.early_offer import EarlyOffer, Fetched, admitted, facts_of
from routing.acd.foreign import ForeignCallers
from routing.acd.held import HeldCaller
from routing.acd.inbound_effects import InboundEffects
from routing.acd.lifecycle import apply
from routing.acd.store import Change
from routing.acd.timers import Timer, TimerKind
from routing.acd.transfer_flow import TransferFlow
from routing.agent_events import Hangup, WrapUpDone
from routing.agents import ON_CALL, AgentState
from routing.classify import admit, classify

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
    before the queue), `transfers` (a phone's transfers, the waiting call a transfer makes),
    `effects` (the table's effects, performed) and the adoption of held callers after a resync,
    which `adoption` builds given this flow (it admits the callers it takes on through it)."""

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
        self.transfers = TransferFlow(ctx, dispatcher, self.step)
        self.effects = InboundEffects(
            ctx, dispatcher, step=self.step, arrive=self._arrive, hangup_legs=self.hangup_legs,
            shown=self._shown,
        )  # fmt: skip
        self.adoption = adoption(self) if adoption is not None else None
        self.early = EarlyOffer(ctx, dispatcher, callers)
        self.foreign = ForeignCallers(ctx.store.redis, ctx.metrics, ctx.store.keys.prefix)

    # -- arrival -----------------------------------------------------------------------------
    async def inbound(self, arrived: InboundArrived) -> None:
        if not arrived.call_id:
            return
        if arrived.shard != self.ctx.options.shard:  # its own shard's engines take it (docs/redis.md)
            await self.foreign.seen(arrived.shard, arrived.call_id, self.ctx.clock())
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
        early = await self.early.arrive(held)  # offered at once: one round trip (early_offer.py)
        if isinstance(early, CallFacts):
            facts = early
        else:
            facts = await self.admit(held, write=False, fetched=early)
            try:
                await self.d.route(held.call_id)  # offered at once: stored with the agent's reservation
            finally:
                await self.d.write_arrived()  # else stored waiting now
        if facts.channel and self.ctx.executor.ready:
            await self.ctx.executor.set_case(facts.channel, facts.case_id)

    async def admit(
        self, held: HeldCaller, case_id: str = "", how: str = "arrived", *, write: bool = True,
        fetched: Fetched | None = None,
    ) -> CallFacts:  # fmt: skip
        """Classify the caller, open a case (unless it has one) and store the waiting call; the
        caller's wait counts from `held.arrived_at`. Routing it is up to the caller of admit;
        `write=False`: the call is written with its first offer or by `Dispatcher.write_arrived`;
        `fetched`: the CRM record and case id, read already."""
        rules = self.ctx.state.rules
        number = try_normalize(held.caller or None, rules.default_region)
        if fetched is not None:
            crm, case_id, queue = fetched.crm, fetched.case_id, fetched.queue
        else:
            queue = self.callers.queue_for(held.queue, held.dialled)
            crm, case_id = await self.callers.arrival(number, held.call_id, case_id)
        found = classify(
            held.caller or None,
            queue,
            rules,
            dialled=held.dialled or None,
            ivr_choice=held.ivr or None,
            crm_record=crm,
        )
        facts = facts_of(self.ctx, held, number, found.matched, crm=crm, case_id=case_id)
        active = ActiveCall(admit(held.call_id, found, held.arrived_at), facts)
        if write:
            await self.d.commit(Change(calls=[active]))
        else:
            self.d.admit(active)
        admitted(self.ctx, active, found.matched, how)
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
        if active is None and answered.agent_id not in self.ctx.state.profiles:
            return  # another ACD shard's agent answered its engine's call: never hung up from here
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

    async def step(self, call_id: str, event: ev.Event) -> None:
        """Apply `event` to the call's table and perform what it says, in order."""
        active = self.ctx.state.calls.get(call_id)
        _, effects = apply(active, event)
        await self.effects.perform_all(call_id, active, effects)

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

    def _shown(self, call_id: str, bridge: ev.Bridge) -> tuple[bool, bool]:
        """Whether Asterisk last showed the Bridge's caller and its agent leg; nothing known: the leg
        is not taken for gone."""
        active = self.ctx.state.calls.get(call_id)
        if self.tracker is None or active is None:
            return False, True
        caller = self.tracker.channel(active.facts.uniqueid)
        return caller is not None, self.tracker.channel_by_name(bridge.agent_channel) is not None

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
            found = self.findings(tracker, active)
            if active.facts.bridge_in_doubt and not found.caller_present:  # judged here, as the table does
                self.ctx.executor.bridge_judged(active.facts.channel, connected=not found.answered_leg)
            await self.step(active.id, found)
        now = self.ctx.clock()
        for agent_id, status in list(self.ctx.state.statuses.items()):
            if self.d.held_for(agent_id) == status.call_id != "":
                continue  # held by the dialer for a call still being placed
            if status.state in ON_CALL and status.call_id not in self.ctx.state.calls:
                log.warning("agent %s: holds call %s, which is gone; releasing", agent_id, status.call_id)
                await self.d.agent_event(agent_id, Hangup(now, status.call_id))
        await self._hang_up_owed(tracker)
        if self.adoption is not None:
            await self.adoption.adopt(tracker)
        await self.d.dispatch_all()

    async def _hang_up_owed(self, tracker: CallTracker) -> None:
        """Hangups sent while AMI was down (or whose answer was lost) and the channel is still up:
        hung up now, before any agent is rung, so an agent's leg of a call that is over (answered
        in the outage) is not left up while its agent is rung for another call."""
        executor = self.ctx.executor
        for channel in list(executor.owed_hangups):
            executor.owed_hangups.pop(channel, None)
            leg = tracker.channel_by_name(channel)
            if leg is None:
                continue  # it ended meanwhile
            active = self.ctx.state.calls.get(leg.call_id or "")
            if active is not None and active.facts.agent_channel == channel:
                continue  # the leg of a call still going on: its own resync step decided above
            log.warning("%s: its Hangup was not confirmed and it is still up; hanging it up", channel)
            await executor.hangup(channel)

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
