"""What the end of a placed call writes: the attempt's result, the campaign's counters, the lead's
next step (finished, released for a retry, or closed), and the in-memory pacing samples.

Rules it keeps (issue 4 "Campaigns and leads", "Pacing"):
- A call a person answered and an agent took finishes the lead (`done`); the advisor's
  disposition may requeue it later (dispositions automation, or `caps.retry_after_disposition`
  through DialerService.apply_disposition).
- Any other result releases the lead for its retry delay by result (`caps.retry_after`), or
  closes it when the result is not retried or the lead used its attempts (dialer.compliance.caps.lead_retry).
- An abandoned call is a live answer and an abandon in the campaign's hourly counters, and its
  attempt result `abandoned` quarantines the number for every campaign (dialer.compliance.caps.number_block).
- Answering machines are counted apart; they are not live answers.
- The result goes to the follow-up tasks (dialer.tasks.store.record_result) when given the store:
  a rule may open a task (unreachable: call back within 2 days) and closes the lead's older ones.
- Settling happens once per call id (dialer.calls.intents): the attempt's result, the counters, the audit
  record, the number's lock and the lead's next step are one atomic script that marks the call
  settled, so a retry after a partial failure, or recovery racing the live path, never counts an
  answer or an abandon twice. Follow-up tasks are idempotent by call id.
Writing is retried (the service runs it in the background, so a Redis outage never blocks event
handling); if it still fails, recovery (dialer.calls.recovery) settles the open intent.
"""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.clock import utc
from dialer.calls.attempts import (
    STAT_ABANDONS,
    STAT_ANSWERS,
    STAT_MACHINES,
    AttemptRecord,
    AttemptStore,
    lead_history,
    within_retention,
)
from dialer.calls.dial_metrics import DialerMetrics
from dialer.calls.dial_records import DialKind, PlacedCall, intent_of
from dialer.calls.intents import IntentStore, LeadStep, Settlement
from dialer.calls.lifecycle import Settle
from dialer.campaigns.rules import Campaign
from dialer.compliance.caps import CallResult, CapReason, CapsPolicy, lead_retry
from dialer.leads.store import LeadStore
from dialer.pacing.answer_timing import RingTimes
from dialer.pacing.decision import TalkTimes
from dialer.tasks.store import TaskStore

log = logging.getLogger("switchboard.dialer.outcomes")

_EMA = 0.1
_DIALING_KINDS = (DialKind.CAMPAIGN, DialKind.CALLBACK, DialKind.PREVIEW)


@dataclass
class LiveSample:
    """A campaign's recent answer delay, ring times and talk times, kept in memory by the engine
    that paces. `rang_s`: how long the call rang (to its answer, or to its end unanswered)."""

    answer_delay_s: float | None = None
    talk_s: float | None = None
    talk_times: TalkTimes = field(default_factory=TalkTimes)
    ring_times: RingTimes = field(default_factory=RingTimes)

    def add(self, settle: Settle, rang_s: float | None = None) -> None:
        if rang_s is not None and math.isfinite(rang_s) and rang_s >= 0:
            self.ring_times = self.ring_times.record(rang_s, answered=settle.live)
        if settle.answer_delay_s is not None and math.isfinite(settle.answer_delay_s):
            self.answer_delay_s = _ema(self.answer_delay_s, settle.answer_delay_s)
        if settle.talk_s is not None and math.isfinite(settle.talk_s):
            self.talk_s = _ema(self.talk_s, settle.talk_s)
            self.talk_times = self.talk_times.record(settle.talk_s)


def _ema(old: float | None, value: float) -> float:
    return value if old is None else old + _EMA * (value - old)


def counters(settle: Settle) -> dict[str, int]:
    counts: dict[str, int] = {}
    if settle.live:
        counts[STAT_ANSWERS] = 1
    if settle.abandoned:
        counts[STAT_ABANDONS] = 1
    if settle.machine:
        counts[STAT_MACHINES] = 1
    return counts


class Outcomes:
    """Writes the end of each placed call (see the module docstring)."""

    def __init__(
        self,
        attempts: AttemptStore,
        intents: IntentStore,
        leads: LeadStore,
        metrics: DialerMetrics,
        owner: str,
        *,
        tasks: TaskStore | None = None,
    ) -> None:
        self.attempts = attempts
        self.intents = intents
        self.leads = leads
        self.metrics = metrics
        self.owner = owner
        self.tasks = tasks
        self.settler = f"{owner}:{secrets.token_hex(4)}"  # this process's settlements (Settlement.MINE)

    def count(self, call: PlacedCall, settle: Settle) -> None:
        """The metrics of a call settled here (`write` counts its own; one without a record: its caller)."""
        self.metrics.attempts.labels(campaign=call.campaign_id, result=settle.result.value).inc()
        if settle.abandoned:
            self.metrics.abandoned.labels(campaign=call.campaign_id).inc()

    async def write(
        self,
        call: PlacedCall,
        settle: Settle,
        campaign: Campaign | None,
        at: datetime,
        *,
        retry: bool = False,
    ) -> Settlement:
        """The call's one settlement (dialer.calls.intents.IntentStore.settlement): attempt, counters,
        audit, number lock and lead in one step, once per call id; then its follow-up tasks
        (idempotent by call id). Safe to run again after a failure: says whose the settlement is.
        Counted (`count`) when settled now, or, for a `retry` of this process's own write (its answer
        lost), settled by that write: each call once over all engines."""
        step = await self.lead_step(call, settle.result, campaign, at)
        settled = await self.intents.settlement(
            intent_of(call, self.owner),
            result=settle.result.value,
            counts=counters(settle),
            step=step,
            at=at,
            detail=settle.doubt,
            by=self.settler,
        )
        if settled is Settlement.NOW or (retry and settled is Settlement.MINE):
            self.count(call, settle)
        if settled is Settlement.OTHERS:
            log.info(
                "call %s settled before by another engine; not counted here",
                call.call_id, extra={"call_id": call.call_id},
            )  # fmt: skip
        if self.tasks is not None and call.lead_id:  # e.g. no answer -> "not reachable", 2 days
            talked = timedelta(seconds=settle.talk_s) if settle.talk_s else timedelta(0)
            await self.tasks.record_result(
                result=settle.result.value, now=at, lead_id=call.lead_id, campaign_id=call.campaign_id,
                owner=call.agent_id, call_id=call.call_id, answered_at=at - talked, lead=call.lead,
            )  # fmt: skip
        return settled

    async def lead_step(
        self, call: PlacedCall, result: CallResult, campaign: Campaign | None, at: datetime
    ) -> LeadStep | None:
        """The lead's next step after this result, from its attempts with this one settled."""
        if not (call.lead_id and call.holder and call.kind in _DIALING_KINDS):
            return None
        holder, actor = call.holder, f"dialer:{self.owner}"
        if result is CallResult.ANSWERED:
            return LeadStep("done", holder, reason="answered", actor=actor)
        # read under the dial's lock, no read again: the lead is held since, up to its 15 min claim
        # lease; a longer call's lead is put back by LeadStore.requeue_expired, and this step then
        # fails its holder check in SETTLE (the new holder's own dial decides the lead)
        known = call.lead_attempts
        found = list(known) if known is not None else await self.attempts.lead_attempts(call.lead_id)
        kept = within_retention(found, at - self.attempts.retention)  # as the caps' read counts them
        records = [r for r in kept if r.call_id != call.call_id]
        records.append(AttemptRecord(call.call_id, _placed_at(call, at), result, call.campaign_id))
        policy = campaign.caps if campaign is not None else CapsPolicy()
        decision = lead_retry(lead_history(records, None), policy, at)
        if decision.allowed or decision.next_attempt_at is not None:
            return LeadStep("release", holder, next_attempt_at=decision.next_attempt_at)
        if decision.reason is CapReason.LEAD_EXHAUSTED:
            return LeadStep("done", holder, reason=f"exhausted: {decision.detail}", actor=holder)
        return LeadStep("closed", "", reason=decision.detail, actor=actor)


def _placed_at(call: PlacedCall, at: datetime) -> datetime:
    """When the attempt was made (its retry delay counts from there); `at` if unknown."""
    return utc(call.placed_at) if call.placed_at > 0 else at
