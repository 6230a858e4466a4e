"""What a chaos row counts, from ground truth: pure, no I/O.

Inputs: the simulated PBX's party records (every inbound caller, every outbound customer, with when
they were answered, bridged and ended and who ended them), the customer numbers it was asked to
Originate, and the outcomes the engine wrote to Redis (the call ids it recorded as abandoned).
The rules (issue 10):
- offered: every inbound caller, and every outbound customer who answered (a person on the line);
- routed: offered and bridged to an agent at some point;
- abandoned: offered, never bridged, and the engine wrote an abandon (or routed-out) record for it;
- lost: offered, never bridged, and no such record: nobody knows what happened to that person;
  a party still on the line when the row ends (stuck) counts as lost too;
- dialed twice: a number the PBX got more than one Originate for within the row (each row is
  shorter than the campaign's shortest retry delay, so every repeat is early);
- dropped: bridged, then ended by anything but the person at the end of their conversation
  (an AMI Hangup, a Redirect out of the bridge, the agent's leg torn down);
- wrong abandons: an abandon record for a call that was bridged to an agent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class Party(Protocol):
    """The fields of pbx.sim.CallRecord the ledger reads."""

    role: str
    number: str
    answered: float | None
    bridged: float | None
    ended: float | None
    ended_by: str | None
    call_id: str


@dataclass(frozen=True)
class Counts:
    offered: int = 0
    routed: int = 0
    abandoned: int = 0
    lost: int = 0
    dialed_twice: int = 0
    dropped: int = 0
    wrong_abandons: int = 0
    stuck: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "offered": self.offered, "routed": self.routed, "abandoned": self.abandoned, "lost": self.lost,
            "dialed_twice": self.dialed_twice, "dropped": self.dropped, "wrong_abandons": self.wrong_abandons,
            "stuck": self.stuck, "examples": self.examples,
        }  # fmt: skip


def offered(party: Party) -> bool:
    return party.role == "caller" or (party.role == "customer" and party.answered is not None)


def count(parties: Iterable[Party], originated: Sequence[str], abandon_records: Iterable[str]) -> Counts:
    """The row's counts (see the module docstring); `originated` lists every customer number dialed."""
    recorded = set(abandon_records)
    tally = _Tally()
    for party in parties:
        if offered(party):
            _one(party, recorded, tally)
    for number, times in Counter(originated).items():
        if times > 1:
            tally.note("dialed_twice", f"{number} x{times}")
    fields = {key: tally.counts[key] for key in Counts.__dataclass_fields__ if key != "examples"}
    return Counts(**fields, examples=tally.examples)


@dataclass
class _Tally:
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def note(self, kind: str, what: str) -> None:
        self.counts[kind] += 1
        if len(self.examples.setdefault(kind, [])) < 5:
            self.examples[kind].append(what)


def _one(party: Party, recorded: set[str], tally: _Tally) -> None:
    tally.counts["offered"] += 1
    name = f"{party.role} {party.number} ({party.call_id or 'no call id'})"
    if party.bridged is not None:
        tally.counts["routed"] += 1
        if party.call_id in recorded:
            tally.note("wrong_abandons", name)
        if party.ended is None:
            tally.note("stuck", f"{name}: still bridged")
        elif party.ended_by != "talk":
            tally.note("dropped", f"{name}: ended by {party.ended_by}")
    elif party.call_id and party.call_id in recorded:
        tally.counts["abandoned"] += 1
    else:
        if party.ended is None:
            tally.note("stuck", name)
        tally.note("lost", name)


# -- why a party was never bridged (the soak's report: no unbridged call left unexplained) ----------
UNBRIDGED_REASONS = {
    "caller-gave-up": "inbound caller hung up while waiting; the engine recorded the abandon",
    "customer-abandoned": "answered customer not connected within the grace; the engine played the "
    "abandon message and recorded it",
    "customer-hung-up-on-hold": "answered customer hung up on hold; the engine recorded the abandon",
    "still-on-the-line": "still on the line when the run ended",
    "unexplained": "never bridged and no engine record",
}


def why_unbridged(party: Party, recorded: set[str]) -> str | None:
    """Why an offered party was never bridged (a key of UNBRIDGED_REASONS); None if it was bridged
    or was never a person on the line (a customer who did not answer)."""
    if not offered(party) or party.bridged is not None:
        return None
    if party.ended is None:
        return "still-on-the-line"
    if not party.call_id or party.call_id not in recorded:
        return "unexplained"
    if party.role == "caller":
        return "caller-gave-up"
    return "customer-hung-up-on-hold" if party.ended_by == "patience" else "customer-abandoned"


def unbridged(parties: Iterable[Party], recorded: set[str]) -> dict[str, list[str]]:
    """Every offered party never bridged, by reason: reason -> `role number (call id)`."""
    found: dict[str, list[str]] = {}
    for party in parties:
        reason = why_unbridged(party, recorded)
        if reason is not None:
            name = f"{party.role} {party.number} ({party.call_id or 'no call id'})"
            found.setdefault(reason, []).append(name)
    return found
