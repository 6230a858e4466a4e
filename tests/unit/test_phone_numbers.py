"""E.164 normalisation with a default region (shared by routing and the dialer's blacklist gate)."""

from __future__ import annotations

import pytest

from core.errors import ValidationFailedError
from core.phone_numbers import is_region, normalize, try_normalize


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("06 30 123 4567", "HU", "+36301234567"),
        ("+36301234567", "HU", "+36301234567"),
        ("0036-30-123-4567", "HU", "+36301234567"),
        ("  +36 (30) 123-4567 ", "hu", "+36301234567"),
        ("06-1-234-5678", "HU", "+3612345678"),
        ("+48 512 345 678", "HU", "+48512345678"),  # a foreign number keeps its country
        ("512 345 678", "PL", "+48512345678"),
        ("0048512345678", "PL", "+48512345678"),
        ("(202) 555-0143", "US", "+12025550143"),
        ("020 7946 0018", "GB", "+442079460018"),
    ],
)
def test_normalize(raw: str, region: str, expected: str) -> None:
    assert normalize(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "empty phone number"),
        ("anonymous", "not a phone number: 'anonymous'"),
        ("12", "not a possible phone number: '12' (too short)"),
        ("06 20 98", "(a local number without its area code)"),
        ("+36 30 123 4567 8901 2345", "(too long)"),
    ],
)
def test_refused_numbers_name_the_input(raw: str, why: str) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        normalize(raw, "HU")
    assert why in caught.value.message
    assert caught.value.details == {"input": raw.strip(), "region": "HU", "reason": "phone-number"}
    assert caught.value.error_id == "validation-failed"


def test_try_normalize_and_regions() -> None:
    assert try_normalize(None, "HU") is None
    assert try_normalize("withheld", "HU") is None
    assert try_normalize("06301234567", "HU") == "+36301234567"
    assert is_region("hu") and is_region("PL") and not is_region("XX")
