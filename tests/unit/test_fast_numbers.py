"""The bulk fast path of dialer/lists/fast_numbers.py gives exactly phonenumbers' answers, or none at all."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from phonenumbers.phonemetadata import PhoneMetadata

from core.errors import ValidationFailedError
from core.phone_numbers import try_normalize as reference
from dialer.lists.fast_numbers import (
    e164_to_int,
    fast_normalize,
    fast_pattern,
    int_to_e164,
    normalize,
    normalize_chunk,
    reference_chunk,
    try_normalize,
)

HU = "+36301234567"
TABLE = [
    # Hungary: every shape the national list files use
    ("HU", "+36 30 123 4567", HU),
    ("HU", "+36301234567", HU),
    ("HU", "06301234567", HU),
    ("HU", "06 30 123 4567", HU),
    ("HU", "0036301234567", HU),
    ("HU", "0036-30-123-4567", HU),
    ("HU", "06-30/123-4567", HU),
    ("HU", "(06 30) 123.4567", HU),
    ("HU", "36301234567", HU),
    ("HU", "301234567", HU),
    ("HU", "06 1 234 5678", "+3612345678"),  # Budapest landline, 8-digit national number
    ("HU", "+36 1 234 5678", "+3612345678"),
    ("HU", "361234567", "+36361234567"),  # Eger (area 36), not a country code: too short to strip
    # Poland: no national prefix
    ("PL", "+48 601 234 567", "+48601234567"),
    ("PL", "601234567", "+48601234567"),
    ("PL", "601-234-567", "+48601234567"),
    ("PL", "0048601234567", "+48601234567"),
    ("PL", "48601234567", "+48601234567"),
    ("PL", "481234567", "+48481234567"),  # Radom (area 48): a national number, not +48
    ("PL", "22 123 45 67", "+48221234567"),
    # United Kingdom
    ("GB", "07911 123456", "+447911123456"),
    ("GB", "+44 7911 123456", "+447911123456"),
    ("GB", "0044 7911 123456", "+447911123456"),
    ("GB", "020 7946 0018", "+442079460018"),
    ("GB", "(020) 7946-0018", "+442079460018"),
    # United States
    ("US", "(212) 555-1234", "+12125551234"),
    ("US", "212-555-1234", "+12125551234"),
    ("US", "1-212-555-1234", "+12125551234"),
    ("US", "+1 212 555 1234", "+12125551234"),
    ("US", "011 1 212 555 1234", "+12125551234"),
    ("US", "212.555.1234", "+12125551234"),
    # another country's number in a national list
    ("HU", "+48 601 234 567", "+48601234567"),
    ("PL", "+36 30 123 4567", HU),
]
NOT_NUMBERS = [
    ("HU", ""),
    ("HU", "phone"),
    ("HU", "12"),
    ("HU", "+999 1234"),
    ("PL", "--"),
    ("US", "555-1234x"),
]


@pytest.mark.parametrize(("region", "text", "e164"), TABLE)
def test_table_matches_phonenumbers(region: str, text: str, e164: str) -> None:
    assert reference(text, region) == e164
    assert normalize(text, region) == e164
    fast = fast_normalize(text, region)
    assert fast in (None, e164)


FAST = [(r, t) for r, t, _ in TABLE[:-2]]  # all but another country's number


@pytest.mark.parametrize(("region", "text"), FAST)
def test_common_shapes_take_the_fast_path(region: str, text: str) -> None:
    assert fast_normalize(text, region) is not None


@pytest.mark.parametrize(("region", "text"), NOT_NUMBERS)
def test_not_a_number(region: str, text: str) -> None:
    assert try_normalize(text, region) is None
    with pytest.raises(ValidationFailedError):
        normalize(text, region)


def _decorate(rng: random.Random, text: str) -> str:
    out = []
    for ch in text:
        if rng.random() < 0.12:
            out.append(rng.choice(" -/.()"))
        out.append(ch)
    if rng.random() < 0.03:
        out.insert(rng.randrange(len(out) + 1), rng.choice(["\t", "x", "#", "a", "+", "\u0663", " ext 5"]))
    return "".join(out)


def _inputs(region: str, rng: random.Random, n: int) -> list[str]:
    """Random strings shaped like the region's numbers: right and wrong lengths, every prefix."""
    metadata = PhoneMetadata.metadata_for_region(region)
    assert metadata is not None and metadata.general_desc is not None
    cc = str(metadata.country_code)
    general = metadata.general_desc
    lengths = [*general.possible_length, *general.possible_length_local_only]
    prefix = metadata.national_prefix or ""
    prefixes = [
        "",
        "+" + cc,
        "00" + cc,
        cc,
        prefix,
        prefix * 2,
        "+" + cc + prefix,
        cc + prefix,
        "0",
        "00",
        "+",
    ]
    prefixes += ["011" + cc, "810" + cc, "+1", "+44", "0036", "48"]
    inputs = []
    for _ in range(n):
        length = max(1, rng.choice(lengths) + rng.choice((0, 0, 0, -1, 1)))
        digits = "".join(rng.choice("0123456789") for _ in range(length))
        if rng.random() < 0.6:
            digits = rng.choice("123456789") + digits[1:]
        inputs.append(_decorate(rng, rng.choice(prefixes) + digits))
    return inputs


REGIONS = [
    "HU",
    "PL",
    "GB",
    "US",
    "DE",
    "FR",
    "AT",
    "CZ",
    "SK",
    "RO",
    "SE",
    "NL",
    "ES",
    "CH",
    "RU",
    "IT",
    "MX",
]


@pytest.mark.parametrize("region", REGIONS)
def test_fast_path_never_differs_from_phonenumbers(region: str) -> None:
    rng = random.Random(f"numbers-{region}")
    answered = 0
    for text in _inputs(region, rng, 3000):
        fast = fast_normalize(text, region)
        if fast is not None:
            answered += 1
            assert fast == reference(text, region), text
    if fast_pattern(region) is not None:
        assert answered > 50  # the random inputs above are not vacuous


def test_fast_path_in_every_region_it_covers() -> None:
    regions = sorted(r for r in phonenumbers.SUPPORTED_REGIONS if fast_pattern(r) is not None)
    assert len(regions) > 150
    for region in regions:
        rng = random.Random(f"all-{region}")
        for text in _inputs(region, rng, 150):
            fast = fast_normalize(text, region)
            assert fast is None or fast == reference(text, region), (region, text)


@pytest.mark.parametrize("region", ["HU", "PL", "GB", "US", "DE", "MX", "CA", "BR"])
def test_bulk_equals_line_by_line(region: str) -> None:
    rng = random.Random(f"bulk-{region}")
    lines = [*_inputs(region, rng, 2000), "", "   ", "not a number", "06301234567\r"]
    rng.shuffle(lines)
    chunk = "\n".join(lines).encode()
    result = normalize_chunk(chunk, region)
    expected, rejected, blank = [], [], 0
    for index, line in enumerate(lines):
        e164 = reference(line.strip("\r"), region) if line.strip() else None
        if not line.strip():
            blank += 1
        elif e164 is None or len(e164) > 16:
            rejected.append(index)
        else:
            expected.append(int(e164[1:]))
    assert sorted(result.numbers) == sorted(expected)
    assert result.rejected == rejected
    assert result.blank == blank
    slow = reference_chunk(chunk, region)
    assert sorted(slow.numbers) == sorted(expected) and slow.rejected == rejected


def test_numbers_longer_than_e164_are_rejected_in_bulk() -> None:
    # phonenumbers calls a 17-digit German number possible; a list stores E.164 (<= 15 digits)
    long_de = "+49 30 1234567890123"
    assert reference(long_de, "DE") is not None and len(reference(long_de, "DE") or "") > 16
    result = normalize_chunk(long_de.encode(), "DE")
    assert result.numbers == [] and result.rejected == [0]


def test_crlf_files() -> None:
    result = normalize_chunk(b"06301234567\r\n+36 30 123 4568\r\n", "HU")
    assert sorted(result.numbers) == [36301234567, 36301234568]
    assert result.blank == 1  # the empty last line


def test_regions_without_a_fast_path_still_answer() -> None:
    assert fast_pattern("CA") is None  # +1 belongs to the US: CA parses with other metadata
    assert normalize("(416) 555-0123", "CA") == phonenumbers.format_number(
        phonenumbers.parse("(416) 555-0123", "CA"), phonenumbers.PhoneNumberFormat.E164
    )


def test_e164_digits_round_trip() -> None:
    assert e164_to_int("+36301234567") == 36301234567
    assert int_to_e164(36301234567) == "+36301234567"
    for bad in ("36301234567", "+036", "+1234567890123456", "+36 30", "+", "+3_6301234567"):
        with pytest.raises(ValidationFailedError):
            e164_to_int(bad)
