"""Webhook delivery under faults: Redis stops answering in the middle of a pass, the CRM endpoint
goes away and comes back, and an engine dies between the POST and recording it."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from dialer.audit import AuditTrail
from pbx.call_changes import UserEventSeen
from pbx.codec import Event, parse_message
from switchboard.private_redis import PrivateRedis
from switchboard.webhooks.config import WebhookSection
from switchboard.webhooks.metrics import WebhookMetrics
from switchboard.webhooks.sender import post
from switchboard.webhooks.service import WebhookService
from tests.support.webhook_receiver import WebhookReceiver

SECRET = "faults-secret-0123456789"
TASKS = "sb:dialer:{dial}:audit:tasks"


class ManualClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _service(redis: aioredis.Redis, url: str, clock: ManualClock) -> WebhookService:
    hook = WebhookSection(
        name="crm", url=url, secret=SecretStr(SECRET), backoff_min=2, backoff_max=8, timeout=1
    )
    metrics = WebhookMetrics(CollectorRegistry(), ["crm"])
    return WebhookService(
        redis, [hook], sources={"tasks": TASKS}, metrics=metrics, clock=clock, rand=lambda: 1.0
    )


async def test_a_pass_while_redis_is_frozen_fails_quietly_and_delivers_after(own_redis: PrivateRedis) -> None:
    redis = aioredis.Redis.from_url(own_redis.url, socket_timeout=0.3)
    receiver = WebhookReceiver(SECRET)
    await receiver.start()
    clock = ManualClock()
    service = _service(redis, receiver.url, clock)
    try:
        await service.relay_once()
        await AuditTrail(redis, TASKS).append({"action": "created", "task": "t-1"})
        own_redis.pause()
        async with asyncio.timeout(5):
            report = await service.run_once()  # logs, does not raise
        assert report.sent == 0 and receiver.requests == []
        own_redis.resume()
        assert (await service.run_once()).sent == 1
        assert (await service.run_once()).sent == 0
    finally:
        own_redis.resume()
        await service.close()
        await receiver.stop()
        await redis.aclose()
    assert [r.event["type"] for r in receiver.accepted()] == ["task.created"]


async def test_an_endpoint_that_goes_away_gets_the_events_when_it_is_back(
    redis_client: aioredis.Redis,
) -> None:
    receiver = WebhookReceiver(SECRET)
    url = await receiver.start()
    port = int(url.split(":")[2].split("/")[0])
    await receiver.stop()
    clock = ManualClock()
    service = _service(redis_client, url, clock)
    try:
        await service.relay_once()
        trail = AuditTrail(redis_client, TASKS)
        for n in range(3):
            await trail.append({"action": "closed", "task": f"t-{n}", "state": "done"})
        assert (await service.run_once()).retried == 3
        clock.now += 2
        assert (await service.run_once()).retried == 3, "still away: backing off"
        await receiver.start(port)
        clock.now += 3.9
        assert (await service.run_once()).sent == 0, "second backoff (4 s) not over yet"
        clock.now += 0.2
        assert (await service.run_once()).sent == 3
    finally:
        await service.close()
        await receiver.stop()
    assert sorted(r.event["data"]["task"] for r in receiver.accepted()) == ["t-0", "t-1", "t-2"]


async def test_an_engine_dying_after_the_post_leads_to_one_repeat_with_the_same_id(
    redis_client: aioredis.Redis,
) -> None:
    """At least once: the receiver dedupes by X-Switchboard-Event-Id, which a repeat keeps."""
    receiver = WebhookReceiver(SECRET)
    await receiver.start()
    clock = ManualClock()
    dead, alive = _service(redis_client, receiver.url, clock), _service(redis_client, receiver.url, clock)
    try:
        await dead.relay_once()
        await AuditTrail(redis_client, TASKS).append({"action": "expired", "task": "t-5"})
        await dead.relay_once()
        (claimed,) = await dead.outbox.claim("crm", int(clock.now * 1000), batch=10, lease_ms=60_000)
        await post(dead._client, dead.hooks[0], event_id=claimed.id, event_type="task.expired",
                   body=claimed.body.encode(), now=clock.now)  # fmt: skip
        # ... and the engine dies here, before recording the delivery.
        assert (await alive.run_once()).sent == 0, "the claim's lease keeps others off"
        clock.now += 61
        assert (await alive.run_once()).sent == 1
        assert (await alive.run_once()).sent == 0
    finally:
        await dead.close()
        await alive.close()
        await receiver.stop()
    first, repeat = receiver.accepted()
    assert first.event_id == repeat.event_id == claimed.id and first.body == repeat.body


async def test_an_offered_call_never_waits_on_a_frozen_redis_and_is_delivered_after(
    own_redis: PrivateRedis,
) -> None:
    redis = aioredis.Redis.from_url(own_redis.url, socket_timeout=2)
    receiver = WebhookReceiver(SECRET)
    await receiver.start()
    hook = WebhookSection(name="crm", url=receiver.url, secret=SecretStr(SECRET), events=("call.offered",))
    case = {"call_id": "c-1", "case_id": "20260304-000001", "queue": "sales", "tier": "vip"}
    service = WebhookService(
        redis, [hook], sources={}, metrics=WebhookMetrics(CollectorRegistry()), clock=ManualClock(),
        offered_case=lambda call_id: case if call_id == "c-1" else None,
    )  # fmt: skip
    arrival = parse_message(
        "Event: UserEvent\r\nUserEvent: SwitchboardInbound\r\nCallID: c-1\r\nUniqueid: c-1"
    )
    assert isinstance(arrival, Event)
    change = UserEventSeen("SwitchboardInbound", {"CallID": "c-1"}, "c-1", "c-1")
    try:
        own_redis.pause()
        started = time.monotonic()
        await service.handle(arrival, [change])
        assert time.monotonic() - started < 0.1, "the engine's event path does not touch Redis"
        async with asyncio.timeout(5):
            assert (await service.run_once()).sent == 0  # Redis frozen: the offer waits in memory
        own_redis.resume()
        assert (await service.run_once()).sent == 1
    finally:
        own_redis.resume()
        await service.close()
        await receiver.stop()
        await redis.aclose()
    (offer,) = receiver.accepted()
    assert offer.event == {
        "id": "offered-c-1", "type": "call.offered", "occurred_at": offer.event["occurred_at"], "data": case,
    }  # fmt: skip
