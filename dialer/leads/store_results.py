"""What the lead store answers besides leads: its errors and an upsert's report (dialer/leads/store.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import NotFoundError, SwitchboardError


class LeadNotFoundError(NotFoundError):
    error_id = "lead-not-found"


class LeadNotClaimedError(SwitchboardError):
    """The caller does not hold the lead (it was closed, excluded, requeued or claimed by another)."""

    error_id = "lead-not-claimed"


class OfferRefusedError(SwitchboardError):
    """A preview offer cannot be made or answered (already offered, advisor busy, expired)."""

    error_id = "lead-offer-refused"


@dataclass(frozen=True, slots=True)
class LeadProblem:
    """A lead that was not imported: its position (index in the batch, or file line) and why."""

    index: int
    lead_id: str | None
    message: str
    line: int | None = None


@dataclass
class UpsertReport:
    received: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    excluded: int = 0  # leads (re)sent for customers on the Robinson list
    numbers_blocked: int = 0  # numbers newly put on the internal list (CRM flags, excluded customers)
    errors: list[LeadProblem] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """By result, for the import metrics (excluded leads are among created/updated too)."""
        return {
            "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
            "excluded": self.excluded, "error": len(self.errors),
        }  # fmt: skip

    def add(self, other: UpsertReport) -> None:
        for name in ("received", "created", "updated", "unchanged", "excluded", "numbers_blocked"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)
