"""Request and response bodies of the dialer's HTTP API (switchboard/api/leads_api.py, dispositions_api.py,
blacklist_api.py, robinson_api.py).

Bodies that the stores validate themselves (a bulk of leads, a Robinson-list request) are taken
loosely here on purpose: the stores report every problem at once, in words an advisor or a CRM
integrator can act on (all missing request fields in one 422; bad leads by index, the rest stored).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, WithJsonSchema, model_validator

from dialer.leads.model import CAMPAIGN_ID_PATTERN, LeadIn
from dialer.leads.robinson import LIMITS, REQUIRED

MAX_BULK = 10_000
MAX_CHECK = 1_000


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BulkLeadsIn(_Body):
    campaign_id: str | None = Field(None, pattern=CAMPAIGN_ID_PATTERN, description="for leads without one")
    region: str | None = Field(
        None,
        pattern=r"^[A-Za-z]{2}$",
        description="ISO region of the leads' national numbers (a lead's own `region` wins)",
    )
    reopen: StrictBool = Field(
        False, description="requeue leads that are done or closed (never excluded ones)"
    )
    leads: Annotated[
        list[dict[str, Any]],
        WithJsonSchema(
            {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BULK,
                # A lead that breaks LeadIn is reported in `errors` by index, the others stored:
                # the request as a whole is still valid.
                "items": {"anyOf": [LeadIn.model_json_schema(), {"type": "object"}]},
            }
        ),
    ] = Field(min_length=1, max_length=MAX_BULK)


class LeadProblemOut(BaseModel):
    index: int
    lead_id: str | None
    message: str


class BulkLeadsOut(BaseModel):
    received: int
    created: int
    updated: int
    unchanged: int
    excluded: int = Field(description="leads of customers on the Robinson list (stored, never dialed)")
    numbers_blocked: int = Field(description="numbers newly put on the internal list by this upsert")
    errors: list[LeadProblemOut]


class LeadOut(BaseModel):
    lead_id: str
    customer_id: str
    name: str
    phones: list[str]
    phones_raw: list[str]
    email: str
    zone: str | None
    priority: int
    campaign_id: str | None
    crm: dict[str, Any] = Field(description="the CRM's flags as sent; they never decide a dial")
    status: str
    attempts: int
    created_at: str
    updated_at: str
    next_attempt_at: str | None
    claimed_by: str | None
    offered_to: str | None
    offer_state: str | None
    closed_reason: str | None
    excluded_by: str | None
    last_disposition: str | None
    held_for: str | None = Field(
        None,
        description="status held: the Robinson-list request a supervisor has to decide (null: still "
        "to be filed by hand); the lead is neither dialed nor closed until then",
    )
    held_reason: str | None = None


class DispositionIn(_Body):
    lead_id: str | None = Field(
        None, min_length=1, max_length=128, description="the lead; omit for an inbound call (give call_id)"
    )
    code: str = Field(min_length=1, max_length=64, description="a code of config/dispositions.yaml")
    note: str = Field("", max_length=2000)
    number: str | None = Field(None, max_length=40, description="the number called, if not the lead's first")
    call_id: str | None = Field(
        None, min_length=1, max_length=128, description="the call; alone, an inbound call's disposition"
    )

    @model_validator(mode="after")
    def _lead_or_call(self) -> DispositionIn:
        if self.lead_id is None and self.call_id is None:
            raise ValueError("give lead_id (a lead's call) or call_id (an inbound call)")
        return self


class ActionOut(BaseModel):
    action: str
    status: str = Field(description="done, skipped or needs-input")
    detail: str
    data: dict[str, Any]


class DispositionOut(BaseModel):
    disposition_id: str
    lead_id: str
    code: str
    label: str
    advisor: str
    note: str
    number: str | None
    call_id: str | None
    case_id: str = Field(description="the ACD case of the call; empty when unknown")
    campaign_id: str | None
    customer_id: str
    at: str
    actions: list[ActionOut]


class CheckIn(_Body):
    numbers: list[str] = Field(min_length=1, max_length=MAX_CHECK)
    campaign_id: str | None = Field(None, pattern=CAMPAIGN_ID_PATTERN, description="also check its own list")


class CheckResult(BaseModel):
    input: str
    e164: str | None
    blocked: bool | None = Field(description="null when the input is not a phone number")
    sources: list[str]
    error: str | None = None


class CheckOut(BaseModel):
    results: list[CheckResult]


class InternalAddIn(_Body):
    number: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=500)


class InternalRemoveIn(_Body):
    reason: str = Field(min_length=1, max_length=500)


class InternalEntryOut(BaseModel):
    number: str
    on_list: bool
    changed: bool = Field(description="false when the number already was (add) or was not (remove) on it")
    reason: str | None = None
    actor: str | None = None
    at: str | None = None


def _robinson_schema(schema: dict[str, Any]) -> None:
    """What the store requires, for the spec: validation stays loose here so that one 422 names
    every missing field (dialer/leads/robinson.py validate_request)."""
    schema["required"] = list(REQUIRED)
    for name, limit in LIMITS.items():
        text: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": limit}
        text["pattern"] = r"^[^\x00-\x08\x0b-\x1f\x7f]*\S[^\x00-\x08\x0b-\x1f\x7f]*$"
        if name != "justification":
            text["pattern"] = r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$"
        schema["properties"][name] = text
    schema["properties"]["email"]["format"] = "email"
    schema["properties"]["customer_id"]["pattern"] = r"^\s*[^\s/?#\x00-\x1f\x7f]+\s*$"


class RobinsonIn(BaseModel):
    """Every field is required; a request missing some is refused naming all of them."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_robinson_schema)

    customer_name: str | None = None
    phone: str | None = None
    email: str | None = None
    customer_id: str | None = None
    justification: str | None = None


class RobinsonOut(BaseModel):
    request_id: str
    customer_name: str
    phone: str
    phone_e164: str
    email: str
    customer_id: str
    justification: str
    requested_by: str
    requested_at: str
    status: str
    source: str
    decided_by: str | None
    decided_at: str | None
    note: str | None = Field(description="the supervisor's note; for a rejection, why")
    lead_id: str | None
    disposition_id: str | None
    numbers: list[str] = Field(description="numbers put on the internal list by the approval")
    warnings: list[str] = Field(
        default_factory=list, description="for the reviewer, e.g. the customer id matches no known customer"
    )


class DecisionIn(_Body):
    note: str = Field("", max_length=2000, description="required to reject: the advisor reads it")


def _note_required(schema: dict[str, Any]) -> None:
    schema["required"] = ["note"]
    schema["properties"]["note"] |= {"minLength": 1, "pattern": r"\S"}


class RejectIn(DecisionIn):
    """A rejection's note is what the advisor reads: required (checked by the store, one message)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_note_required)


class OfferOut(BaseModel):
    lead: LeadOut | None
