"""The consent register (dialer/consent/store.py, read by the gate's Lua in dialer/lists/gate.py).
Same prefix as DialerKeys; build with `ConsentKeys.of(dialer_keys)`. The gate's script builds the
per-number keys from `number_prefix` / `dials_prefix`. Scores are epoch ms.
- `consent:num:{e164}`         HASH "{purpose}|{customer id, ASCII-lowercased}" -> JSON of one
                               consent (dialer/consent/validity.py `ConsentRecord`, times in ms)
- `consent:index`              ZSET "{e164}|{purpose}|{customer}" -> last change (CRM read-back)
- `consent:log:{e164}`         LIST of JSON: every grant, change and withdrawal of the number's
                               consents (the evidence; never trimmed by audit retention)
- `consent:dials:{e164}`       LIST of JSON: every dial the gate let through under a consent
                               (purpose, customer, campaign, lead, call id, at): its use
                               (LISTs, not STREAMs: a small STREAM per number costs about 4 KB)
- `audit:consent`              STREAM given, updated, withdrawn (who, when, source): the audit trail
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dialer.key_prefix import DEFAULT_PREFIX

if TYPE_CHECKING:
    from dialer.dialer_keys import DialerKeys


@dataclass(frozen=True, slots=True)
class ConsentKeys:
    """Keys of the consent register (under the DialerKeys prefix)."""

    prefix: str = DEFAULT_PREFIX

    @classmethod
    def of(cls, keys: DialerKeys | None) -> ConsentKeys:
        return cls(keys.prefix if keys is not None else DEFAULT_PREFIX)

    @property
    def number_prefix(self) -> str:
        return f"{self.prefix}consent:num:"

    def number(self, e164: str) -> str:
        return f"{self.number_prefix}{e164}"

    @property
    def index(self) -> str:
        return f"{self.prefix}consent:index"

    def log(self, e164: str) -> str:
        return f"{self.prefix}consent:log:{e164}"

    @property
    def dials_prefix(self) -> str:
        return f"{self.prefix}consent:dials:"

    def dials(self, e164: str) -> str:
        return f"{self.dials_prefix}{e164}"

    @property
    def audit(self) -> str:
        return f"{self.prefix}audit:consent"
