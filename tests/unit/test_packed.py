"""The packed number-set format (dialer/lists/packed.py): exact membership, nothing more, nothing less."""

from __future__ import annotations

import random
from array import array

import pytest

from dialer.lists import packed


def _random_numbers(rng: random.Random, count: int) -> list[int]:
    """E.164 digits of several countries and lengths, with duplicates."""
    shapes = [(36, 9), (36, 8), (48, 9), (44, 10), (1, 10), (49, 11), (7, 10), (86, 11), (998, 9)]
    numbers = []
    for _ in range(count):
        cc, length = rng.choice(shapes)
        numbers.append(int(f"{cc}{rng.randrange(10 ** (length - 1), 10**length)}"))
    return numbers + rng.sample(numbers, count // 10)


def _build(numbers: list[int]) -> dict[int, bytes]:
    builder = packed.BucketBuilder()
    for start in range(0, len(numbers), 7_000):  # several add() calls, like an import's chunks
        builder.add(numbers[start : start + 7_000])
    buckets = dict(builder.buckets())
    assert builder.added == len(numbers)
    assert builder.distinct == len(set(numbers))
    return buckets


def _member(buckets: dict[int, bytes], number: int) -> bool:
    bucket, remainder = packed.split(number)
    return packed.contains(buckets.get(bucket), packed.remainder_key(remainder))


def test_split_is_exact_and_fits_uint32() -> None:
    for number in (1, 10, 36301234567, 262_139, 262_138, 10**15 - 1, 999_999_999_999_999):
        bucket, remainder = packed.split(number)
        assert 0 <= bucket < packed.MODULUS and 0 <= remainder < 2**32
        assert packed.join(bucket, remainder) == number
    for bad in (0, -5, 10**15):
        with pytest.raises(ValueError):
            packed.split(bad)


def test_pack_sorts_and_deduplicates() -> None:
    blob = packed.pack([7, 3, 3, 2**32 - 1, 0])
    assert list(packed.unpack(blob)) == [0, 3, 7, 2**32 - 1]
    assert len(blob) == 4 * packed.WIDTH


def test_misaligned_bytes_are_not_a_match() -> None:
    blob = packed.pack([0x01020304, 0x05060708])  # bytes 04 03 02 01 08 07 06 05
    assert packed.contains(blob, packed.remainder_key(0x01020304))
    assert not packed.contains(blob, bytes([0x01, 0x08, 0x07, 0x06]))  # present at offset 3
    assert not packed.contains(None, packed.remainder_key(1))
    assert not packed.contains(b"", packed.remainder_key(1))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sets_are_exact(seed: int) -> None:
    rng = random.Random(seed)
    numbers = _random_numbers(rng, 30_000)
    buckets = _build(numbers)
    members = set(numbers)
    assert all(_member(buckets, n) for n in members)
    strangers = {n + rng.choice((-1, 1, packed.MODULUS, 2**32)) for n in rng.sample(numbers, 5_000)} - members
    strangers |= set(_random_numbers(rng, 5_000)) - members
    strangers = {n for n in strangers if 0 < n <= packed.MAX_NUMBER}
    assert not any(_member(buckets, n) for n in strangers)
    assert sum(len(blob) for blob in buckets.values()) == packed.WIDTH * len(members)


def test_buckets_come_out_sorted_and_round_trip() -> None:
    numbers = _random_numbers(random.Random(9), 5_000)
    buckets = list(_build(numbers).items())
    assert [b for b, _ in buckets] == sorted(b for b, _ in buckets)
    back = [n for bucket, blob in buckets for n in packed.numbers_of(bucket, blob)]
    assert sorted(back) == sorted(set(numbers))
    for bucket, blob in buckets:
        values = list(packed.unpack(blob))
        assert values == sorted(set(values))
        assert all(packed.join(bucket, r) % packed.MODULUS == bucket for r in values)


def test_builder_refuses_what_is_not_e164() -> None:
    with pytest.raises(ValueError):
        packed.BucketBuilder().add([36301234567, 10**15])
    with pytest.raises(ValueError):
        packed.BucketBuilder().add([0])


def test_merge_and_subtract() -> None:
    assert packed.merge(None, packed.pack([5])) == packed.pack([5])
    assert packed.merge(packed.pack([1, 9]), packed.pack([5, 9])) == packed.pack([1, 5, 9])
    assert packed.subtract(packed.pack([1, 5, 9]), [5, 7]) == packed.pack([1, 9])
    assert packed.subtract(packed.pack([1]), [1]) == b""
    assert packed.subtract(None, [1]) == b""


def test_lookup_blob_layout() -> None:
    numbers = [36301234567, 48601234567]
    words = array("I")
    words.frombytes(packed.lookup_blob(numbers))
    assert list(words) == [x for n in numbers for x in packed.split(n)]
    assert packed.lookup_blob([]) == b""
