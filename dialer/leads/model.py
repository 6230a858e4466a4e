"""What a lead is: the validated input the CRM (API) and CSV import send, and the stored read model.

Rules it keeps:
- Phone numbers are normalized to E.164 at import (core.phone_numbers, the one definition of "the
  same number"); the original text is kept beside it. A lead with any number that cannot be a
  phone number is refused with a reason naming that number; it never reaches the store.
- The CRM's flags (`crm`, e.g. `{"do_not_call": false}`) are stored as sent and shown back, and
  never decide whether a number may be dialed: only the blacklist gate does. A flag that says
  "do not call" is copied to the internal list (dialer/leads/store.py); one that says "allowed" is inert.
- The `digest` of the normalized content makes a re-sent, unchanged lead a no-op (idempotent).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.config.error_messages import error_message, quoted, render_loc
from core.errors import ValidationFailedError
from core.phone_numbers import is_region, normalize_valid
from dialer.audit import text

LEAD_ID_PATTERN = r"^[^\s/?#]{1,128}$"
CAMPAIGN_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
STATUSES = ("new", "queued", "claimed", "dialing", "done", "closed", "excluded", "held")
PRIORITY_MAX = 99
TRUE_WORDS = frozenset({"1", "true", "yes", "y", "t", "on"})

log = logging.getLogger("switchboard.dialer.leads")


class LeadIn(BaseModel):
    """One lead as the CRM sends it (POST /api/v1/leads:bulk) or a CSV row describes it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    lead_id: str = Field(pattern=LEAD_ID_PATTERN, description="the CRM's id; upserts are keyed on it")
    customer_id: str = Field(pattern=LEAD_ID_PATTERN, description="groups leads of one customer")
    name: str = Field("", max_length=200)
    phones: list[str] = Field(min_length=1, max_length=10, description="any national or E.164 form")
    email: str = Field("", max_length=254)
    zone: str | None = Field(None, description="IANA time zone overriding the one from the number")
    priority: int = Field(0, ge=0, le=PRIORITY_MAX, description="higher is dialed first")
    campaign_id: str | None = Field(None, pattern=CAMPAIGN_ID_PATTERN)
    region: str | None = Field(
        None,
        description="ISO region (e.g. PL) of numbers without a country code; default: the batch's, "
        "then the engine's",
    )
    crm: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, description="the CRM's flags, stored as sent, never consulted by the gate"
    )

    @model_validator(mode="before")
    @classmethod
    def _one_phone(cls, data: Any) -> Any:
        """Accept `phone: "..."` as a shorthand for `phones: ["..."]`."""
        if isinstance(data, dict) and "phone" in data and "phones" not in data:
            phone = data["phone"]
            data = {k: v for k, v in data.items() if k != "phone"}
            data["phones"] = [] if phone in (None, "") else [phone]
        return data

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not is_region(value):
            raise ValueError("must be an ISO 3166 region code like HU or PL")
        return value.upper()

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"must be an IANA time zone like Europe/Budapest, got {value!r}") from None
        return value


@dataclass(frozen=True, slots=True)
class PreparedLead:
    """A validated lead with its numbers in E.164, ready for the upsert script."""

    lead: LeadIn
    phones: tuple[str, ...]
    digest: str

    def script_item(self) -> dict[str, Any]:
        lead = self.lead
        fields = {
            "name": lead.name,
            "email": lead.email,
            "zone": lead.zone or "",
            "phones": json.dumps(list(self.phones)),
            "phones_raw": json.dumps(lead.phones, ensure_ascii=False),
            "crm": json.dumps(lead.crm, ensure_ascii=False, sort_keys=True),
        }
        return {
            "id": lead.lead_id,
            "customer_id": lead.customer_id,
            "campaign_id": lead.campaign_id or "",
            "priority": lead.priority,
            "digest": self.digest,
            "fields": fields,
        }

    def blocking_flags(self, names: tuple[str, ...]) -> list[str]:
        """The CRM flags among `names` that say "do not call" (true, "yes", 1, ...)."""
        return [name for name in names if str(self.lead.crm.get(name, "")).strip().lower() in TRUE_WORDS]


PriorityRule = Callable[[str | None, Mapping[str, Any], int], int]
"""(campaign id, CRM flags, priority sent) -> the lead's priority (campaigns.yaml `lead_priority`)."""


def prepare(
    data: Mapping[str, Any] | LeadIn,
    default_region: str,
    campaign_id: str | None = None,
    priority: PriorityRule | None = None,
    region: str | None = None,
) -> PreparedLead:
    """Validate one lead and normalize its numbers; ValidationFailedError says what is wrong.
    `priority`: the campaign's rule, applied to the lead's CRM flags. Numbers are read in the
    lead's own region, else the batch's `region`, else `default_region`, and must be valid there."""
    try:
        lead = data if isinstance(data, LeadIn) else LeadIn.model_validate(dict(data))
    except ValidationError as exc:
        problems = list(dict.fromkeys(_problem(error) for error in exc.errors()))
        raise ValidationFailedError("; ".join(problems), problems=problems) from None
    if lead.campaign_id is None and campaign_id:
        lead = lead.model_copy(update={"campaign_id": campaign_id})
    if priority is not None:
        ranked = priority(lead.campaign_id, lead.crm, lead.priority)
        if ranked != lead.priority:
            lead = lead.model_copy(update={"priority": ranked})
    phones: list[str] = []
    for index, raw in enumerate(lead.phones):
        try:
            e164 = normalize_valid(raw, lead.region or region or default_region)
        except ValidationFailedError as exc:
            raise ValidationFailedError(f"phones[{index}]: {exc.message}", field=f"phones[{index}]") from None
        if e164 not in phones:
            phones.append(e164)
    canonical = json.dumps(
        [lead.model_dump(mode="json"), phones], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return PreparedLead(lead, tuple(phones), hashlib.sha256(canonical.encode()).hexdigest())


def _problem(error: Mapping[str, Any]) -> str:
    where = render_loc(error.get("loc", ())) or "lead"
    given = error.get("input")
    scalar = isinstance(given, str | int | float) and not isinstance(given, bool)
    if scalar and error.get("type") != "missing":
        where = f"{where} {quoted(given)}"  # the value, so a supervisor finds the bad cell
    if error.get("type") == "extra_forbidden":
        return f"{where}: is not a lead field"
    loc = tuple(error.get("loc", ()))
    if len(loc) > 2 and loc[0] == "crm":  # one message per flag, not one per member of the union
        return f"crm.{loc[1]}: must be text, a number, true/false or null (flags are flat)"
    if error.get("type") == "string_pattern_mismatch":
        return f"{where}: must be 1-128 characters without spaces, '/', '?' or '#'"
    return f"{where}: {error_message(error)}"


def _ms_to_datetime(value: str) -> datetime | None:
    return datetime.fromtimestamp(int(value) / 1000, UTC) if value and value != "0" else None


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (the scripts' clock unit)."""
    if moment.tzinfo is None:
        raise ValidationFailedError("times must carry a time zone", value=moment.isoformat())
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Lead:
    """A stored lead as the dialer, the advisors and the CRM see it."""

    lead_id: str
    customer_id: str
    name: str
    phones: tuple[str, ...]
    phones_raw: tuple[str, ...]
    email: str
    zone: str | None
    priority: int
    campaign_id: str | None
    crm: dict[str, Any]
    status: str
    attempts: int
    created_at: str
    updated_at: str
    next_attempt_at: datetime | None
    claimed_by: str | None
    offered_to: str | None
    offer_state: str | None
    closed_reason: str | None
    excluded_by: str | None
    last_disposition: str | None
    held_for: str | None = None
    """While `status` is held: the Robinson-list request a supervisor has to decide ('' until filed)."""
    held_reason: str | None = None
    attempt_log: str = field(default="", repr=False, compare=False)
    """The attempts its holder's dials keep in the hash (`dial_attempts`, JSON; read by
    dialer.calls.attempts.merged), as read with the lead; not part of the lead's view (`as_dict`)."""
    attempt_zset: bool = field(default=True, repr=False, compare=False)
    """Its `dial:lead` ZSET may hold attempts (`dial_zset` in the hash): read it too; not in the view."""

    @classmethod
    def from_hash(cls, raw: Mapping[Any, Any]) -> Lead:
        h = {text(k): text(v) for k, v in raw.items()}

        def opt(name: str) -> str | None:
            return h.get(name) or None

        return cls(
            lead_id=h["lead_id"],
            customer_id=h.get("customer_id", ""),
            name=h.get("name", ""),
            phones=tuple(json.loads(h.get("phones", "[]"))),
            phones_raw=tuple(json.loads(h.get("phones_raw", "[]"))),
            email=h.get("email", ""),
            zone=opt("zone"),
            priority=int(h.get("priority", "0")),
            campaign_id=opt("campaign_id"),
            crm=json.loads(h.get("crm", "{}")),
            status=h.get("status", "new"),
            attempts=int(h.get("attempts", "0")),
            created_at=h.get("created_at", ""),
            updated_at=h.get("updated_at", ""),
            next_attempt_at=_ms_to_datetime(h.get("next_attempt_ms", "")),
            claimed_by=opt("claimed_by"),
            offered_to=opt("offered_to"),
            offer_state=opt("offer_state"),
            closed_reason=opt("closed_reason"),
            excluded_by=opt("excluded_by"),
            last_disposition=opt("last_disposition"),
            held_for=opt("held_for") if h.get("status") == "held" else None,
            held_reason=opt("held_reason") if h.get("status") == "held" else None,
            attempt_log=h.get("dial_attempts", ""),
            attempt_zset=h.get("dial_zset") == "1",
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["attempt_log"], data["attempt_zset"]
        data["phones"], data["phones_raw"] = list(self.phones), list(self.phones_raw)
        data["next_attempt_at"] = self.next_attempt_at.isoformat() if self.next_attempt_at else None
        return data


def offered_lead(raw: Mapping[bytes, bytes], advisor: str, now_ms: int) -> Lead | None:
    """The lead of an advisor's offer pointer, if it is still offered to them and not expired. A lead
    deleted since is no offer; so is a damaged record (one advisor's: it must not fail every screen)."""
    if not raw:
        return None
    try:
        lead, expires = Lead.from_hash(raw), int(text(raw.get(b"offer_expires", b"0")))
    except (KeyError, ValueError) as exc:
        log.warning("the lead offered to %s cannot be read (%r): no offer shown", advisor, exc)
        return None
    return lead if lead.offered_to == advisor and expires > now_ms else None
