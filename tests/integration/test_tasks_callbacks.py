"""What the dialing loop reads and writes: due callbacks (order, escalation), dialed, deferred, results,
and dispositions closing tasks. Private Redis, injected times."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from dialer.tasks.rules import DEFAULT_TASK_RULES
from dialer.tasks.store import TaskStateError
from tests.support.tasks_harness import Kit, build_kit, local, number

pytestmark = pytest.mark.integration

MONDAY_9 = local(2026, 6, 1, 9, 0)
WEDNESDAY_20 = local(2026, 6, 3, 20, 0)  # 4 h before the 2-day tasks of Monday expire


async def _task(
    kit: Kit, lead: int, kind: str, owner: str, own: tuple[int, ...] | None = None, **kw: object
) -> str:
    created = kw.pop("created", MONDAY_9)
    task = await kit.tasks.create(lead_id=f"L{lead}", kind=kind, now=created, actor=owner, **kw)  # type: ignore[arg-type]
    if own is not None:
        await kit.tasks.set_own_time(task.task_id, local(*own), now=created, actor=owner)
    return task.task_id


async def scenario(kit: Kit) -> dict[str, str]:
    await kit.leads(1, 2, 3, 4, 5, 6, 8, 9)
    await kit.leads(7, campaign_id="c2")
    ids = {
        "A": await _task(kit, 1, "callback_requested", "anna", (2026, 6, 3, 19, 0)),
        "B": await _task(kit, 2, "callback_requested", "bob", (2026, 6, 3, 19, 30)),
        "C": await _task(kit, 3, "not_reachable", "anna"),
        "D": await _task(kit, 4, "not_reachable", "dora", (2026, 6, 3, 19, 50)),
        "E": await _task(
            kit, 5, "not_reachable", "anna", (2026, 6, 3, 19, 58), created=local(2026, 6, 1, 11)
        ),
        "F": await _task(kit, 6, "callback_requested", "anna", (2026, 6, 4, 9, 0)),
        "G": await _task(kit, 7, "not_reachable", "anna"),
        "H": await _task(kit, 8, "not_reachable", "anna"),
    }
    pool = await kit.tasks.record_result(
        result="busy", lead_id="L9", campaign_id="c1", now=local(2026, 6, 1, 10)
    )
    assert pool is not None and pool.owner is None
    ids["I"] = pool.task_id
    request = await kit.stores.robinson.file(
        {"customer_name": "Customer 8", "phone": number(8), "email": "c8@example.hu", "customer_id": "C8",
         "justification": "spam lead, no real intent"},
        requested_by="anna", now=MONDAY_9,
    )  # fmt: skip
    await kit.stores.robinson.approve(request.request_id, supervisor="sue", note="ok", now=MONDAY_9)
    return ids


async def test_due_callbacks_come_escalated_first_by_expiry_then_by_own_time(
    redis_client: aioredis.Redis,
) -> None:
    kit = build_kit(
        redis_client, task_rules=DEFAULT_TASK_RULES.model_copy(update={"at_risk_margin": timedelta(hours=6)})
    )
    ids = await scenario(kit)
    due = await kit.tasks.due_callbacks("c1", WEDNESDAY_20, 20, available={"anna"})
    names = {task_id: name for name, task_id in ids.items()}
    assert [(names[d.task_id], d.escalate) for d in due] == [
        ("C", True),  # no own time, 4 h left
        ("D", True),  # its owner is not available, 4 h left
        ("I", True),  # nobody owns it
        ("A", False),  # overdue but two weeks left: still the owner's
        ("B", False),  # owner not available, two weeks left: waits for bob
        ("E", False),  # 4 h left, but anna is available and it is not overdue
    ]
    first = due[0]
    assert (first.lead_id, first.number, first.owner, first.own_time) == ("L3", number(3), "anna", None)
    assert first.expires_at == local(2026, 6, 4, 0, 0) and str(first.deadline) == "2026-06-03"
    assert [
        names[d.task_id] for d in await kit.tasks.due_callbacks("c1", WEDNESDAY_20, 2, available={"anna"})
    ] == ["C", "D"]
    everyone = await kit.tasks.due_callbacks("c1", WEDNESDAY_20, 20)
    assert [(names[d.task_id], d.escalate) for d in everyone][:3] == [("C", True), ("I", True), ("A", False)]
    assert [names[d.task_id] for d in await kit.tasks.due_callbacks("c2", WEDNESDAY_20, 20)] == ["G"]
    assert await redis_client.zscore(kit.tasks.keys.dial("c1"), ids["H"]) is None, "excluded: never again"


async def test_a_dialed_callback_waits_for_its_result_and_comes_back_if_nobody_closes_it(
    redis_client: aioredis.Redis,
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1, 2)
    callback = await _task(kit, 1, "callback_requested", "anna", (2026, 6, 1, 10, 0))
    other = await _task(kit, 2, "callback_requested", "bob", (2026, 6, 1, 10, 0))
    at = local(2026, 6, 1, 10, 5)
    assert await kit.tasks.mark_dialed(callback, at, call_id="call-1", agent="anna") is True
    assert await kit.tasks.mark_dialed(other, local(2026, 6, 1, 10, 20), call_id="call-2") is False, "late"
    assert kit.sample("switchboard_task_callbacks_dialed_total", campaign="c1", timing="on_time") == 1
    assert kit.sample("switchboard_task_callbacks_dialed_total", campaign="c1", timing="late") == 1
    assert await kit.tasks.due_callbacks("c1", local(2026, 6, 1, 10, 30), 10) == []
    again = await kit.tasks.due_callbacks("c1", local(2026, 6, 1, 10, 36), 10)
    assert [d.task_id for d in again] == [callback]

    dialed = await kit.tasks.get(callback)
    assert (dialed.dials, dialed.last_dialed_at) == (1, at)
    follow_up = await kit.tasks.record_result(
        result="no_answer", call_id="call-1", now=local(2026, 6, 1, 10, 6)
    )
    assert follow_up is not None
    assert (follow_up.kind, follow_up.owner, follow_up.lead_id, follow_up.campaign_id) == (
        "not_reachable", "anna", "L1", "c1"
    )  # fmt: skip
    assert (await kit.tasks.get(callback)).state == "done"
    with pytest.raises(TaskStateError):
        await kit.tasks.mark_dialed(callback, at)


async def test_a_refused_callback_is_deferred_or_taken_off_the_dial_list(
    redis_client: aioredis.Redis,
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1, 2)
    hours = await _task(kit, 1, "callback_requested", "anna", (2026, 6, 1, 10, 0))
    blocked = await _task(kit, 2, "callback_requested", "anna", (2026, 6, 1, 10, 0))
    now = local(2026, 6, 1, 10, 1)
    await kit.tasks.defer_callback(hours, local(2026, 6, 2, 8), now=now, reason="outside-hours")
    await kit.tasks.defer_callback(blocked, None, now=now, reason="blacklisted: internal")
    assert await kit.tasks.due_callbacks("c1", local(2026, 6, 1, 23), 10) == []
    assert [d.task_id for d in await kit.tasks.due_callbacks("c1", local(2026, 6, 2, 8), 10)] == [hours]
    new_time = await kit.tasks.set_own_time(blocked, local(2026, 6, 2, 9), now=now, actor="anna")
    assert new_time.change == "changed"
    assert [d.task_id for d in await kit.tasks.due_callbacks("c1", local(2026, 6, 2, 9), 10)] == [
        hours,
        blocked,
    ]
    deferred = await kit.tasks.audit.read(action="deferred")
    assert [e.fields["reason"] for e in deferred] == ["outside-hours", "blacklisted: internal"]


async def test_a_disposition_closes_the_leads_tasks_and_creates_the_follow_up_once(
    redis_client: aioredis.Redis,
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1)
    unreachable = await kit.tasks.record_result(result="no_answer", lead_id="L1", owner="anna", now=MONDAY_9)
    assert unreachable is not None
    now = local(2026, 6, 2, 11)
    record = await kit.stores.dispositions.record(
        lead_id="L1", code="callback_later", advisor="anna", now=now, note="call after 5 pm"
    )
    effect = await kit.tasks.record_disposition(record, now=now)
    assert [(t.task_id, t.state, t.close_code, t.disposition_id) for t in effect.closed] == [
        (unreachable.task_id, "done", "callback_later", record.disposition_id)
    ]
    created = effect.created
    assert created is not None
    assert (created.kind, created.owner, created.note, str(created.deadline_date)) == (
        "callback_requested", "anna", "call after 5 pm", "2026-06-16"
    )  # fmt: skip
    repeat = await kit.tasks.record_disposition(record, now=now)
    assert repeat.closed == () and repeat.created is not None and repeat.created.task_id == created.task_id
    sale = await kit.stores.dispositions.record(lead_id="L1", code="sale", advisor="anna", now=now)
    final = await kit.tasks.record_disposition(sale, now=now)
    assert [t.task_id for t in final.closed] == [created.task_id] and final.created is None
    assert await kit.tasks.open_for_lead("L1") == []


async def test_a_callback_of_a_lead_held_for_a_robinson_review_waits_for_the_decision(
    redis_client: aioredis.Redis,
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1)
    task_id = await _task(kit, 1, "callback_requested", "anna", (2026, 6, 3, 19, 0))
    request = await kit.stores.robinson.file(
        {"customer_name": "Customer 1", "phone": number(1), "email": "c1@example.hu", "customer_id": "C1",
         "justification": "spam lead"},
        requested_by="anna", now=MONDAY_9,
    )  # fmt: skip
    await kit.stores.leads.hold(
        "L1", request_id=request.request_id, reason="review", actor="anna", now=MONDAY_9
    )
    assert await kit.tasks.due_callbacks("c1", WEDNESDAY_20, 20) == [], "held: not dialed"
    assert await redis_client.zscore(kit.tasks.keys.dial("c1"), task_id) is not None, "kept for later"
    await kit.stores.robinson.reject(
        request.request_id, supervisor="sue", note="a real customer", now=MONDAY_9
    )
    assert [d.task_id for d in await kit.tasks.due_callbacks("c1", WEDNESDAY_20, 20)] == [task_id]
