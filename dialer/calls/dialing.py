"""`Dialer.place_call`: the one way a customer's number is dialed. Campaign calls, callbacks, preview
and manual dials all go through it; no other module originates to a customer dial string (a test
walks the source tree to keep it so).

The steps, in this order, for each of the lead's numbers until one is dialed:
1. claim: the lead must be held by this dialer (claimed through dialer.leads.store.LeadStore);
2. calling hours in the callee's local time (the lead's zone overrides the number's);
3. call caps: one dial at a time per number (a lock shared by all engines), the rolling cap and
   the abandon quarantine across all campaigns, and for campaign dials the lead's retry delay and
   attempt limit;
4. THE GATE (dialer.lists.gate), immediately before the Originate: internal list, national lists, the
   campaign's list, and the consent register when the campaign declares a consent purpose (the
   call id is drawn before, so the consent's evidence names the call). Fail closed: a store it
   cannot read refuses the dial;
5. the write-ahead intent (dialer.calls.intents, one script): the call id, number and lead, the pending
   attempt (it counts against the caps at once), the lead `dialing`, the number's lock held for
   the call (refused, nothing written, if the lock ran out since step 3: another dialer may hold it
   now). Only then may the Originate leave: a crash after it leaves an intent that recovery settles
   (dialer.calls.recovery), never a dial nobody knows of;
6. Originate (async, sent once, never re-sent) with SWITCHBOARD_CALL_ID and the campaign, lead and
   kind as channel variables; the call is registered with the service before it leaves, so its
   first event can never arrive unknown. An Originate that never left, or that Asterisk refused,
   cancels its intent (nothing rang).
A refusal never leaves the lead stuck: it is released with the earliest time it may be tried
again, or closed when no number of it may ever be dialed (blacklisted, not callable).
Any store error before the Originate means nothing is dialed (counted and logged, and counted as
an unavailable gate check: the dial was refused because a store could not be read).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from core.clock import Clock
from core.errors import (
    AmiConnectionError,
    AmiError,
    AmiFencedError,
    AmiTimeoutError,
    StoreUnavailableError,
    SwitchboardError,
)
from core.step_deadline import ami_limit
from core.store_errors import store_available
from dialer.calls.attempts import AttemptRecord, AttemptStore, Locked, lead_history, within_retention
from dialer.calls.dial_metrics import DialerMetrics
from dialer.calls.dial_records import (
    OUTAGES,
    DialKind,
    DialOutcome,
    DialRequest,
    DialStatus,
    PlacedCall,
    intent_of,
    new_call_id,
    refusal_summary,
)
from dialer.calls.intents import LOCK_LOST, IntentStore
from dialer.campaigns.rules import Campaign
from dialer.compliance.calling_hours import PermissionReason, may_call
from dialer.compliance.caps import CapDecision, next_attempt, number_block
from dialer.leads.store import Lead, LeadStore
from dialer.lists.gate import SOURCE_NO_CONSENT, Gate
from pbx.codec import ActionResult
from pbx.service import ActionSender
from pbx.switchboard_events import SHARD_VARIABLE
from pbx.tracker import CALL_ID_VARIABLE

log = logging.getLogger("switchboard.dialer.dialing")

OUTBOUND_CONTEXT = "switchboard-outbound"
_NEVER_CALLABLE = (PermissionReason.INVALID_NUMBER, PermissionReason.ZONE_UNKNOWN)
_BUSY_RETRY = timedelta(seconds=30)
_IN_CALL_HOLD = timedelta(hours=2)
_UNKNOWN_RETRY = timedelta(hours=1)
_MIN_ANSWER_WAIT_S = 0.25  # less left in the round for the Originate's answer: not dialed this round


@dataclass(frozen=True, slots=True)
class History:
    """What the caps' read of the attempt histories (taken under the number's lock) tells the rest
    of the dial: `stale`, whether the number's and the lead's ZSETs hold entries past their retention
    (the intent trims only those; a history not read counts as stale); `lead`, the lead's attempts
    (None when not read), on which its settlement decides the retry."""

    stale: tuple[bool, bool]
    lead: tuple[AttemptRecord, ...] | None


class CallRegistry(Protocol):
    """The service that follows placed calls (dialer.loop.service.DialerService)."""

    def expect(self, call: PlacedCall) -> None: ...

    def forget(self, call_id: str) -> None: ...


def dial_target(campaign: Campaign, number: str) -> str:
    """The campaign's dial string for an E.164 number (the only place a template is rendered)."""
    return campaign.dial_string.replace("{number}", number)


class Dialer:
    """Places calls for one engine instance (`owner` is its id, the lead store's claim owner)."""

    def __init__(
        self,
        *,
        gate: Gate,
        sender: ActionSender,
        attempts: AttemptStore,
        intents: IntentStore,
        leads: LeadStore,
        registry: CallRegistry,
        metrics: DialerMetrics,
        owner: str,
        clock: Clock,
        ami_timeout: float = 5.0,
        store_timeout: float = 2.0,
        shard: str = "",
    ) -> None:
        self.shard = shard  # set on the call as SWITCHBOARD_SHARD: whose engines may take it over
        self.gate = gate
        self.sender = sender
        self.attempts = attempts
        self.intents = intents
        self.leads = leads
        self.registry = registry
        self.metrics = metrics
        self.owner = owner
        self._clock = clock
        self._ami_timeout = ami_timeout
        self._store_timeout = store_timeout

    async def place_call(self, request: DialRequest, *, now: datetime) -> DialOutcome:
        """Dial the first of the request's numbers that passes every check; see the module doc."""
        campaign = request.campaign
        if request.lead is not None and not self._holds(request.lead):
            return self._refused(campaign, DialOutcome(DialStatus.NOT_HELD, detail="the lead is not claimed"))
        refusals: list[DialOutcome] = []
        for number in request.candidates():
            outcome = await self._try_number(request, number, now)
            if outcome.placed:
                return outcome
            refusals.append(self._refused(campaign, outcome))
            if outcome.status in (*OUTAGES, DialStatus.NOT_HELD):
                break  # the next number would meet the same outage (or the lead is gone)
        summary = refusal_summary(refusals)
        if request.lead is not None:
            await self._give_back(request.lead, summary, now)
        return summary

    def _holds(self, lead: Lead) -> bool:
        return lead.status == "claimed" and bool(lead.claimed_by)

    def _refused(self, campaign: Campaign, outcome: DialOutcome) -> DialOutcome:
        if outcome.status is not DialStatus.BLOCKED:  # the gate counts its own blocks
            self.metrics.refused.labels(campaign=campaign.id, reason=outcome.status.value).inc()
        return outcome

    async def _try_number(self, request: DialRequest, number: str, now: datetime) -> DialOutcome:
        hours = self._hours(request, number, now)
        if hours is not None:
            return hours
        try:  # the number's history comes with its lock (one round trip), read under it
            async with self._store("taking the dial lock"):
                locked = await self.attempts.lock_and_read(number)
        except StoreUnavailableError as exc:  # a lock taken all the same runs out by its TTL
            return self._store_down("dial lock", number, exc)
        if locked is None:
            detail = "this number is being dialed or is on a call with us"
            return DialOutcome(DialStatus.NUMBER_BUSY, number, detail, not_before=now + _BUSY_RETRY)
        outcome = await self._checked_dial(request, number, now, locked, request.call_id or new_call_id())
        if not outcome.placed:
            await self._unlock(number, locked[0])
        return outcome

    def _hours(self, request: DialRequest, number: str, now: datetime) -> DialOutcome | None:
        zone = request.zone or (request.lead.zone if request.lead is not None else None)
        permission = may_call(number, request.campaign.calling_hours, now, zone)
        if permission.allowed:
            return None
        not_before = permission.next_allowed_at
        if not_before is None and permission.reason not in _NEVER_CALLABLE:
            not_before = now + timedelta(days=1)  # no window within the horizon: look again tomorrow
        detail = f"{permission.reason}: {permission.detail}"
        return DialOutcome(DialStatus.OUTSIDE_HOURS, number, detail, not_before=not_before)

    async def _checked_dial(
        self, request: DialRequest, number: str, now: datetime, locked: Locked, call_id: str
    ) -> DialOutcome:
        token, number_records = locked
        try:
            async with self._store("reading the attempt history"):
                caps, history = await self._caps(request, number_records, now)
        except StoreUnavailableError as exc:
            return self._store_down("attempt history", number, exc)
        if not caps.allowed:
            detail = f"{caps.reason}: {caps.detail}"
            return DialOutcome(DialStatus.CAPPED, number, detail, not_before=caps.next_attempt_at)
        lead_id = request.lead.lead_id if request.lead is not None else request.lead_ref
        try:
            verdict = await self.gate.verdict(
                number, request.campaign.id, lead_id, now=now,
                consent_purpose=request.campaign.consent_purpose, call_id=call_id,
                customer_id=request.lead.customer_id if request.lead is not None else None,
            )  # fmt: skip
        except StoreUnavailableError:  # the gate logged and counted it
            return DialOutcome(DialStatus.STORE_UNAVAILABLE, number, "the blacklist cannot be consulted")
        if not verdict.allowed:
            detail = f"blacklisted: {', '.join(verdict.sources)}"
            if verdict.sources == (SOURCE_NO_CONSENT,):
                detail = f"no valid {request.campaign.consent_purpose} consent ({verdict.consent})"
            return DialOutcome(DialStatus.BLOCKED, number, detail, sources=verdict.sources)
        return await self._originate(request, number, now, token, call_id, history=history)

    async def _caps(
        self, request: DialRequest, number_records: list[AttemptRecord], now: datetime
    ) -> tuple[CapDecision, History]:
        """The caps' decision over the number's history (read with its lock), and what the reads of
        the attempt histories tell the intent and the settlement (see `History`)."""
        policy, cutoff = request.campaign.caps, now - self.intents.retention
        on_number = [record.attempt() for record in within_retention(number_records, cutoff)]
        number_stale = any(record.at <= cutoff for record in number_records)
        lead = request.lead
        if lead is None or request.kind in (DialKind.MANUAL, DialKind.CALLBACK):
            return number_block(on_number, policy, now), History((number_stale, True), None)
        logged, zset = lead.attempt_log, lead.attempt_zset  # as the claim read the lead
        kept = await self.attempts.lead_attempts(lead.lead_id, logged=logged, zset=zset)
        lead_stale = any(record.at <= cutoff for record in kept)
        lead_records = within_retention(kept, cutoff)  # the lead's hash keeps them past it: not counted
        on_lead = lead_history(lead_records, lead.last_disposition)
        decision = next_attempt(on_number, on_lead, policy, now)
        return decision, History((number_stale, lead_stale), tuple(lead_records))

    async def _originate(
        self, request: DialRequest, number: str, now: datetime, token: str, call_id: str, *,
        history: History | None = None,
    ) -> DialOutcome:  # fmt: skip
        """Write the intent, then send the one Originate of this attempt; it is never sent again."""
        if not self.sender.ready:
            return DialOutcome(
                DialStatus.AMI_UNAVAILABLE, number, "not logged in to Asterisk", not_before=now
            )
        if ami_limit(self._ami_timeout) < _MIN_ANSWER_WAIT_S:  # a pacing round's AMI time is up
            detail = "the pacing round has no time left to wait for Asterisk's answer"
            return DialOutcome(DialStatus.AMI_UNAVAILABLE, number, detail, not_before=now)
        call = self._placed(request, number, token, call_id, history)
        self.registry.expect(call)  # before the intent: recovery never takes a call being placed
        refused = await self._intend(call, now, history.stale if history is not None else None)
        if refused is not None:
            self.registry.forget(call.call_id)
            return refused
        try:
            result = await self._send(request.campaign, call)
        except AmiFencedError as exc:  # this engine lost the pacing between its check and the send
            return await self._not_sent(call, now, DialStatus.AMI_UNAVAILABLE, exc.message, now)
        except (AmiTimeoutError, AmiConnectionError) as exc:
            if isinstance(exc, AmiTimeoutError) and not exc.details.get("sent", True):
                return await self._not_sent(call, now, DialStatus.AMI_UNAVAILABLE, exc.message, now)
            log.warning("Originate %s: %s; following it as placed", call.call_id, exc.message)
            unanswered = True
        except AmiError as exc:
            return await self._not_sent(call, now, DialStatus.PBX_REFUSED, exc.message, now + _UNKNOWN_RETRY)
        else:
            unanswered = False
            if not result.response.ok:
                self.metrics.errors.labels(step="originate").inc()
                detail = f"Asterisk refused the Originate: {result.response.message}"
                return await self._not_sent(call, now, DialStatus.PBX_REFUSED, detail, now + _UNKNOWN_RETRY)
        self.metrics.originates.labels(campaign=call.campaign_id, kind=call.kind.value).inc()
        return DialOutcome(DialStatus.PLACED, number, call=call, unanswered=unanswered)

    async def _send(self, campaign: Campaign, call: PlacedCall) -> ActionResult:
        """The Originate itself (async: its result comes as an OriginateResponse event). In a pacing
        round its answer is awaited only until the round's AMI time is up (core.step_deadline): a
        stalled link is the AMI client's timeout, not the round's, which would read as Redis."""
        wait = round(max(_MIN_ANSWER_WAIT_S, ami_limit(self._ami_timeout)), 2)
        return await self.sender.originate(
            channel=dial_target(campaign, call.number),
            variables=self._variables(call),
            context=OUTBOUND_CONTEXT,
            exten="s",
            caller_id=campaign.caller_id,
            timeout_ms=int(campaign.ring_timeout_s * 1000),
            action_id=call.action_id,
            timeout=wait,
        )

    async def _intend(
        self, call: PlacedCall, now: datetime, stale: tuple[bool, bool] | None
    ) -> DialOutcome | None:
        """The write-ahead intent; a refusal (the lead is not held, the store is down) dials nothing."""
        try:
            async with self._store("writing the dial intent"):
                intent = intent_of(call, self.owner)
                why = await self.intents.open(intent, at=now, hold=_IN_CALL_HOLD, stale=stale)
        except StoreUnavailableError as exc:
            return self._store_down("dial intent", call.number, exc)
        if why is None:
            return None
        if why == LOCK_LOST:  # as a number locked by another dialer: the lead goes back, no attempt
            detail = "the number's dial lock ran out before the dial; it may be another dialer's now"
            return DialOutcome(DialStatus.NUMBER_BUSY, call.number, detail, not_before=now + _BUSY_RETRY)
        return DialOutcome(DialStatus.NOT_HELD, call.number, f"the lead is not held ({why})", not_before=now)

    async def _not_sent(
        self, call: PlacedCall, now: datetime, status: DialStatus, detail: str, not_before: datetime
    ) -> DialOutcome:
        """Nothing rang: the intent is undone (if the store fails, recovery settles it as unknown)."""
        self.registry.forget(call.call_id)
        try:
            async with self._store("cancelling the dial intent"):
                await self.intents.cancel(intent_of(call, self.owner), at=now, detail=detail)
        except StoreUnavailableError as exc:
            self.metrics.errors.labels(step="cancel-intent").inc()
            log.error("intent of call %s not cancelled: %s", call.call_id, exc.message)
        return DialOutcome(status, call.number, detail, not_before=not_before)

    def _placed(
        self, request: DialRequest, number: str, token: str, call_id: str, history: History | None
    ) -> PlacedCall:
        lead = request.lead
        return PlacedCall(
            call_id=call_id,
            action_id=f"sbo-{uuid.uuid4().hex[:16]}",
            campaign_id=request.campaign.id,
            number=number,
            kind=request.kind,
            placed_at=self._clock(),
            lead_id=lead.lead_id if lead is not None else request.lead_ref,
            holder=lead.claimed_by if lead is not None else None,
            agent_id=request.agent_id,
            lock_token=token,
            lead_attempts=history.lead if history is not None else None,
            lead=lead,
        )

    def _variables(self, call: PlacedCall) -> dict[str, str]:
        found = {
            CALL_ID_VARIABLE: call.call_id,
            "SWITCHBOARD_CAMPAIGN": call.campaign_id,
            "SWITCHBOARD_LEAD": call.lead_id or "",
            "SWITCHBOARD_DIAL_KIND": call.kind.value,
            "SWITCHBOARD_AGENT_ID": call.agent_id or "",
        }
        if self.shard:
            found[SHARD_VARIABLE] = self.shard
        return found

    @contextlib.asynccontextmanager
    async def _store(self, what: str) -> AsyncIterator[None]:
        """One store step of a dial: bounded by the store timeout, a failure raised as
        StoreUnavailableError (core.store_errors)."""
        with store_available(what):
            async with asyncio.timeout(self._store_timeout):
                yield

    def _store_down(self, what: str, number: str, exc: StoreUnavailableError) -> DialOutcome:
        self.metrics.errors.labels(step="store").inc()
        self.gate.note_unavailable()
        log.error("dial refused: %s", exc.message, extra={"number": number})
        return DialOutcome(DialStatus.STORE_UNAVAILABLE, number, f"{what} unavailable: fail closed")

    async def _unlock(self, number: str, token: str) -> None:
        with contextlib.suppress(StoreUnavailableError):  # the lock expires by itself within seconds
            async with self._store("releasing the dial lock"):
                await self.attempts.unlock_number(number, token)

    async def _give_back(self, lead: Lead, outcome: DialOutcome, now: datetime) -> None:
        """A refused lead goes back to its queue for its next chance, or is closed when it has none."""
        holder = lead.claimed_by or self.owner
        try:
            async with self._store("giving the lead back"):
                if outcome.status is DialStatus.BLOCKED or (
                    outcome.not_before is None and outcome.status is not DialStatus.STORE_UNAVAILABLE
                ):
                    reason = f"not dialable: {outcome.detail}"
                    await self.leads.close(lead.lead_id, reason=reason, actor=f"dialer:{self.owner}", now=now)
                else:
                    await self.leads.release(
                        lead.lead_id, holder, now=now, next_attempt_at=outcome.not_before
                    )
        except SwitchboardError as exc:  # StoreUnavailableError, or the lead store's refusal
            # The claim lease runs out and LeadStore.requeue_expired puts the lead back.
            self.metrics.errors.labels(step="release-lead").inc()
            log.warning("lead %s not given back: %s", lead.lead_id, exc, extra={"lead": lead.lead_id})
