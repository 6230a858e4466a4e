"""The task store on a private Redis: creation by rule, own times, expiry at 00:00 local, archive, stale."""

from __future__ import annotations

from datetime import UTC, date, timedelta

import pytest
import redis.asyncio as aioredis

from core.errors import ValidationFailedError
from dialer.compliance.calling_hours import CallingWindow
from dialer.tasks.deadlines import OwnTimeRefusedError, TaskStatus
from dialer.tasks.store import OwnTimeOutsideHoursError, TaskStateError
from tests.support.tasks_harness import MONDAY_10, build_kit, local, number

pytestmark = pytest.mark.integration


async def test_an_unreachable_customer_creates_a_two_day_task_once_per_call(
    redis_client: aioredis.Redis,
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1)
    now = kit.clock()
    task = await kit.tasks.record_result(
        result="no_answer", lead_id="L1", campaign_id="c1", owner="anna", call_id="call-1", now=now
    )
    assert task is not None
    assert (task.kind, task.owner, task.lead_id, task.campaign_id) == ("not_reachable", "anna", "L1", "c1")
    assert task.deadline_date == date(2026, 6, 3)  # Monday + 2 days
    assert task.expires_at == local(2026, 6, 4, 0, 0).astimezone(UTC)  # 00:00 Budapest the day after
    assert task.number == number(1) and task.callback and task.state == "open"
    assert kit.tasks.view(task, now).status.status is TaskStatus.OPEN

    again = await kit.tasks.record_result(
        result="no_answer", lead_id="L1", campaign_id="c1", owner="anna", call_id="call-1", now=now
    )
    assert again is not None and again.task_id == task.task_id, "an outcome written twice makes one task"
    assert await kit.tasks.record_result(result="answered", lead_id="L1", now=now) is None
    created = await kit.tasks.audit.read(action="created")
    assert [(e.fields["task"], e.fields["source"]) for e in created] == [(task.task_id, "result:no_answer")]


async def test_the_next_result_closes_the_open_task_and_keeps_its_owner(redis_client: aioredis.Redis) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1)
    first = await kit.tasks.record_result(result="busy", lead_id="L1", owner="anna", now=kit.clock())
    assert first is not None
    later = kit.clock.advance(hours=30)
    second = await kit.tasks.record_result(result="no_answer", lead_id="L1", call_id="c-2", now=later)
    assert second is not None and second.owner == "anna"
    assert second.deadline_date == date(2026, 6, 4)
    closed = await kit.tasks.get(first.task_id)
    assert (closed.state, closed.close_code, closed.closed_by) == ("done", "no_answer", "result:no_answer")
    assert [t.task_id for t in await kit.tasks.open_for_lead("L1")] == [second.task_id]


async def test_own_time_after_the_deadline_or_in_the_past_is_refused_naming_the_deadline(
    redis_client: aioredis.Redis,
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1)
    now = kit.clock()
    task = await kit.tasks.create(lead_id="L1", kind="not_reachable", now=now, actor="anna")
    with pytest.raises(OwnTimeRefusedError) as late:
        await kit.tasks.set_own_time(task.task_id, local(2026, 6, 4, 0, 0), now=now, actor="anna")
    assert "after the central deadline 2026-06-03 23:59:59 Europe/Budapest" in late.value.message
    assert late.value.details["deadline"] == "2026-06-03"
    with pytest.raises(OwnTimeRefusedError, match="is in the past"):
        await kit.tasks.set_own_time(task.task_id, local(2026, 6, 1, 9, 0), now=now, actor="anna")
    last_second = local(2026, 6, 3, 23, 59, 59)
    change = await kit.tasks.set_own_time(task.task_id, last_second, now=now, actor="anna")
    assert change.change == "set" and change.task.own_time == last_second
    assert await kit.notices() != []


async def test_a_callback_outside_the_campaigns_calling_hours_is_refused_with_the_reason(
    redis_client: aioredis.Redis,
) -> None:
    window = CallingWindow.model_validate(
        {"monday": ["08:00-12:00"], "tuesday": ["08:00-12:00"], "wednesday": []}
    )
    kit = build_kit(redis_client, windows={"c1": window})
    await kit.leads(1)
    now = kit.clock()
    task = await kit.tasks.create(lead_id="L1", kind="callback_requested", now=now, actor="anna")
    with pytest.raises(OwnTimeOutsideHoursError) as refused:
        await kit.tasks.set_own_time(task.task_id, local(2026, 6, 1, 15, 0), now=now, actor="anna")
    assert isinstance(refused.value, ValidationFailedError)
    assert "outside the calling hours of campaign c1" in refused.value.message
    assert "calling opens at 2026-06-02 08:00" in refused.value.message
    assert refused.value.details["reason"] == "outside-hours"
    with pytest.raises(OwnTimeOutsideHoursError, match="no calling hours on wednesdays"):
        await kit.tasks.set_own_time(task.task_id, local(2026, 6, 3, 9, 0), now=now, actor="anna")
    ok = await kit.tasks.set_own_time(task.task_id, local(2026, 6, 2, 9, 30), now=now, actor="anna")
    assert ok.task.own_time == local(2026, 6, 2, 9, 30)
    assert len(await kit.notices()) == 1, "refused times notify no one"


async def test_setting_the_same_time_again_notifies_no_one_and_a_change_notifies_once(
    redis_client: aioredis.Redis,
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1)
    now = kit.clock()
    task = await kit.tasks.create(lead_id="L1", kind="callback_requested", now=now, actor="anna")
    first = local(2026, 6, 2, 10, 0)
    assert (await kit.tasks.set_own_time(task.task_id, first, now=now, actor="anna")).version == 1
    repeat = await kit.tasks.set_own_time(task.task_id, first.astimezone(UTC), now=now, actor="anna")
    assert (repeat.change, repeat.version) == ("unchanged", 1)
    moved = await kit.tasks.set_own_time(task.task_id, local(2026, 6, 5, 14, 0), now=now, actor="anna")
    assert (moved.change, moved.version) == ("changed", 2)
    notices = await kit.notices()
    assert [(n["event"], n["idempotency_key"]) for n in notices] == [
        ("own-time-set", f"{task.task_id}:v1"),
        ("own-time-changed", f"{task.task_id}:v2"),
    ]
    changed = notices[1]
    assert changed["previous"] == first.astimezone(UTC).isoformat()
    assert changed["promised_local"] == "2026-06-05T14:00:00+02:00"
    assert (changed["email"], changed["phone"], changed["customer_name"]) == (
        "customer1@example.hu", number(1), "Customer 1"
    )  # fmt: skip


async def test_handled_at_235959_is_on_time_and_an_unhandled_task_expires_at_midnight_counted_by_rule(
    redis_client: aioredis.Redis,
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1, 2, 3)
    now = kit.clock()
    made = [
        await kit.tasks.create(lead_id=f"L{i}", kind="not_reachable", now=now, actor="anna")
        for i in (1, 2, 3)
    ]
    handled, unhandled, late = made

    on_time = await kit.tasks.close(
        handled.task_id, code="sale", now=local(2026, 6, 3, 23, 59, 59), actor="anna"
    )
    assert on_time.state == "done"
    assert await kit.tasks.expire_due(now=local(2026, 6, 3, 23, 59, 59, 999999)) == []
    expired = await kit.tasks.expire_due(now=local(2026, 6, 4, 0, 0, 0))
    assert expired == [(unhandled.task_id, "not_reachable"), (late.task_id, "not_reachable")]
    assert await kit.tasks.expire_due(now=local(2026, 6, 4, 0, 0, 1)) == [], "counted once"
    assert kit.sample("switchboard_tasks_expired_total", rule="not_reachable") == 2
    assert await kit.tasks.expired_counts() == {"not_reachable": 2}

    with pytest.raises(TaskStateError, match="expired at the end of its central deadline 2026-06-03"):
        await kit.tasks.close(late.task_id, code="sale", now=local(2026, 6, 4, 8), actor="anna")
    listed = await kit.tasks.list_tasks(now=local(2026, 6, 4, 8), status="expired")
    assert [v.task.task_id for v in listed] == [unhandled.task_id, late.task_id]
    assert all(v.status.expires_at == local(2026, 6, 4, 0, 0) for v in listed)


async def test_closing_after_midnight_before_the_sweep_leaves_the_task_expired_and_counted(
    redis_client: aioredis.Redis,
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1)
    task = await kit.tasks.create(lead_id="L1", kind="not_reachable", now=kit.clock(), actor="anna")
    closed = await kit.tasks.close(task.task_id, code="sale", now=local(2026, 6, 4, 0, 0), actor="anna")
    assert closed.state == "expired" and closed.close_code == "sale"
    assert kit.tasks.view(closed, local(2026, 6, 4, 1)).status.status is TaskStatus.EXPIRED
    assert await kit.tasks.expire_due(now=local(2026, 6, 5)) == []
    assert await kit.tasks.expired_counts() == {"not_reachable": 1}
    assert kit.sample("switchboard_tasks_expired_total", rule="not_reachable") == 1


async def test_a_supervisor_archives_done_and_expired_tasks_but_never_open_ones(
    redis_client: aioredis.Redis,
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1, 2)
    now = kit.clock()
    open_task = await kit.tasks.create(lead_id="L1", kind="callback_requested", now=now, actor="anna")
    short = await kit.tasks.create(lead_id="L2", kind="not_reachable", now=now, actor="anna")
    later = local(2026, 6, 5, 9)
    await kit.tasks.expire_due(now=later)
    with pytest.raises(TaskStateError, match="still open"):
        await kit.tasks.archive(open_task.task_id, now=later, actor="sue")
    archived = await kit.tasks.archive(short.task_id, now=later, actor="sue")
    assert (archived.state, archived.archived_by) == ("expired", "sue")
    with pytest.raises(TaskStateError, match="already archived"):
        await kit.tasks.archive(short.task_id, now=later, actor="sue")
    assert [v.task.task_id for v in await kit.tasks.list_tasks(now=later)] == [open_task.task_id]
    assert await kit.tasks.list_tasks(now=later, status="expired") == []
    assert [v.task.task_id for v in await kit.tasks.list_tasks(now=later, status="archived")] == [
        short.task_id
    ]
    assert await kit.tasks.expired_counts() == {"not_reachable": 1}, "archiving never uncounts"


async def test_lists_by_status_advisor_and_campaign(redis_client: aioredis.Redis) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1, 2, 3)
    await kit.leads(4, campaign_id="c2")
    now = kit.clock()
    due = await kit.tasks.create(lead_id="L1", kind="callback_requested", now=now, actor="anna")
    await kit.tasks.set_own_time(due.task_id, now + timedelta(hours=1), now=now, actor="anna")
    overdue = await kit.tasks.create(lead_id="L2", kind="callback_requested", now=now, actor="bob")
    await kit.tasks.set_own_time(overdue.task_id, now + timedelta(minutes=10), now=now, actor="bob")
    risky = await kit.tasks.create(lead_id="L3", kind="not_reachable", now=now, actor="anna")
    other = await kit.tasks.create(lead_id="L4", kind="callback_requested", now=now, actor="anna")

    at = now + timedelta(hours=1, minutes=5)
    ids = lambda views: [v.task.task_id for v in views]  # noqa: E731
    assert ids(await kit.tasks.list_tasks(now=at, status="due")) == [overdue.task_id, due.task_id]
    assert ids(await kit.tasks.list_tasks(now=at, status="overdue")) == [overdue.task_id]
    assert ids(await kit.tasks.list_tasks(now=at, status="open")) == [risky.task_id, other.task_id]
    assert ids(await kit.tasks.list_tasks(now=at, owner="bob")) == [overdue.task_id]
    assert ids(await kit.tasks.list_tasks(now=at, campaign_id="c2")) == [other.task_id]
    assert ids(await kit.tasks.list_tasks(now=at, owner="anna", status="due")) == [due.task_id]
    near_deadline = local(2026, 6, 3, 21, 0)
    assert ids(await kit.tasks.list_tasks(now=near_deadline, status="at_risk")) == [risky.task_id]
    counts = await kit.tasks.status_counts(now=at)
    assert counts == {"open": 2, "due": 2, "overdue": 1, "at_risk": 0, "expired": 0, "done": 0}


async def test_stale_callbacks_are_reported_and_reactivated_in_bulk_once(
    redis_client: aioredis.Redis,
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1, 2, 3)
    now = kit.clock()
    forgotten = await kit.tasks.create(lead_id="L1", kind="callback_requested", now=now, actor="anna")
    await kit.tasks.set_own_time(forgotten.task_id, local(2026, 6, 2, 10), now=now, actor="anna")
    handled = await kit.tasks.create(lead_id="L2", kind="callback_requested", now=now, actor="anna")
    await kit.tasks.close(handled.task_id, code="sale", now=now, actor="anna")
    recent = await kit.tasks.create(
        lead_id="L3", kind="callback_requested", now=local(2026, 7, 20, 9), actor="bob"
    )

    months_later = local(2026, 8, 1, 9)
    await kit.tasks.expire_due(now=months_later)
    stale = await kit.tasks.stale(now=months_later, days=30)
    assert [v.task.task_id for v in stale] == [forgotten.task_id]
    assert stale[0].status.status is TaskStatus.EXPIRED
    assert recent.task_id not in [v.task.task_id for v in await kit.tasks.stale(now=months_later, days=15)]

    done = await kit.tasks.reactivate([forgotten.task_id, handled.task_id], now=months_later, actor="sue")
    fresh = done[0].new_task
    assert fresh is not None and done[1].new_task is None and "done" in done[1].detail
    assert (fresh.owner, fresh.lead_id, fresh.kind, fresh.deadline_date) == (
        "anna",
        "L1",
        "callback_requested",
        date(2026, 8, 15),
    )
    assert fresh.source == f"reactivated:{forgotten.task_id}"
    old = await kit.tasks.get(forgotten.task_id)
    assert (old.state, old.reactivated_to) == ("expired", fresh.task_id)
    assert await kit.tasks.stale(now=months_later, days=30) == []
    again = await kit.tasks.reactivate([forgotten.task_id], now=months_later, actor="sue")
    assert again[0].new_task is not None and again[0].new_task.task_id == fresh.task_id


async def test_unknown_kind_and_lead_are_refused(redis_client: aioredis.Redis) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1)
    with pytest.raises(ValidationFailedError, match="unknown task kind 'nope'; known: not_reachable"):
        await kit.tasks.create(lead_id="L1", kind="nope", now=MONDAY_10, actor="anna")
    with pytest.raises(Exception, match="no lead 'L9'"):
        await kit.tasks.create(lead_id="L9", kind="not_reachable", now=MONDAY_10, actor="anna")
