"""HTTP API of the dialer's data: leads, dispositions, the blacklist and Robinson-list requests.

Owned here: the endpoints, who may call each (roles from the tokens file), and the translation
of bodies to store calls. The stores (dialer/stores.py) do the work and keep the rules; this layer
adds the caller's name as the actor of every change, so the audit trails say who did what.

    app = create_app(state, status_overrides=STATUS_OVERRIDES)
    attach_dialer(app, stores)          # optional: else built from AppState.redis on first use
    app.include_router(router)

Roles: the CRM pushes leads and reads dispositions; advisors file Robinson-list requests, set
dispositions and read leads; supervisors decide requests and edit the internal list. `admin` is
listed only where it belongs (bulk leads, reads). Advisors see only their own requests.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request, status

from core.errors import NotFoundError, ValidationFailedError
from core.phone_numbers import normalize
from dialer.leads.robinson import STATUSES, RequestNotFoundError, RobinsonRequest
from dialer.leads.store import Lead
from dialer.lists.fast_numbers import try_normalize
from dialer.lists.gate import BatchVerdict
from dialer.paging import Cursor
from dialer.stores import DialerStores
from routing.acd import AcdService
from routing.acd.views import CaseInfo
from switchboard.api.auth import AUTH_RESPONSES, require_role
from switchboard.api.dialer_models import (
    BulkLeadsIn,
    BulkLeadsOut,
    CheckIn,
    CheckOut,
    CheckResult,
    DecisionIn,
    DispositionIn,
    DispositionOut,
    InternalAddIn,
    InternalEntryOut,
    InternalRemoveIn,
    LeadOut,
    LeadProblemOut,
    OfferOut,
    RejectIn,
    RobinsonIn,
    RobinsonOut,
)
from switchboard.api.errors import ErrorBody, NotReadyError, PermissionDeniedError
from switchboard.api.paging import CursorQuery, LimitQuery, Page, TextTime, page_of
from switchboard.api.state import get_state
from switchboard.api.tokens import Principal

STATUS_OVERRIDES = {
    "robinson-request-not-pending": 409,
    "lead-not-claimed": 409,
    "lead-offer-refused": 409,
    "blacklist-list-busy": 409,
    "blacklist-list-conflict": 409,
}
"""Error ids of the dialer that are not 4xx/5xx by their base class: pass to create_app."""

_STORES_ATTR = "dialer_stores"
RequestStatus = Literal["pending", "approved", "rejected"]
assert set(get_args(RequestStatus)) == set(STATUSES)
ERRORS: dict[int | str, dict[str, object]] = {
    **AUTH_RESPONSES,
    422: {"model": ErrorBody, "description": "invalid input; details name every field"},
    503: {"model": ErrorBody, "description": "Redis unavailable"},
}
NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorBody, "description": "no such lead / request"}
}
CONFLICT: dict[int | str, dict[str, object]] = {
    409: {"model": ErrorBody, "description": "already decided / not offered to you / list busy"}
}

router = APIRouter(prefix="/api/v1", tags=["dialer"], responses=ERRORS)


def attach_dialer(app: FastAPI, stores: DialerStores) -> None:
    """Serve `stores` (the engine's, sharing its gate and metrics) from this app's dialer endpoints."""
    setattr(app.state, _STORES_ATTR, stores)


def get_stores(request: Request) -> DialerStores:
    """The attached stores; without, stores over AppState.redis, built once (gate metrics on its registry)."""
    stores = getattr(request.app.state, _STORES_ATTR, None)
    if isinstance(stores, DialerStores):
        return stores
    state = get_state(request)
    if state.redis is None:
        raise NotReadyError("the dialer needs Redis (redis.url) and it is not configured")
    region = state.settings.default_region
    stores = DialerStores.build(state.redis, default_region=region, registry=state.registry)
    attach_dialer(request.app, stores)
    return stores


Stores = Annotated[DialerStores, Depends(get_stores)]
Crm = Annotated[Principal, Depends(require_role("crm", "admin"))]
Reader = Annotated[Principal, Depends(require_role("advisor", "supervisor", "admin", "crm"))]
Advisor = Annotated[Principal, Depends(require_role("advisor", "supervisor"))]
DispositionReader = Annotated[Principal, Depends(require_role("crm", "supervisor", "admin"))]
Supervisor = Annotated[Principal, Depends(require_role("supervisor"))]


def _lead_out(lead: Lead) -> LeadOut:
    return LeadOut.model_validate(lead.as_dict())


def _request_out(request: RobinsonRequest) -> RobinsonOut:
    return RobinsonOut.model_validate(request.as_dict())


# ---- leads ------------------------------------------------------------------------------------


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
async def accept_offer(lead_id: str, who: Advisor, stores: Stores) -> None:
    """Take the offered preview lead: the dialer calls it for you."""
    await stores.leads.accept_offer(lead_id, who.name, now=stores.clock())


@router.post(
    "/offer/{lead_id}/decline", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND | CONFLICT
)
async def decline_offer(lead_id: str, who: Advisor, stores: Stores) -> None:
    """Pass on the offered preview lead: it is offered to someone else."""
    await stores.leads.decline_offer(lead_id, who.name, now=stores.clock())


# ---- dispositions -----------------------------------------------------------------------------


@router.post(
    "/dispositions",
    response_model=DispositionOut,
    status_code=status.HTTP_201_CREATED,
    responses=NOT_FOUND | CONFLICT,
)
async def set_disposition(
    request: Request, body: DispositionIn, who: Advisor, stores: Stores
) -> DispositionOut:
    """Record a disposition for a lead, or (with `call_id` and no `lead_id`) for an inbound call: its
    automation (config/dispositions.yaml) runs at once and the outcome of each action is returned
    (e.g. do_not_call: the numbers are on the internal list). An inbound call's disposition acts on
    the caller (its number, the CRM record) and names the call's case; an advisor may set it only
    for a call they took."""
    now = stores.clock()
    if body.lead_id is None:
        assert body.call_id is not None  # DispositionIn checks
        case = await _case_of(request, body.call_id, who, required=True)
        assert case is not None
        record = await stores.dispositions.record_inbound(
            call_id=body.call_id, case_id=case.case_id, caller=body.number or case.caller, code=body.code,
            advisor=who.name, now=now, note=body.note, customer=case.customer,
        )  # fmt: skip
        return DispositionOut.model_validate(record.as_dict())
    case = await _case_of(request, body.call_id, who, required=False) if body.call_id else None
    record = await stores.dispositions.record(
        lead_id=body.lead_id,
        code=body.code,
        advisor=who.name,
        now=now,
        note=body.note,
        number=body.number,
        call_id=body.call_id,
        case_id=case.case_id if case else "",
    )
    return DispositionOut.model_validate(record.as_dict())


async def _case_of(request: Request, call_id: str, who: Principal, *, required: bool) -> CaseInfo | None:
    """The ACD's case of a call. Required (an inbound disposition): the call must be known and, for
    an advisor, theirs. Else (a lead's call) best effort: None when the ACD does not know it."""
    acd = getattr(request.app.state, "acd", None)
    if not isinstance(acd, AcdService):
        if required:
            raise NotReadyError("an inbound call's disposition needs the ACD, which is not running here")
        return None
    try:
        case = await acd.case(call_id)
    except NotFoundError:
        if required:
            raise
        return None
    if who.role == "advisor" and case.agent_id != who.name:
        if required:
            raise PermissionDeniedError(
                f"call {call_id!r} is not advisor {who.name!r}'s call", call_id=call_id
            )
        return None
    return case


@router.get("/dispositions", response_model=Page[DispositionOut])
async def list_dispositions(
    *,
    who: DispositionReader,
    stores: Stores,
    lead_id: Annotated[str | None, Query(max_length=128)] = None,
    call_id: Annotated[str | None, Query(max_length=128, description="of one call (inbound too)")] = None,
    case_id: Annotated[str | None, Query(max_length=128, description="of one ACD case")] = None,
    since: Annotated[TextTime | None, Query(description="ISO 8601 with zone; inclusive")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 100,
) -> Page[DispositionOut]:
    """Dispositions of one lead, one call or one case (give at most one), or all set since a time,
    oldest first (the CRM's read-back). Page on with `cursor` (keep the other parameters)."""
    if since is not None and since.tzinfo is None:
        raise ValidationFailedError("since must carry a time zone, e.g. 2025-03-01T00:00:00Z", field="since")
    if sum(x is not None for x in (lead_id, call_id, case_id)) > 1:
        raise ValidationFailedError("give at most one of lead_id, call_id, case_id", field="lead_id")
    items, after = await stores.dispositions.page(
        lead_id=lead_id, call_id=call_id, case_id=case_id, since=since, after=Cursor.decode(cursor),
        limit=limit,
    )  # fmt: skip
    return page_of([DispositionOut.model_validate(item.as_dict()) for item in items], after)


# ---- blacklist --------------------------------------------------------------------------------


@router.post("/blacklist/check", response_model=CheckOut)
async def check_numbers(body: CheckIn, who: Reader, stores: Stores) -> CheckOut:
    """Per number: its E.164 form, whether it is blocked now, and by which lists."""
    region = stores.gate.default_region
    e164s = [try_normalize(number, region) for number in body.numbers]
    valid = [e164 for e164 in e164s if e164 is not None]
    verdicts = iter(await stores.gate.check_many(valid, body.campaign_id) if valid else [])
    results = []
    for raw, e164 in zip(body.numbers, e164s, strict=True):
        if e164 is None:
            results.append(
                CheckResult(input=raw, e164=None, blocked=None, sources=[], error="not a phone number")
            )
            continue
        verdict: BatchVerdict = next(verdicts)
        results.append(
            CheckResult(input=raw, e164=e164, blocked=verdict.blocked, sources=list(verdict.sources))
        )
    return CheckOut(results=results)


@router.post(
    "/blacklist/internal",
    response_model=InternalEntryOut,
    status_code=status.HTTP_201_CREATED,
    responses=CONFLICT,
)
async def add_internal(body: InternalAddIn, who: Supervisor, stores: Stores) -> InternalEntryOut:
    """Put a number on the engine's own list (reason mandatory; audited with your name)."""
    number = normalize(body.number, stores.default_region)
    added = await stores.internal.add(number, reason=body.reason, actor=who.name, now=stores.clock())
    entry = await stores.internal.get(number)
    return InternalEntryOut(
        number=number,
        on_list=entry is not None,
        changed=added,
        reason=entry.reason if entry else None,
        actor=entry.actor if entry else None,
        at=entry.at if entry else None,
    )


@router.get("/blacklist/internal/{number}", response_model=InternalEntryOut)
async def get_internal(number: str, who: Supervisor, stores: Stores) -> InternalEntryOut:
    """Whether a number is on the internal list, and who put it there, when and why."""
    e164 = normalize(number, stores.default_region)
    entry = await stores.internal.get(e164)
    if entry is None:
        raise NotFoundError(f"{e164} is not on the internal list", number=e164)
    return InternalEntryOut(
        number=e164, on_list=True, changed=False, reason=entry.reason, actor=entry.actor, at=entry.at
    )


@router.delete("/blacklist/internal/{number}", response_model=InternalEntryOut, responses=CONFLICT)
async def remove_internal(
    number: str,
    who: Supervisor,
    stores: Stores,
    reason: Annotated[str | None, Query(max_length=500, description="or in the body")] = None,
    body: Annotated[InternalRemoveIn | None, Body()] = None,
) -> InternalEntryOut:
    """Take a number off the internal list (reason mandatory, in the query or the body; audited)."""
    why = (reason or (body.reason if body else "")).strip()
    if not why:
        raise ValidationFailedError(
            'removing a number needs a reason (?reason=... or {"reason": ...})', missing=["reason"]
        )
    e164 = normalize(number, stores.default_region)
    removed = await stores.internal.remove(e164, reason=why, actor=who.name, now=stores.clock())
    return InternalEntryOut(number=e164, on_list=False, changed=removed, reason=why, actor=who.name)


# ---- Robinson-list requests -------------------------------------------------------------------


@router.post("/robinson-requests", response_model=RobinsonOut, status_code=status.HTTP_201_CREATED)
async def file_request(body: RobinsonIn, who: Advisor, stores: Stores) -> RobinsonOut:
    """File a request to put a customer on the Robinson list; a supervisor decides it.
    Customer name, phone, e-mail, customer id and justification are all required."""
    request = await stores.robinson.file(body.model_dump(), requested_by=who.name, now=stores.clock())
    return _request_out(request)


@router.get("/robinson-requests", response_model=Page[RobinsonOut])
async def list_requests(
    *,
    who: Advisor,
    stores: Stores,
    request_status: Annotated[RequestStatus | None, Query(alias="status")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 100,
) -> Page[RobinsonOut]:
    """Requests, oldest first (supervisors: all; advisors: their own)."""
    mine = who.name if who.role == "advisor" else None
    found, after = await stores.robinson.page_requests(
        status=request_status, requested_by=mine, after=Cursor.decode(cursor), limit=limit
    )
    return page_of([_request_out(request) for request in found], after)


@router.get("/robinson-requests/{request_id}", response_model=RobinsonOut, responses=NOT_FOUND)
async def get_request(request_id: str, who: Advisor, stores: Stores) -> RobinsonOut:
    """One request with its decision and the supervisor's note (advisors: their own only)."""
    request = await stores.robinson.get(request_id)
    if who.role == "advisor" and request.requested_by != who.name:
        raise RequestNotFoundError(f"no Robinson-list request {request_id!r}", request_id=request_id)
    return _request_out(request)


@router.post(
    "/robinson-requests/{request_id}/approve", response_model=RobinsonOut, responses=NOT_FOUND | CONFLICT
)
async def approve_request(
    request_id: str, who: Supervisor, stores: Stores, body: DecisionIn | None = None
) -> RobinsonOut:
    """Approve: the customer leaves lead distribution and all their known numbers go on the internal list."""
    note = body.note if body else ""
    return _request_out(
        await stores.robinson.approve(request_id, supervisor=who.name, note=note, now=stores.clock())
    )


@router.post(
    "/robinson-requests/{request_id}/reject", response_model=RobinsonOut, responses=NOT_FOUND | CONFLICT
)
async def reject_request(request_id: str, body: RejectIn, who: Supervisor, stores: Stores) -> RobinsonOut:
    """Reject with a note (required) that the advisor reads."""
    return _request_out(
        await stores.robinson.reject(request_id, supervisor=who.name, note=body.note, now=stores.clock())
    )


__all__ = ["STATUS_OVERRIDES", "attach_dialer", "get_stores", "router"]
