"""The ACD's timers: ring safety nets, wrap-up ends, and re-decisions of waiting calls.

Owned here: one in-memory table of deadlines (epoch seconds from the injected
clock), keyed by what they are about, so setting a timer again replaces it and
a cancelled one never fires. `due(now)` pops what has expired, soonest first;
the service's tick feeds them back as events. A cancelled or replaced timer
leaves a stale heap entry until its time; when those outnumber the live ones
the heap is rebuilt, so it stays proportional to the live timers (re-decisions
set 10 minutes ahead for every call that waited would otherwise pile up).
Ring and wrap-up timers are also stored in Redis (`persistent`), so a restarted
engine keeps them; re-decisions are recomputed after a restart instead.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass
from enum import StrEnum

from core.compact_json import compact_json


class TimerKind(StrEnum):
    RING = "ring"  # agent: no OriginateResponse within ring timeout + grace
    WRAP = "wrap"  # agent: wrap-up is over
    RECHECK = "recheck"  # call: its decision can change by time alone (escalation, max wait)
    HOLD = "hold"  # agent: held for an outbound call the dialer never handed over (safety net)


@dataclass(frozen=True, slots=True)
class Timer:
    kind: TimerKind
    subject: str  # agent id (ring, wrap) or call id (recheck)
    at: float
    call_id: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.subject}"

    @property
    def persistent(self) -> bool:
        return self.kind is not TimerKind.RECHECK

    def dump(self) -> str:
        return compact_json({"at": self.at, "call_id": self.call_id})

    @classmethod
    def load(cls, key: str, raw: str | bytes) -> Timer:
        """Raises ValueError (or KeyError/TypeError) on a malformed entry."""
        kind, _, subject = key.partition(":")
        data = json.loads(raw)
        return cls(TimerKind(kind), subject, float(data["at"]), str(data.get("call_id", "")))


COMPACT_SLACK = 64


class Timers:
    def __init__(self) -> None:
        self._by_key: dict[str, Timer] = {}
        self._heap: list[tuple[float, str]] = []

    def set(self, timer: Timer) -> None:
        self._by_key[timer.key] = timer
        heapq.heappush(self._heap, (timer.at, timer.key))
        if len(self._heap) > 2 * len(self._by_key) + COMPACT_SLACK:
            self._heap = [(t.at, key) for key, t in self._by_key.items()]
            heapq.heapify(self._heap)

    @property
    def heap_size(self) -> int:
        """Heap entries, stale ones included (bounded by twice the live timers plus a slack)."""
        return len(self._heap)

    def cancel(self, kind: TimerKind, subject: str) -> Timer | None:
        return self._by_key.pop(f"{kind}:{subject}", None)

    def cancel_key(self, key: str) -> Timer | None:
        return self._by_key.pop(key, None)

    def get(self, kind: TimerKind, subject: str) -> Timer | None:
        return self._by_key.get(f"{kind}:{subject}")

    def get_key(self, key: str) -> Timer | None:
        return self._by_key.get(key)

    def persistent(self) -> list[Timer]:
        return [t for t in self._by_key.values() if t.persistent]

    def clear(self) -> None:
        self._by_key.clear()
        self._heap.clear()

    def due(self, now: float) -> list[Timer]:
        """Expired timers, soonest first; each is removed (stale heap entries are skipped)."""
        fired: list[Timer] = []
        while self._heap and self._heap[0][0] <= now:
            at, key = heapq.heappop(self._heap)
            timer = self._by_key.get(key)
            if timer is not None and timer.at == at:
                del self._by_key[key]
                fired.append(timer)
        return fired

    def __len__(self) -> int:
        return len(self._by_key)
