"""Every Redis key the dialer uses, in one place: build keys only through `DialerKeys`.

All keys live under one prefix (default `sb:dialer:`), so an operator can list what belongs to the
dialer with `redis-cli --scan --pattern 'sb:dialer:*'`, and tests or side-by-side engines can use
their own prefix. Add new dialer keys here, with a line in this table.

Blacklist (dialer/blacklist.py, dialer/gate.py, dialer/blacklist_import.py):
- `bl:internal`               HASH E.164 -> JSON {reason, actor, at}: the engine's own list
- `bl:lists`                  SET of packed list names (national lists, `campaign:<id>` lists)
- `bl:list:{name}`            HASH bucket id -> packed sorted uint32 remainders (dialer/packed.py);
                              the live data of one packed list, swapped in whole by `--replace`
- `bl:meta:{name}`            HASH count, generation, updated_at, mode, source, region of a list
- `bl:build:{name}:{token}`   HASH being built by a `--replace` import (TTL'd until swapped in)
- `bl:retired:{name}:{token}` the previous live HASH between the swap and its UNLINK
- `bl:lock:{name}`            STRING token: one import at a time per list (SET NX PX)
- `audit:blacklist`           STREAM of list changes: add, remove, import, drop (who, why, when)
- `audit:dial-blocked`        STREAM of dials the gate refused: number, sources, campaign, lead, at
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "sb:dialer:"


@dataclass(frozen=True, slots=True)
class DialerKeys:
    """Key names under one prefix."""

    prefix: str = DEFAULT_PREFIX

    @property
    def blacklist_internal(self) -> str:
        return f"{self.prefix}bl:internal"

    @property
    def blacklist_registry(self) -> str:
        return f"{self.prefix}bl:lists"

    @property
    def blacklist_list_prefix(self) -> str:
        """`blacklist_list(name)` is this prefix + name (the gate's Lua script builds keys from it)."""
        return f"{self.prefix}bl:list:"

    def blacklist_list(self, name: str) -> str:
        return f"{self.blacklist_list_prefix}{name}"

    def blacklist_meta(self, name: str) -> str:
        return f"{self.prefix}bl:meta:{name}"

    def blacklist_build(self, name: str, token: str) -> str:
        return f"{self.prefix}bl:build:{name}:{token}"

    def blacklist_retired(self, name: str, token: str) -> str:
        return f"{self.prefix}bl:retired:{name}:{token}"

    def blacklist_lock(self, name: str) -> str:
        return f"{self.prefix}bl:lock:{name}"

    @property
    def audit_blacklist(self) -> str:
        return f"{self.prefix}audit:blacklist"

    @property
    def audit_dial_blocked(self) -> str:
        return f"{self.prefix}audit:dial-blocked"

    def pattern(self) -> str:
        """SCAN pattern matching every dialer key."""
        return f"{self.prefix}*"
