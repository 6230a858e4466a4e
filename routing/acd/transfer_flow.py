"""Transfers in the inbound call's shell (the table's transitions are
routing/acd/transfer_transitions.py; where a transfer may go is routing/acd/transfers.py).

- The waiting call a transfer makes (`requeued_for`), for the API's transfers and a phone's.
- A transfer made on the phone, as Asterisk reports it (`phone_transferred`): into the transfer
  context the call is routed again like an API transfer (a target the rules do not know waits in
  its queue); anywhere else it leaves the ACD, tracked. An attended transfer reported after the
  advisor's hang-up had closed the call as ended corrects its record to transferred.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from core.errors import StoreUnavailableError, ValidationFailedError
from pbx.call_changes import Transferred
from routing.acd import call_events as ev
from routing.acd.calls import ActiveCall, CallState, leg_base
from routing.acd.case_payloads import case_data
from routing.acd.context import Ctx
from routing.acd.dispatcher import Dispatcher
from routing.acd.store import Change
from routing.acd.transfers import Target, check_target, requeued, target_from_exten
from routing.classify import classify
from routing.queue import WaitingCall

log = logging.getLogger("switchboard.acd")


class TransferFlow:
    """See the module docstring. `step` (given by the flow) applies an event to the call's table."""

    def __init__(
        self, ctx: Ctx, dispatcher: Dispatcher, step: Callable[[str, ev.Event], Awaitable[None]]
    ) -> None:
        self.ctx = ctx
        self.d = dispatcher
        self.step = step

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
