"""The newest ACD events kept in memory, to answer a read "after id X" without Redis (pure).

Owned here: which reads the memory may answer. The tail holds every event of the stream after its
`base` id up to its `last` id, in stream order (event_feed.py appends each batch it reads with
XREAD from `last`, so none is skipped). A read after an id at or past `base` is answered here; one
from further back (`0`, a client far behind) is not (None): only Redis still has those.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

StreamId = tuple[int, int]


class HasId(Protocol):
    @property
    def id(self) -> str: ...


E = TypeVar("E", bound=HasId)


def parse_id(entry_id: str) -> StreamId:
    """`<ms>-<seq>` as numbers to compare; `<ms>` alone is `<ms>-0`, as XREAD reads it."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class EventTail(Generic[E]):
    """At most about `size` events (up to twice that between two trims), the newest ones."""

    def __init__(self, start: str, size: int) -> None:
        self.base: StreamId = parse_id(start)
        self.last = start
        self._size = max(1, size)
        self._keys: list[StreamId] = []
        self._events: list[E] = []

    def __len__(self) -> int:
        return len(self._events)

    def add(self, events: Sequence[E]) -> None:
        """Events read after `last`, oldest first."""
        for event in events:
            self._keys.append(parse_id(event.id))
            self._events.append(event)
        if events:
            self.last = events[-1].id
        if len(self._events) > 2 * self._size:  # trim in steps: one list shift per `size` events
            drop = len(self._events) - self._size
            self.base = self._keys[drop - 1]
            del self._keys[:drop], self._events[:drop]

    def after(self, since: str, count: int) -> list[E] | None:
        """The first `count` events after `since` (exclusive); None when `since` is older than the
        tail (the events right after it may have left memory)."""
        key = parse_id(since)
        if key < self.base:
            return None
        start = bisect_right(self._keys, key)
        return self._events[start : start + max(count, 0)]
