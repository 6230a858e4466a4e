"""A consent as the CRM (API) or a CSV row sends it: the validated input of the register.

Rules it keeps:
- Every field is checked before anything is stored; a bad consent is refused with a message naming
  the field and the value (`given_at: must be an ISO 8601 date and time with a zone, got 'tomorrow'`).
- The number is normalized to E.164 (core.phone_numbers, the gate's "same number"), read in the
  consent's own region, else the batch's, else the engine's.
- Times carry a zone. `given_at` may not lie in the future (beyond a small clock skew): a consent is
  recorded after it was given. `expires_at`, when given, is after `given_at`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from core.config.error_messages import error_message, render_loc
from core.errors import ValidationFailedError
from core.phone_numbers import is_region, normalize_valid
from dialer.consent.validity import PURPOSE_PATTERN, ConsentRecord

CUSTOMER_ID_PATTERN = r"^[^\s/?#|]{1,128}$"
CLOCK_SKEW = timedelta(minutes=5)
_TIME_FIELDS = ("given_at", "expires_at")


def _text_only(value: Any) -> Any:
    """Times are ISO 8601 text: pydantic would read 12345 as seconds after 1970, a silent wrong date."""
    if isinstance(value, int | float | bool):
        raise ValueError("must be text")
    return value


TextTime = Annotated[AwareDatetime, BeforeValidator(_text_only)]


class ConsentIn(BaseModel):
    """One consent: POST /api/v1/consents, /api/v1/consents:bulk, or a row of a consent CSV."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN, description="the CRM's customer id (as on leads)")
    number: str = Field(min_length=1, max_length=40, description="any national or E.164 form")
    purpose: str = Field(pattern=PURPOSE_PATTERN, description="what the consent allows, e.g. marketing")
    source: str = Field(
        min_length=1, max_length=200, description="how it was given, e.g. web-form, recorded-call, paper"
    )
    given_at: TextTime = Field(description="when the customer gave it (ISO 8601 with a zone)")
    expires_at: TextTime | None = Field(None, description="when it lapses; none: until withdrawn")
    reference: str = Field("", max_length=200, description="where the proof is: form id, recording, document")
    region: str | None = Field(None, description="ISO region of a number without a country code")

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not is_region(value):
            raise ValueError("must be an ISO 3166 region code like HU or PL")
        return value.upper()


def _problem(error: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    loc = tuple(error.get("loc", ()))
    where = render_loc(loc) or "consent"
    if error.get("type") == "extra_forbidden":
        return f"{where}: is not a consent field"
    value = data.get(str(loc[0])) if loc else None
    if loc and loc[0] in _TIME_FIELDS:
        example = "2025-03-01T09:30:00+01:00"
        return f"{where}: must be an ISO 8601 date and time with a zone ({example}), got {value!r}"
    if error.get("type") == "string_pattern_mismatch":
        if loc and loc[0] == "purpose":
            word = "a lowercase word like marketing or service (a-z, 0-9, '_', '-')"
            return f"{where}: must be {word}, got {value!r}"
        return f"{where}: must be 1-128 characters without spaces, '/', '?', '#' or '|', got {value!r}"
    return f"{where}: {error_message(error)}"


def prepare(
    data: Mapping[str, Any] | ConsentIn,
    *,
    default_region: str,
    now: datetime,
    actor: str,
    region: str | None = None,
) -> ConsentRecord:
    """Validate one consent and normalize its number; ValidationFailedError names every problem."""
    try:
        consent = data if isinstance(data, ConsentIn) else ConsentIn.model_validate(dict(data))
    except ValidationError as exc:
        raw = dict(data) if isinstance(data, Mapping) else {}
        problems = list(dict.fromkeys(_problem(error, raw) for error in exc.errors()))
        raise ValidationFailedError("; ".join(problems), problems=problems) from None
    problems = []
    try:
        number = normalize_valid(consent.number, consent.region or region or default_region)
    except ValidationFailedError as exc:
        problems.append(f"number: {exc.message} (got {consent.number!r})")
        number = ""
    if consent.given_at > now + CLOCK_SKEW:
        problems.append(
            f"given_at: is in the future ({consent.given_at.isoformat()}); record a consent once given"
        )
    if consent.expires_at is not None and consent.expires_at <= consent.given_at:
        problems.append(
            f"expires_at: must be after given_at ({consent.expires_at.isoformat()} is not after "
            f"{consent.given_at.isoformat()})"
        )
    if problems:
        raise ValidationFailedError("; ".join(problems), problems=problems)
    return ConsentRecord(
        number=number,
        purpose=consent.purpose,
        customer_id=consent.customer_id,
        source=consent.source,
        given_at=consent.given_at,
        expires_at=consent.expires_at,
        reference=consent.reference,
        recorded_by=actor,
        recorded_at=now,
    )
