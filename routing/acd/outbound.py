"""Outbound calls in the ACD: agents the dialer holds for calls it places, and the answered calls
it hands over. One owner of agent state for both directions (dialer/desk/acd.py adapts this to
the dialer's AgentDesk).

- `agents_for`: the logged-in, unpaused agents who could take a campaign's calls (the queue's
  needs, or the campaign's own), with their state: the input of predictive pacing.
- `hold`: take one ready agent (the named one, or the one routing would choose for the call) for
  a call about to be dialed: reserved, nothing rings, no inbound call is offered to them. A
  safety timer gives them back if the call is never handed over (the dialer's engine died).
- `release`: the held call reached nobody: the agent is ready again, without a missed ring.
- `take`: the customer answered and holds on music. The call joins the queue as a waiting call
  above every inbound caller (routing.queue) and is offered to its held agent, else to whoever
  routing chooses; from then on it is an ACD call like an inbound one (ring, Bridge when the
  agent answers, wrap-up), under the same call id, but it is not counted as inbound.
- `bridge_state`: whether the call's customer talks with an agent (CONNECTED), may already (PENDING:
  its Bridge awaits Asterisk's answer or got none in time) or not (NONE): the dialer never plays
  the abandon message to a customer the ACD connected, whatever order their resyncs ran in.
- `abandoning`: the dialer's grace ran out; `bridge_state`, and when the call is not bridged at
  all no Bridge of it goes out from then until the Withdraw that follows (at most ABANDONING_S):
  read and marked in one step of the event loop, so an agent answering while the abandon message's
  Redirect is on its way is not bridged to a customer who hears it (their leg is hung up by the
  Withdraw, a missed ring as any other rung through the grace).
- `withdraw`: the dialer gave up on the call (abandoned after its grace, customer gone): stop
  routing it and free its agent. An agent rung through the whole grace missed the call (it
  counts towards the pause after N missed rings, so a phone that never answers stops costing
  abandoned customers); a held agent never rung is freed without a miss. A leg answering late
  is hung up (callflow.agent_answered). The customer's channel is never touched: the dialer's.
Call these with the service lock held (AcdService does).
"""

from __future__ import annotations

import logging
from collections.abc import Container, Mapping
from dataclasses import dataclass
from enum import Enum

from routing.acd.callflow import CallFlow
from routing.acd.calls import ActiveCall, CallFacts, CallState
from routing.acd.context import Ctx
from routing.acd.dispatcher import Dispatcher
from routing.acd.executor import SentBridge
from routing.acd.store import Change
from routing.acd.timers import TimerKind
from routing.agent_events import AgentState
from routing.agents import AVAILABLE
from routing.plan import QueuePlan
from routing.queue import Needs, WaitingCall
from routing.selection import Outcome, can_take, decide

log = logging.getLogger("switchboard.acd.outbound")

OUTBOUND_TIER = "outbound"
ABANDONING_S = 5.0  # how long `abandoning` holds a call's Bridges back if its Withdraw never comes


class BridgeState(Enum):
    NONE = "none"  # not bridged, no Bridge under way (or the call is not the ACD's)
    PENDING = "pending"  # a Bridge to the answered agent awaits its answer, or got none: may talk
    CONNECTED = "connected"  # the ACD connected the customer to an agent


def bridge_state(
    active: ActiveCall | None, bridging: Container[str], sent: Mapping[str, SentBridge]
) -> BridgeState:
    """How far the ACD got in connecting this call (routing.acd.executor: `bridging`, the caller
    channels whose Bridge awaits its answer; `sent`, the Bridges not refused, answered None while in
    doubt: so from the answer that is none on, before the call's `bridge_in_doubt` is saved)."""
    if active is None:
        return BridgeState.NONE
    if active.state in (CallState.CONNECTED, CallState.CONSULTING):
        return BridgeState.CONNECTED
    facts = active.facts
    doubt = facts.bridge_in_doubt or facts.channel in bridging
    doubt = doubt or _unanswered(sent.get(facts.channel), facts.agent_channel)
    if active.state is CallState.OFFERED and doubt:
        return BridgeState.PENDING
    return BridgeState.NONE


def _unanswered(sent: SentBridge | None, leg: str) -> bool:
    """A Bridge to this offer's leg (not an earlier offer's) that got no answer."""
    return sent is not None and sent.answered is None and bool(leg) and sent.agent_channel == leg


@dataclass(frozen=True, slots=True)
class HandedCall:
    """An answered outbound call, holding at `channel`, that the dialer hands to the ACD."""

    call_id: str
    campaign: str
    queue: str | None
    needs: Needs
    channel: str
    uniqueid: str
    number: str
    lead_id: str = ""
    agent_id: str = ""  # held for it before dialing (progressive, manual, callback)


@dataclass(frozen=True, slots=True)
class PacingAgent:
    agent_id: str
    state: AgentState
    since: float
    wrap_up_ends_at: float | None = None


def tier_of(campaign: str) -> str:
    """`outbound:<campaign>`: never a routing.yaml tier name (those cannot hold a colon)."""
    return f"{OUTBOUND_TIER}:{campaign}"


class Outbound:
    def __init__(self, ctx: Ctx, dispatcher: Dispatcher, flow: CallFlow) -> None:
        self.ctx = ctx
        self.d = dispatcher
        self.flow = flow
        self._warned: set[str] = set()

    def target(self, queue: str | None, needs: Needs) -> tuple[QueuePlan, Needs]:
        """The queue whose ring timeout and wrap-up apply, and the needs (the queue's by default)."""
        rules = self.ctx.state.rules
        plan = rules.index.queues.get(queue or "")
        if plan is None:
            fallback = self.ctx.options.default_queue or rules.queues[0].name
            plan = rules.index.queues.get(fallback) or rules.index.queues[rules.queues[0].name]
            if queue and queue not in self._warned:
                self._warned.add(queue)
                log.warning("campaign queue %r is not in routing.yaml; using %r", queue, plan.name)
        return plan, needs or ((plan.skill, plan.level), *plan.extra)

    def agents_for(self, queue: str | None, needs: Needs) -> list[PacingAgent]:
        plan, needs = self.target(queue, needs)
        state, stage = self.ctx.state, plan.stages[0]
        found = []
        for agent_id, spec in state.profiles.items():
            status = state.status(agent_id)
            if status.state not in AVAILABLE or not can_take(spec.skills, needs, stage):
                continue
            wrap = self.ctx.timers.get(TimerKind.WRAP, agent_id)
            ends = wrap.at if wrap is not None and status.state is AgentState.WRAP_UP else None
            found.append(PacingAgent(agent_id, status.state, status.since, ends))
        return found

    async def hold(self, queue: str | None, needs: Needs, call_id: str, agent_id: str | None) -> str | None:
        state = self.ctx.state
        if agent_id is None:
            plan, needs = self.target(queue, needs)
            now = self.ctx.clock()
            probe = WaitingCall(call_id, plan.name, OUTBOUND_TIER, 0, needs, now, now, outbound=True)
            decision = decide(probe, state.snapshot, state.rules, now, limit=1)
            if decision.outcome is not Outcome.OFFER or decision.agent_id is None:
                return None
            agent_id = decision.agent_id
        elif agent_id not in state.profiles:
            return None
        return agent_id if await self.d.hold(agent_id, call_id) else None

    async def release(self, agent_id: str, call_id: str) -> None:
        if self._holds(agent_id, call_id) and call_id not in self.ctx.state.calls:
            await self.d.unhold(agent_id, call_id)

    def _holds(self, agent_id: str, call_id: str) -> bool:
        """The agent is reserved for `call_id` and nothing rings yet."""
        status = self.ctx.state.status(agent_id)
        return status.state is AgentState.RESERVED and status.call_id == call_id

    async def take(self, handed: HandedCall) -> None:
        ctx, state = self.ctx, self.ctx.state
        if handed.call_id in state.calls:
            return  # handed over already
        plan, needs = self.target(handed.queue, handed.needs)
        now = ctx.clock()
        call = WaitingCall(
            handed.call_id, plan.name, tier_of(handed.campaign), 0, needs, now, now, outbound=True
        )
        facts = CallFacts(
            case_id=await self.flow.case_id(handed.call_id, now), uniqueid=handed.uniqueid,
            channel=handed.channel, caller=handed.number, number=handed.number, owner=ctx.instance_id,
            campaign=handed.campaign, lead_id=handed.lead_id, matched=f"campaign {handed.campaign}",
        )  # fmt: skip
        active = ActiveCall(call, facts)
        await self.d.commit(Change(calls=[active]))
        extra = {"call_id": call.id, "campaign": handed.campaign, "agent_id": handed.agent_id}
        held = handed.agent_id
        to = f"held agent {held}" if held else "the first fitting agent"
        log.info("call %s: outbound, answered; to %s", call.id, to, extra=extra)
        if held and self._holds(held, call.id):
            if await self.d.offer(active, held, "held for this call by the dialer"):
                return
            if self._holds(held, call.id):
                await self.d.unhold(held, call.id)
        await self.d.route(call.id)

    def bridge_state(self, call_id: str) -> BridgeState:
        executor = self.ctx.executor
        return bridge_state(self.ctx.state.calls.get(call_id), executor.bridging, executor.bridges_sent)

    def abandoning(self, call_id: str) -> BridgeState:
        """See the module docstring. Synchronous: nothing bridges the call between the read and the mark."""
        found = self.bridge_state(call_id)
        if found is BridgeState.NONE:
            now, marks = self.ctx.clock(), self.ctx.abandoning
            for stale in [c for c, until in marks.items() if until <= now]:
                del marks[stale]
            marks[call_id] = now + ABANDONING_S
        return found

    async def withdraw(self, call_id: str) -> None:
        self.ctx.abandoning.pop(call_id, None)
        state = self.ctx.state
        active = state.calls.get(call_id)
        if active is None:
            for agent_id in list(state.statuses):
                if self._holds(agent_id, call_id):
                    await self.d.unhold(agent_id, call_id)
            return
        if not active.call.outbound or active.state is CallState.CONNECTED:
            return  # an inbound call is never the dialer's; a connected one ends by its hangups
        self.ctx.timers.cancel(TimerKind.RECHECK, call_id)
        log.info("call %s: withdrawn by the dialer (%s)", call_id, active.state, extra={"call_id": call_id})
        if active.state is CallState.OFFERED:  # rung through the whole grace: a missed ring
            await self.flow.hangup_legs(active)
            await self.d.no_answer(call_id, active.facts.agent_id, Change(ended=[active]))
        else:
            await self.d.commit(Change(ended=[active]))
