"""The chaos suite's counting rules (bench/chaos/ledger.py), one party at a time."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bench.chaos.ledger import UNBRIDGED_REASONS, count, unbridged, why_unbridged


@dataclass
class P:
    role: str = "caller"
    number: str = "+36701234567"
    answered: float | None = 1.0
    bridged: float | None = None
    ended: float | None = 9.0
    ended_by: str | None = "patience"
    call_id: str = "c1"


@pytest.mark.parametrize(
    ("party", "records", "expected"),
    [
        (P(bridged=2.0, ended_by="talk"), set(), {"offered": 1, "routed": 1}),
        (P(), {"c1"}, {"offered": 1, "abandoned": 1}),
        (P(), set(), {"offered": 1, "lost": 1}),
        (P(ended=None, ended_by=None), set(), {"offered": 1, "lost": 1, "stuck": 1}),
        (P(bridged=2.0, ended_by="pbx"), set(), {"offered": 1, "routed": 1, "dropped": 1}),
        (P(bridged=2.0, ended_by="patience"), set(), {"offered": 1, "routed": 1, "dropped": 1}),
        (P(bridged=2.0, ended_by="talk"), {"c1"}, {"offered": 1, "routed": 1, "wrong_abandons": 1}),
        (P(bridged=2.0, ended=None, ended_by=None), set(), {"offered": 1, "routed": 1, "stuck": 1}),
        (P(role="customer", answered=None, ended_by="pbx"), set(), {}),  # busy: nobody was on the line
        (P(role="customer", ended_by="pbx"), {"c1"}, {"offered": 1, "abandoned": 1}),
        (P(role="agent", bridged=2.0, ended_by="pbx"), set(), {}),
        (P(call_id=""), {""}, {"offered": 1, "lost": 1}),  # no call id: no record can be its
    ],
)
def test_one_party(party: P, records: set[str], expected: dict[str, int]) -> None:
    counts = count([party], [], records)
    keys = ("offered", "routed", "abandoned", "lost", "dialed_twice", "dropped", "wrong_abandons", "stuck")
    assert {key: getattr(counts, key) for key in keys if getattr(counts, key)} == expected


def test_a_number_originated_twice_is_dialed_twice_once() -> None:
    counts = count([], ["+3630001", "+3630002", "+3630001", "+3630001"], set())
    assert counts.dialed_twice == 1
    assert counts.examples["dialed_twice"] == ["+3630001 x3"]


@pytest.mark.parametrize(
    ("party", "records", "reason"),
    [
        (P(bridged=2.0, ended_by="talk"), set(), None),
        (P(role="customer", answered=None, ended_by="pbx"), set(), None),  # nobody was on the line
        (P(), {"c1"}, "caller-gave-up"),
        (P(role="customer", ended_by="pbx"), {"c1"}, "customer-abandoned"),
        (P(role="customer", ended_by="patience"), {"c1"}, "customer-hung-up-on-hold"),
        (P(ended=None, ended_by=None), {"c1"}, "still-on-the-line"),
        (P(), set(), "unexplained"),
        (P(call_id=""), {""}, "unexplained"),
    ],
)
def test_every_party_never_bridged_has_a_reason(party: P, records: set[str], reason: str | None) -> None:
    """The soak's report: each unbridged call is classified; only a missing record is unexplained."""
    assert why_unbridged(party, records) == reason
    found = unbridged([party, P(call_id="c2", bridged=2.0, ended_by="talk")], records)
    assert found == (
        {} if reason is None else {reason: [f"{party.role} {party.number} ({party.call_id or 'no call id'})"]}
    )
    assert reason is None or reason in UNBRIDGED_REASONS
