"""The records of one dial: what is asked (`DialRequest`), what it answers (`DialOutcome`, with a
`DialStatus`), the call it places (`PlacedCall`) and that call's write-ahead intent.

Owned here: the data that crosses from dialer.calls.dialing to the pacer, the callbacks and the
outbound call lifecycle, and `refusal_summary`, which refusal of a dial decides what happens to its lead.
Pure: no I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from dialer.calls.attempts import AttemptRecord
from dialer.calls.intents import Intent
from dialer.campaigns.rules import Campaign
from dialer.leads.store import Lead


class DialKind(StrEnum):
    CAMPAIGN = "campaign"
    CALLBACK = "callback"
    PREVIEW = "preview"
    MANUAL = "manual"


class DialStatus(StrEnum):
    PLACED = "placed"
    NOT_HELD = "lead-not-held"
    AGENT_NOT_READY = "agent-not-ready"
    OUTSIDE_HOURS = "outside-hours"
    CAPPED = "capped"
    NUMBER_BUSY = "number-busy"
    BLOCKED = "blocked"
    STORE_UNAVAILABLE = "store-unavailable"
    AMI_UNAVAILABLE = "ami-unavailable"
    PBX_REFUSED = "pbx-refused"


OUTAGES = (DialStatus.STORE_UNAVAILABLE, DialStatus.AMI_UNAVAILABLE)
"""Refusals that mean the store or AMI is down: nothing more is dialed until it is back."""


@dataclass(frozen=True, slots=True)
class DialRequest:
    """One dial: a campaign's lead (its numbers are tried in turn) or explicit `numbers` (manual)."""

    campaign: Campaign
    kind: DialKind = DialKind.CAMPAIGN
    lead: Lead | None = None
    numbers: tuple[str, ...] = ()  # E.164; default: the lead's phones, rotating with its attempts
    agent_id: str | None = None  # the agent reserved for the call, or the advisor who dials
    zone: str | None = None  # overrides the lead's and the number's zone
    call_id: str | None = None  # preassigned (the id an agent was reserved under); default: a new one
    lead_ref: str | None = None  # a lead the call is for without being claimed (callbacks): attempts only

    def candidates(self) -> tuple[str, ...]:
        if self.numbers:
            return self.numbers
        if self.lead is None or not self.lead.phones:
            return ()
        phones, start = self.lead.phones, self.lead.attempts % len(self.lead.phones)
        return phones[start:] + phones[:start]


@dataclass(frozen=True, slots=True)
class PlacedCall:
    """A call whose Originate has left: what the service follows until it ends."""

    call_id: str
    action_id: str
    campaign_id: str
    number: str
    kind: DialKind
    placed_at: float  # epoch seconds
    lead_id: str | None = None
    holder: str | None = None  # the lead's claim owner (to release or finish it)
    agent_id: str | None = None
    lock_token: str | None = None  # the number's dial lock, held until the call ends
    # the lead's attempts as the caps read them before this dial (the lead is held, so settling
    # decides its retry on them with no read of its own); None: not read (recovery reads them)
    lead_attempts: tuple[AttemptRecord, ...] | None = field(default=None, compare=False)
    # the lead as the claim returned it (its customer, phones, zone): its follow-up task is made
    # from it with no read of its own; None: not known (recovery, callbacks: the task store reads it)
    lead: Lead | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class DialOutcome:
    status: DialStatus
    number: str | None = None
    detail: str = ""
    call: PlacedCall | None = None
    not_before: datetime | None = None  # the earliest retry; None with a refusal: never
    sources: tuple[str, ...] = ()
    unanswered: bool = False  # placed, but Asterisk's answer to the Originate never came (AMI stalled?)

    @property
    def placed(self) -> bool:
        return self.status is DialStatus.PLACED


def refusal_summary(refusals: list[DialOutcome]) -> DialOutcome:
    """The refusal (one per number tried) that decides what happens to the lead: the one allowing the
    earliest retry, else an outage, else a block."""
    retry = [r for r in refusals if r.not_before is not None and r.status is not DialStatus.BLOCKED]
    if retry:
        return min(retry, key=lambda r: r.not_before or datetime.max)
    for status in (DialStatus.STORE_UNAVAILABLE, DialStatus.BLOCKED):
        found = [r for r in refusals if r.status is status]
        if found:
            return found[0]
    return refusals[0] if refusals else DialOutcome(DialStatus.CAPPED, detail="no number to dial")


def new_call_id() -> str:
    return f"sbo-{uuid.uuid4().hex}"


def intent_of(call: PlacedCall, owner: str) -> Intent:
    """The write-ahead record of a call (dialer.calls.intents); `owner` is the engine that places it."""
    return Intent(
        call_id=call.call_id, action_id=call.action_id, number=call.number, campaign_id=call.campaign_id,
        kind=call.kind.value, placed_ms=int(call.placed_at * 1000), owner=owner, lead_id=call.lead_id,
        holder=call.holder, agent_id=call.agent_id, lock_token=call.lock_token,
    )  # fmt: skip
