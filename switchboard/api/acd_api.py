"""HTTP API of the inbound ACD: agent presence, agent profiles, the queues' live view, cases, events.

Wiring: `install(app, acd)` puts the engine's AcdService on the app and adds
`router` (an app without an ACD answers 503 `not-ready`). Who may do what:
- advisor: their own agent only (the token's `name` is the agent id): log in and
  out, pause with a reason, ready; see themselves, the queues, the case of a call
  they took and write its summary; read their own events.
- supervisor, admin: all of the above for every agent, and add agents or edit
  their skills (kept in Redis; a routing.yaml reload does not undo the edit).
- advisor (the one who has the call), supervisor, admin: transfer a call in conversation to a
  queue, a skill or a named agent, blind or warm (consult, then complete or cancel); the
  case (id, summary) travels with it (docs/transfers.md).
- crm: push customer records used to classify callers (`PUT /customers/{number}`).
A state change the agent lifecycle does not allow (ready while on a call, log in
twice) is 409 `agent-transition-invalid`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from dialer.paging import Cursor, page_in_memory
from routing.acd import AcdService
from routing.acd.events import MAX_WAIT_S, SINCE_PATTERN
from routing.acd.transfers import TARGET_PATTERN, TransferError
from routing.agents import AgentTransitionError
from routing.rules import AgentSpec, Interface, Level, Name
from switchboard.api.auth import AUTH_RESPONSES, require_role
from switchboard.api.errors import NotReadyError, PermissionDeniedError, error_doc, error_response
from switchboard.api.paging import CursorQuery, LimitQuery, Page, page_of
from switchboard.api.tokens import Principal

STATUS_OVERRIDES = {AgentTransitionError.error_id: 409, TransferError.error_id: 409}
"""For create_app(status_overrides=...) when the router is added without `install`."""
STAFF = ("supervisor", "admin")

# Authenticate before anything else: a request without a valid token learns nothing (401, not
# the 503 of an engine without an ACD). Each endpoint still checks its own roles.
router = APIRouter(prefix="/api/v1/acd", tags=["acd"], dependencies=[Depends(require_role())])
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    404: error_doc("no such agent or call"),
    409: error_doc("not allowed in the agent's or the call's current state"),
    422: error_doc("invalid input"),
    503: error_doc("the ACD is not running here (not-ready, not-owner) or Redis is down"),
}


def install(app: FastAPI, acd: AcdService) -> None:
    """Serve `acd` on `app`: the router, and 409 for lifecycle conflicts."""
    app.state.acd = acd
    app.include_router(router)

    async def conflict(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AgentTransitionError | TransferError)
        return error_response(409, exc.error_id, exc.message, exc.details)

    app.add_exception_handler(AgentTransitionError, conflict)
    app.add_exception_handler(TransferError, conflict)


def get_acd(request: Request) -> AcdService:
    acd = getattr(request.app.state, "acd", None)
    if not isinstance(acd, AcdService):
        raise NotReadyError("the ACD is not running in this engine")
    return acd


Acd = Annotated[AcdService, Depends(get_acd)]
Anyone = Annotated[Principal, Depends(require_role("advisor", *STAFF))]
Staff = Annotated[Principal, Depends(require_role(*STAFF))]
Readers = Annotated[Principal, Depends(require_role("advisor", "crm", *STAFF))]


def _self_or_staff(principal: Principal, agent_id: str) -> None:
    if principal.role == "advisor" and principal.name != agent_id:
        raise PermissionDeniedError(
            f"advisor {principal.name!r} may only act as themselves, not as agent {agent_id!r}",
            agent_id=agent_id,
        )


# -- models -----------------------------------------------------------------------------------
class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AgentOut(_Out):
    id: str
    name: str
    interface: str
    skills: dict[str, int]
    state: str
    since: float
    pause_reason: str
    call_id: str
    missed_rings: int
    occupancy: float
    source: str = Field(description="rules: from routing.yaml; api: added or edited over the API")


class WaitingOut(_Out):
    call_id: str
    case_id: str
    position: int = Field(description="1 = served next; 0 for calls already ringing an agent")
    tier: str
    priority: float = Field(description="effective priority now (rises with the wait)")
    waited: float
    needs: dict[str, int]
    state: str
    agent_id: str


class QueueOut(_Out):
    name: str
    waiting: list[WaitingOut]
    ringing: list[WaitingOut] = Field(description="calls ringing an agent (the caller still waits)")
    agents: dict[str, int] = Field(description="agents with the queue's skill, per state")
    service_level_target: float
    service_level_within: float
    connected: list[WaitingOut] = Field(
        description="calls talking to an agent; `waited` is frozen at the answer"
    )
    service_level: float | None = Field(
        description="answered within `service_level_within` s, over the sliding window; null: no calls yet"
    )
    oldest_wait: float = Field(description="seconds the longest-waiting caller has waited now; 0 when none")


class CaseOut(_Out):
    call_id: str
    case_id: str
    state: str
    queue: str
    tier: str
    caller: str
    dialled: str
    ivr: str
    ivr_label: str
    matched: str
    agent_id: str
    arrived_at: float
    answered_at: float | None
    summary: str
    customer: dict[str, str]
    transfers: int = Field(0, description="how many times the call was transferred")
    transferred_from: str = Field("", description="the agent who transferred it last")
    transfer_target: str = Field("", description="where it was transferred last (queue:, skill:, agent:)")
    opened_by: str = Field("", description="the first agent who took the call (they opened the case)")
    transferer: str = Field(
        "", description="during a consult: the agent who asked (agent_id: the consulted one)"
    )


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(
        min_length=3,
        max_length=140,
        description="queue:<name>, skill:<name> or agent:<id>",
        json_schema_extra={"pattern": TARGET_PATTERN},  # checked by parse_target, whose 422 names the forms
        examples=["queue:billing"],
    )
    mode: Literal["blind", "warm"] = Field(
        "blind", description="blind: the caller waits for the target; warm: consult the target first"
    )
    level: Level = Field(1, description="for skill:<name>, the level the call needs")


class EventOut(_Out):
    id: str
    type: str
    agent_id: str
    data: dict[str, Any]


class EventsOut(BaseModel):
    events: list[EventOut]
    last_id: str = Field(description="pass as `since` to get the next ones")


class PauseIn(BaseModel):
    reason: str = Field("", max_length=100, description='shown to supervisors, e.g. "lunch"')


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    interface: Interface
    skills: dict[Name, Level] = Field(min_length=1)


class SkillsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    skills: dict[Name, Level] = Field(min_length=1)


class SummaryIn(BaseModel):
    summary: str = Field(max_length=2000)


class CustomerOut(BaseModel):
    number: str
    fields: dict[str, str]


# -- agents -----------------------------------------------------------------------------------
@router.get("/agents", response_model=Page[AgentOut], responses=ERRORS)
async def list_agents(
    acd: Acd, who: Anyone, cursor: CursorQuery = None, limit: LimitQuery = 100
) -> Page[AgentOut]:
    """Agents with state and skills, by id (an advisor sees themselves)."""
    agents = acd.agents()
    if who.role == "advisor":
        agents = [a for a in agents if a.id == who.name]
    taken, after = page_in_memory(agents, lambda a: a.id, Cursor.decode(cursor), limit)
    return page_of([AgentOut.model_validate(a) for a in taken], after)


@router.get("/agents/{agent_id}", response_model=AgentOut, responses=ERRORS)
async def get_agent(agent_id: str, acd: Acd, who: Anyone) -> AgentOut:
    _self_or_staff(who, agent_id)
    return AgentOut.model_validate(acd.agent(agent_id))


@router.post("/agents/{agent_id}/login", response_model=AgentOut, responses=ERRORS)
async def login(agent_id: str, acd: Acd, who: Anyone) -> AgentOut:
    """Log in: the agent is ready and may be offered a call at once."""
    _self_or_staff(who, agent_id)
    return AgentOut.model_validate(await acd.login(agent_id))


@router.post("/agents/{agent_id}/logout", response_model=AgentOut, responses=ERRORS)
async def logout(agent_id: str, acd: Acd, who: Anyone) -> AgentOut:
    """Log out (a call ringing them goes to the next agent)."""
    _self_or_staff(who, agent_id)
    return AgentOut.model_validate(await acd.logout(agent_id))


@router.post("/agents/{agent_id}/pause", response_model=AgentOut, responses=ERRORS)
async def pause(agent_id: str, body: PauseIn, acd: Acd, who: Anyone) -> AgentOut:
    """Pause with a reason; during a call the pause starts when the call ends."""
    _self_or_staff(who, agent_id)
    return AgentOut.model_validate(await acd.pause(agent_id, body.reason))


@router.post("/agents/{agent_id}/ready", response_model=AgentOut, responses=ERRORS)
async def ready(agent_id: str, acd: Acd, who: Anyone) -> AgentOut:
    """Ready (from pause or wrap-up); resets the missed-ring count."""
    _self_or_staff(who, agent_id)
    return AgentOut.model_validate(await acd.ready(agent_id))


@router.put("/agents/{agent_id}", response_model=AgentOut, responses=ERRORS)
async def put_agent(agent_id: str, body: AgentIn, acd: Acd, who: Staff) -> AgentOut:
    """Add or replace an agent; kept across restarts and routing.yaml reloads."""
    spec = AgentSpec.model_validate({"id": agent_id, **body.model_dump()})
    return AgentOut.model_validate(await acd.put_agent(spec))


@router.put("/agents/{agent_id}/skills", response_model=AgentOut, responses=ERRORS)
async def put_skills(agent_id: str, body: SkillsIn, acd: Acd, who: Staff) -> AgentOut:
    """Replace an agent's skills and levels (1 novice ... 5 expert)."""
    return AgentOut.model_validate(await acd.set_skills(agent_id, body.skills))


# -- queues, cases, events, customers ------------------------------------------------------------
@router.get("/queues", response_model=Page[QueueOut], responses=ERRORS)
async def queues(
    acd: Acd, who: Anyone, cursor: CursorQuery = None, limit: LimitQuery = 100
) -> Page[QueueOut]:
    """Live view by queue name: waiting callers in serving order (tier, priority, wait), agents per state."""
    taken, after = page_in_memory(acd.queues(), lambda q: q.name, Cursor.decode(cursor), limit)
    return page_of([QueueOut.model_validate(q) for q in taken], after)


async def _case_for(acd: AcdService, call_id: str, who: Principal) -> CaseOut:
    case = await acd.case(call_id)
    _handles(acd, call_id, who, case.agent_id)
    return CaseOut.model_validate(case)


def _handles(acd: AcdService, call_id: str, who: Principal, agent_id: str = "") -> None:
    """An advisor acts on a call they have, consult on, or wrap up; staff on any."""
    if who.role == "advisor" and who.name != agent_id and not acd.may_handle(call_id, who.name):
        raise PermissionDeniedError(f"call {call_id!r} is not advisor {who.name!r}'s call", call_id=call_id)


@router.get("/calls/{call_id}/case", response_model=CaseOut, responses=ERRORS)
async def get_case(call_id: str, acd: Acd, who: Anyone) -> CaseOut:
    """The case that travels with the call: caller, tier, IVR choice, CRM record, summary."""
    return await _case_for(acd, call_id, who)


@router.put("/calls/{call_id}/case", response_model=CaseOut, responses=ERRORS)
async def put_summary(call_id: str, body: SummaryIn, acd: Acd, who: Anyone) -> CaseOut:
    """Write the case summary (the agent who has the call, or a supervisor)."""
    await _case_for(acd, call_id, who)
    return CaseOut.model_validate(await acd.set_summary(call_id, body.summary))


@router.post("/calls/{call_id}/transfer", response_model=CaseOut, responses=ERRORS)
async def transfer(call_id: str, body: TransferIn, acd: Acd, who: Anyone) -> CaseOut:
    """Transfer a call in conversation with its case: blind (the caller waits with music and is
    routed by the same rules, tier kept) or warm (the caller holds while you consult the target)."""
    _handles(acd, call_id, who)
    warm = body.mode == "warm"
    return CaseOut.model_validate(await acd.transfer(call_id, body.to, warm=warm, level=body.level))


@router.post("/calls/{call_id}/transfer/complete", response_model=CaseOut, responses=ERRORS)
async def complete_transfer(call_id: str, acd: Acd, who: Anyone) -> CaseOut:
    """Warm transfer: join the caller to the consulted agent (they answered); you go into wrap-up."""
    _handles(acd, call_id, who)
    return CaseOut.model_validate(await acd.complete_transfer(call_id))


@router.post("/calls/{call_id}/transfer/cancel", response_model=CaseOut, responses=ERRORS)
async def cancel_transfer(call_id: str, acd: Acd, who: Anyone) -> CaseOut:
    """Warm transfer: give up the consult; the caller is joined back to you."""
    _handles(acd, call_id, who)
    return CaseOut.model_validate(await acd.cancel_transfer(call_id))


@router.get("/events", response_model=EventsOut, responses=ERRORS)
async def events(
    acd: Acd,
    who: Readers,
    since: Annotated[
        str,
        Query(
            description="a stream id from last_id; 0: from the oldest kept; $: only new ones",
            json_schema_extra={"pattern": SINCE_PATTERN},  # checked by check_since, whose 422 says why
        ),
    ] = "0",
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT_S, description="seconds to wait for one (long poll)")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventsOut:
    """Case handovers and call ends, oldest first (an advisor gets their own)."""
    if since == "$":  # pin "only new ones" to the newest id now, so last_id is never `$` (no event lost)
        since = await acd.events.last_id()
    found = await acd.events.read(since, count=limit, wait_s=wait)
    last = found[-1].id if found else since
    if who.role == "advisor":
        found = [e for e in found if e.agent_id == who.name]
    return EventsOut(events=[EventOut.model_validate(e) for e in found], last_id=last)


@router.put("/customers/{number}", response_model=CustomerOut, responses=ERRORS)
async def put_customer(
    number: str,
    fields: dict[str, str],
    acd: Acd,
    who: Annotated[Principal, Depends(require_role("crm", "admin"))],
) -> CustomerOut:
    """The CRM's record of a customer (segment, status...): routing.yaml's `crm` tier rules read it."""
    e164 = await acd.put_customer(number, fields)
    return CustomerOut(number=e164, fields=fields)
