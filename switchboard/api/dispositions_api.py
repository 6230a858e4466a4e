"""HTTP API of dispositions: an advisor records one (a lead's, or an inbound call's), the CRM
reads them back.

Roles and stores: dialer_access.py. The disposition service (dialer/dispositions/service.py) runs
the automation; an inbound call's disposition takes its case from the ACD.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from core.errors import NotFoundError, ValidationFailedError
from dialer.paging import Cursor
from routing.acd import AcdService
from routing.acd.views import CaseInfo
from switchboard.api.dialer_access import CONFLICT, ERRORS, NOT_FOUND, Advisor, DispositionReader, Stores
from switchboard.api.dialer_models import DispositionIn, DispositionOut
from switchboard.api.errors import NotReadyError, PermissionDeniedError
from switchboard.api.paging import CursorQuery, LimitQuery, Page, TextTime, page_of
from switchboard.api.tokens import Principal

router = APIRouter(prefix="/api/v1", tags=["dialer"], responses=ERRORS)


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
