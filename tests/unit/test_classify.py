"""Caller classification: tiers by number, prefix, CRM record and VIP line; needs from queue/IVR/tier."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config.loader import load_rules
from core.errors import NotFoundError
from routing.classify import admit, classify, crm_outcomes, transfer
from routing.rules import Rules

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "routing.yaml"
NOW = 1_750_000_000.0


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(EXAMPLE, Rules)


@pytest.mark.parametrize(
    "case",
    [
        ("06 30 123 4567", None, None, "key", "tiers[0].callers[0]"),
        ("+36301234567", None, None, "key", "tiers[0].callers[0]"),
        ("0036 20 987 6543", None, None, "key", "tiers[0].callers[1]"),
        ("+36 1 712 3456", None, None, "important", "tiers[1].prefixes[0]"),
        ("+36 70 111 2222", None, {"segment": "Platinum"}, "key", "tiers[0].crm[0]"),  # case-insensitive
        ("+36 70 111 2222", None, {"segment": "important"}, "important", "tiers[1].crm[0]"),
        ("+36 70 111 2222", None, {"status": "churned"}, "inactive", "tiers[3].crm[0]"),
        ("+36 70 111 2222", "06 1 555 0100", None, "key", "tiers[0].dialled[0]"),  # the VIP line
        ("+36 70 111 2222", None, None, "active", "default_tier"),  # unknown caller
        (None, None, None, "active", "default_tier"),
        ("anonymous", None, None, "active", "default_tier"),
        # several tiers match: the highest priority wins
        ("+36 1 712 3456", None, {"status": "inactive"}, "important", "tiers[1].prefixes[0]"),
        ("+36 1 712 3456", "+3615550100", {"status": "inactive"}, "key", "tiers[0].dialled[0]"),
    ],
)
def test_tiers(rules: Rules, case: tuple[str | None, str | None, dict[str, str] | None, str, str]) -> None:
    caller, dialled, crm, tier, matched = case
    found = classify(caller, "support", rules, dialled=dialled, crm_record=crm)
    assert (found.tier, found.matched) == (tier, matched)
    assert found.priority == rules.index.queues["support"].priorities[tier]


RECORDS = [
    None,
    {},
    {"segment": "Platinum"},
    {"segment": "important"},
    {"segment": "active"},
    {"status": "churned"},
    {"status": "inactive", "segment": "important"},
    {"segment": "key", "status": "churned"},
    {"segment": "nobody"},
]


@pytest.mark.parametrize(
    ("caller", "dialled", "beaten_by"),
    [
        ("+36 70 111 2222", None, {"key", "important", "active", "inactive"}),  # no other evidence
        ("+36 1 712 3456", None, {"key"}),  # `important` by prefix: only a higher priority wins over it
        ("+36301234567", None, set()),  # `key` by number: no CRM tier is higher
        ("+36 70 111 2222", "+3615550100", set()),  # the VIP line
        (None, None, {"key", "important", "active", "inactive"}),
    ],
)
def test_crm_outcomes_cover_every_answer_a_crm_record_can_give(
    rules: Rules, caller: str | None, dialled: str | None, beaten_by: set[str]
) -> None:
    """What early_offer.py works out before the record is read: whatever the record, `classify`
    answers the outcome without a CRM match or the one of the tier it gives (same needs, priority)."""
    base, better = crm_outcomes(caller, "support", rules, dialled=dialled, ivr_choice="2")
    assert set(better) == beaten_by
    assert base == classify(caller, "support", rules, dialled=dialled, ivr_choice="2")
    for record in RECORDS:
        found = classify(caller, "support", rules, dialled=dialled, ivr_choice="2", crm_record=record)
        outcome = better.get(found.tier, base)
        assert (found.tier, found.priority, found.needs, found.max_wait_seconds, found.needs_from) == (
            outcome.tier, outcome.priority, outcome.needs, outcome.max_wait_seconds, outcome.needs_from,
        )  # fmt: skip
        if found.tier not in better:
            assert found == base, record


def test_caller_is_normalised_and_bad_numbers_are_noted(rules: Rules) -> None:
    assert classify("06 30 123 4567", "support", rules).caller == "+36301234567"
    unknown = classify("anonymous", "support", rules)
    assert unknown.caller is None
    assert unknown.notes == ("caller number 'anonymous' is not a phone number; treated as unknown",)


@pytest.mark.parametrize(
    ("caller", "ivr", "needs", "needs_from"),
    [
        ("+36701112222", None, (("tech", 2), ("hungarian", 1)), "queues[0].skill"),
        ("+36701112222", "1", (("tech", 3), ("hungarian", 1)), "queues[0].ivr.1"),
        ("+36701112222", " 3 ", (("billing", 2), ("hungarian", 1)), "queues[0].ivr.3"),
        ("+36701112222", "9", (("hungarian", 1),), "queues[0].ivr.9"),  # no duplicate hungarian
        ("+36701112222", "7", (("tech", 2), ("hungarian", 1)), "queues[0].skill"),  # not mapped
        ("+36301234567", "2", (("tech", 5), ("hungarian", 1)), "queues[0].ivr.2"),  # key: min_level 5
        ("+3617123456", None, (("tech", 4), ("hungarian", 1)), "queues[0].skill"),  # important: min_level 4
    ],
)
def test_needs(
    rules: Rules, caller: str, ivr: str | None, needs: tuple[tuple[str, int], ...], needs_from: str
) -> None:
    found = classify(caller, "support", rules, ivr_choice=ivr)
    assert (found.needs, found.needs_from) == (needs, needs_from)


def test_unmapped_ivr_choice_is_noted(rules: Rules) -> None:
    assert classify(None, "support", rules, ivr_choice="7").notes == (
        "IVR choice '7' is not mapped in queues[0].ivr; using the queue's skill",
    )


def test_per_queue_priority_and_max_wait(rules: Rules) -> None:
    assert classify("+36301234567", "billing", rules).priority == 120  # billing overrides key's priority
    assert classify("+36301234567", "support", rules).priority == 100
    assert classify(None, "support", rules, crm_record={"status": "inactive"}).max_wait_seconds == 420
    assert classify(None, "billing", rules, crm_record={"status": "inactive"}).max_wait_seconds == 240


def test_unknown_queue_is_not_found(rules: Rules) -> None:
    with pytest.raises(NotFoundError, match="queue 'nope' is not in the routing rules"):
        classify(None, "nope", rules)


def test_admit_and_transfer(rules: Rules) -> None:
    call = admit("c1", classify("+36301234567", "support", rules), NOW)
    assert (call.queue, call.tier, call.priority, call.entered_at, call.since) == (
        "support",
        "key",
        100,
        NOW,
        NOW,
    )
    moved = transfer(call.declined("1004"), classify("+36301234567", "general", rules), NOW + 180)
    assert (moved.queue, moved.needs, moved.entered_at, moved.since) == (
        "general",
        (("hungarian", 5),),
        NOW + 180,
        NOW,
    )
    assert moved.declined_by == frozenset({"1004"})
