"""Where and how the AMI client logs in, and when it tries again: pure, no socket.

Owned here: `AmiSettings` (host, user, secret, timeouts, reconnect and keepalive intervals), the
reconnect backoff with jitter, the Login fields (plain or MD5 challenge) and the error a refused
login raises.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Literal

from core.errors import AmiLoginError
from pbx.codec import FieldValue


@dataclass(frozen=True)
class AmiSettings:
    """Where and how to log in. The secret never appears in repr() or logs."""

    host: str
    port: int
    username: str
    secret: str = field(repr=False)
    auth: Literal["plain", "md5"] = "md5"
    action_timeout: float = 5.0
    connect_timeout: float = 5.0
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    ping_interval: float = 20.0  # keepalive Ping; 0 turns it off
    ping_timeout: float = 5.0  # an unanswered keepalive Ping drops the connection after this long


def backoff_delay(settings: AmiSettings, attempt: int, rng: random.Random) -> float:
    """Exponential and capped, with jitter in [ceiling/2, ceiling] so engines do not reconnect in step."""
    ceiling: float = min(settings.reconnect_max, settings.reconnect_min * 2.0 ** min(attempt, 30))
    return ceiling / 2 + rng.random() * ceiling / 2


def login_fields(settings: AmiSettings, challenge: str | None) -> dict[str, FieldValue]:
    """Login headers: MD5 of challenge+secret when a challenge was given, else the plain secret."""
    fields: dict[str, FieldValue] = {"Username": settings.username}
    if challenge is not None:
        key = hashlib.md5((challenge + settings.secret).encode()).hexdigest()
        fields.update(AuthType="MD5", Key=key)
    else:
        fields["Secret"] = settings.secret
    fields["Events"] = "on"
    return fields


def login_refused(settings: AmiSettings, step: str, said: str) -> AmiLoginError:
    """The error for a refused login: what Asterisk said, and what the admin should check."""
    s = settings
    return AmiLoginError(
        f"Asterisk refused {step} of AMI user {s.username!r} at {s.host}:{s.port}: {said} "
        f"(check the username/secret in manager.conf; auth={s.auth})",
        asterisk_message=said, ami_host=s.host, ami_port=s.port, ami_user=s.username,
    )  # fmt: skip
