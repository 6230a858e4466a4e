"""HTTP API of Robinson-list requests: advisors file them and read their own, supervisors
decide them (an approval puts the customer's numbers on the internal list).

Roles and stores: dialer_access.py. The store (dialer/leads/robinson.py) keeps the rules.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Query, status

from dialer.leads.robinson import STATUSES, RequestNotFoundError, RobinsonRequest
from dialer.paging import Cursor
from switchboard.api.dialer_access import CONFLICT, ERRORS, NOT_FOUND, Advisor, Stores, Supervisor
from switchboard.api.dialer_models import DecisionIn, RejectIn, RobinsonIn, RobinsonOut
from switchboard.api.paging import CursorQuery, LimitQuery, Page, page_of

RequestStatus = Literal["pending", "approved", "rejected"]
assert set(get_args(RequestStatus)) == set(STATUSES)

router = APIRouter(prefix="/api/v1", tags=["dialer"], responses=ERRORS)


def _request_out(request: RobinsonRequest) -> RobinsonOut:
    return RobinsonOut.model_validate(request.as_dict())


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
