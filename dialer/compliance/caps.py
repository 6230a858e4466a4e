"""Call caps per number, abandoned-number quarantine, retry delays and attempt limits per lead.

Owns the pure answer to "when may this lead's number be dialed next?" given the prior attempts.
No I/O: the shell loads the attempts (per number across all campaigns, per lead) and `now`.

Rules it keeps (DESIGN.md section 2.6, issue 4):
- Rolling cap per number, across all campaigns: at most `max_attempts_per_number` attempts in
  any `cap_window` (default 3 per 24 h). An attempt at T counts during [T, T + window).
- An abandoned call (answered, no agent within 2 s) quarantines its number for
  `abandon_quarantine` (default 72 h), across all campaigns.
- Per lead: the last attempt's disposition (if any) or else its call result picks the retry
  delay; a disposition or result mapped to `null` (or absent) closes the lead; a lead that has
  used `max_attempts_per_lead` attempts is exhausted.
`number_block` is the regulatory part (it also binds callbacks and manual dials), `lead_retry`
the campaign's scheduling part, `next_attempt` both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> Any:
    """Accept "90s", "10m", "4h", "3d", "1h30m" besides what pydantic's timedelta accepts."""
    if not isinstance(value, str):
        return value
    text = value.strip().lower().replace(" ", "")
    if not text or _DURATION_PART.sub("", text):
        return value  # not our shorthand: let pydantic try (ISO 8601, HH:MM:SS) and report
    seconds = sum(float(amount) * _UNIT_SECONDS[unit] for amount, unit in _DURATION_PART.findall(text))
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class CallResult(StrEnum):
    ANSWERED = "answered"  # a person answered and an agent was connected
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    ANSWERING_MACHINE = "answering_machine"
    ABANDONED = "abandoned"  # answered, no agent connected within 2 s
    FAILED = "failed"  # channel unavailable, invalid number, trunk error
    UNKNOWN = "unknown"  # placed, but its outcome never came (crash, AMI cut): it may have rung


class Attempt(BaseModel):
    """One dial attempt as recorded in the audit trail."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: AwareDatetime
    result: CallResult
    campaign: str = ""
    disposition: str | None = None


def _default_retry_after() -> dict[CallResult, timedelta | None]:
    return {
        CallResult.BUSY: timedelta(minutes=10),
        CallResult.NO_ANSWER: timedelta(hours=2),
        CallResult.CONGESTION: timedelta(minutes=5),
        CallResult.ANSWERING_MACHINE: timedelta(hours=4),
        CallResult.ABANDONED: timedelta(hours=72),
        CallResult.FAILED: timedelta(minutes=30),
        CallResult.UNKNOWN: timedelta(hours=2),
        CallResult.ANSWERED: None,
    }


class CapsPolicy(BaseModel):
    """The campaign's caps and retry rules (a section of campaigns.yaml)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts_per_number: int = Field(default=3, ge=1)
    cap_window: Duration = timedelta(hours=24)
    abandon_quarantine: Duration = timedelta(hours=72)
    max_attempts_per_lead: int = Field(default=6, ge=1)
    retry_after: dict[CallResult, Duration | None] = Field(default_factory=_default_retry_after)
    retry_after_disposition: dict[str, Duration | None] = Field(default_factory=dict)


class CapReason(StrEnum):
    ALLOWED = "allowed"
    NUMBER_CAP = "number-cap"
    QUARANTINE = "abandon-quarantine"
    RETRY_DELAY = "retry-delay"
    LEAD_EXHAUSTED = "lead-exhausted"
    LEAD_CLOSED = "lead-closed"


@dataclass(frozen=True)
class CapDecision:
    """`next_attempt_at` is the earliest allowed instant (`now` when allowed), None for never."""

    allowed: bool
    reason: CapReason
    next_attempt_at: datetime | None
    detail: str = ""


def _decide(not_before: datetime, now: datetime, reason: CapReason, detail: str) -> CapDecision:
    if not_before <= now:
        return CapDecision(True, CapReason.ALLOWED, now)
    return CapDecision(False, reason, not_before, detail)


def attempts_in_window(attempts: Sequence[Attempt], now: datetime, window: timedelta) -> int:
    """Attempts that count against the cap at `now`: those in (now - window, now]."""
    return sum(1 for attempt in attempts if now - window < attempt.at <= now)


def cap_clears_at(attempts: Sequence[Attempt], policy: CapsPolicy, now: datetime) -> datetime:
    """The earliest instant >= now at which the rolling cap admits one more attempt."""
    times = sorted((attempt.at for attempt in attempts if attempt.at > now - policy.cap_window), reverse=True)
    limit = policy.max_attempts_per_number
    if len(times) < limit:
        return now
    return max(now, times[limit - 1] + policy.cap_window)


def quarantine_ends_at(attempts: Sequence[Attempt], policy: CapsPolicy) -> datetime | None:
    abandoned = [attempt.at for attempt in attempts if attempt.result is CallResult.ABANDONED]
    return max(abandoned) + policy.abandon_quarantine if abandoned else None


def _stricter(first: CapDecision, second: CapDecision) -> CapDecision:
    """Allowed only if both allow; "never" beats any instant; otherwise the later instant wins."""
    if first.allowed:
        return second
    if second.allowed or first.next_attempt_at is None:
        return first
    if second.next_attempt_at is None:
        return second
    return first if first.next_attempt_at >= second.next_attempt_at else second


def number_block(number_attempts: Sequence[Attempt], policy: CapsPolicy, now: datetime) -> CapDecision:
    """The per-number rules (all campaigns): rolling cap and abandon quarantine."""
    cap_detail = f"{policy.max_attempts_per_number} attempts within {policy.cap_window}"
    cap = _decide(cap_clears_at(number_attempts, policy, now), now, CapReason.NUMBER_CAP, cap_detail)
    quarantine_end = quarantine_ends_at(number_attempts, policy) or now
    held_detail = f"abandoned call; number held for {policy.abandon_quarantine}"
    return _stricter(cap, _decide(quarantine_end, now, CapReason.QUARANTINE, held_detail))


def retry_delay(attempt: Attempt, policy: CapsPolicy) -> timedelta | None:
    """The delay after `attempt` before the lead is tried again; None closes the lead. An unknown
    outcome the campaign has no rule for waits as long as the longer of no answer and failed (the
    number may have rung): a dial in doubt is never repeated sooner than either would be."""
    if attempt.disposition is not None and attempt.disposition in policy.retry_after_disposition:
        return policy.retry_after_disposition[attempt.disposition]
    if attempt.result is CallResult.UNKNOWN and CallResult.UNKNOWN not in policy.retry_after:
        known = [policy.retry_after.get(r) for r in (CallResult.NO_ANSWER, CallResult.FAILED)]
        delays = [delay for delay in known if delay is not None]
        return max(delays) if delays else None
    return policy.retry_after.get(attempt.result)


def lead_retry(lead_attempts: Sequence[Attempt], policy: CapsPolicy, now: datetime) -> CapDecision:
    """The per-lead rules: attempt limit, closing results/dispositions, retry delay."""
    if not lead_attempts:
        return CapDecision(True, CapReason.ALLOWED, now)
    last = max(lead_attempts, key=lambda attempt: attempt.at)
    delay = retry_delay(last, policy)
    if delay is None:
        what = f"disposition {last.disposition!r}" if last.disposition else f"result {last.result.value!r}"
        return CapDecision(False, CapReason.LEAD_CLOSED, None, f"{what} is not retried")
    if len(lead_attempts) >= policy.max_attempts_per_lead:
        detail = f"{len(lead_attempts)} of {policy.max_attempts_per_lead} attempts used"
        return CapDecision(False, CapReason.LEAD_EXHAUSTED, None, detail)
    return _decide(last.at + delay, now, CapReason.RETRY_DELAY, f"{last.result.value} retry after {delay}")


def next_attempt(
    number_attempts: Sequence[Attempt],
    lead_attempts: Sequence[Attempt],
    policy: CapsPolicy,
    now: datetime,
) -> CapDecision:
    """Both rule sets; when both hold the lead back, the later instant (and its reason) wins."""
    return _stricter(lead_retry(lead_attempts, policy, now), number_block(number_attempts, policy, now))
