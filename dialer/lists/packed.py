"""The packed number-set format of national blacklists: pure code, no I/O.

A naive Redis SET of E.164 strings costs ~57-70 bytes a number; a 10M-number Robinson list would
take 600+ MB. Here an E.164 number is its digits as an int `n` (< 10**15: E.164 has at most 15
digits) split by one prime modulus M = 262139 into
- a bucket id `n % M` (a Redis HASH field), and
- a remainder `n // M`, which is < 2**32 for every 15-digit number, stored as a little-endian
  uint32 in the bucket's value: a sorted, duplicate-free array of remainders.
`(bucket, remainder)` gives `n` back exactly, so membership is exact: no false positives or
negatives. A prime modulus spreads real lists evenly (consecutive or decimal-patterned numbers
hit every residue), so a 10M list has ~38 numbers (~150 bytes) a bucket: ~4 bytes a number plus
the hash field's overhead. A lookup reads one small bucket and searches it for the 4-byte
remainder at an aligned offset (bytes.find in C here, string.find in the gate's Lua script).
"""

from __future__ import annotations

import operator
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import repeat

MODULUS = 262_139  # prime, >= 10**15 / 2**32 so that every remainder fits a uint32
WIDTH = 4
MAX_NUMBER = 10**15 - 1
_PARTITION_SHIFT = 42  # key = bucket << 32 | remainder; 256 partitions of 1024 buckets
_LITTLE = sys.byteorder == "little"


def split(number: int) -> tuple[int, int]:
    """(bucket, remainder) of an E.164 number's digits."""
    if not 0 < number <= MAX_NUMBER:
        raise ValueError(f"not the digits of an E.164 number: {number}")
    return number % MODULUS, number // MODULUS


def join(bucket: int, remainder: int) -> int:
    return remainder * MODULUS + bucket


def remainder_key(remainder: int) -> bytes:
    """The 4 bytes a remainder is stored as (what to search a bucket for)."""
    return remainder.to_bytes(WIDTH, "little")


def pack(remainders: Iterable[int]) -> bytes:
    """Sorted, duplicate-free remainders as one bucket value."""
    values = array("I", sorted(set(remainders)))
    if not _LITTLE:
        values.byteswap()
    return values.tobytes()


def unpack(blob: bytes) -> array[int]:
    values = array("I")
    values.frombytes(blob)
    if not _LITTLE:
        values.byteswap()
    return values


def contains(blob: bytes | None, key: bytes) -> bool:
    """Whether the bucket `blob` holds the remainder whose bytes are `key` (an aligned match)."""
    if not blob:
        return False
    at = blob.find(key)
    while at >= 0:
        if at % WIDTH == 0:
            return True
        at = blob.find(key, at + 1)
    return False


def lookup_blob(numbers: list[int]) -> bytes:
    """(bucket, remainder) of each number as two little-endian uint32: one Redis argument for a batch.

    Passing a batch as one binary argument instead of one argument per number spares the
    client's per-argument encoding, which costs more than the lookup itself.
    """
    pairs = array("I", bytes(8 * len(numbers)))
    pairs[0::2] = array("I", map(operator.mod, numbers, repeat(MODULUS)))
    pairs[1::2] = array("I", map(operator.floordiv, numbers, repeat(MODULUS)))
    if not _LITTLE:
        pairs.byteswap()
    return pairs.tobytes()


# The same search in the Lua of Redis scripts: `has(value, remainder bytes)`, and `unpair(blob)`
# giving the bucket fields and remainder bytes of a lookup_blob (at most ~7,000 numbers: Lua unpack).
LUA_LOOKUP = """
local function has(blob, rem)
  if not blob then return false end
  local from = 1
  while true do
    local at = string.find(blob, rem, from, true)
    if not at then return false end
    if (at - 1) % 4 == 0 then return true end
    from = at + 1
  end
end
local function unpair(blob)
  local fields, rems = {}, {}
  for i = 1, #blob / 8 do
    fields[i] = struct.unpack('<I4', blob, i * 8 - 7)
    rems[i] = string.sub(blob, i * 8 - 3, i * 8)
  end
  return fields, rems
end
"""


def merge(old: bytes | None, new: bytes) -> bytes:
    """Union of two bucket values."""
    if not old:
        return new
    return pack(set(unpack(old)).union(unpack(new)))


def subtract(old: bytes | None, remove: Iterable[int]) -> bytes:
    """`old` without the given remainders (b"" when nothing is left)."""
    if not old:
        return b""
    return pack(set(unpack(old)).difference(remove))


def numbers_of(bucket: int, blob: bytes) -> Iterator[int]:
    """The E.164 digits stored in one bucket, ascending."""
    for remainder in unpack(blob):
        yield remainder * MODULUS + bucket


class BucketBuilder:
    """Collects millions of numbers and yields their buckets in bucket order, deduplicated.

    Per-number work is done by C-level `map` calls (no Python loop per number), and numbers are
    first scattered into 256 compact partitions so that the final sort of each one stays in
    cache. Memory: 8 bytes a number until `buckets()` consumes a partition.
    """

    def __init__(self) -> None:
        self._partitions = [array("Q") for _ in range((MODULUS >> 10) + 1)]
        self._appends = [part.append for part in self._partitions]
        self.added = 0
        self.distinct = 0

    def add(self, numbers: list[int]) -> None:
        """Add E.164 digits (each 0 < n <= MAX_NUMBER; the caller validated them)."""
        if numbers and (min(numbers) <= 0 or max(numbers) > MAX_NUMBER):
            raise ValueError("numbers must be the digits of E.164 numbers")
        buckets = map(operator.mod, numbers, repeat(MODULUS))
        keys = list(
            map(
                operator.or_,
                map(operator.lshift, buckets, repeat(32)),
                map(operator.floordiv, numbers, repeat(MODULUS)),
            )
        )
        targets = map(self._appends.__getitem__, map(operator.rshift, keys, repeat(_PARTITION_SHIFT)))
        any(map(operator.call, targets, keys))  # append() returns None: any() runs them all
        self.added += len(numbers)

    def buckets(self) -> Iterator[tuple[int, bytes]]:
        """(bucket id, packed value) for every non-empty bucket, ascending; consumes the builder."""
        for index, part in enumerate(self._partitions):
            self._partitions[index] = array("Q")
            keys = sorted(set(part))
            del part
            self.distinct += len(keys)
            yield from _split_partition(keys)


def _split_partition(keys: list[int]) -> Iterator[tuple[int, bytes]]:
    words = memoryview(array("Q", keys)).cast("B").cast("I")
    low = 0 if _LITTLE else 1
    start, end = 0, len(keys)
    while start < end:
        bucket = keys[start] >> 32
        stop = bisect_left(keys, (bucket + 1) << 32, start)
        if _LITTLE:
            yield bucket, words[2 * start + low : 2 * stop : 2].tobytes()
        else:
            yield bucket, pack(key & 0xFFFFFFFF for key in keys[start:stop])
        start = stop
