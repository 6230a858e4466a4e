"""Throttling of failed console sign-ins, per client address (pure: no I/O, an injected clock).

Rules it keeps:
- The first `free_failures` failed sign-ins of a client cost nothing; each further one locks the
  client out for `base_delay_s`, doubling per failure up to `max_delay_s` (exponential backoff).
  While locked out, every sign-in of that client is refused with the seconds left (the HTTP
  layer answers 429 with Retry-After) without looking at the token, so guessing gets no faster.
- A successful sign-in forgets the client's failures; other clients are never affected.
- A client's failures are forgotten `forget_after_s` after its last one.
- The table is bounded: at most `max_clients` entries; when full, forgotten entries go first,
  then the least recently failed (an attacker spreading over many addresses can at worst
  evict others' counts, never grow the memory).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

from core.clock import Clock


@dataclass(frozen=True, slots=True)
class ThrottleSettings:
    free_failures: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 900.0
    forget_after_s: float = 3600.0
    max_clients: int = 10_000

    def __post_init__(self) -> None:
        if self.forget_after_s < self.max_delay_s:
            raise ValueError("forget_after_s must be at least max_delay_s (a lockout outlives its memory)")


@dataclass(slots=True)
class _Failures:
    count: int
    last: float
    locked_until: float


class LoginThrottle:
    """Failed sign-ins per client key (the client's address); `clock` gives epoch seconds."""

    def __init__(self, clock: Clock, settings: ThrottleSettings | None = None) -> None:
        self._clock = clock
        self.settings = settings or ThrottleSettings()
        self._table: OrderedDict[str, _Failures] = OrderedDict()

    def __len__(self) -> int:
        return len(self._table)

    def retry_after(self, client: str) -> int:
        """Whole seconds `client` must wait before its next sign-in; 0: it may try now."""
        now = self._clock()
        entry = self._live(client, now)
        if entry is None or entry.locked_until <= now:
            return 0
        return max(1, math.ceil(entry.locked_until - now))

    def failed(self, client: str) -> int:
        """Count a failed sign-in; returns the seconds the client is now locked out (0: none)."""
        now = self._clock()
        entry = self._live(client, now)
        if entry is None:
            self._make_room(now)
            entry = _Failures(0, now, now)
        entry.count += 1
        entry.last = now
        over = entry.count - self.settings.free_failures
        if over > 0:
            delay = min(self.settings.max_delay_s, self.settings.base_delay_s * 2 ** min(over - 1, 60))
            entry.locked_until = now + delay
        self._table[client] = entry
        self._table.move_to_end(client)
        return self.retry_after(client)

    def succeeded(self, client: str) -> None:
        self._table.pop(client, None)

    def _live(self, client: str, now: float) -> _Failures | None:
        entry = self._table.get(client)
        if entry is not None and self._forgotten(entry, now):
            del self._table[client]
            return None
        return entry

    def _forgotten(self, entry: _Failures, now: float) -> bool:
        return now - entry.last >= self.settings.forget_after_s and entry.locked_until <= now

    def _make_room(self, now: float) -> None:
        if len(self._table) < self.settings.max_clients:
            return
        # Oldest failure first: forgotten entries sit at the front, so this is O(1) per sign-in.
        while self._table and self._forgotten(next(iter(self._table.values())), now):
            self._table.popitem(last=False)
        while len(self._table) >= self.settings.max_clients:
            self._table.popitem(last=False)  # the least recently failed
