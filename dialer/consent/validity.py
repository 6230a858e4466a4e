"""Whether a consent lets a number be called for a purpose now: the register's rules, pure.

Rules it keeps (DESIGN.md 2.8; Polish PKE art. 398, Hungarian Eht. §162). The gate's Lua script
(dialer/lists/gate.py) applies the same rules inside Redis; tests/integration/test_consent_gate.py
runs one table through both.
- A consent is given by one customer, for one number, for one purpose (`marketing`, `service`, ...).
  It is valid at `now` when it was given at or before `now`, has not expired (`expires_at` after
  `now`, or none) and has not been withdrawn.
- A withdrawal takes effect at once and is final for the consent it withdraws: only a consent
  given *after* the withdrawal makes the number callable again (`grant_refusal`), so a CRM re-sync
  that re-sends the old grant cannot revive it.
- A dial for a known customer (a lead) needs that customer's consent; a dial without one (a manual
  dial of a bare number) needs any customer's consent for the number and purpose.
- With no valid consent, the reason given is the most telling one: withdrawn, then expired, then
  not yet given, then missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

PURPOSE_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class ConsentState(StrEnum):
    VALID = "valid"
    MISSING = "missing"
    NOT_YET = "not-yet"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


# The reason reported when no consent is valid: the highest rank among those found.
_RANK = {ConsentState.MISSING: 0, ConsentState.NOT_YET: 1, ConsentState.EXPIRED: 2, ConsentState.WITHDRAWN: 3}


def customer_key(customer_id: str) -> str:
    """Customer ids compare ASCII-case-insensitively, as in the lead store (Lua's string.lower)."""
    return customer_id.translate(_ASCII_LOWER)


def field_of(purpose: str, customer_id: str) -> str:
    """The record's field in the number's HASH (dialer.dialer_keys.ConsentKeys.number)."""
    return f"{purpose}|{customer_key(customer_id)}"


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(value: int) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, UTC) if value else None


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One consent as stored: who gave it for which number and purpose, how, when, until when."""

    number: str
    purpose: str
    customer_id: str
    source: str
    given_at: datetime
    expires_at: datetime | None = None
    withdrawn_at: datetime | None = None
    withdrawn_by: str = ""
    withdrawal_source: str = ""
    reference: str = ""
    recorded_by: str = ""
    recorded_at: datetime | None = None

    def to_json(self) -> str:
        """The stored form; the gate's Lua reads `given_ms`, `expires_ms` and `withdrawn_ms` (0 = none)."""
        data = {
            "customer_id": self.customer_id,
            "purpose": self.purpose,
            "source": self.source,
            "reference": self.reference,
            "given_ms": to_ms(self.given_at),
            "expires_ms": to_ms(self.expires_at) if self.expires_at else 0,
            "withdrawn_ms": to_ms(self.withdrawn_at) if self.withdrawn_at else 0,
            "withdrawn_by": self.withdrawn_by,
            "withdrawal_source": self.withdrawal_source,
            "recorded_by": self.recorded_by,
            "recorded_ms": to_ms(self.recorded_at) if self.recorded_at else 0,
        }
        return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, number: str, raw: str | bytes) -> ConsentRecord:
        data: Mapping[str, Any] = json.loads(raw)
        given = from_ms(int(data["given_ms"]))
        assert given is not None, "a stored consent always has given_ms"
        return cls(
            number=number,
            purpose=str(data["purpose"]),
            customer_id=str(data["customer_id"]),
            source=str(data.get("source", "")),
            given_at=given,
            expires_at=from_ms(int(data.get("expires_ms", 0))),
            withdrawn_at=from_ms(int(data.get("withdrawn_ms", 0))),
            withdrawn_by=str(data.get("withdrawn_by", "")),
            withdrawal_source=str(data.get("withdrawal_source", "")),
            reference=str(data.get("reference", "")),
            recorded_by=str(data.get("recorded_by", "")),
            recorded_at=from_ms(int(data.get("recorded_ms", 0))),
        )

    def same_grant(self, other: ConsentRecord) -> bool:
        """True when `other` says nothing new about the grant (a re-sent, unchanged consent)."""
        return (self.source, self.given_at, self.expires_at, self.reference) == (
            other.source,
            other.given_at,
            other.expires_at,
            other.reference,
        )


def state_of(record: ConsentRecord | None, now: datetime) -> ConsentState:
    """The state of one consent at `now`."""
    if record is None:
        return ConsentState.MISSING
    if record.withdrawn_at is not None:
        return ConsentState.WITHDRAWN
    if record.given_at > now:
        return ConsentState.NOT_YET
    if record.expires_at is not None and record.expires_at <= now:
        return ConsentState.EXPIRED
    return ConsentState.VALID


@dataclass(frozen=True, slots=True)
class ConsentDecision:
    state: ConsentState
    record: ConsentRecord | None = None

    @property
    def allowed(self) -> bool:
        return self.state is ConsentState.VALID


def decide(
    records: Iterable[ConsentRecord], purpose: str, customer_id: str | None, now: datetime
) -> ConsentDecision:
    """May the number these records belong to be dialed for `purpose` now (for `customer_id`, if known)?"""
    wanted = customer_key(customer_id) if customer_id else None
    best = ConsentDecision(ConsentState.MISSING)
    for record in records:
        if record.purpose != purpose or (wanted is not None and customer_key(record.customer_id) != wanted):
            continue
        state = state_of(record, now)
        if state is ConsentState.VALID:
            return ConsentDecision(state, record)
        if _RANK[state] > _RANK[best.state]:
            best = ConsentDecision(state, record)
    return best


def grant_refusal(existing: ConsentRecord | None, grant: ConsentRecord) -> str | None:
    """Why `grant` may not replace `existing` (None: it may). A withdrawn consent is only replaced
    by one given after the withdrawal."""
    if existing is None or existing.withdrawn_at is None:
        return None
    if grant.given_at > existing.withdrawn_at:
        return None
    return (
        f"consent was withdrawn at {existing.withdrawn_at.isoformat()}; only a consent given after "
        f"that counts (given_at {grant.given_at.isoformat()})"
    )
