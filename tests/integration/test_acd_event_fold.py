"""The ACD's stream events never go out before the state they describe (state_writes.py): the store
writes a commit's events last, in its round trip (a stale owner writes neither, the stream stays
capped); a step's events wait for its next commit or its end; an event describing a commit's change
rides in it, memory mirrored first; refused commits keep today's outcome for each kind; and the
console's `handover` is read only once the agent is busy, in Redis and in the memory the API reads.

Real Redis; the last test runs a real call through the simulated PBX over AMI."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from core.errors import NotOwnerError
from core.lease import Lease
from pbx.client import AmiSettings
from pbx.sim import AgentPhone
from routing.acd import AcdMetrics, AcdService
from routing.acd.acd_keys import AcdKeys
from routing.acd.calls import ActiveCall, CallFacts
from routing.acd.events import MAX_EVENTS, AcdEvents, StreamEntry
from routing.acd.store import AcdStore, Change
from routing.acd.timers import Timer, TimerKind
from routing.agents import AgentState, AgentStatus
from routing.queue import WaitingCall
from switchboard.engine import Engine
from switchboard.metrics import create_metrics
from tests.support.acd_harness import (
    Stack,
    acd_stack,
    agent,
    base_rules,
    make_rules,
    running_engine,
    running_sim,
    sim_config,
)

pytestmark = pytest.mark.integration
KEYS = AcdKeys()
DATA = {"call_id": "c1", "case_id": "20250616-000001", "queue": "sales", "wait": 1.5, "name": "Zoë"}
RULES = make_rules(base_rules(agents=[agent("a1", "PJSIP/2001", tech=2)]))


def owner(redis: aioredis.Redis, engine_id: str) -> Lease:
    return Lease(redis, KEYS.owner, engine_id=engine_id, role="acd", ttl_s=3.0, renew_s=1.0)


async def fenced_acd(redis: aioredis.Redis, taken_by: str = "") -> AcdService:
    """An ACD fenced by engine e1's lease, its engine never started (commits and events only); the
    lease then taken by `taken_by`, if given."""
    one = owner(redis, "e1")
    assert await one.acquire()
    metrics = create_metrics(CollectorRegistry(), process=False)
    engine = Engine(AmiSettings("127.0.0.1", 1, "switchboard", "x"), metrics)  # never started
    acd = AcdService(redis, engine.client, RULES, AcdMetrics(CollectorRegistry()), lease=one)
    if taken_by:
        await redis.delete(KEYS.owner)
        assert await owner(redis, taken_by).acquire()
    return acd


async def entries(redis: aioredis.Redis) -> list[dict[Any, Any]]:
    return [dict(fields or {}) for _id, fields in await redis.xrange(KEYS.events) or []]


async def kinds(redis: aioredis.Redis) -> list[bytes]:
    return [e[b"type"] for e in await entries(redis)]


def busy(agent_id: str) -> AgentStatus:
    return AgentStatus(agent_id, AgentState.BUSY, 100.0, 100.0, call_id="c1")


async def test_a_fenced_commit_writes_its_events_and_a_stale_owner_writes_neither(
    redis_client: aioredis.Redis,
) -> None:
    one = owner(redis_client, "e1")
    assert await one.acquire()
    store = AcdStore(redis_client, KEYS, lease=one)
    await store.commit(Change(statuses=[busy("a1")], events=[StreamEntry("handover", "a1", DATA)]))
    assert await redis_client.get(KEYS.agent_status("a1")) is not None
    folded_entry = await entries(redis_client)

    await AcdEvents(redis_client, KEYS).publish("handover", "a1", DATA)  # the entry on its own
    written = await entries(redis_client)
    assert len(written) == 2 and written[0] == written[1], "byte for byte the entry publish writes"
    assert written[0][b"type"] == b"handover" and json.loads(written[0][b"data"]) == DATA
    assert folded_entry == written[:1]

    await redis_client.delete(KEYS.owner)  # e1's lease ran out; e2 owns the ACD now
    assert await owner(redis_client, "e2").acquire()
    with pytest.raises(NotOwnerError):
        await store.commit(Change(statuses=[busy("a2")], events=[StreamEntry("ended", "a2", DATA)]))
    assert await redis_client.get(KEYS.agent_status("a2")) is None, "no state from a stale owner"
    assert len(await entries(redis_client)) == 2, "and no event either"


async def test_a_commit_without_a_lease_writes_its_events_in_its_transaction_in_order(
    redis_client: aioredis.Redis,
) -> None:
    store = AcdStore(redis_client, KEYS)
    await store.commit(Change(events=[StreamEntry("ended", "a1", DATA), StreamEntry("abandoned", "", DATA)]))
    assert await kinds(redis_client) == [b"ended", b"abandoned"]
    await AcdEvents(redis_client, KEYS).publish_all([StreamEntry("x", "", {}), StreamEntry("y", "", {})])
    assert await kinds(redis_client) == [b"ended", b"abandoned", b"x", b"y"]


async def test_the_stream_stays_capped_when_events_ride_with_commits(redis_client: aioredis.Redis) -> None:
    one = owner(redis_client, "e1")
    assert await one.acquire()
    many = [StreamEntry("ended", "a1", {"n": n}) for n in range(MAX_EVENTS + 500)]
    await AcdStore(redis_client, KEYS, lease=one).commit(Change(events=many))
    assert MAX_EVENTS <= await redis_client.xlen(KEYS.events) < MAX_EVENTS + 500, "MAXLEN ~ trims it"


async def test_a_steps_events_wait_for_its_next_commit_or_its_end_in_order(
    redis_client: aioredis.Redis,
) -> None:
    async with acd_stack(redis_client, RULES) as s:
        writes, lock = s.acd.writes, s.acd.lock
        await writes.publish("outside", "", {})  # no step: written at once
        assert await kinds(redis_client) == [b"outside"]

        async with lock:
            await writes.commit(Change(statuses=[busy("a1")]))
            await writes.publish("handover", "a1", DATA)
            await writes.commit(Change())  # nothing to write: no round trip, the event stays held
            assert await kinds(redis_client) == [b"outside"], "held: the step may write more"
            await writes.publish("second", "a1", {})
            assert await kinds(redis_client) == [b"outside"]
        held = [b"outside", b"handover", b"second"]
        assert await kinds(redis_client) == held, "written at the step's end, in order"

        async with lock:
            await writes.publish("ended", "a1", DATA)
            ready = AgentStatus("a1", AgentState.READY, 101.0, 101.0)
            await writes.commit(Change(statuses=[ready]))
            assert (await kinds(redis_client))[-1] == b"ended", "written by the commit after it"
            stored = await redis_client.get(KEYS.agent_status("a1"))
            assert stored is not None and json.loads(stored)["state"] == "ready"
            writes.dirty = True  # Redis failing: events are skipped, as before
            await writes.publish("lost", "a1", {})
        writes.dirty = False
        assert await kinds(redis_client) == [b"outside", b"handover", b"second", b"ended"]


async def test_an_event_a_refused_commit_carried_is_written_as_the_step_ends(
    redis_client: aioredis.Redis,
) -> None:
    """As before the fold: an event published before a commit the fence refuses is in the stream (it
    was written at once, unfenced); one made after it, with memory ahead of Redis, is skipped."""
    acd = await fenced_acd(redis_client, taken_by="e2")
    with pytest.raises(NotOwnerError):
        async with acd.lock:
            await acd.writes.publish("ended", "a1", DATA)
            try:
                await acd.writes.commit(Change(statuses=[busy("a1")]))
            finally:
                await acd.writes.publish("after", "a1", {})
    assert await redis_client.get(KEYS.agent_status("a1")) is None, "the refused state is not written"
    assert await kinds(redis_client) == [b"ended"]
    assert acd.writes.dirty


async def test_an_event_carried_by_the_commit_it_describes_goes_with_it_memory_mirrored_first(
    redis_client: aioredis.Redis,
) -> None:
    async with acd_stack(redis_client, RULES) as s:
        writes, lock, seen = s.acd.writes, s.acd.lock, list[tuple[str, bool]]()
        store_commit = s.acd.ctx.store.commit

        async def commit(change: Change) -> None:  # what memory says as the change goes to Redis
            seen.append((str(s.acd.ctx.state.status("a1").state), bool(change.events)))
            await store_commit(change)

        s.acd.ctx.store.commit = commit  # type: ignore[method-assign]
        async with lock:
            await writes.publish("before", "", {})
            writes.carry([StreamEntry("handover", "a1", DATA)])
            await writes.commit(Change(statuses=[busy("a1")]))
            assert not writes.carried_left()
            assert await kinds(redis_client) == [b"before", b"handover"], "in its commit, in order"
            await writes.commit(Change(statuses=[AgentStatus("a1", AgentState.READY, 101.0, 101.0)]))
        assert seen == [("busy", True), ("busy", False)], "mirrored before a carrying write only"

        async with lock:
            writes.carry([StreamEntry("ended", "a1", DATA)])
            await writes.commit(Change())  # no write: it waits for the step's end like any event
            assert not writes.carried_left() and await kinds(redis_client) == [b"before", b"handover"]
        assert (await kinds(redis_client))[-1] == b"ended"


async def test_a_refused_commit_writes_neither_its_change_nor_the_events_it_carried(
    redis_client: aioredis.Redis,
) -> None:
    """As before the fold: the event after a refused commit was never published (the step stopped)."""
    acd = await fenced_acd(redis_client, taken_by="e2")
    with pytest.raises(NotOwnerError):
        async with acd.lock:
            await acd.writes.publish("earlier", "", {})
            acd.writes.carry([StreamEntry("handover", "a1", DATA)])
            await acd.writes.commit(Change(statuses=[busy("a1")]))
    assert await kinds(redis_client) == [b"earlier"], "the held event only, written as the step ended"
    assert await redis_client.get(KEYS.agent_status("a1")) is None


async def test_a_refused_carrying_commit_leaves_memory_as_it_was_so_the_resync_ends_the_call_again(
    redis_client: aioredis.Redis,
) -> None:
    """A carrying commit mirrors memory before its write; refused (the lease lapsed, nobody else took
    it), memory must be as if it was never tried: the call it ended still there, the agent's status
    and timers unchanged. Else the same engine, owning again, writes back a state without the call,
    and nothing ever ends its record or publishes `ended` (the review of the fold)."""
    acd = await fenced_acd(redis_client)
    facts = CallFacts("case-1", "c1", "PJSIP/trunk-00000001")
    talking = ActiveCall(WaitingCall("c1", "sales", "active", 40, (("tech", 2),), entered_at=1.0), facts)
    ring = Timer(TimerKind.RING, "a1", 150.0, "c1")
    async with acd.lock:
        await acd.writes.commit(Change(statuses=[busy("a1")], calls=[talking], timers=[ring]))
    await redis_client.delete(KEYS.owner)  # the lease lapsed; nobody else owns
    wrap = Timer(TimerKind.WRAP, "a1", 200.0, "c1")
    wrapping = AgentStatus("a1", AgentState.WRAP_UP, 120.0, 100.0)
    with pytest.raises(NotOwnerError):
        async with acd.lock:
            acd.writes.carry([StreamEntry("ended", "a1", DATA)])
            ended = Change(statuses=[wrapping], ended=[talking], timers=[wrap], cancelled_timers=[ring.key])
            await acd.writes.commit(ended)
    state, timers = acd.ctx.state, acd.ctx.timers
    assert state.status("a1") == busy("a1"), "the agent as before the refused write"
    assert state.calls.get("c1") == talking, "the call it would have ended is still there"
    assert timers.get_key(ring.key) == ring and timers.get_key(wrap.key) is None, "timers as before"
    assert acd.writes.dirty, "memory is marked ahead (the arrived calls' rule): written back on owning"
    assert await kinds(redis_client) == [], "no `ended` published for a change Redis never got"


@contextlib.asynccontextmanager
async def leased_stack(redis: aioredis.Redis) -> AsyncIterator[Stack]:
    """The ACD fenced by its lease, as `switchboard run` wires it: commits are one fenced script."""
    async with running_sim(sim_config(**{"2001": AgentPhone(answer_after_s=0.05)})) as sim:
        lease = owner(redis, "e1")
        assert await lease.acquire()
        async with running_engine(sim, redis, RULES, lease=lease) as stack:
            yield stack


async def test_the_handover_is_read_only_once_the_agent_is_busy_in_redis_and_in_memory(
    redis_client: aioredis.Redis,
) -> None:
    """The console's order: it blocks on the stream (XREAD BLOCK), and on the handover asks for the
    agent. Folded into the fenced commit that makes the agent busy, the event was read before the
    engine had mirrored that commit: the API still said `ringing` (the revert of 069a4a0). Three
    calls, so that a lucky order of the two replies cannot hide it."""
    async with leased_stack(redis_client) as s:
        await s.acd.login("a1")
        reader = AcdEvents(aioredis.Redis(connection_pool=redis_client.connection_pool), KEYS)
        for n in range(3):
            since = await s.acd.events.last_id()

            async def handover_then_agent() -> tuple[str, Any]:
                nonlocal since
                while True:
                    for event in await reader.read(since, wait_s=10):
                        if event.type == "handover":
                            in_memory = s.acd.agent("a1").state  # at once, as the console's next request
                            return in_memory, await redis_client.get(KEYS.agent_status("a1"))
                        since = event.id

            reading = asyncio.create_task(handover_then_agent())
            caller = f"+3630123456{n}"
            await s.sim.inbound_call(caller, "+3612345678", ivr_choice="2", patience_s=600, talk_s=0.05)
            async with asyncio.timeout(10):
                in_memory, in_redis = await reading
            assert in_memory == str(AgentState.BUSY), f"call {n}"
            assert in_redis is not None and json.loads(in_redis)["state"] == "busy", f"call {n}"
            await s.until_state("a1", AgentState.READY)  # hung up, wrapped up: ready for the next one
