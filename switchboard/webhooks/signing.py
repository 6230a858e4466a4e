"""Signing a delivery and spacing its retries (pure: the secret, the time and the randomness come in).

Signature: `X-Switchboard-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` with the
timestamp (unix seconds) in `X-Switchboard-Timestamp`. The receiver recomputes it over the raw
body and rejects a timestamp far from its clock (replays). Retries back off exponentially from
`backoff_min` to `backoff_max`, each delay drawn in [half, full] ("equal jitter") so endpoints
that failed together do not come back in lockstep.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

SIGNATURE_HEADER = "X-Switchboard-Signature"
TIMESTAMP_HEADER = "X-Switchboard-Timestamp"
EVENT_ID_HEADER = "X-Switchboard-Event-Id"
EVENT_TYPE_HEADER = "X-Switchboard-Event"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, header: str, *, now: float, tolerance_s: float = 300
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs(now - stamp) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, stamp, body), header)


def retry_delay(tries: int, *, low: float, high: float, rand: Callable[[], float]) -> float:
    """Seconds before try `tries + 1`; `rand()` in [0, 1)."""
    ceiling = min(high, low * 2.0 ** max(0, tries - 1))
    return ceiling / 2 + rand() * ceiling / 2


def permanent(status: int) -> bool:
    """A refusal retrying cannot fix: a 4xx other than timeout, conflict-free rate limit."""
    return 400 <= status < 500 and status not in (408, 409, 425, 429)
