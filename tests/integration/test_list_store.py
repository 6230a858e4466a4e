"""The blacklist store against a real private Redis: internal list, packed lists, their audit trail."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from core.errors import NotFoundError, ValidationFailedError
from dialer.dialer_keys import DialerKeys
from dialer.lists.packed import BucketBuilder
from dialer.lists.store import (
    InternalList,
    ListBusyError,
    PackedStore,
    campaign_list,
    check_list_name,
    e164_digits,
)
from switchboard.private_redis import PrivateRedis

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
KEYS = DialerKeys()


async def _audit(redis: aioredis.Redis) -> list[dict[str, str]]:
    entries: Any = await redis.xrange(KEYS.audit_blacklist)
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]


async def test_internal_add_and_remove_are_audited(redis_client: aioredis.Redis) -> None:
    internal = InternalList(redis_client)
    assert await internal.add("+36301234567", reason="do_not_call disposition", actor="agent:17", now=NOW)
    assert not await internal.add("+36301234567", reason="again", actor="agent:18", now=NOW)
    entry = await internal.get("+36301234567")
    assert entry is not None and entry.reason == "do_not_call disposition" and entry.actor == "agent:17"
    assert await internal.count() == 1
    assert [e.number async for e in internal.export()] == ["+36301234567"]
    assert await internal.remove("+36301234567", reason="customer consented", actor="supervisor:2", now=NOW)
    assert not await internal.remove("+36301234567", reason="twice", actor="supervisor:2", now=NOW)
    assert await internal.get("+36301234567") is None
    audit = await _audit(redis_client)
    assert [(a["action"], a["actor"], a["reason"]) for a in audit] == [
        ("add", "agent:17", "do_not_call disposition"),
        ("remove", "supervisor:2", "customer consented"),
    ]
    assert audit[0]["number"] == "+36301234567" and audit[0]["at"] == NOW.isoformat()


@pytest.mark.parametrize(
    ("number", "reason", "actor"), [("+3630123", "", "a"), ("+3630123", "r", " "), ("0630", "r", "a")]
)
async def test_internal_changes_need_a_reason_an_actor_and_e164(
    redis_client: aioredis.Redis, number: str, reason: str, actor: str
) -> None:
    with pytest.raises(ValidationFailedError):
        await InternalList(redis_client).add(number, reason=reason, actor=actor, now=NOW)
    assert await redis_client.exists(KEYS.blacklist_internal) == 0


async def test_campaign_list_add_remove_export_drop(redis_client: aioredis.Redis) -> None:
    store = PackedStore(redis_client)
    name = campaign_list("spring-2026")
    assert await store.add(name, ["+36301234567", "+48601234567", "+36301234567"]) == 2
    assert await store.add(name, ["+48601234567", "+442079460018"]) == 1
    assert await store.count(name) == 3
    assert await store.contains_many(name, ["+36301234567", "+36301234568", "+442079460018"]) == [
        True,
        False,
        True,
    ]
    assert sorted([n async for n in store.export(name)]) == ["+36301234567", "+442079460018", "+48601234567"]
    assert await store.remove(name, ["+36301234567", "+36309999999"]) == 1
    assert await store.count(name) == 2
    assert await store.names() == [name]
    assert await store.drop(name, actor="supervisor:2", reason="campaign over", now=NOW)
    assert await store.names() == []
    with pytest.raises(NotFoundError):
        await store.count(name)
    assert await store.contains_many(name, ["+48601234567"]) == [False]
    assert (await _audit(redis_client))[-1]["action"] == "drop"


async def test_packed_store_is_exact_on_random_sets(redis_client: aioredis.Redis) -> None:
    rng = random.Random(11)
    members = {f"+36{rng.choice((20, 30, 70))}{rng.randrange(10**7):07d}" for _ in range(20_000)}
    members |= {f"+48{rng.randrange(5 * 10**8, 9 * 10**8)}" for _ in range(5_000)}
    store = PackedStore(redis_client)
    assert await store.add("hu-test", sorted(members)) == len(members)
    others = {f"+36{rng.choice((20, 30, 70))}{rng.randrange(10**7):07d}" for _ in range(20_000)} - members
    probe = sorted(members) + sorted(others)
    answers = await store.contains_many("hu-test", probe)
    assert answers == [True] * len(members) + [False] * len(others)
    assert await store.count("hu-test") == len(members)


async def test_concurrent_merges_lose_nothing(redis_client: aioredis.Redis) -> None:
    """Bucket compare-and-set: two writers on the same buckets both land, the count stays exact."""
    store = PackedStore(redis_client)
    rng = random.Random(5)
    first = [f"+3630{rng.randrange(10**7):07d}" for _ in range(3000)]
    second = [f"+3630{rng.randrange(10**7):07d}" for _ in range(3000)]

    async def merge(numbers: list[str]) -> int:
        builder = BucketBuilder()
        builder.add(e164_digits(numbers))
        return await store.merge("hu-test", list(builder.buckets()))

    added = await asyncio.gather(merge(first), merge(second))
    union = set(first) | set(second)
    assert sum(added) == len(union)
    assert await store.count("hu-test") == len(union)
    assert all(await store.contains_many("hu-test", sorted(union)))


async def test_one_change_at_a_time_per_list(redis_client: aioredis.Redis) -> None:
    store = PackedStore(redis_client)
    async with store.lock("hu-test"):
        with pytest.raises(ListBusyError):
            await store.add("hu-test", ["+36301234567"])
        await store.add("pl-test", ["+48601234567"])  # another list is not blocked
    assert await store.add("hu-test", ["+36301234567"]) == 1


def test_list_names() -> None:
    for good in ("hu-robinson", "pl-psmb", "us.dnc", "campaign:42", "campaign:Spring_2026"):
        assert check_list_name(good) == good
    for bad in ("internal", "", "HU", "hu robinson", "campaign:", "x" * 70, "a:b"):
        with pytest.raises(ValidationFailedError):
            check_list_name(bad)


async def test_refuses_a_decoding_client(redis_server: PrivateRedis) -> None:
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        with pytest.raises(ValidationFailedError):
            PackedStore(client)
    finally:
        await client.aclose()


async def test_contains_many_refuses_non_e164(redis_client: aioredis.Redis) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        await PackedStore(redis_client).contains_many("hu-test", ["+36301234567", "06301234567", "+36 30"])
    assert [bad["index"] for bad in caught.value.details["invalid"]] == [1, 2]
