"""The ACD's event stream in Redis (XADD), read by the API: case handover and the end of each call.

Owned here: the event shape. Kinds:
- `handover`: an agent answered; the case travels to them (call id, case id, tier,
  caller, IVR choice, queue, dialled number, wait, summary, agent)
- `abandoned`: the caller hung up while waiting or while an agent was rung
- `ended`: a connected call ended (talk time), the agent goes into wrap-up
- `routed_out`: the caller left the ACD to a dialplan exit (closed, max wait)
Each entry is `{type, agent_id, data: JSON}`; the stream is capped (MAXLEN ~)
so it never grows without bound. Publishing never breaks call handling: a
failure is logged and the call goes on. An event goes out in the commit of the
change it describes, or held for its step's next commit or end (state_writes.py:
never before the state it describes, in Redis or in the memory the API reads).
Reading: with the engine running (`start_feed`), a waiting read is served by one reader of the
stream per engine, fanned out in memory (event_feed.py): open consoles hold no Redis connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core.cancellation import raise_if_cancelling
from core.compact_json import compact_json
from core.errors import StoreUnavailableError, ValidationFailedError
from core.redis_cluster_support import connection_option
from routing.acd.acd_keys import AcdKeys
from routing.acd.event_feed import GATHER_S, EventFeed

log = logging.getLogger("switchboard.acd.events")

MAX_EVENTS = 10_000
MAX_WAIT_S = 30.0
SINCE_PATTERN = r"^(\$|[0-9]{1,20}(-[0-9]{1,20})?)$"
"""`0` (from the start), `$` (only new ones) or a stream id `<ms>-<seq>` (the API's schema too)."""


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """An event to append: alone (`publish_all`), or last in a commit (store.Change.events)."""

    kind: str
    agent_id: str
    data: Mapping[str, Any]

    def fields(self) -> dict[str, str]:
        return {
            "type": self.kind,
            "agent_id": self.agent_id,
            "data": compact_json(dict(self.data)),
        }


@dataclass(frozen=True, slots=True)
class AcdEvent:
    id: str
    type: str
    agent_id: str
    data: dict[str, Any]


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def check_since(since: str) -> str:
    """A stream id to read after: `0` (from the start), `$` (only new ones) or `<ms>-<seq>`."""
    if re.fullmatch(SINCE_PATTERN, since):
        return since
    raise ValidationFailedError("since must be a stream id like 1718000000000-0, 0 or $")


class AcdEvents:
    def __init__(self, redis: aioredis.Redis, keys: AcdKeys | None = None, *, max_events: int = MAX_EVENTS):
        self.redis = redis
        self.keys = keys or AcdKeys()
        self._max = max_events
        self._feed: EventFeed[AcdEvent] | None = None
        self._newest: asyncio.Future[str] | None = None  # the last_id read under way

    def start_feed(self, *, gather_s: float = GATHER_S) -> None:
        """Serve waiting reads from one reader of the stream (event_feed.py), until `aclose`."""
        if self._feed is None:
            chunk_s = self._block_chunk_s()
            self._feed = EventFeed(self._xread, self.last_id, chunk_s=chunk_s, gather_s=gather_s)
            self._feed.start()

    async def aclose(self) -> None:
        """Stop the feed: its waiting readers return; a later wait holds no Redis connection either."""
        if self._feed is not None:
            await self._feed.stop()

    async def publish(self, kind: str, agent_id: str, data: Mapping[str, Any]) -> str | None:
        """The new entry's id, or None when Redis failed (logged)."""
        fields = StreamEntry(kind, agent_id, data).fields()
        try:
            entry = await self.redis.xadd(self.keys.events, fields, maxlen=self._max, approximate=True)  # type: ignore[arg-type]
        except (RedisError, OSError) as exc:
            log.error("could not publish ACD event %s: %s", kind, exc, extra={"call_id": data.get("call_id")})
            return None
        return _text(entry)

    async def publish_all(self, entries: Sequence[StreamEntry]) -> bool:
        """`entries` in order, in one round trip (one: a plain XADD; more: one MULTI/EXEC); False when
        Redis failed (logged)."""
        if len(entries) == 1:
            one = entries[0]
            return await self.publish(one.kind, one.agent_id, one.data) is not None
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for entry in entries:
                    pipe.xadd(self.keys.events, entry.fields(), maxlen=self._max, approximate=True)  # type: ignore[arg-type]
                await pipe.execute()
        except (RedisError, OSError) as exc:
            kinds = ",".join(e.kind for e in entries)
            log.error("could not publish ACD events %s: %s", kinds, exc)
            return False
        return True

    async def read(self, since: str = "0", *, count: int = 100, wait_s: float = 0.0) -> list[AcdEvent]:
        """Events after `since`, oldest first; with `wait_s` > 0 wait that long for the first one.

        A long wait is cut into blocking reads shorter than the client's socket timeout (one
        XREAD blocking past it would fail as a Redis error). With the feed running, the wait is in
        memory; a read that does not wait is one XREAD, as without it (it sees what Redis has now)."""
        since = check_since(since)
        wait_s = min(max(wait_s, 0.0), MAX_WAIT_S)
        feed = self._feed
        if feed is None or wait_s == 0:
            return await self._read_direct(since, count, wait_s)
        if since == "$":  # only new ones: after the newest now
            since = await self.last_id()
        return await feed.read(since, count, wait_s, lambda: self._xread(since, count, None))

    async def _read_direct(self, since: str, count: int, wait_s: float) -> list[AcdEvent]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            remaining = deadline - loop.time()
            block = max(1, int(min(remaining, self._block_chunk_s()) * 1000)) if remaining > 0 else None
            events = await self._xread(since, count, block)
            if events or block is None or loop.time() >= deadline:
                return events
            raise_if_cancelling()  # a reader gone (its request cancelled) stops waiting

    def _block_chunk_s(self) -> float:
        timeout = connection_option(self.redis, "socket_timeout")
        return MAX_WAIT_S if not timeout else max(0.05, float(timeout) / 2)

    async def _xread(self, since: str, count: int, block: int | None) -> list[AcdEvent]:
        try:
            answer = await self.redis.xread({self.keys.events: since}, count=count, block=block)
        except (RedisError, OSError) as exc:
            raise StoreUnavailableError(f"Redis failed while reading ACD events: {exc}") from exc
        events: list[AcdEvent] = []
        for _stream, entries in cast(list[tuple[Any, list[tuple[Any, Any]]]], answer or []):
            events.extend(_event(entry_id, fields) for entry_id, fields in entries)
        return events

    async def last_id(self) -> str:
        """The id of the newest event, or `0` when there is none (a client starts reading from here).

        Callers at the same time share one XREVRANGE (screens reconnecting together after a restart
        make one round trip, not one each): a caller may get an id a little older than the newest
        at its call, so it may receive an event more, never one less."""
        pending = self._newest
        if pending is None:
            self._newest = pending = asyncio.ensure_future(self._last_id())
            pending.add_done_callback(self._newest_done)
        return await asyncio.shield(pending)  # one caller gone does not cancel the others' read

    def _newest_done(self, done: asyncio.Future[str]) -> None:
        if self._newest is done:
            self._newest = None
        if not done.cancelled():
            done.exception()  # retrieved here: every caller may have gone

    async def _last_id(self) -> str:
        try:
            newest = await self.redis.xrevrange(self.keys.events, count=1)
        except (RedisError, OSError) as exc:
            raise StoreUnavailableError(f"Redis failed while reading ACD events: {exc}") from exc
        entries = cast(list[tuple[bytes | str, Any]], newest or [])
        return _text(entries[0][0]) if entries else "0"


def _event(entry_id: bytes | str, fields: Mapping[bytes | str, bytes | str]) -> AcdEvent:
    values = {_text(k): _text(v) for k, v in fields.items()}
    try:
        data = json.loads(values.get("data", "{}"))
    except ValueError:
        data = {"raw": values.get("data", "")}
    return AcdEvent(_text(entry_id), values.get("type", ""), values.get("agent_id", ""), data)
