"""HTTP API of outage notices: supervisors declare and end outages; everyone on the floor reads them.

Under `/api/v1/acd/outages`, served by the engine's AcdService (503 `not-ready` without one).
- supervisor, admin: declare an outage (the segment it concerns, a recording or a text, a start
  and an end as ISO 8601 times with a zone), end one early.
- advisor, supervisor, admin: list them with their counters (notices played, callers who left
  after the notice: served by it) and whether each is in force now.
A declared id is never replaced (409 `outage-exists`); a segment naming no callers, a number that
is not one, or an end already past is 422 with the reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import ValidationFailedError
from routing.acd.outage_store import OutageExistsError, OutageRecord
from routing.outages import OutageSpec, Segment
from switchboard.api.acd_api import ERRORS, STAFF, Acd
from switchboard.api.auth import require_role
from switchboard.api.errors import error_doc
from switchboard.api.paging import Page, TextTime
from switchboard.api.tokens import Principal

STATUS_OVERRIDES = {OutageExistsError.error_id: 409}
router = APIRouter(prefix="/api/v1/acd/outages", tags=["outages"], dependencies=[Depends(require_role())])
Staff = Annotated[Principal, Depends(require_role(*STAFF))]
Floor = Annotated[Principal, Depends(require_role("advisor", *STAFF))]
CONFLICT: dict[int | str, dict[str, Any]] = {409: error_doc("the id is already declared")}


class OutageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", examples=["debrecen-fibre-0612"])
    title: str = Field(min_length=1, max_length=200, examples=["Fibre cut in Debrecen"])
    segment: Segment
    recording: str | None = Field(None, examples=["outage-debrecen"], description="Asterisk sound file")
    text: str | None = Field(
        None, max_length=2000, description="the message as text (for the dialplan's TTS)"
    )
    starts_at: TextTime
    ends_at: TextTime
    leave_window_s: float = Field(5.0, ge=0, le=60, description="seconds to hang up after the message")

    def spec(self) -> OutageSpec:
        data = self.model_dump(exclude={"starts_at", "ends_at"})
        try:
            return OutageSpec(**data, starts_at=self.starts_at.timestamp(), ends_at=self.ends_at.timestamp())
        except ValidationError as exc:  # the checks across fields: a message, the end after the start
            reasons = [str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()]
            raise ValidationFailedError(
                "outage not declared: " + "; ".join(reasons), problems=reasons
            ) from None


class OutageOut(BaseModel):
    id: str
    title: str
    segment: Segment
    recording: str | None
    text: str | None
    starts_at: datetime
    ends_at: datetime = Field(description="when callers stop hearing it (earlier when ended early)")
    leave_window_s: float
    declared_by: str
    declared_at: datetime
    ended_at: datetime | None = Field(description="when a supervisor ended it early; null otherwise")
    in_force: bool
    played: int = Field(description="callers who heard the notice")
    left: int = Field(description="of them, callers who hung up after it: served by the notice")
    unheard: int = Field(0, description="of them, callers it could not be read out to (no text-to-speech)")


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _out(record: OutageRecord, now: float) -> OutageOut:
    spec = record.effective
    return OutageOut(
        id=spec.id,
        title=spec.title,
        segment=spec.segment,
        recording=spec.recording,
        text=spec.text,
        starts_at=_time(spec.starts_at),
        ends_at=_time(spec.ends_at),
        leave_window_s=spec.leave_window_s,
        declared_by=record.declared_by,
        declared_at=_time(record.declared_at),
        ended_at=None if record.ended_at is None else _time(record.ended_at),
        in_force=spec.in_force(now),
        played=record.played,
        left=record.left,
        unheard=record.unheard,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OutageOut, responses=ERRORS | CONFLICT)
async def declare(body: OutageIn, acd: Acd, who: Staff) -> OutageOut:
    """Declare an outage: the callers of its segment hear the message on arrival from `starts_at`."""
    record = await acd.declare_outage(body.spec(), by=who.name)
    return _out(record, acd.ctx.clock())


@router.get("", response_model=Page[OutageOut], responses=ERRORS)
async def list_outages(acd: Acd, who: Floor) -> Page[OutageOut]:
    """Every declared outage, the latest start first, with its counters (one page)."""
    now = acd.ctx.clock()
    return Page[OutageOut](items=[_out(r, now) for r in await acd.outages.all()], next_cursor=None)


@router.get("/{outage_id}", response_model=OutageOut, responses=ERRORS)
async def get_outage(outage_id: str, acd: Acd, who: Floor) -> OutageOut:
    return _out(await acd.outages.get(outage_id), acd.ctx.clock())


@router.post("/{outage_id}/end", response_model=OutageOut, responses=ERRORS)
async def end(outage_id: str, acd: Acd, who: Staff) -> OutageOut:
    """End an outage now: nobody hears it from now on; its counters stay."""
    return _out(await acd.end_outage(outage_id), acd.ctx.clock())
