"""TaskService: the engine's tick expires tasks at 00:00 local, refreshes the gauge and delivers notices."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from dialer.tasks.notifications import NotificationWorker
from dialer.tasks.rules import NotificationRules, WebhookRules
from dialer.tasks.service import TaskService
from dialer.tasks.store import TaskStore
from tests.support.tasks_harness import build_kit, local, rules, webhook

pytestmark = pytest.mark.integration


async def test_the_tick_expires_counts_and_notifies_without_blocking(redis_client: aioredis.Redis) -> None:
    async with webhook() as hook:
        task_rules = rules(notifications=NotificationRules(webhook=WebhookRules(url=hook.url)))
        kit = build_kit(redis_client, task_rules=task_rules)
        await kit.leads(1, 2)
        now = kit.clock()
        doomed = await kit.tasks.create(lead_id="L1", kind="not_reachable", now=now, actor="anna")
        promised = await kit.tasks.create(lead_id="L2", kind="callback_requested", now=now, actor="bob")
        await kit.tasks.set_own_time(promised.task_id, local(2026, 6, 2, 9), now=now, actor="bob")
        notices = NotificationWorker(
            redis_client, task_rules.notifications, clock=kit.clock, metrics=kit.metrics
        )
        service = TaskService(kit.tasks, kit.metrics, worker=notices, clock=lambda: kit.clock().timestamp())

        await service.tick(local(2026, 6, 3, 23, 59, 59).timestamp())
        before = await asyncio.wait_for(service.settled(), timeout=5)
        assert before is not None and before.expired == [] and before.delivered.sent == 1
        assert len(hook.accepted) == 1
        assert kit.sample("switchboard_tasks", status="open") == 1
        assert kit.sample("switchboard_tasks", status="due") == 1
        assert kit.sample("switchboard_tasks", status="overdue") == 1

        await service.tick(local(2026, 6, 3, 23, 59, 59, 500000).timestamp())
        assert await asyncio.wait_for(service.settled(), timeout=5) is before, "one pass per sweep interval"
        await service.tick(local(2026, 6, 4, 0, 0).timestamp())
        after = await asyncio.wait_for(service.settled(), timeout=5)
        assert after is not None and after.expired == [(doomed.task_id, "not_reachable")]
        assert kit.sample("switchboard_tasks_expired_total", rule="not_reachable") == 1
        assert kit.sample("switchboard_tasks", status="expired") == 1
        assert kit.sample("switchboard_tasks", status="open") == 0
        assert service.passes == 2 and service.failures == 0
        await service.close()


async def test_built_for_the_runtime_a_reload_swaps_the_rules_of_the_store_and_the_worker(
    redis_client: aioredis.Redis,
) -> None:
    kit = build_kit(redis_client)
    registry = CollectorRegistry()
    service = TaskService.build(
        redis_client, leads=kit.stores.leads, registry=registry, cc_zone="Europe/Warsaw",
        clock=lambda: kit.clock().timestamp(),
    )  # fmt: skip
    assert service.worker is not None and service.worker.sender is None
    await kit.leads(1)
    task = await service.store.create(lead_id="L1", kind="not_reachable", now=kit.clock(), actor="anna")
    assert task.cc_zone == "Europe/Warsaw"
    report = await service.run_once()
    assert report.counts is not None and report.counts["open"] == 1
    assert registry.get_sample_value("switchboard_tasks", {"status": "open"}) == 1

    hook = WebhookRules(url="http://127.0.0.1:9/notify")
    new = rules(stale_after_days=7, notifications=NotificationRules(webhook=hook))
    service.replace_rules(new)
    assert service.store.rules is new and service.worker.rules is new.notifications
    assert service.worker.sender is not None


async def test_a_pass_that_cannot_reach_redis_is_counted_and_the_engine_goes_on(
    redis_client: aioredis.Redis,
) -> None:
    kit = build_kit(redis_client)
    dead = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    try:
        store = TaskStore(dead, leads=kit.stores.leads)
        service = TaskService(store, kit.metrics)
        await service.tick(kit.clock().timestamp())
        assert await asyncio.wait_for(service.settled(), timeout=5) is None
        assert service.failures == 1 and service.passes == 0
    finally:
        await dead.aclose()
