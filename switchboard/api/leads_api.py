"""HTTP API of leads: the CRM's bulk upsert, one lead, and the preview lead offered to an advisor.

Roles and stores: dialer_access.py. The store (dialer/leads/store.py) keeps the rules; this layer
adds the caller's name as the actor of every change, so the audit trails say who did what.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from dialer.leads.store import Lead
from switchboard.api.dialer_access import CONFLICT, ERRORS, NOT_FOUND, Advisor, Crm, Reader, Stores
from switchboard.api.dialer_models import BulkLeadsIn, BulkLeadsOut, LeadOut, LeadProblemOut, OfferOut
from switchboard.console.offers import forget_offer

router = APIRouter(prefix="/api/v1", tags=["dialer"], responses=ERRORS)


def _lead_out(lead: Lead) -> LeadOut:
    return LeadOut.model_validate(lead.as_dict())


@router.post("/leads:bulk", response_model=BulkLeadsOut)
async def bulk_upsert(body: BulkLeadsIn, who: Crm, stores: Stores) -> BulkLeadsOut:
    """Create or update leads by lead id (idempotent). Invalid leads are listed by index, the rest stored.

    CRM flags are stored as sent and never let a blacklisted number be dialed; a flag
    `do_not_call: true` puts the lead's numbers on the internal list."""
    report = await stores.leads.upsert_many(
        body.leads,
        now=stores.clock(),
        actor=who.name,
        campaign_id=body.campaign_id,
        reopen=body.reopen,
        region=body.region,
    )
    errors = [LeadProblemOut(index=p.index, lead_id=p.lead_id, message=p.message) for p in report.errors]
    return BulkLeadsOut(
        received=report.received,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        excluded=report.excluded,
        numbers_blocked=report.numbers_blocked,
        errors=errors,
    )


@router.get("/leads/{lead_id}", response_model=LeadOut, responses=NOT_FOUND)
async def get_lead(lead_id: str, who: Reader, stores: Stores) -> LeadOut:
    """One lead: its numbers (E.164 and as sent), CRM flags, status and attempts."""
    return _lead_out(await stores.leads.get(lead_id))


@router.get("/offer", response_model=OfferOut)
async def my_offer(who: Advisor, stores: Stores) -> OfferOut:
    """The preview lead offered to the calling advisor now, if any."""
    lead = await stores.leads.current_offer(who.name, now=stores.clock())
    return OfferOut(lead=_lead_out(lead) if lead else None)


@router.post(
    "/offer/{lead_id}/accept", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND | CONFLICT
)
async def accept_offer(lead_id: str, who: Advisor, stores: Stores, request: Request) -> None:
    """Take the offered preview lead: the dialer calls it for you."""
    await stores.leads.accept_offer(lead_id, who.name, now=stores.clock())
    forget_offer(request.app, who.name)


@router.post(
    "/offer/{lead_id}/decline", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND | CONFLICT
)
async def decline_offer(lead_id: str, who: Advisor, stores: Stores, request: Request) -> None:
    """Pass on the offered preview lead: it is offered to someone else."""
    await stores.leads.decline_offer(lead_id, who.name, now=stores.clock())
    forget_offer(request.app, who.name)
