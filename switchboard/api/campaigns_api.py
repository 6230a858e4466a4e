"""HTTP API of the outbound campaigns: list, start / pause / stop, live stats, and manual dials.

Owned here: the endpoints and who may call them. The dialer service (dialer/loop/service.py) does the
work and keeps the rules: a manual dial goes through `Dialer.place_call` like every other dial,
so calling hours, call caps and the blacklist gate apply to it too.

    attach_campaigns(app, dialer_service)
    app.include_router(router)

Roles: supervisors (and admins) list and steer campaigns; the CRM may read their stats too;
advisors dial manually (the call connects to the advisor whose token it is).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from core.phone_numbers import normalize
from dialer.loop.campaign_control import CampaignState, CampaignStatus
from dialer.loop.service import DialerService
from dialer.paging import Cursor, page_in_memory
from switchboard.api.auth import AUTH_RESPONSES, require_role
from switchboard.api.errors import NotReadyError, error_doc
from switchboard.api.paging import CursorQuery, LimitQuery, Page, page_of
from switchboard.api.tokens import Principal

_SERVICE_ATTR = "dialer_service"
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    404: error_doc("no such campaign"),
    422: error_doc("invalid input"),
    503: error_doc("the dialer is not running, or Redis is unavailable"),
}

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"], responses=ERRORS)


def attach_campaigns(app: FastAPI, service: DialerService) -> None:
    setattr(app.state, _SERVICE_ATTR, service)


def get_service(request: Request) -> DialerService:
    service = getattr(request.app.state, _SERVICE_ATTR, None)
    if not isinstance(service, DialerService):
        raise NotReadyError("the dialer is not running in this engine")
    return service


Service = Annotated[DialerService, Depends(get_service)]
Steering = Annotated[Principal, Depends(require_role("supervisor", "admin"))]
StatsReader = Annotated[Principal, Depends(require_role("supervisor", "admin", "crm"))]
Advisor = Annotated[Principal, Depends(require_role("advisor"))]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CampaignOut(BaseModel):
    campaign_id: str
    name: str
    mode: str
    queue: str | None
    state: str
    state_changed_by: str
    state_changed_at: str


class StateIn(_Body):
    reason: str = Field("", max_length=500, description="recorded in the audit trail")


class StateOut(BaseModel):
    campaign_id: str
    state: str
    actor: str
    at: str
    reason: str


class DialIn(_Body):
    number: str = Field(min_length=3, max_length=40, description="any national or E.164 form")


class DialOut(BaseModel):
    placed: bool
    status: str = Field(
        description="placed, or why not: outside-hours, capped, blocked, store-unavailable, ..."
    )
    number: str | None
    call_id: str | None
    detail: str
    not_before: str | None = Field(description="the earliest time the number may be dialed again")


def _state_out(status: CampaignStatus) -> StateOut:
    return StateOut.model_validate(status.as_dict())


@router.get("", response_model=Page[CampaignOut])
async def list_campaigns(
    who: Steering, service: Service, cursor: CursorQuery = None, limit: LimitQuery = 100
) -> Page[CampaignOut]:
    """The campaigns of campaigns.yaml by id, with their state (a campaign never started is `stopped`)."""
    states = await service.control.states()
    campaigns, after = page_in_memory(
        service.campaigns.campaigns, lambda c: c.id, Cursor.decode(cursor), limit
    )
    out = []
    for campaign in campaigns:
        status = states.get(campaign.id) or CampaignStatus(campaign.id)
        out.append(
            CampaignOut(
                campaign_id=campaign.id,
                name=campaign.name,
                mode=campaign.mode.value,
                queue=campaign.queue,
                state=status.state.value,
                state_changed_by=status.actor,
                state_changed_at=status.at,
            )
        )
    return page_of(out, after)


async def _set(
    service: DialerService, campaign_id: str, state: CampaignState, who: Principal, body: StateIn
) -> StateOut:
    return _state_out(await service.set_state(campaign_id, state, who.name, body.reason))


StateBody = Annotated[StateIn, Body(default_factory=StateIn)]


@router.post("/{campaign_id}/start", response_model=StateOut)
async def start(campaign_id: str, who: Steering, service: Service, body: StateBody) -> StateOut:
    """Start (or resume) dialing the campaign's leads."""
    return await _set(service, campaign_id, CampaignState.RUNNING, who, body)


@router.post("/{campaign_id}/pause", response_model=StateOut)
async def pause(campaign_id: str, who: Steering, service: Service, body: StateBody) -> StateOut:
    """No new calls; calls in progress go on. `start` resumes."""
    return await _set(service, campaign_id, CampaignState.PAUSED, who, body)


@router.post("/{campaign_id}/stop", response_model=StateOut)
async def stop(campaign_id: str, who: Steering, service: Service, body: StateBody) -> StateOut:
    """End the campaign's dialing; calls in progress go on. `start` starts it again."""
    return await _set(service, campaign_id, CampaignState.STOPPED, who, body)


@router.get("/{campaign_id}/stats")
async def stats(campaign_id: str, who: StatsReader, service: Service) -> dict[str, Any]:
    """State, leads remaining, calls in flight, dial level, and the abandon rate over 24 h and 30 d."""
    return await service.stats(campaign_id)


@router.post("/{campaign_id}/dial", response_model=DialOut)
async def manual_dial(campaign_id: str, body: DialIn, who: Advisor, service: Service) -> DialOut:
    """Dial a number for this campaign; the answered call connects to you. You must be ready.

    Calling hours, call caps and the blacklist gate apply as to every dial: `placed` is false
    with the reason when the number may not be dialed now."""
    number = normalize(body.number, service.dialer.gate.default_region)
    outcome = await service.manual_dial(who.name, campaign_id, number)
    return DialOut(
        placed=outcome.placed,
        status=outcome.status.value,
        number=outcome.number or number,
        call_id=outcome.call.call_id if outcome.call else None,
        detail=outcome.detail,
        not_before=outcome.not_before.isoformat() if outcome.not_before else None,
    )
