"""Every Redis key the composition root writes, in one place (prefix `sb:`).

Each package keeps its own key module (pbx, routing, dialer have theirs), so
an operator can see with `redis-cli --scan --pattern 'sb:*'` what belongs to
whom and nothing collides. Build keys only through these functions.

Keys here concern the engine process itself, not the call-center data:
- `sb:instance:{id}`  hash, heartbeat of one running engine (TTL'd)
- `sb:leader:{role}`  string, the instance id that holds a leadership role
                      (e.g. "pacing"); SET NX PX, renewed by its holder
- `sb:rules:{kind}`   hash, version and checksum of the rules file in force
"""

from __future__ import annotations

PREFIX = "sb:"


def _part(value: str) -> str:
    if not value or ":" in value or any(ch.isspace() for ch in value):
        raise ValueError(f"invalid key part {value!r}: non-empty, no ':' and no spaces")
    return value


def instance(instance_id: str) -> str:
    return f"{PREFIX}instance:{_part(instance_id)}"


def leader(role: str) -> str:
    return f"{PREFIX}leader:{_part(role)}"


def rules(kind: str) -> str:
    return f"{PREFIX}rules:{_part(kind)}"


def pattern() -> str:
    """SCAN pattern matching every key of this module."""
    return f"{PREFIX}*"
