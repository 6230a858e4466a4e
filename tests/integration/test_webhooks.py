"""CRM webhooks against a real HTTP endpoint and a private Redis: records of the engine's streams
become signed events, a refused delivery is retried with backoff and the same body, a permanent
refusal or a too old event is given up and kept, and each event is accepted exactly once even when
two engines relay the same streams."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from dialer.audit import AuditTrail
from routing.acd.events import AcdEvents
from switchboard.webhooks.config import WebhookSection
from switchboard.webhooks.metrics import WebhookMetrics
from switchboard.webhooks.service import WebhookService
from tests.support.webhook_receiver import WebhookReceiver

SECRET = "a-long-shared-secret-0123"
SOURCES = {
    "acd": "sb:routing:{acd}:events",
    "robinson": "sb:dialer:{dial}:audit:robinson",
    "tasks": "sb:dialer:{dial}:audit:tasks",
}


class ManualClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    server = WebhookReceiver(SECRET)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _hook(url: str, **more: object) -> WebhookSection:
    return WebhookSection.model_validate({"name": "crm", "url": url, "secret": SecretStr(SECRET), **more})


def _service(
    redis: aioredis.Redis, hook: WebhookSection, clock: ManualClock, registry: CollectorRegistry | None = None
) -> WebhookService:
    metrics = WebhookMetrics(registry or CollectorRegistry(), [hook.name])
    return WebhookService(redis, [hook], sources=SOURCES, metrics=metrics, clock=clock, rand=lambda: 1.0)


async def _traffic(redis: aioredis.Redis) -> None:
    """What the engine writes during one call and its follow-up (through the real producers)."""
    events = AcdEvents(redis)
    case = {"call_id": "c-1", "case_id": "K-7", "queue": "sales", "tier": "vip", "caller": "+36301234567"}
    await events.publish("handover", "1008", {**case, "waited": 3.2})
    await events.publish("ended", "1008", {**case, "talk": 61.0, "ended_by": "caller"})
    await events.publish("abandoned", "", {**case, "call_id": "c-2", "waited": 40.0})
    robinson = AuditTrail(redis, SOURCES["robinson"])
    await robinson.append(
        {"action": "approved", "request": "rr-1", "customer": "C1", "actor": "sue", "at": "x"}
    )
    await robinson.append({"action": "numbers-blacklisted", "request": "rr-1", "actor": "sue", "at": "x"})
    await AuditTrail(redis, SOURCES["tasks"]).append({"action": "created", "task": "t-1", "kind": "callback"})


def _samples(registry: CollectorRegistry, name: str) -> dict[str, float]:
    return {
        s.labels["result"]: s.value for metric in registry.collect() for s in metric.samples if s.name == name
    }


async def test_events_are_signed_retried_with_the_same_body_and_accepted_once(
    redis_client: aioredis.Redis, receiver: WebhookReceiver
) -> None:
    clock, registry = ManualClock(), CollectorRegistry()
    receiver.fail_first = 2
    hook = _hook(receiver.url, backoff_min=5, backoff_max=60)
    service = _service(redis_client, hook, clock, registry)
    try:
        await AcdEvents(redis_client).publish("ended", "1", {"call_id": "old"})  # before webhooks existed
        assert await service.relay_once() == 0, "a first sight starts at the newest record: no replay"
        await _traffic(redis_client)
        report = await service.run_once()
        assert (report.sent, report.retried, report.failed) == (3, 2, 0)
        assert await service.outbox.depth("crm") == 2

        clock.now += 4.9  # first retry is due after backoff_min (rand 1.0: the full delay)
        assert (await service.run_once()).sent == 0, "not before its backoff"
        clock.now += 0.2
        assert (await service.run_once()).sent == 2
        assert (await service.run_once()).sent == 0, "nothing posted twice"
    finally:
        await service.close()

    accepted = receiver.accepted()
    types = sorted(r.event["type"] for r in accepted)
    assert types == ["call.abandoned", "call.answered", "call.ended", "robinson.approved", "task.created"]
    assert all(r.signed for r in receiver.requests), "every request carries a valid signature"
    assert Counter(r.event_id for r in accepted).most_common(1)[0][1] == 1, "each event accepted once"
    for refused in receiver.requests[:2]:
        retried = next(r for r in accepted if r.event_id == refused.event_id)
        assert retried.body == refused.body, "a retry posts the same bytes (same id, same signature base)"
        assert retried.headers["idempotency-key"] == refused.event_id
    answered = next(r.event for r in accepted if r.event["type"] == "call.answered")
    assert answered["data"]["case_id"] == "K-7" and answered["data"]["agent_id"] == "1008"
    assert answered["id"].startswith("acd-")
    assert _samples(registry, "switchboard_webhook_deliveries_total") == {
        "sent": 5.0,
        "retry": 2.0,
        "failed": 0.0,
    }


async def test_a_permanent_refusal_is_given_up_and_kept_for_the_operator(
    redis_client: aioredis.Redis, receiver: WebhookReceiver
) -> None:
    clock = ManualClock()
    receiver.status = 422
    service = _service(redis_client, _hook(receiver.url), clock)
    try:
        await service.relay_once()
        await AuditTrail(redis_client, SOURCES["tasks"]).append({"action": "expired", "task": "t-9"})
        report = await service.run_once()
        clock.now += 3600
        again = await service.run_once()
    finally:
        await service.close()
    assert (report.failed, again.sent + again.retried + again.failed) == (1, 0)
    failed = await service.outbox.failed("crm")
    (entry,) = failed.values()
    assert (
        "HTTP 422" in json.loads(entry)["error"]
        and json.loads(json.loads(entry)["body"])["type"] == "task.expired"
    )
    assert len(receiver.requests) == 1


async def test_an_unreachable_endpoint_is_retried_until_max_age_then_given_up(
    redis_client: aioredis.Redis,
) -> None:
    clock = ManualClock()
    hook = _hook("http://127.0.0.1:9/unreachable", backoff_min=10, backoff_max=20, max_age=60, timeout=1)
    service = _service(redis_client, hook, clock)
    try:
        await service.relay_once()
        await AuditTrail(redis_client, SOURCES["robinson"]).append({"action": "rejected", "request": "rr-2"})
        tries = []
        for _ in range(10):
            report = await service.run_once()
            tries.append((report.retried, report.failed))
            clock.now += 20
        assert tries[:4] == [(1, 0), (1, 0), (1, 0), (0, 1)], "retried while younger than max_age"
        assert sum(f for _, f in tries) == 1 and await service.outbox.depth("crm") == 0
    finally:
        await service.close()


async def test_two_engines_relaying_the_same_streams_deliver_each_event_once(
    redis_client: aioredis.Redis, receiver: WebhookReceiver
) -> None:
    clock = ManualClock()
    hook = _hook(receiver.url)
    first, second = _service(redis_client, hook, clock), _service(redis_client, hook, clock)
    try:
        await first.relay_once()
        await _traffic(redis_client)
        await second.relay_once()
        await first.relay_once()  # found the cursor moved: queues nothing again
        await first.run_once()
        await second.run_once()
        await receiver.wait_for(5)
    finally:
        await first.close()
        await second.close()
    assert len(receiver.requests) == 5
    assert len({r.event_id for r in receiver.requests}) == 5


async def test_a_backlog_drains_in_order_in_one_pass_a_few_events_per_claim(
    redis_client: aioredis.Redis, receiver: WebhookReceiver
) -> None:
    clock = ManualClock()
    service = _service(redis_client, _hook(receiver.url, timeout=5), clock)  # 6 events per 60 s lease
    try:
        await service.relay_once()
        trail = AuditTrail(redis_client, SOURCES["tasks"])
        for n in range(40):
            await trail.append({"action": "dialed", "task": f"t-{n}"})
        assert (await service.run_once()).sent == 40
    finally:
        await service.close()
    assert [r.event["data"]["task"] for r in receiver.accepted()] == [f"t-{n}" for n in range(40)]
