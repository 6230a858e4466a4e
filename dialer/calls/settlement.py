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
Writing is retried a few times (the service runs it in the background, so a Redis outage never
blocks event handling); if it still fails, the claim lease returns the lead to its queue.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime

from dialer.calls.attempts import STAT_ABANDONS, STAT_ANSWERS, STAT_MACHINES, AttemptStore, lead_history
from dialer.calls.dial_metrics import DialerMetrics
from dialer.calls.dialing import DialKind, PlacedCall
from dialer.calls.lifecycle import Settle
from dialer.campaigns.rules import Campaign
from dialer.compliance.caps import CallResult, CapReason, CapsPolicy, lead_retry
from dialer.leads.store import LeadNotClaimedError, LeadStore
from dialer.pacing.decision import TalkTimes
from dialer.tasks.store import TaskStore

log = logging.getLogger("switchboard.dialer.outcomes")

_EMA = 0.1
_DIALING_KINDS = (DialKind.CAMPAIGN, DialKind.CALLBACK, DialKind.PREVIEW)


@dataclass
class LiveSample:
    """A campaign's recent answer delay and talk times, kept in memory by the engine that paces."""

    answer_delay_s: float | None = None
    talk_s: float | None = None
    talk_times: TalkTimes = field(default_factory=TalkTimes)

    def add(self, settle: Settle) -> None:
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
        leads: LeadStore,
        metrics: DialerMetrics,
        owner: str,
        *,
        tasks: TaskStore | None = None,
    ) -> None:
        self.attempts = attempts
        self.leads = leads
        self.metrics = metrics
        self.owner = owner
        self.tasks = tasks

    def count(self, call: PlacedCall, settle: Settle) -> None:
        """The metrics, at once (they never wait for Redis)."""
        self.metrics.attempts.labels(campaign=call.campaign_id, result=settle.result.value).inc()
        if settle.abandoned:
            self.metrics.abandoned.labels(campaign=call.campaign_id).inc()

    async def write(self, call: PlacedCall, settle: Settle, campaign: Campaign | None, at: datetime) -> None:
        await self.attempts.settle(
            call_id=call.call_id, number=call.number, campaign=call.campaign_id, lead_id=call.lead_id,
            result=settle.result, at=at,
        )  # fmt: skip
        await self.attempts.count(call.campaign_id, at, counters(settle))
        if call.lock_token:
            await self.attempts.unlock_number(call.number, call.lock_token)
        if call.lead_id and call.holder and call.kind in _DIALING_KINDS:
            policy = campaign.caps if campaign is not None else CapsPolicy()
            await self._lead_next(call, settle.result, policy, at)
        if self.tasks is not None and call.lead_id:  # e.g. no answer -> "not reachable", 2 days
            await self.tasks.record_result(
                result=settle.result.value, now=at, lead_id=call.lead_id, campaign_id=call.campaign_id,
                owner=call.agent_id, call_id=call.call_id,
            )  # fmt: skip

    async def _lead_next(
        self, call: PlacedCall, result: CallResult, policy: CapsPolicy, at: datetime
    ) -> None:
        lead_id, holder = call.lead_id or "", call.holder or ""
        try:
            if result is CallResult.ANSWERED:
                await self.leads.finish(lead_id, holder, now=at, reason="answered")
                return
            history = lead_history(await self.attempts.lead_attempts(lead_id), None)
            decision = lead_retry(history, policy, at)
            if decision.allowed or decision.next_attempt_at is not None:
                await self.leads.release(lead_id, holder, now=at, next_attempt_at=decision.next_attempt_at)
            elif decision.reason is CapReason.LEAD_EXHAUSTED:
                await self.leads.finish(lead_id, holder, now=at, reason=f"exhausted: {decision.detail}")
            else:
                await self.leads.close(lead_id, reason=decision.detail, actor=f"dialer:{self.owner}", now=at)
        except LeadNotClaimedError as exc:
            log.info(
                "lead %s changed hands during its call: %s", lead_id, exc.message, extra={"lead": lead_id}
            )
