"""Fast E.164 normalisation for bulk blacklist imports, exactly equal to `core.phone_numbers.normalize`.

`core.phone_numbers` is the one definition of "the same number" (phonenumbers `parse` +
`is_possible_number` + E.164). It costs ~30 µs a line: a 10M-line national list would take five
minutes. This module compiles, per default region, one regular expression from phonenumbers'
own metadata (country code, international and national prefixes, the general number pattern
and the possible lengths) that recognises the common shapes (`+36 30 123 4567`, `06301234567`,
`0036301234567`, `06-30/123-4567`, `36301234567`, `301234567`) and yields the national
significant number directly. The rules it keeps, so that every answer it gives is the one
phonenumbers would give:
- it answers only for the default region's own country, and only for regions that are their
  country code's main region, whose national prefix and IDD are plain patterns (no carrier
  codes, no transform rule);
- separators it drops are the ASCII ones phonenumbers ignores: space - / . ( );
- the national number must match the general pattern, have a possible length that is not a
  local-only length, start with neither 0 nor the national prefix; each prefix shape carries
  the exact conditions under which phonenumbers strips it (IDD first, then the country code
  only when the whole string is too long, then the national prefix);
- anything else (letters, extensions, tabs, foreign numbers, odd lengths) goes to phonenumbers.
tests/unit/test_fast_numbers.py checks fast == phonenumbers on tables and on random inputs.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress, count

import phonenumbers
from phonenumbers.phonemetadata import PhoneMetadata, PhoneNumberDesc

from core.errors import ValidationFailedError
from core.phone_numbers import normalize as reference_normalize
from core.phone_numbers import try_normalize as reference_try_normalize

SEPARATORS = b" -/.()"
_SEPARATOR_TABLE = str.maketrans("", "", SEPARATORS.decode())
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
E164_MAX = 10**15 - 1


@dataclass(frozen=True, slots=True)
class FastPattern:
    """The compiled fast path for one default region."""

    region: str
    country_code: str
    bulk: re.Pattern[bytes]  # MULTILINE; one findall match per line; group 1 = NSN or b""
    single: re.Pattern[str]  # fullmatch on one separator-free string; group 1 = NSN


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """Numbers of one chunk of lines (E.164 digits as ints), and what was not a number."""

    numbers: list[int]
    rejected: list[int]  # 0-based line indexes within the chunk
    blank: int


ChunkNormalizer = Callable[[bytes, str], ChunkResult]


def _plain(pattern: str | None) -> bool:
    return pattern is None or re.compile(pattern).groups == 0


def _of_length(lengths: tuple[int, ...]) -> str:
    """Lookahead: the rest of the line has one of these lengths."""
    return "(?=(?:" + "|".join(r"\d{" + str(n) + "}" for n in lengths) + ")$)"


def _compatible(a: str, b: str) -> bool:
    """Whether some string can start with both literal digit strings."""
    return a.startswith(b) or b.startswith(a)


def _widths(pattern: str) -> tuple[int, int] | None:
    try:
        low, high = re._parser.parse(pattern).getwidth()  # type: ignore[attr-defined]
    except (AttributeError, re.error):  # pragma: no cover - the private parser moved again
        return None
    return int(low), int(high)


def _region_metadata(region: str) -> tuple[PhoneMetadata, PhoneNumberDesc] | None:
    metadata = PhoneMetadata.metadata_for_region(region, None)
    if metadata is None or metadata.country_code is None or metadata.general_desc is None:
        return None
    if phonenumbers.region_code_for_country_code(metadata.country_code) != region:
        return None
    if metadata.national_prefix_transform_rule or not _plain(metadata.national_prefix_for_parsing):
        return None
    if not _plain(metadata.international_prefix) or metadata.general_desc.national_number_pattern is None:
        return None
    return metadata, metadata.general_desc


@dataclass(frozen=True, slots=True)
class _Plan:
    """One region's facts, and the regular expression pieces built from them.

    Lookaheads that a literal prefix makes redundant are left out (they cost ~2x in the bulk
    regex); with a prefix that is itself a pattern every guard is kept.
    """

    cc: str
    npfp: str | None  # national prefix for parsing
    idd: str | None  # international (IDD) prefix
    general: str  # the general national number pattern
    widths: tuple[int, int] | None
    lengths: tuple[int, ...]  # possible, not local-only, fitting E.164
    too_long: tuple[int, ...]  # NSN lengths with which "cc + NSN" is too long a national number

    @staticmethod
    def _atomic(pattern: str) -> str:
        return pattern if pattern.isdigit() else f"(?>{pattern})"

    def nsn(self) -> str:
        npfp = self.npfp
        no_prefix = "" if npfp is None or (npfp.isdigit() and npfp[0] == "0") else f"(?!{self._atomic(npfp)})"
        length = _of_length(self.lengths)
        if self.widths is not None and set(range(self.widths[0], self.widths[1] + 1)) <= set(self.lengths):
            length = ""
        return f"{no_prefix}(?!0){length}(?:{self.general})"

    def _not_idd(self, literal: str | None) -> str:
        """Guard for a shape starting with `literal` ("" for the bare national number, None: a pattern).

        phonenumbers strips an IDD (followed by a non-zero digit or nothing) before anything else,
        so no other shape may match such a string.
        """
        idd = self.idd
        if idd is None:
            return ""
        if literal is not None and idd.isdigit():
            # the bare national number starts with a non-zero digit: an IDD starting with 0 cannot clash
            clash = _compatible(literal, idd) if literal else idd[0] != "0"
            if not clash:
                return ""
        return f"(?!{self._atomic(idd)}(?:[1-9]|$))"

    def prefix(self) -> str:
        """What may precede the national number, in phonenumbers' order of precedence."""
        cc = self.cc
        shapes = [rf"\+{cc}"]
        if self.idd is not None:
            shapes.append(f"{self._atomic(self.idd)}{cc}")
        npfp = self.npfp
        if npfp is not None and not npfp.startswith(cc):  # such a string takes the CC route first
            literal = npfp if npfp.isdigit() else None
            not_cc = f"(?!{cc})" if literal is None or _compatible(literal, cc) else ""
            shapes.append(f"{self._not_idd(literal)}{not_cc}{self._atomic(npfp)}")
        if self.too_long:  # country code without +: stripped only when the whole is too long
            fits = "" if self.too_long == self.lengths else _of_length(self.too_long)
            shapes.append(f"{self._not_idd(cc)}{cc}{fits}")
        shapes.append(self._not_idd(""))
        return "(?:" + "|".join(shapes) + ")"


def _plan(region: str) -> _Plan | None:
    found = _region_metadata(region)
    if found is None:
        return None
    metadata, general = found
    cc = str(metadata.country_code)
    local = set(general.possible_length_local_only)
    # E.164 has at most 15 digits: longer "possible" numbers are left to the reference path
    lengths = tuple(n for n in general.possible_length if 0 < n <= 15 - len(cc) and n not in local)
    if not lengths:
        return None
    longest = max(general.possible_length)
    pattern = str(general.national_number_pattern)
    return _Plan(
        cc=cc,
        npfp=metadata.national_prefix_for_parsing or None,
        idd=metadata.international_prefix or None,
        general=pattern,
        widths=_widths(pattern),
        lengths=lengths,
        too_long=tuple(n for n in lengths if len(cc) + n > longest and len(cc) + n not in local),
    )


@lru_cache(maxsize=64)
def fast_pattern(region: str) -> FastPattern | None:
    """The fast path for `region`, or None when the region's metadata is too irregular for one."""
    plan = _plan(region.upper())
    if plan is None:
        return None
    prefix, nsn = plan.prefix(), plan.nsn()
    return FastPattern(
        region=region.upper(),
        country_code=plan.cc,
        bulk=re.compile(f"^(?:{prefix}({nsn})$|.*$)".encode(), re.MULTILINE),
        single=re.compile(f"{prefix}({nsn})", re.ASCII),
    )


def fast_normalize(text: str, region: str) -> str | None:
    """E.164 of `text` by the fast path, or None when the fast path does not answer for it."""
    pattern = fast_pattern(region)
    if pattern is None:
        return None
    match = pattern.single.fullmatch(text.translate(_SEPARATOR_TABLE))
    return None if match is None else f"+{pattern.country_code}{match.group(1)}"


def normalize(text: str, region: str) -> str:
    """E.164 of `text` read in `region`; ValidationFailedError when it is not a possible number."""
    return fast_normalize(text, region) or reference_normalize(text, region)


def try_normalize(text: str, region: str) -> str | None:
    return fast_normalize(text, region) or reference_try_normalize(text, region)


def e164_to_int(number: str) -> int:
    """The digits of an E.164 string as an int; ValidationFailedError for anything else."""
    if not _E164.fullmatch(number):
        raise ValidationFailedError(f"not an E.164 number: {number!r}", input=number)
    return int(number[1:])


def int_to_e164(digits: int) -> str:
    return f"+{digits}"


def _slow_line(line: bytes, region: str) -> int | None:
    e164 = reference_try_normalize(line.decode("utf-8", "replace"), region)
    if e164 is None or len(e164) > 16:  # a list stores E.164 numbers: at most 15 digits
        return None
    return int(e164[1:])


def _per_line(lines: list[bytes], indexes: list[int], region: str, numbers: list[int]) -> ChunkResult:
    rejected: list[int] = []
    blank = 0
    for index in indexes:
        line = lines[index]
        if not line.strip():
            blank += 1
            continue
        value = _slow_line(line, region)
        if value is None:
            rejected.append(index)
        else:
            numbers.append(value)
    return ChunkResult(numbers, rejected, blank)


def normalize_chunk(chunk: bytes, region: str) -> ChunkResult:
    """Normalise a block of complete lines (no trailing newline); the bulk import's inner loop.

    The fast regex runs once over the whole block; only the lines it does not answer for are
    split out and given to phonenumbers one by one.
    """
    chunk = chunk.replace(b"\r\n", b"\n")
    pattern = fast_pattern(region)
    if pattern is None:
        return reference_chunk(chunk, region)
    found = pattern.bulk.findall(chunk.translate(None, SEPARATORS))
    if len(found) != chunk.count(b"\n") + 1:  # cannot happen; stay exact even if it did
        return reference_chunk(chunk, region)
    cc = pattern.country_code.encode()
    numbers = list(map(int, map(cc.__add__, filter(None, found))))
    if len(numbers) == len(found):
        return ChunkResult(numbers, [], 0)
    misses = list(compress(count(), map(operator.not_, found)))
    return _per_line(chunk.split(b"\n"), misses, region, numbers)


def reference_chunk(chunk: bytes, region: str) -> ChunkResult:
    """`normalize_chunk` with phonenumbers on every line: the reference the bench compares with."""
    lines = chunk.replace(b"\r\n", b"\n").split(b"\n")
    return _per_line(lines, list(range(len(lines))), region, [])
