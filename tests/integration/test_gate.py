"""The dial gate against a real Redis: sources, audit, metrics, fail closed, batch checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from core.errors import StoreUnavailableError, ValidationFailedError
from dialer.dialer_keys import DialerKeys
from dialer.lists.gate import Gate, GateMetrics, Verdict
from dialer.lists.store import InternalList, PackedStore, campaign_list
from switchboard.private_redis import PrivateRedis, free_port

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
KEYS = DialerKeys()


def _gate(redis: aioredis.Redis, registry: CollectorRegistry, timeout: float = 1.0) -> Gate:
    return Gate(redis, GateMetrics(registry), default_region="HU", timeout=timeout)


def _blocked(registry: CollectorRegistry, source: str) -> float:
    return registry.get_sample_value("switchboard_dial_blocked_total", {"source": source}) or 0.0


async def _audit(redis: aioredis.Redis) -> list[dict[str, str]]:
    entries: Any = await redis.xrange(KEYS.audit_dial_blocked)
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]


@pytest.fixture
async def lists(redis_client: aioredis.Redis) -> aioredis.Redis:
    """internal: +36301111111; hu-robinson: +36302222222, +36301111111; campaign 7: +36303333333."""
    await InternalList(redis_client).add("+36301111111", reason="do_not_call", actor="agent:1", now=NOW)
    store = PackedStore(redis_client)
    await store.add("hu-robinson", ["+36302222222", "+36301111111"])
    await store.add("pl-psmb", ["+48601234567"])
    await store.add(campaign_list("7"), ["+36303333333"])
    return redis_client


async def test_sources(lists: aioredis.Redis) -> None:
    registry = CollectorRegistry()
    gate = _gate(lists, registry)
    check = gate.check
    assert await check("+36301111111", "7", "lead-1", now=NOW) == Verdict(
        allowed=False, sources=("internal", "hu-robinson"), number="+36301111111"
    )
    assert (await check("+36302222222", "7", "lead-2", now=NOW)).sources == ("hu-robinson",)
    assert (await check("+48601234567", None, None, now=NOW)).sources == ("pl-psmb",)
    assert (await check("+36303333333", "7", "lead-3", now=NOW)).sources == ("campaign:7",)
    assert (await check("+36303333333", "8", "lead-3", now=NOW)).allowed  # another campaign's list
    assert (await check("+36304444444", "7", "lead-4", now=NOW)) == Verdict(True, (), "+36304444444")
    assert _blocked(registry, "internal") == 1
    assert _blocked(registry, "hu-robinson") == 2
    assert _blocked(registry, "campaign") == 1
    assert registry.get_sample_value("switchboard_gate_checks_total", {"result": "allowed"}) == 2
    assert registry.get_sample_value("switchboard_gate_check_seconds_count") == 6


async def test_every_block_is_audited(lists: aioredis.Redis) -> None:
    gate = _gate(lists, CollectorRegistry())
    await gate.check("+36301111111", "7", "lead-1", now=NOW)
    await gate.check("+36304444444", "7", "lead-4", now=NOW)  # allowed: no record
    assert await _audit(lists) == [
        {
            "number": "+36301111111",
            "sources": "internal,hu-robinson",
            "campaign": "7",
            "lead": "lead-1",
            "at": NOW.isoformat(),
        }
    ]


async def test_blacklisted_at_dial_time(redis_client: aioredis.Redis) -> None:
    """Seed 001: the CRM re-sends 100 contacts as "allowed"; the gate never sees that flag."""
    gate = _gate(redis_client, CollectorRegistry())
    internal = InternalList(redis_client)
    numbers = [f"+3630{n:07d}" for n in range(1_000_000, 1_000_100)]
    assert all([(await gate.check(n, "7", f"lead-{n}", now=NOW)).allowed for n in numbers])
    for number in numbers:  # the advisors' "do not call" dispositions, one second before the dial
        await internal.add(number, reason="do_not_call disposition", actor="automation", now=NOW)
    verdicts = [await gate.check(n, "7", f"lead-{n}", now=NOW) for n in numbers]
    assert not any(v.allowed for v in verdicts)
    assert len(await _audit(redis_client)) == 100


async def test_not_e164_is_refused(redis_client: aioredis.Redis) -> None:
    registry = CollectorRegistry()
    gate = _gate(redis_client, registry)
    for number in ("06301234567", "+36 30 123 4567", "", "+1234567890123456"):
        verdict = await gate.check(number, "7", "lead", now=NOW)
        assert verdict == Verdict(False, ("invalid-number",), number)
    assert _blocked(registry, "invalid-number") == 4
    verdict = await gate.check("+36301234567", "spring 2026!", "lead", now=NOW)
    assert verdict == Verdict(False, ("invalid-campaign",), "+36301234567")



async def test_fail_closed_while_redis_is_stopped(own_redis: PrivateRedis) -> None:
    client = aioredis.Redis.from_url(own_redis.url)
    registry = CollectorRegistry()
    gate = _gate(client, registry, timeout=0.3)
    try:
        assert (await gate.check("+36301234567", "7", "lead", now=NOW)).allowed
        own_redis.pause()
        verdict = await gate.check("+36301234567", "7", "lead", now=NOW)
        assert verdict == Verdict(False, ("store-unavailable",), "+36301234567")
        own_redis.resume()
        assert (await gate.check("+36301234567", "7", "lead", now=NOW)).allowed
    finally:
        own_redis.resume()
        await client.aclose()
    assert _blocked(registry, "store-unavailable") == 1
    assert registry.get_sample_value("switchboard_gate_checks_total", {"result": "unavailable"}) == 1


async def test_fail_closed_when_redis_is_unreachable() -> None:
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    registry = CollectorRegistry()
    try:
        verdict = await _gate(client, registry, timeout=0.5).check("+36301234567", "7", "lead", now=NOW)
    finally:
        await client.aclose()
    assert verdict.sources == ("store-unavailable",) and not verdict.allowed
    assert _blocked(registry, "store-unavailable") == 1


async def test_check_many(lists: aioredis.Redis) -> None:
    gate = _gate(lists, CollectorRegistry())
    results = await gate.check_many(
        ["06 30 111 1111", "+36 30 222 2222", "06-30/444-4444", "0036303333333"], "7"
    )
    assert [(r.e164, r.blocked, r.sources) for r in results] == [
        ("+36301111111", True, ("internal", "hu-robinson")),
        ("+36302222222", True, ("hu-robinson",)),
        ("+36304444444", False, ()),
        ("+36303333333", True, ("campaign:7",)),
    ]
    many = [f"+3630{n:07d}" for n in range(2_000_000, 2_002_500)] + ["+36302222222"]
    assert [r.blocked for r in await gate.check_many(many)] == [False] * 2500 + [True]
    assert await gate.check_many([]) == []
    assert await _audit(lists) == []  # a batch check is not a dial


async def test_check_many_names_bad_inputs(lists: aioredis.Redis) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        await _gate(lists, CollectorRegistry()).check_many(["06301111111", "hello", "12"])
    assert [bad["index"] for bad in caught.value.details["invalid"]] == [1, 2]


async def test_check_many_raises_when_the_store_is_down() -> None:
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(StoreUnavailableError):
            await _gate(client, CollectorRegistry(), timeout=0.2).check_many(["06301111111"])
    finally:
        await client.aclose()
