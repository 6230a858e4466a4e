"""The consent register (dialer/consent/store.py, read by the gate's Lua in dialer/lists/gate.py).
Same prefix as DialerKeys and the gate's hash tag (`sb:dialer:{gate}:consent:...`: the gate reads and
writes a number's consent in its one script); build with `ConsentKeys.of(dialer_keys)`. Scores are
epoch ms.
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

from dialer.key_prefix import DEFAULT_PREFIX, GATE_TAG

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
    def _gate(self) -> str:
        return f"{self.prefix}{GATE_TAG}"

    def number(self, e164: str) -> str:
        return f"{self._gate}consent:num:{e164}"

    @property
    def index(self) -> str:
        return f"{self._gate}consent:index"

    def log(self, e164: str) -> str:
        return f"{self._gate}consent:log:{e164}"

    def dials(self, e164: str) -> str:
        return f"{self._gate}consent:dials:{e164}"

    @property
    def audit(self) -> str:
        return f"{self._gate}audit:consent"
