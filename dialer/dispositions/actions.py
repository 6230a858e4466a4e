"""The automation a disposition code triggers: each action of dispositions.yaml carried out on the
lead (or, for an inbound call, on the caller), and what it did.

Owned here: `DispositionActions.run(action, context) -> ActionResult` for `blacklist`,
`withdraw_consent`, `retry_after`, `close_lead` and `robinson_request`. The rules they keep are the
module doc of dialer/dispositions/service.py (which runs them before it stores the disposition).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.errors import ValidationFailedError
from dialer.consent.store import ConsentStore
from dialer.dispositions.rules import (
    AnyAction,
    BlacklistAction,
    CloseLeadAction,
    DispositionRule,
    RetryAfterAction,
    RobinsonRequestAction,
    WithdrawConsentAction,
)
from dialer.leads.robinson import RobinsonStore
from dialer.leads.store import Lead, LeadNotClaimedError, LeadStore
from dialer.lists.store import InternalList

NO_LEAD = "an inbound call has no lead"


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What one automation action did: status done, skipped or needs-input, and the details."""

    action: str
    status: str
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActionContext:
    """One disposition being applied: who, what, which lead (None: an inbound call), when."""

    disposition_id: str
    rule: DispositionRule
    lead: Lead | None
    advisor: str
    note: str
    number: str | None
    now: datetime
    customer: Mapping[str, str] = field(default_factory=dict)
    """An inbound call's CRM record (name, email, customer_id) for a Robinson request."""


class DispositionActions:
    """Carries out one action of a disposition's rule over the stores it acts on."""

    def __init__(
        self,
        leads: LeadStore,
        *,
        robinson: RobinsonStore,
        internal: InternalList,
        consent: ConsentStore | None = None,
    ) -> None:
        self.leads = leads
        self.robinson = robinson
        self.internal = internal
        self.consent = consent

    async def run(self, action: AnyAction, c: ActionContext) -> ActionResult:
        if isinstance(action, BlacklistAction):
            return await self._blacklist(action, c)
        if isinstance(action, RetryAfterAction):
            return await self._retry(action, c)
        if isinstance(action, RobinsonRequestAction):
            return await self._robinson(action, c)
        if isinstance(action, WithdrawConsentAction):
            return await self._withdraw_consent(action, c)
        return await self._close(action, c)

    async def _blacklist(self, action: BlacklistAction, c: ActionContext) -> ActionResult:
        phones = c.lead.phones if c.lead else ()
        numbers = list(dict.fromkeys([*([c.number] if c.number else []), *phones]))
        reason = f"{action.reason or 'disposition ' + c.rule.code} (disposition {c.disposition_id}"
        reason += f", lead {c.lead.lead_id})" if c.lead else ", inbound call)"
        added = [n for n in numbers if await self.internal.add(n, reason=reason, actor=c.advisor, now=c.now)]
        detail = f"{len(numbers)} number(s) on the internal list ({len(added)} new)"
        return ActionResult("blacklist", "done", detail, {"numbers": numbers, "added": added})

    async def _withdraw_consent(self, action: WithdrawConsentAction, c: ActionContext) -> ActionResult:
        if self.consent is None:
            return ActionResult("withdraw_consent", "needs-input", "no consent register: withdraw it by hand")
        numbers = [c.number] if c.number else list(c.lead.phones if c.lead else ())
        of = f"lead {c.lead.lead_id}" if c.lead else "inbound call"
        source = f"disposition {c.rule.code} ({c.disposition_id}, {of})"
        withdrawn: dict[str, list[str]] = {}
        for number in numbers:
            purposes = await self.consent.withdraw(
                number, actor=c.advisor, source=source, now=c.now, purpose=action.purpose,
                customer_id=c.lead.customer_id if c.lead else None, reason=c.note,
            )  # fmt: skip
            if purposes:
                withdrawn[number] = purposes
        what = action.purpose or "every purpose"
        detail = f"{what}: withdrawn on {len(withdrawn)} of {len(numbers)} number(s)"
        return ActionResult("withdraw_consent", "done", detail, {"numbers": numbers, "withdrawn": withdrawn})

    async def _retry(self, action: RetryAfterAction, c: ActionContext) -> ActionResult:
        if c.lead is None:
            return ActionResult("retry_after", "skipped", NO_LEAD)
        at = c.now + action.after
        try:
            status = await self.leads.schedule_retry(c.lead.lead_id, at, now=c.now)
        except LeadNotClaimedError as exc:
            return ActionResult("retry_after", "skipped", exc.message)
        detail = f"not dialed before {at.isoformat()}"
        return ActionResult(
            "retry_after", "done", detail, {"next_attempt_at": at.isoformat(), "status": status}
        )

    async def _close(self, action: CloseLeadAction, c: ActionContext) -> ActionResult:
        if c.lead is None:
            return ActionResult("close_lead", "skipped", NO_LEAD)
        current = await self.leads.get(c.lead.lead_id)
        if current.status == "held":
            request = current.held_for or "the request still to be filed by hand"
            detail = (
                f"not closed: the lead is held until a supervisor decides {request} "
                "(approval excludes the customer, rejection queues the lead again)"
            )
            return ActionResult("close_lead", "skipped", detail, {"held_for": current.held_for or ""})
        reason = action.reason or f"disposition {c.rule.code}"
        closed = await self.leads.close(c.lead.lead_id, reason=reason, actor=c.advisor, now=c.now)
        if not closed:
            return ActionResult("close_lead", "skipped", f"lead is {c.lead.status}")
        return ActionResult("close_lead", "done", reason)

    async def _robinson(self, action: RobinsonRequestAction, c: ActionContext) -> ActionResult:
        lead, crm = c.lead, c.customer
        data = {
            "customer_name": lead.name if lead else crm.get("name", ""),
            "phone": c.number or (lead.phones[0] if lead and lead.phones else ""),
            "email": lead.email if lead else crm.get("email", ""),
            "customer_id": lead.customer_id if lead else crm.get("customer_id", ""),
            "justification": c.note or action.justification or f"disposition {c.rule.code}",
        }
        lead_id = lead.lead_id if lead else None
        try:
            request, opened = await self.robinson.open_for_review(
                data, requested_by=c.advisor, now=c.now, lead_id=lead_id, disposition_id=c.disposition_id
            )
        except ValidationFailedError as exc:
            missing = exc.details.get("missing", [])
            held = await self._hold(c, "", "the Robinson-list request is still to be filed by hand")
            detail = f"no request opened; file it by hand ({exc.message}); {held}"
            return ActionResult("robinson_request", "needs-input", detail, {"missing": missing})
        found = {"request_id": request.request_id}
        if request.status == "approved":
            detail = f"request {request.request_id} is already approved: the customer is excluded"
            return ActionResult("robinson_request", "skipped", detail, found)
        reason = f"Robinson-list request {request.request_id} awaits a supervisor's review"
        held = await self._hold(c, request.request_id, reason)
        if not opened:
            detail = f"request {request.request_id} is already {request.status}; {held}"
            return ActionResult("robinson_request", "skipped", detail, found)
        return ActionResult("robinson_request", "done", f"request {request.request_id} opened; {held}", found)

    async def _hold(self, c: ActionContext, request_id: str, reason: str) -> str:
        if c.lead is None:
            return "no lead to hold (an inbound call)"
        status = await self.leads.hold(
            c.lead.lead_id, request_id=request_id, reason=reason, actor=c.advisor, now=c.now
        )
        if status == "held":
            return "the lead is held (not dialed, not closed) until a supervisor decides"
        return f"the lead is {status}, not held"
