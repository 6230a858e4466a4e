"""core/lease.py on a real Redis: one owner at a time, a new token at every acquisition, local
expiry on a monotonic clock, and fenced writes that a stale owner cannot make."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from core.errors import NotOwnerError, ValidationFailedError
from core.lease import FencedBatch, FencedScript, Lease, LeaseMetrics

pytestmark = pytest.mark.integration
KEY = "t:owner"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lease(
    redis: aioredis.Redis, engine_id: str, clock: Clock | None = None, metrics: LeaseMetrics | None = None
) -> Lease:
    return Lease(
        redis, KEY, engine_id=engine_id, role="acd", ttl_s=3.0, renew_s=1.0, monotonic=clock or Clock(),
        metrics=metrics,
    )  # fmt: skip


async def test_one_owner_a_new_token_per_acquisition_and_failovers_counted(
    redis_client: aioredis.Redis,
) -> None:
    registry = CollectorRegistry()
    one, two = lease(redis_client, "e1"), lease(redis_client, "e2", metrics=LeaseMetrics(registry))
    changes: list[bool] = []
    two.on_change(changes.append)
    assert await one.acquire() and not await two.acquire()
    assert (one.token, two.token) == (1, None) and await one.holder() == "e1"
    assert await one.acquire() and one.token == 1, "a renewal keeps the token"
    assert 2900 < await redis_client.pttl(KEY) <= 3000

    await redis_client.delete(KEY)  # e1 stopped renewing: its lease ran out
    assert await two.acquire() and two.token == 2
    assert not await one.acquire() and not one.owned, "e1 learns it lost the lease"
    assert changes == [True]
    assert registry.get_sample_value("switchboard_owner", {"role": "acd", "engine": "e2"}) == 1
    assert registry.get_sample_value("switchboard_owner_failovers_total", {"role": "acd"}) == 1

    await two.release()
    assert changes == [True, False] and await two.holder() is None
    assert registry.get_sample_value("switchboard_owner", {"role": "acd", "engine": "e2"}) == 0
    lost = registry.get_sample_value("switchboard_owner_lost_total", {"role": "acd"})
    assert not lost, "a clean stop gives the role up: it is not a loss an alert should see"
    assert await one.acquire() and one.token == 3


async def test_ownership_ends_locally_before_redis_lets_the_lease_run_out(
    redis_client: aioredis.Redis,
) -> None:
    clock = Clock()
    one = lease(redis_client, "e1", clock)
    assert await one.acquire() and one.owned
    clock.now += 2.4
    assert one.owned
    clock.now += 0.2  # 2.6 s > TTL - renew/2: it stops acting while Redis still holds its key
    assert not one.owned and await one.holder() == "e1"
    with pytest.raises(NotOwnerError):
        one.fence_value()


async def test_fenced_writes_run_for_the_owner_and_write_nothing_for_a_stale_one(
    redis_client: aioredis.Redis,
) -> None:
    one = lease(redis_client, "e1")
    await one.acquire()
    await redis_client.set("t:gone", "x")
    batch = FencedBatch()
    batch.set("t:s", "v", ex=60)
    batch.sadd("t:set", "a", "b")
    batch.srem("t:set", "a")
    batch.zadd("t:z", {"c1": 1.5, "c2": 0.25})
    batch.zrem("t:z", "c1")
    batch.hset("t:h", {f"f{i}": str(i) for i in range(1200)})  # more fields than one op carries
    batch.hdel("t:h", "f0")
    batch.delete("t:gone")
    await one.write(batch)
    assert await redis_client.get("t:s") == b"v" and 0 < await redis_client.ttl("t:s") <= 60
    assert await redis_client.smembers("t:set") == {b"b"}
    assert await redis_client.zrange("t:z", 0, -1, withscores=True) == [(b"c2", 0.25)]
    assert await redis_client.hlen("t:h") == 1199 and not await redis_client.exists("t:gone")

    await redis_client.delete(KEY)
    two = lease(redis_client, "e2")
    await two.acquire()
    stale = FencedBatch()
    stale.set("t:s", "stale")
    script = FencedScript(redis_client, "redis.call('SET', KEYS[1], ARGV[1]) return 1", one)
    with pytest.raises(NotOwnerError):
        await script(["t:s"], ["stale"])
    assert not one.owned, "the refusal tells it it lost the role"
    with pytest.raises(NotOwnerError):
        await one.write(stale)
    assert await redis_client.get("t:s") == b"v", "nothing written"
    assert await FencedScript(redis_client, "return redis.call('GET', KEYS[1])", two)(["t:s"], []) == b"v"


async def test_a_standby_takes_the_lease_on_its_timer_once_the_owner_stops_renewing(
    redis_client: aioredis.Redis,
) -> None:
    one = Lease(redis_client, KEY, engine_id="e1", role="acd", ttl_s=0.6, renew_s=0.1)
    two = Lease(redis_client, KEY, engine_id="e2", role="acd", ttl_s=0.6, renew_s=0.1)
    taken = asyncio.Event()
    two.on_change(lambda owned: taken.set() if owned else None)
    await one.acquire()
    one.start()
    two.start()
    try:
        with pytest.raises(TimeoutError):  # renewed on its timer: the standby never gets it
            async with asyncio.timeout(1.0):
                await taken.wait()
        await one.stop(release=False)  # a crash: the key stays until its TTL
        async with asyncio.timeout(0.6 + 0.1 + 0.5):
            await taken.wait()
        assert two.owned and await two.holder() == "e2"
    finally:
        await two.stop()


def test_renewal_must_come_before_expiry(redis_client: aioredis.Redis) -> None:
    with pytest.raises(ValidationFailedError):
        Lease(redis_client, KEY, engine_id="e1", role="acd", ttl_s=1.0, renew_s=1.0)
    with pytest.raises(ValidationFailedError):
        Lease(redis_client, KEY, engine_id="", role="acd")


async def test_an_owner_that_lapsed_knows_whether_anybody_owned_meanwhile(
    redis_client: aioredis.Redis,
) -> None:
    clock = Clock()
    one, two = lease(redis_client, "e1", clock), lease(redis_client, "e2")
    changes: list[bool] = []
    one.on_change(changes.append)
    assert await one.acquire() and one.continues is None, "a first ownership continues nothing"
    clock.now += 10  # frozen, or Redis unreachable: it lapsed, but its value is still in the key
    assert not one.owned
    assert await one.acquire() and (one.token, one.continues) == (1, 1)
    assert changes == [True, True], "owning again after a lapse is news (events went unhandled)"

    await redis_client.delete(KEY)  # the key ran out; nobody took it: the next token is its own
    assert await one.acquire() and (one.token, one.continues) == (2, 1)

    await redis_client.delete(KEY)
    assert await two.acquire()
    await redis_client.delete(KEY)
    assert await one.acquire() and (one.token, one.continues) == (4, None), "e2 owned in between"


class CancelSwallowingLease(Lease):
    """A renewal that loses its cancel the way redis-py's wait_for can on Python 3.11: the
    command finishes at the moment the cancel lands, and the CancelledError never surfaces."""

    renewals = 0
    in_renewal: asyncio.Event

    async def acquire(self) -> bool:
        self.renewals += 1
        self.in_renewal.set()
        with contextlib.suppress(asyncio.CancelledError):  # swallowed
            await asyncio.sleep(30)  # the command in flight
        return await super().acquire()


async def test_a_stop_ends_the_renewals_even_when_a_command_swallowed_the_cancel(
    redis_client: aioredis.Redis,
) -> None:
    """Before: the renewal loop went on after its stop (and a test teardown awaiting it hung)."""
    one = CancelSwallowingLease(redis_client, KEY, engine_id="e1", role="acd", ttl_s=0.6, renew_s=0.1)
    one.in_renewal = asyncio.Event()
    one.start()
    await asyncio.wait_for(one.in_renewal.wait(), 5)
    task = one._task
    await one.stop(release=False)
    assert task is not None and task.done(), "the renewal task ended with the stop"
    renewals = one.renewals
    await asyncio.sleep(0.3)  # three renewal periods: a loop still running would renew again
    assert one.renewals == renewals


async def test_the_engine_that_took_the_lease_knows_whom_from_while_it_owns(
    redis_client: aioredis.Redis,
) -> None:
    """What the dialer's takeover relies on: the previous owner is named (its token now fences it)
    as long as this ownership lasts; nobody is named for a first acquisition or a renewal of one's own."""
    clock = Clock()
    one, two = lease(redis_client, "engine-a"), lease(redis_client, "engine-b", clock)
    assert await one.acquire() and one.superseded() == (), "nobody owned before"
    await redis_client.delete(KEY)  # its TTL ran out (engine-a died)
    assert await two.acquire()
    assert two.superseded() == ("engine-a",)
    assert await two.acquire() and two.superseded() == ("engine-a",), "a renewal keeps it"
    assert one.superseded() == ()
    clock.now += 10.0  # engine-b's ownership lapses locally: it can no longer vouch for anything
    assert not two.owned and two.superseded() == ()


async def test_a_confirm_from_a_mark_reads_the_lease_unless_a_fenced_write_passed_after_the_mark(
    redis_client: aioredis.Redis,
) -> None:
    """`confirm(since=mark)` (the pacer's, after the ACD's hold): a fenced write sent after the mark
    that Redis let through is the confirmation, no command more; one sent before the mark, or
    under an earlier ownership, is not, and the lease is read."""
    one = lease(redis_client, "engine-1")
    assert await one.acquire()
    write = FencedScript(redis_client, "redis.call('SET', KEYS[1], ARGV[1]) return 1", one)
    await write(["t:s"], ["v"])  # passed, but before the mark
    mark = one.mark()
    await redis_client.set(KEY, "99:engine-2")  # taken behind engine-1's back (a pause)
    with pytest.raises(NotOwnerError):
        await one.confirm(since=mark)  # read: the write before the mark confirms nothing
    assert not one.owned

    await redis_client.delete(KEY)
    assert await one.acquire()
    mark = one.mark()
    await write(["t:s"], ["w"])  # passed after the mark: Redis held this engine's value then
    await redis_client.set(KEY, "99:engine-2")
    await one.confirm(since=mark)  # no read: what the write found is the confirmation
    with pytest.raises(NotOwnerError):
        await one.confirm()  # without a mark the lease is always read
    with pytest.raises(NotOwnerError):
        one.mark()  # not owned locally: no mark, nothing to confirm from

    await redis_client.delete(KEY)
    assert await one.acquire()  # a new ownership: the write under the last one counts no more
    await redis_client.set(KEY, "99:engine-2")
    with pytest.raises(NotOwnerError):
        await one.confirm(since=mark)
