"""An arriving caller offered in one round trip: the CRM record read, the case numbered and the call
stored with its agent's reservation by one script, before the agent's Originate.

The CRM record can only change the caller's tier (a CRM rule adds tier evidence; the best priority
wins). So, under the ACD's lock, routing is worked out for each tier the record could give
(routing.classify.crm_outcomes: without a CRM match, and each CRM tier that would win over it),
and the script (routing/acd/store_arrival.py) evaluates the rules on the record it reads and
writes the offer of the tier they give. Then memory takes that offer, and `classify` is run on the
record to confirm it. Rules it keeps:
- Write-ahead and fencing as `Dispatcher.offer`: the call and the agent's reservation are one
  fenced compare-and-set, written before the Originate.
- Whenever the one-step offer does not apply, the usual way goes on with the record and the case
  id already read (`Fetched`): the tier's routing does not offer at once (the call waits), the
  agent was taken or the fence refused (the usual offer meets the same answer and acts on it),
  or a rule's field holds a non-ASCII value (Lua lowers ASCII only, Python casefolds: the record
  is classified in Python and the call written by a second round trip).
- A record that is not valid UTF-8 is written again as Python reads it (a second round trip, after
  the agent is rung: the offer stands in Redis whatever that write meets).
- The offer's `now` (its ring timer's deadline, the agent's state times) is taken before the round
  trip: the script writes what was worked out beforehand. The usual way took it one round trip
  later, after reading the record: the difference is that one round trip, well inside the ring
  timer's grace.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

from core.errors import NotOwnerError, StoreUnavailableError
from core.phone_numbers import try_normalize
from routing.acd.callers import Callers
from routing.acd.calls import ActiveCall, CallFacts
from routing.acd.context import Ctx
from routing.acd.dispatcher import Dispatcher
from routing.acd.held import HeldCaller
from routing.acd.prepared_offer import Prepared
from routing.acd.store import Change
from routing.acd.store_arrival import Answer, ArrivalScript, CrmChoice, Speculation
from routing.agent_events import AgentState
from routing.classify import Classification, admit, classify, crm_beats, crm_outcomes
from routing.selection import Outcome, decide

log = logging.getLogger("switchboard.acd")


@dataclass(frozen=True, slots=True)
class Fetched:
    """Not offered at once: what was read, for the usual way."""

    crm: Mapping[str, str] | None
    case_id: str
    queue: str


class EarlyOffer:
    def __init__(self, ctx: Ctx, dispatcher: Dispatcher, callers: Callers) -> None:
        self.ctx = ctx
        self.d = dispatcher
        self.callers = callers
        self.script = ArrivalScript(ctx.store)

    async def arrive(self, held: HeldCaller) -> CallFacts | Fetched | None:
        """The call offered (stored with its agent's reservation, the agent rung): its facts; else
        what was read (`Fetched`), or None when it was not tried (Redis failing, AMI not ready)."""
        ctx, d = self.ctx, self.d
        if d.dirty or d.deferring or not ctx.executor.ready or held.call_id in ctx.state.calls:
            return None
        rules, now = ctx.state.rules, ctx.clock()
        queue = self.callers.queue_for(held.queue, held.dialled)
        number = try_normalize(held.caller or None, rules.default_region)
        where = {"dialled": held.dialled or None, "ivr_choice": held.ivr or None}
        base, better = crm_outcomes(held.caller or None, queue, rules, **where)
        if number is None:
            better = {}  # no number, no record
        offers: list[Prepared] = []
        reasons: list[str] = []
        alternative: dict[str, int] = {}
        tried: set[str] = set()
        action_id = ctx.executor.new_action_id()
        for found in (base, *better.values()):
            if found.tier in tried:
                continue  # a CRM rule of the base's own tier: the same offer (`matched` is the script's)
            tried.add(found.tier)
            prepared = self._prepare(held, number, found, now, action_id)
            if prepared is not None:
                offers.append(prepared[0])
                reasons.append(prepared[1])
                alternative[found.tier] = len(offers)
        plan = rules.index.queues[queue]
        choices = [
            CrmChoice(r.field, r.values, plan.priorities[r.tier], alternative.get(r.tier, 0), r.path)
            for r in rules.index.crm
            if number and crm_beats(base, plan.priorities[r.tier])
        ]
        evidence = None if base.matched == "default_tier" else base.priority
        spec = Speculation(
            held.call_id, number, alternative.get(base.tier, 0), base.matched, evidence, choices, offers
        )
        try:
            answer = await self.script(spec, now)
        except StoreUnavailableError as exc:
            d.store_failed(exc)
            return Fetched(None, f"call-{held.call_id}", queue)  # still unique while Redis is down
        if not answer.chosen:
            return Fetched(answer.crm, answer.case_id, queue)
        return await self._offered(held, queue, offers[answer.chosen - 1], reasons[answer.chosen - 1], answer)

    def _prepare(
        self, held: HeldCaller, number: str | None, found: Classification, now: float, action_id: str
    ) -> tuple[Prepared, str] | None:
        """The offer routing makes if the caller is classified `found` (None: it does not offer at once)."""
        state = self.ctx.state
        call = admit(held.call_id, found, held.arrived_at)
        decision = decide(call, state.snapshot.with_call(call), state.rules, now)
        agent_id = decision.agent_id
        if decision.outcome is not Outcome.OFFER or agent_id is None:
            return None
        if state.status(agent_id).state is not AgentState.READY:
            return None  # held by the dialer, say: the usual offer settles it
        active = ActiveCall(call, facts_of(self.ctx, held, number, found.matched, crm=None, case_id=""))
        prepared = self.d.prepare(active, agent_id, now, action_id)
        return None if prepared is None else (prepared, decision.reason)

    async def _offered(
        self, held: HeldCaller, queue: str, prepared: Prepared, reason: str, answer: Answer
    ) -> CallFacts:
        """Redis took the offer: memory takes it, the caller is logged as admitted, the agent rung."""
        rules, crm = self.ctx.state.rules, answer.crm
        found = classify(
            held.caller or None, queue, rules, dialled=held.dialled or None, ivr_choice=held.ivr or None,
            crm_record=crm,
        )  # fmt: skip
        call = prepared.offered.call
        if (found.tier, found.matched) != (call.tier, answer.matched):
            log.error(
                "call %s: Redis's CRM match (%s, %s) is not classify's (%s, %s); the stored call stands",
                held.call_id, call.tier, answer.matched, found.tier, found.matched,
                extra={"call_id": held.call_id},
            )  # fmt: skip
        offered = prepared.offered.with_facts(case_id=answer.case_id, matched=answer.matched, crm=crm or {})
        admitted(self.ctx, offered, answer.matched)
        await self.d.ring(replace(prepared, offered=offered), reason)
        if not answer.utf8 and self.ctx.state.calls.get(offered.id) == offered:
            # Redis holds the record's bytes as it has them: written again as Python reads it, after
            # the ring (the offer is Redis's already). Else a later write stored memory's call.
            with contextlib.suppress(NotOwnerError):  # memory is marked ahead of Redis, written back later
                await self.d.commit(Change(calls=[offered]))
        return offered.facts


def facts_of(
    ctx: Ctx,
    held: HeldCaller,
    number: str | None,
    matched: str,
    *,
    crm: Mapping[str, str] | None,
    case_id: str,
) -> CallFacts:
    """What the call keeps of its caller (for re-classification, the agent and `explain`)."""
    return CallFacts(
        case_id=case_id,
        uniqueid=held.uniqueid,
        channel=held.channel,
        caller=held.caller,
        number=number,
        dialled=held.dialled,
        ivr=held.ivr,
        matched=matched,
        crm=crm or {},
        owner=ctx.instance_id,
    )


def admitted(ctx: Ctx, active: ActiveCall, matched: str, how: str = "arrived") -> None:
    """Count and log a call admitted to its queue."""
    call, facts = active.call, active.facts
    ctx.metrics.call_offered(call.queue, call.tier)
    extra = {"call_id": call.id, "case_id": facts.case_id, "queue": call.queue, "tier": call.tier}
    log.info("call %s %s: %s in %s (%s)", call.id, how, call.tier, call.queue, matched, extra=extra)
