"""Customer notifications: one stream entry per own-time change, and a webhook that is posted at most
once per idempotency key (retries, backoff, two workers, giving up). A real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from dialer.tasks.notifications import NotificationWorker
from dialer.tasks.rules import NotificationRules, TaskRules, WebhookRules
from tests.support.tasks_harness import Kit, build_kit, local, rules, webhook

pytestmark = pytest.mark.integration


def with_hook(url: str, **policy: object) -> TaskRules:
    hook = WebhookRules.model_validate({"url": url, "retries": 2, "backoff": "10s", **policy})
    return rules(notifications=NotificationRules(webhook=hook))


def worker(kit: Kit) -> NotificationWorker:
    return NotificationWorker(kit.redis, kit.tasks.rules.notifications, clock=kit.clock, metrics=kit.metrics)


async def promise(kit: Kit, hour: int = 10) -> str:
    await kit.leads(1)
    task = await kit.tasks.create(lead_id="L1", kind="callback_requested", now=kit.clock(), actor="anna")
    await kit.tasks.set_own_time(task.task_id, local(2026, 6, 2, hour), now=kit.clock(), actor="anna")
    return task.task_id


async def test_own_time_set_sends_exactly_one_notification_even_when_the_worker_retries(
    redis_client: aioredis.Redis,
) -> None:
    async with webhook(503) as hook:
        kit = build_kit(redis_client, task_rules=with_hook(hook.url))
        task_id = await promise(kit)
        sender = worker(kit)

        first = await sender.run_once()
        assert (first.sent, first.retried, len(hook.received)) == (0, 1, 1)
        assert (await sender.run_once()).retried == 0, "the backoff has not passed: nothing is posted"
        kit.clock.advance(seconds=10)
        second = await sender.run_once()
        assert (second.sent, len(hook.received)) == (1, 2)
        kit.clock.advance(hours=1)
        assert (await sender.run_once()).sent == 0

        assert [r.key for r in hook.received] == [f"{task_id}:v1", f"{task_id}:v1"]
        assert len(hook.accepted) == 1
        body = hook.accepted[0].body
        assert (body["event"], body["task_id"], body["email"]) == (
            "own-time-set",
            task_id,
            "customer1@example.hu",
        )
        assert body["promised_local"] == "2026-06-02T10:00:00+02:00"
        assert len(await kit.notices()) == 1, "one stream entry for the e-mail / SMS sender"
        assert kit.sample("switchboard_task_notifications_total", result="sent") == 1
        assert kit.sample("switchboard_task_notifications_total", result="retry") == 1


async def test_a_delivered_key_is_never_posted_again_and_two_workers_post_once(
    redis_client: aioredis.Redis,
) -> None:
    async with webhook() as hook:
        kit = build_kit(redis_client, task_rules=with_hook(hook.url))
        task_id = await promise(kit)
        one, two = worker(kit), worker(kit)
        reports = await asyncio.gather(one.run_once(), two.run_once())
        assert sorted(r.sent for r in reports) == [0, 1] and len(hook.received) == 1

        # The same version queued again (an operator's replay): recorded as sent, so not posted.
        payload = (await kit.notices())[0]
        await redis_client.hset(kit.tasks.keys.payload, task_id, json.dumps(payload))
        await redis_client.zadd(kit.tasks.keys.outbox, {task_id: 0})
        replay = await one.run_once()
        assert (replay.skipped, replay.sent, len(hook.received)) == (1, 0, 1)


async def test_only_the_newest_time_is_posted_when_it_changed_before_delivery(
    redis_client: aioredis.Redis,
) -> None:
    async with webhook() as hook:
        kit = build_kit(redis_client, task_rules=with_hook(hook.url))
        task_id = await promise(kit, hour=10)
        await kit.tasks.set_own_time(task_id, local(2026, 6, 3, 15), now=kit.clock(), actor="anna")
        assert [n["idempotency_key"] for n in await kit.notices()] == [f"{task_id}:v1", f"{task_id}:v2"]
        await worker(kit).run_once()
        assert [(r.key, r.body["event"]) for r in hook.received] == [(f"{task_id}:v2", "own-time-changed")]


async def test_a_notification_is_given_up_after_its_retries_or_on_a_refusal(
    redis_client: aioredis.Redis,
) -> None:
    async with webhook(500, 500, 500, 400) as hook:
        kit = build_kit(redis_client, task_rules=with_hook(hook.url, backoff="10s", max_backoff="15s"))
        task_id = await promise(kit)
        sender = worker(kit)
        for wait in (0, 10, 15):  # the first try, then 10 s, then 20 s capped at 15 s
            kit.clock.advance(seconds=wait)
            await sender.run_once()
        assert len(hook.received) == 3
        failed = await sender.failed()
        assert failed[task_id]["tries"] == 3 and "HTTP 500" in failed[task_id]["error"]
        assert kit.sample("switchboard_task_notifications_total", result="failed") == 1

        await kit.tasks.set_own_time(task_id, local(2026, 6, 3, 9), now=kit.clock(), actor="anna")
        refused = await sender.run_once()
        assert (refused.failed, len(hook.received)) == (1, 4), "HTTP 400: retrying cannot help"
        kit.clock.advance(hours=1)
        assert (await sender.run_once()).sent == 0 and len(hook.received) == 4


async def test_without_a_webhook_the_stream_still_gets_the_event(redis_client: aioredis.Redis) -> None:
    kit = build_kit(redis_client)
    await promise(kit)
    assert len(await kit.notices()) == 1
    assert await redis_client.zcard(kit.tasks.keys.outbox) == 0
    assert (await worker(kit).run_once()).sent == 0


async def test_a_reload_points_the_worker_at_the_new_webhook(redis_client: aioredis.Redis) -> None:
    async with webhook() as old, webhook() as new:
        kit = build_kit(redis_client, task_rules=with_hook(old.url))
        sender = worker(kit)
        kit.tasks.rules = with_hook(new.url)
        sender.configure(kit.tasks.rules.notifications)
        await promise(kit)
        await sender.run_once()
        assert (len(old.received), len(new.received)) == (0, 1)
        assert kit.tasks.rules.notifications.webhook is not None
        assert kit.tasks.rules.notifications.webhook.backoff == timedelta(seconds=10)
