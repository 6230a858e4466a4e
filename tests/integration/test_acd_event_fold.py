"""The ACD's stream events go to Redis with the commit of the state they describe (one round trip):
the fenced script writes both or, for a stale owner, neither; the entry is the one `publish` writes,
and the stream stays capped."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis.asyncio as aioredis

from core.errors import NotOwnerError
from core.lease import Lease
from routing.acd.acd_keys import AcdKeys
from routing.acd.events import MAX_EVENTS, AcdEvents, StreamEntry
from routing.acd.store import AcdStore, Change
from routing.agents import AgentState, AgentStatus

pytestmark = pytest.mark.integration
KEYS = AcdKeys()
DATA = {"call_id": "c1", "case_id": "20250616-000001", "queue": "sales", "wait": 1.5, "name": "Zoë"}


def owner(redis: aioredis.Redis, engine_id: str) -> Lease:
    return Lease(redis, KEYS.owner, engine_id=engine_id, role="acd", ttl_s=3.0, renew_s=1.0)


async def entries(redis: aioredis.Redis) -> list[dict[Any, Any]]:
    return [dict(fields or {}) for _id, fields in await redis.xrange(KEYS.events) or []]


async def test_a_fenced_commit_writes_its_events_and_a_stale_owner_writes_neither(
    redis_client: aioredis.Redis,
) -> None:
    one = owner(redis_client, "e1")
    assert await one.acquire()
    store = AcdStore(redis_client, KEYS, lease=one)
    talking = AgentStatus("a1", AgentState.BUSY, 100.0, 100.0, call_id="c1")
    await store.commit(Change(statuses=[talking], events=[StreamEntry("handover", "a1", DATA)]))
    assert await redis_client.get(KEYS.agent_status("a1")) is not None
    folded_entry = await entries(redis_client)

    await AcdEvents(redis_client, KEYS).publish("handover", "a1", DATA)  # the entry on its own, as before
    written = await entries(redis_client)
    assert len(written) == 2 and written[0] == written[1], "byte for byte the entry publish writes"
    assert written[0][b"type"] == b"handover" and json.loads(written[0][b"data"]) == DATA
    assert folded_entry == written[:1]

    await redis_client.delete(KEYS.owner)  # e1's lease ran out; e2 owns the ACD now
    assert await owner(redis_client, "e2").acquire()
    ready = AgentStatus("a2", AgentState.READY, 100.0, 100.0)
    with pytest.raises(NotOwnerError):
        await store.commit(Change(statuses=[ready], events=[StreamEntry("ended", "a2", DATA)]))
    assert await redis_client.get(KEYS.agent_status("a2")) is None, "no state from a stale owner"
    assert len(await entries(redis_client)) == 2, "and no event either"


async def test_a_commit_without_a_lease_writes_its_events_in_its_transaction(
    redis_client: aioredis.Redis,
) -> None:
    store = AcdStore(redis_client, KEYS)
    await store.commit(Change(events=[StreamEntry("ended", "a1", DATA), StreamEntry("abandoned", "", DATA)]))
    assert [e[b"type"] for e in await entries(redis_client)] == [b"ended", b"abandoned"], "in order"


async def test_the_stream_stays_capped_when_events_ride_with_commits(redis_client: aioredis.Redis) -> None:
    one = owner(redis_client, "e1")
    assert await one.acquire()
    many = [StreamEntry("ended", "a1", {"n": n}) for n in range(MAX_EVENTS + 500)]
    await AcdStore(redis_client, KEYS, lease=one).commit(Change(events=many))
    assert MAX_EVENTS <= await redis_client.xlen(KEYS.events) < MAX_EVENTS + 500, "MAXLEN ~ trims it"
