"""Phone number normalisation to E.164 (Google libphonenumber rules via `phonenumbers`).

Owned here: the one definition of "the same number" for routing (VIP lists,
VIP lines) and for the dialer (blacklist gate, Robinson list): with default region
HU, `06 30 123 4567`, `+36301234567` and `0036-30-123-4567` all become
`+36301234567`. A number that cannot be a phone number is refused with a
ValidationFailedError naming the input; it is never guessed.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

from core.errors import ValidationFailedError

_WHY = {
    phonenumbers.ValidationResult.TOO_SHORT: "too short",
    phonenumbers.ValidationResult.TOO_LONG: "too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "wrong length for its country",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "a local number without its area code",
}


def normalize(raw: str, default_region: str) -> str:
    """`raw` as E.164 (`+36301234567`), reading national formats in `default_region` (ISO code)."""
    return _normalize(str(raw).strip(), default_region.upper())


@lru_cache(maxsize=8192)
def _normalize(text: str, region: str) -> str:
    if not text:
        raise ValidationFailedError("empty phone number", reason="phone-number", input=text, region=region)
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailedError(
            f"not a phone number: {text!r} ({exc._msg})", reason="phone-number", input=text, region=region
        ) from None
    verdict = phonenumbers.is_possible_number_with_reason(parsed)
    if verdict != phonenumbers.ValidationResult.IS_POSSIBLE:
        why = _WHY.get(verdict, "wrong length for its country")
        message = f"not a possible phone number: {text!r} ({why})"
        raise ValidationFailedError(message, reason="phone-number", input=text, region=region)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_valid(raw: str, region: str) -> str:
    """Like `normalize`, but also refuses a number that is possible yet not valid (no such range
    is assigned) in its country: `601 234 567` read in HU is possible, but it is a Polish number."""
    e164 = normalize(raw, region)
    if not _is_valid(e164):
        country = phonenumbers.region_code_for_number(phonenumbers.parse(e164)) or region.upper()
        raise ValidationFailedError(
            f"not a valid phone number in {country}: {str(raw).strip()!r} (read with region "
            f"{region.upper()}; send the lead's region or the number with its country code)",
            input=str(raw).strip(),
            region=region,
        )
    return e164


@lru_cache(maxsize=8192)
def _is_valid(e164: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse(e164))


def try_normalize(raw: str | None, default_region: str) -> str | None:
    """Like `normalize`, but None for a withheld, anonymous or malformed number."""
    if raw is None:
        return None
    try:
        return normalize(raw, default_region)
    except ValidationFailedError:
        return None


def is_region(code: str) -> bool:
    """True for a region code libphonenumber knows (`HU`, `PL`, `US`, `GB`, ...)."""
    return code.upper() in phonenumbers.SUPPORTED_REGIONS
