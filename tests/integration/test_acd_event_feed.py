"""Open screens cost the engine no Redis connection: one reader of the ACD's event stream per
engine, fanned out in memory (routing/acd/event_feed.py). Real Redis; the first test runs the real
engine (`Runtime`) with its own Redis client, the others an `AcdEvents` with its feed started as the
engine starts it. No sleeps: readers are tasks that wait for events published by the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from core.errors import StoreUnavailableError
from routing.acd.events import AcdEvent, AcdEvents
from switchboard.private_redis import PrivateRedis
from tests.support.console_harness import running_engine

READERS = 150  # more than the pool's 100 connections (redis-py's default)


def _ids(events: list[AcdEvent]) -> list[str]:
    return [e.id for e in events]


async def _publish(events: AcdEvents, count: int) -> list[str]:
    return [str(await events.publish("handover", "1001", {"call_id": f"c{n}"})) for n in range(count)]


@pytest.fixture
async def feed(redis_client: aioredis.Redis) -> AsyncIterator[AcdEvents]:
    events = AcdEvents(redis_client)
    events.start_feed()
    try:
        yield events
    finally:
        await events.aclose()


async def test_more_waiting_readers_than_pool_connections_leave_the_engine_its_redis(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    async with running_engine(redis_server, tmp_path) as engine:
        events, acd = engine.parts.acd.events, engine.parts.acd
        since = await events.last_id()
        readers = [asyncio.create_task(events.read(since, wait_s=20)) for _ in range(READERS)]
        await asyncio.sleep(0)  # one turn of the loop: every reader has started its wait
        clients = await redis_client.info("clients")
        async with asyncio.timeout(5):  # the engine's own work goes on at once
            published = await events.publish("handover", "1001", {"call_id": "c1"})
            assert published is not None, "the ACD's event went out"
            assert (await acd.login("1001")).state == "ready", "an ACD commit went through"
            assert await engine.parts.redis.ping()
        async with asyncio.timeout(10):
            got = await asyncio.gather(*readers, return_exceptions=True)
        assert all(not isinstance(r, BaseException) and _ids(r) == [published] for r in got), {
            type(r).__name__ if isinstance(r, BaseException) else str(_ids(r)) for r in got
        }
        assert clients["blocked_clients"] <= 1, "one blocking read (the feed's), whatever the screens"
        assert clients["connected_clients"] < 20, f"{clients['connected_clients']} connections for {READERS}"


async def test_readers_resume_by_id_from_memory_and_from_redis(
    redis_client: aioredis.Redis,
) -> None:
    old = await _publish(AcdEvents(redis_client), 3)  # before the engine (and its feed) started
    events = AcdEvents(redis_client)
    events.start_feed()
    try:
        waiting = asyncio.create_task(events.read(old[-1], wait_s=20))
        new = await _publish(events, 5)
        assert _ids(await waiting)[0] == new[0], "a waiting reader returns on the first event"
        assert _ids(await events.read("0", count=1000, wait_s=5)) == old + new, "since=0: the oldest"
        assert _ids(await events.read(old[0], count=1000, wait_s=5)) == old[1:] + new, "from before the feed"
        assert _ids(await events.read(new[1], count=1000, wait_s=5)) == new[2:], "since is exclusive"
        assert _ids(await events.read(new[0], count=2, wait_s=5)) == new[1:3], "count honoured"
        assert _ids(await events.read(new[-1], wait_s=0)) == [], "no wait: nothing newer, at once"
        assert _ids(await events.read("$", wait_s=0.05)) == [], "$: only new ones"
    finally:
        await events.aclose()


async def test_a_reader_waits_its_time_and_its_cancel_stops_the_wait(feed: AcdEvents) -> None:
    last = await feed.last_id()
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await feed.read(last, wait_s=0.2) == []
    assert loop.time() - start >= 0.2, "wait_s honoured"
    reader = asyncio.create_task(feed.read(last, wait_s=20))
    await asyncio.sleep(0)
    reader.cancel()
    async with asyncio.timeout(2):
        with pytest.raises(asyncio.CancelledError):
            await reader
    published = await _publish(feed, 1)
    assert _ids(await feed.read(last, wait_s=5)) == published, "the others still get theirs"


async def test_stopping_the_feed_lets_every_waiting_reader_go(redis_client: aioredis.Redis) -> None:
    events = AcdEvents(redis_client)
    events.start_feed()
    last = await events.last_id()
    readers = [asyncio.create_task(events.read(last, wait_s=30)) for _ in range(10)]
    await asyncio.sleep(0)
    await events.aclose()
    async with asyncio.timeout(5):
        assert await asyncio.gather(*readers) == [[]] * 10
    published = await _publish(events, 1)
    assert _ids(await events.read(last, wait_s=5)) == published, "a read after the stop still sees Redis"


async def test_a_redis_restart_fails_the_waiting_readers_and_the_feed_resumes_without_loss(
    own_redis: PrivateRedis,
) -> None:
    client = aioredis.Redis.from_url(own_redis.url, socket_timeout=2)
    events = AcdEvents(client)
    events.start_feed()
    try:
        before = await _publish(events, 2)
        seen = _ids(await events.read("0", wait_s=5))
        while seen[-1] != before[-1]:  # memory may answer once the feed has read only the first
            seen += _ids(await events.read(seen[-1], wait_s=5))
        assert seen == before
        readers = [asyncio.create_task(events.read(before[-1], wait_s=30)) for _ in range(5)]
        await asyncio.sleep(0)
        own_redis.stop()
        async with asyncio.timeout(10):
            failed = await asyncio.gather(*readers, return_exceptions=True)
        assert all(isinstance(r, StoreUnavailableError) for r in failed), "as their own XREAD did: a 503"
        with pytest.raises(StoreUnavailableError):
            await events.read(before[-1], wait_s=1)
        own_redis.start()
        resumed = [asyncio.create_task(events.read(before[-1], count=1000, wait_s=20)) for _ in range(5)]
        after = await _publish(events, 3)
        assert None not in after
        async with asyncio.timeout(20):
            got = await asyncio.gather(*resumed)
        for found in got:  # each returns on its first event; the rest follow by id
            seen = _ids(found)
            while seen[-1] != after[-1]:
                seen += _ids(await events.read(seen[-1], count=1000, wait_s=10))
            assert seen == after, "the events written after the restart, in order, none twice"
    finally:
        await events.aclose()
        await client.aclose()


async def test_a_dropped_feed_connection_fails_no_waiting_reader(
    feed: AcdEvents, redis_client: aioredis.Redis
) -> None:
    # A proxy's idle reset or a CLIENT KILL of the feed's one connection, with Redis up: the readers
    # read Redis themselves meanwhile, and still get the next event.
    last = await feed.last_id()
    readers = [asyncio.create_task(feed.read(last, wait_s=20)) for _ in range(5)]
    await asyncio.sleep(0)
    blocked: list[dict[str, object]] = []
    async with asyncio.timeout(5):
        while not blocked:  # the feed's XREAD BLOCK shows in CLIENT LIST once it is sent
            blocked = [c for c in await redis_client.client_list() if c.get("cmd") == "xread"]
    await redis_client.client_kill_filter(_id=str(blocked[0]["id"]))
    published = await _publish(feed, 1)
    async with asyncio.timeout(10):
        got = await asyncio.gather(*readers, return_exceptions=True)
    assert all(not isinstance(r, BaseException) and _ids(r) == published for r in got), got


async def test_events_published_within_the_gather_time_come_in_one_read(redis_client: aioredis.Redis) -> None:
    """A busy ACD publishes several events a call; the feed reads them together, not one round trip
    each (the gather time is long here, so the test's publishes fall in it however busy the machine)."""
    events = AcdEvents(redis_client)
    events.start_feed(gather_s=1.0)
    try:
        first = asyncio.create_task(events.read(await events.last_id(), wait_s=10))
        [one] = await _publish(events, 1)
        assert _ids(await first) == [one]  # the feed read it and now gathers
        before = (await redis_client.info("commandstats"))["cmdstat_xread"]["calls"]
        rest = await _publish(events, 9)
        seen: list[str] = []
        while len(seen) < len(rest):
            seen += _ids(await events.read(seen[-1] if seen else one, count=100, wait_s=10))
        reads = (await redis_client.info("commandstats"))["cmdstat_xread"]["calls"] - before
    finally:
        await events.aclose()
    assert seen == rest, "every event, in order, none twice"
    assert reads == 1, f"{reads} reads of the stream for 9 events published together"
