"""HTTP API of the consent register (dialer/consent/, docs/consent.md): the CRM's sync, withdrawals,
reads and the evidence for a number.

Owned here: the endpoints, who may call each, and the translation of bodies to store calls; the
store keeps the rules (a withdrawn consent is revived only by a newer one, nothing unaudited).

Roles: the CRM (and an admin) sends consents, one or in bulk, and reads them back; the CRM or a
supervisor records a withdrawal the customer made outside a call (advisors withdraw through the
`consent_withdrawn` disposition); anyone who may dial may see whether a number has consent;
the evidence (numbers, customers, every dial) is for supervisors, admins and the CRM.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from core.phone_numbers import normalize
from dialer.consent.model import CUSTOMER_ID_PATTERN, ConsentIn
from dialer.consent.store import Evidence
from dialer.consent.validity import PURPOSE_PATTERN, ConsentRecord, state_of
from dialer.paging import Cursor
from dialer.stores import DialerStores
from switchboard.api.auth import AUTH_RESPONSES, require_role
from switchboard.api.dialer_access import Stores
from switchboard.api.errors import error_doc
from switchboard.api.paging import CursorQuery, LimitQuery, Page, TextTime, page_of
from switchboard.api.tokens import Principal

MAX_BULK = 10_000
ERRORS: dict[int | str, dict[str, object]] = {
    **AUTH_RESPONSES,
    422: error_doc("invalid input; the message names the field and value"),
    503: error_doc("Redis unavailable"),
}
router = APIRouter(prefix="/api/v1", tags=["consent"], responses=ERRORS)

Writer = Annotated[Principal, Depends(require_role("crm", "admin"))]
Withdrawer = Annotated[Principal, Depends(require_role("crm", "supervisor", "admin"))]
Reader = Annotated[Principal, Depends(require_role("advisor", "supervisor", "admin", "crm"))]
Auditor = Annotated[Principal, Depends(require_role("supervisor", "admin", "crm"))]
_LOOSE_CONSENT = WithJsonSchema({"anyOf": [ConsentIn.model_json_schema(), {"type": "object"}]})


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BulkConsentsIn(_Body):
    region: str | None = Field(
        None, pattern=r"^[A-Za-z]{2}$", description="ISO region of national numbers (a consent's own wins)"
    )
    # A consent that breaks ConsentIn is reported in `errors` by index, the others stored.
    consents: Annotated[
        list[dict[str, Any]],
        WithJsonSchema(
            {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BULK,
                "items": {"anyOf": [ConsentIn.model_json_schema(), {"type": "object"}]},
            }
        ),
    ] = Field(min_length=1, max_length=MAX_BULK)


class ConsentProblemOut(BaseModel):
    index: int
    message: str


class BulkConsentsOut(BaseModel):
    received: int
    given: int = Field(description="new consents")
    updated: int = Field(description="consents changed (a correction, or a new grant after a withdrawal)")
    unchanged: int = Field(description="re-sent as stored: nothing changed, nothing audited")
    errors: list[ConsentProblemOut]


class ConsentOut(BaseModel):
    number: str
    customer_id: str
    purpose: str
    source: str
    reference: str
    given_at: str
    expires_at: str | None
    withdrawn_at: str | None
    withdrawn_by: str
    withdrawal_source: str
    recorded_by: str
    recorded_at: str | None
    state: str = Field(description="at the time of the request: valid, not-yet, expired or withdrawn")


class GivenOut(BaseModel):
    status: str = Field(description="given, updated or unchanged")
    consent: ConsentOut


class NumberConsentsOut(BaseModel):
    number: str
    consents: list[ConsentOut]


class WithdrawIn(_Body):
    source: str = Field(min_length=1, max_length=200, description="how the customer withdrew, e.g. e-mail")
    purpose: str | None = Field(None, pattern=PURPOSE_PATTERN, description="default: every purpose")
    customer_id: str | None = Field(None, pattern=CUSTOMER_ID_PATTERN, description="default: every customer")
    reason: str = Field("", max_length=500)


class WithdrawnOut(BaseModel):
    number: str
    withdrawn: list[str] = Field(description="the purposes withdrawn now (empty: none was in force)")


class DialOut(BaseModel):
    at: str
    purpose: str
    customer_id: str
    campaign_id: str
    lead_id: str
    call_id: str


class EvidenceOut(BaseModel):
    number: str
    consents: list[ConsentOut]
    history: list[dict[str, str]] = Field(
        description="every grant, change and withdrawal, oldest first: action, purpose, customer, source, "
        "actor, at (and reason for a withdrawal)"
    )
    dials: list[DialOut] = Field(description="every dial the gate let through under a consent, oldest first")


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


def consent_out(record: ConsentRecord, stores: DialerStores) -> ConsentOut:
    return ConsentOut(
        number=record.number,
        customer_id=record.customer_id,
        purpose=record.purpose,
        source=record.source,
        reference=record.reference,
        given_at=record.given_at.isoformat(),
        expires_at=_iso(record.expires_at),
        withdrawn_at=_iso(record.withdrawn_at),
        withdrawn_by=record.withdrawn_by,
        withdrawal_source=record.withdrawal_source,
        recorded_by=record.recorded_by,
        recorded_at=_iso(record.recorded_at),
        state=state_of(record, stores.clock()).value,
    )


def evidence_out(evidence: Evidence, stores: DialerStores) -> EvidenceOut:
    return EvidenceOut(
        number=evidence.number,
        consents=[consent_out(record, stores) for record in evidence.records],
        history=list(evidence.history),
        dials=[
            DialOut(
                at=d.at, purpose=d.purpose, customer_id=d.customer_id, campaign_id=d.campaign_id,
                lead_id=d.lead_id, call_id=d.call_id,
            )
            for d in evidence.dials
        ],
    )  # fmt: skip


@router.post("/consents", response_model=GivenOut, status_code=status.HTTP_201_CREATED)
async def give_consent(
    body: Annotated[dict[str, Any], _LOOSE_CONSENT], who: Writer, stores: Stores
) -> GivenOut:
    """Record one consent (CRM sync). Re-sending it unchanged is a no-op; a consent withdrawn is
    replaced only by one given after the withdrawal (else 422 naming the withdrawal)."""
    stored, outcome = await stores.consent.give(body, actor=who.name, now=stores.clock())
    return GivenOut(status=outcome, consent=consent_out(stored, stores))


@router.post("/consents:bulk", response_model=BulkConsentsOut)
async def give_consents(body: BulkConsentsIn, who: Writer, stores: Stores) -> BulkConsentsOut:
    """Record many consents (idempotent). Invalid ones are listed by index, the rest stored."""
    report = await stores.consent.give_many(
        body.consents, actor=who.name, now=stores.clock(), region=body.region
    )
    return BulkConsentsOut(
        received=report.received,
        given=report.given,
        updated=report.updated,
        unchanged=report.unchanged,
        errors=[ConsentProblemOut(index=p.index, message=p.message) for p in report.errors],
    )


@router.get("/consents", response_model=Page[ConsentOut])
async def list_consents(
    *,
    who: Auditor,
    stores: Stores,
    since: Annotated[TextTime | None, Query(description="changed at or after (ISO 8601 with zone)")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 100,
) -> Page[ConsentOut]:
    """Consents by their last change (grant, correction, withdrawal), oldest first: the CRM's
    read-back. Page on with `cursor` (keep `since` as it was)."""
    items, after = await stores.consent.page(since=since, after=Cursor.decode(cursor), limit=limit)
    return page_of([consent_out(item, stores) for item in items], after)


@router.get("/consents/{number}", response_model=NumberConsentsOut)
async def number_consents(
    number: str,
    who: Reader,
    stores: Stores,
    purpose: Annotated[str | None, Query(pattern=PURPOSE_PATTERN)] = None,
) -> NumberConsentsOut:
    """A number's consents (of one purpose, if given) and the state of each now."""
    records = await stores.consent.records(number)
    found = [consent_out(r, stores) for r in records if purpose is None or r.purpose == purpose]
    return NumberConsentsOut(number=_e164(number, stores), consents=found)


@router.post("/consents/{number}/withdraw", response_model=WithdrawnOut)
async def withdraw_consent(number: str, body: WithdrawIn, who: Withdrawer, stores: Stores) -> WithdrawnOut:
    """Withdraw a number's consents (of one purpose and/or customer, else all) at once: the gate
    refuses the number's next dial in every campaign that needs them."""
    withdrawn = await stores.consent.withdraw(
        number, actor=who.name, source=body.source, now=stores.clock(),
        purpose=body.purpose, customer_id=body.customer_id, reason=body.reason,
    )  # fmt: skip
    return WithdrawnOut(number=_e164(number, stores), withdrawn=withdrawn)


@router.get("/consents/{number}/evidence", response_model=EvidenceOut)
async def consent_evidence(number: str, who: Auditor, stores: Stores) -> EvidenceOut:
    """The proof for a number: its consents, when and how each was given, changed or withdrawn and
    by whom, and every dial made under them (campaign, lead, call id)."""
    return evidence_out(await stores.consent.evidence(number), stores)


def _e164(number: str, stores: DialerStores) -> str:
    return normalize(number, stores.default_region)


__all__ = ["router"]
