"""The callback step of a pacing round: due callbacks of a campaign are dialed before its fresh leads.

Owned here (issue 5 "Dialer integration", docs/tasks.md): for one running campaign,
- the desk says which advisors are logged in (`available`: an owner who is not cannot make it,
  so the task store escalates callbacks near their deadline) and which are ready;
- `TaskStore.due_callbacks` gives the callbacks whose own time has come, most urgent first;
- a callback that is not escalated waits for its owner: dialed when they are ready, with them
  reserved first (progressive: the answered call goes straight to them); an escalated one (no
  owner, owner away or busy too close to the deadline) goes to any ready advisor who fits;
- every dial is `Dialer.place_call` (calling hours, caps, the blacklist gate), never around it;
- placed: the task records the dial (on time or late); refused by hours, caps or the gate: the
  task is deferred to the earliest allowed time, or dropped from automatic dialing when there is
  none (the gate); an outage ends the step (nothing is dialed until it is back).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from dialer.calls.dial_records import OUTAGES, DialKind, DialOutcome, DialRequest, DialStatus, new_call_id
from dialer.campaigns.rules import Campaign
from dialer.desk.protocol import AgentDesk
from dialer.loop.pacer import Pacer, target_of
from dialer.tasks.store import TaskStore
from routing.agent_events import AgentState

log = logging.getLogger("switchboard.dialer.callbacks")

_NOT_NOW = (DialStatus.NOT_HELD, DialStatus.AGENT_NOT_READY, DialStatus.NUMBER_BUSY)
_PBX_RETRY = timedelta(minutes=1)


class CallbackRound:
    def __init__(self, tasks: TaskStore, pacer: Pacer, desk: AgentDesk) -> None:
        self.tasks = tasks
        self.pacer = pacer
        self.desk = desk

    async def run(self, campaign: Campaign, now: datetime) -> list[DialOutcome]:
        """Dial this campaign's due callbacks for the advisors ready now; returns the outcomes."""
        agents = await self.desk.agents(target_of(campaign))
        ready = {agent.agent_id for agent in agents if agent.state is AgentState.READY}
        if not ready:
            return []
        due = await self.tasks.due_callbacks(
            campaign.id, now, len(ready), available={agent.agent_id for agent in agents}
        )
        outcomes: list[DialOutcome] = []
        for callback in due:
            if not ready:
                break
            request = DialRequest(
                campaign, DialKind.CALLBACK, numbers=(callback.number,), zone=callback.zone,
                lead_ref=callback.lead_id,
            )  # fmt: skip
            if callback.owner is not None and not callback.escalate:
                if callback.owner not in ready:
                    continue  # it waits for its owner (escalated near the deadline)
                agent: str | None = callback.owner
                await self.pacer.confirm_leader()
                outcome = await self.pacer.dial_for_agent(request, callback.owner, now)
            else:
                agent, outcome = await self._to_anyone(campaign, request, now)
                if agent is None:
                    break  # nobody fitting is ready after all
            outcomes.append(outcome)
            if outcome.placed and outcome.call is not None:
                ready.discard(agent or "")
                call_id = outcome.call.call_id
                await self.tasks.mark_dialed(callback.task_id, now, call_id=call_id, agent=agent or "")
            elif outcome.status not in (*OUTAGES, *_NOT_NOW):
                await self._defer(callback.task_id, outcome, now)
            if outcome.status in OUTAGES or outcome.unanswered:
                break  # the store or AMI is down (an Originate Asterisk did not answer: stalled?)
        return outcomes

    async def _defer(self, task_id: str, outcome: DialOutcome, now: datetime) -> None:
        """Refused by hours or caps: due again when allowed; by the gate: never automatically again."""
        until = now + _PBX_RETRY if outcome.status is DialStatus.PBX_REFUSED else outcome.not_before
        extra = {"task_id": task_id, "status": outcome.status.value}
        log.info("callback %s not dialed: %s", task_id, outcome.detail, extra=extra)
        await self.tasks.defer_callback(task_id, until, now=now, reason=outcome.detail)

    async def _to_anyone(
        self, campaign: Campaign, request: DialRequest, now: datetime
    ) -> tuple[str | None, DialOutcome]:
        """An escalated callback: reserve whoever fits, then dial (given back if not placed)."""
        await self.pacer.confirm_leader()
        call_id = new_call_id()
        agent = await self.desk.reserve(target_of(campaign), call_id)
        if agent is None:
            return None, DialOutcome(DialStatus.AGENT_NOT_READY, detail="no advisor ready")
        placing = replace(request, agent_id=agent, call_id=call_id)
        outcome = await self.pacer.dialer.place_call(placing, now=now)
        if not outcome.placed:
            await self.desk.release(agent, call_id)
        return agent, outcome
