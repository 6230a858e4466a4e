"""The task API over httpx ASGITransport, a real Redis and one token per role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from switchboard.api import AppState, TokenStore, create_app, dialer_access, tasks_api
from switchboard.metrics import create_metrics
from switchboard.settings import Settings
from tests.support.tasks_harness import Kit, build_kit, local

pytestmark = pytest.mark.integration

TOKENS = {
    "anna": ("advisor-token-000000001", "advisor"),
    "bob": ("advisor-token-000000002", "advisor"),
    "sue": ("supervisor-token-00001", "supervisor"),
    "ops": ("admin-token-00000000001", "admin"),
}


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name][0]}"}


@pytest.fixture
async def kit(redis_client: aioredis.Redis) -> Kit:
    kit = build_kit(redis_client)
    await kit.leads(1, 2)
    return kit


@pytest.fixture
async def http(redis_client: aioredis.Redis, kit: Kit) -> AsyncIterator[httpx.AsyncClient]:
    tokens = TokenStore.from_tokens([(token, name, role) for name, (token, role) in TOKENS.items()])  # type: ignore[misc]
    state = AppState(Settings(), tokens, create_metrics(process=False), redis=redis_client)
    app = create_app(state, status_overrides={**dialer_access.STATUS_OVERRIDES, **tasks_api.STATUS_OVERRIDES})
    dialer_access.attach_dialer(app, kit.stores)
    tasks_api.attach_tasks(app, kit.tasks)
    app.include_router(tasks_api.router)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://switchboard") as client:
        yield client


async def create(http: httpx.AsyncClient, who: str = "anna", **body: Any) -> dict[str, Any]:
    data = {"lead_id": "L1", "kind": "callback_requested", **body}
    response = await http.post("/api/v1/tasks", json=data, headers=auth(who))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def own_time(http: httpx.AsyncClient, task_id: str, when: str, who: str = "anna") -> httpx.Response:
    return await http.put(f"/api/v1/tasks/{task_id}/own-time", json={"own_time": when}, headers=auth(who))


async def test_own_time_after_the_deadline_is_422_naming_it_and_a_good_one_is_set(
    http: httpx.AsyncClient, kit: Kit
) -> None:
    task = await create(http)
    assert (task["deadline"], task["owner"], task["status"]) == ("2026-06-15", "anna", "open")
    assert task["deadline_label"] == "2026-06-15 23:59:59 Europe/Budapest"
    assert task["expires_at"] == "2026-06-15T22:00:00Z"

    late = await own_time(http, task["task_id"], "2026-06-16T08:00:00+02:00")
    assert late.status_code == 422
    body = late.json()
    assert body["error"] == "task-own-time-refused"
    assert "after the central deadline 2026-06-15 23:59:59 Europe/Budapest" in body["message"]
    assert body["details"]["deadline"] == "2026-06-15"
    past = await own_time(http, task["task_id"], "2026-06-01T07:00:00+02:00")
    assert past.status_code == 422 and "in the past" in past.json()["message"]
    naive = await own_time(http, task["task_id"], "2026-06-02T10:00:00")
    assert naive.status_code == 422 and naive.json()["error"] == "validation-failed"

    ok = await own_time(http, task["task_id"], "2026-06-02T10:00:00+02:00")
    assert ok.status_code == 200, ok.text
    assert (ok.json()["change"], ok.json()["task"]["own_time"]) == ("set", "2026-06-02T08:00:00Z")
    again = await own_time(http, task["task_id"], "2026-06-02T08:00:00Z")
    assert again.json()["change"] == "unchanged"
    assert len(await kit.notices()) == 1

    kit.clock.set(local(2026, 6, 2, 10, 30))
    due = await http.get("/api/v1/tasks", params={"status": "overdue"}, headers=auth("anna"))
    assert [(t["task_id"], t["status"], t["overdue"]) for t in due.json()["items"]] == [
        (task["task_id"], "due", True)
    ]


async def test_a_task_created_with_a_bad_own_time_is_not_created(http: httpx.AsyncClient, kit: Kit) -> None:
    response = await http.post(
        "/api/v1/tasks",
        json={"lead_id": "L1", "kind": "not_reachable", "own_time": "2026-06-04T00:00:00+02:00"},
        headers=auth("anna"),
    )
    assert response.status_code == 422
    assert "after the central deadline 2026-06-03 23:59:59 Europe/Budapest" in response.json()["message"]
    assert (await http.get("/api/v1/tasks", headers=auth("sue"))).json()["items"] == []
    unknown = await http.post("/api/v1/tasks", json={"lead_id": "L1", "kind": "x"}, headers=auth("anna"))
    assert unknown.status_code == 422 and "known: not_reachable" in unknown.json()["message"]
    missing = await http.post("/api/v1/tasks", json={"lead_id": "L9", "kind": "x"}, headers=auth("anna"))
    assert missing.status_code == 422


async def test_advisors_work_on_their_own_tasks_supervisors_on_all(http: httpx.AsyncClient) -> None:
    task = await create(http)
    assert (await http.get(f"/api/v1/tasks/{task['task_id']}", headers=auth("bob"))).status_code == 404
    assert (await own_time(http, task["task_id"], "2026-06-02T10:00:00+02:00", who="bob")).status_code == 404
    assert (await http.get("/api/v1/tasks", headers=auth("bob"))).json()["items"] == []
    assert (await http.get("/api/v1/tasks", params={"advisor": "anna"}, headers=auth("bob"))).json()[
        "items"
    ] == []
    forbidden = await http.post(
        "/api/v1/tasks", json={"lead_id": "L2", "kind": "not_reachable", "owner": "anna"}, headers=auth("bob")
    )
    assert forbidden.status_code == 403
    assigned = await create(http, who="sue", lead_id="L2", kind="not_reachable", owner="bob")
    assert assigned["owner"] == "bob"
    assert [t["task_id"] for t in (await http.get("/api/v1/tasks", headers=auth("bob"))).json()["items"]] == [
        assigned["task_id"]
    ]
    by_sue = await own_time(http, task["task_id"], "2026-06-02T10:00:00+02:00", who="sue")
    assert by_sue.status_code == 200
    everyone = await http.get("/api/v1/tasks", params={"advisor": "anna"}, headers=auth("ops"))
    assert [t["task_id"] for t in everyone.json()["items"]] == [task["task_id"]]


async def test_closing_with_a_disposition_records_it_and_creates_the_follow_up(
    http: httpx.AsyncClient, kit: Kit
) -> None:
    task = await create(http, kind="not_reachable")
    response = await http.post(
        f"/api/v1/tasks/{task['task_id']}/close",
        json={"code": "callback_later", "note": "after 5 pm"},
        headers=auth("anna"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["task"]["state"], body["task"]["status"], body["task"]["close_code"]) == (
        "done", "done", "callback_later"
    )  # fmt: skip
    assert body["disposition"]["code"] == "callback_later" and body["closed"] == [task["task_id"]]
    follow_up = body["follow_up"]
    assert (follow_up["kind"], follow_up["owner"], follow_up["deadline"]) == (
        "callback_requested",
        "anna",
        "2026-06-15",
    )
    assert [d.code for d in await kit.stores.dispositions.list_for_lead("L1")] == ["callback_later"]
    again = await http.post(
        f"/api/v1/tasks/{task['task_id']}/close", json={"code": "sale"}, headers=auth("anna")
    )
    assert again.status_code == 409 and again.json()["error"] == "task-state-conflict"
    unknown = await http.post(
        f"/api/v1/tasks/{follow_up['task_id']}/close", json={"code": "nope"}, headers=auth("anna")
    )
    assert unknown.status_code == 422 and "unknown disposition 'nope'" in unknown.json()["message"]


async def test_only_a_supervisor_archives_and_only_done_or_expired_tasks(
    http: httpx.AsyncClient, kit: Kit
) -> None:
    task = await create(http, kind="not_reachable")
    archive = f"/api/v1/tasks/{task['task_id']}/archive"
    assert (await http.post(archive, headers=auth("anna"))).status_code == 403
    still_open = await http.post(archive, headers=auth("sue"))
    assert still_open.status_code == 409 and "still open" in still_open.json()["message"]

    kit.clock.set(local(2026, 6, 4, 0, 0))
    await kit.tasks.expire_due(now=kit.clock())
    expired = await http.get("/api/v1/tasks", params={"status": "expired"}, headers=auth("sue"))
    assert [t["task_id"] for t in expired.json()["items"]] == [task["task_id"]]
    archived = await http.post(archive, headers=auth("sue"))
    assert archived.status_code == 200 and archived.json()["archived_by"] == "sue"
    assert (await http.get("/api/v1/tasks", params={"status": "expired"}, headers=auth("sue"))).json()[
        "items"
    ] == []
    assert (await http.post(archive, headers=auth("sue"))).status_code == 409


async def test_status_filter_words_stale_report_and_bulk_reactivation(
    http: httpx.AsyncClient, kit: Kit
) -> None:
    task = await create(http, kind="not_reachable")
    bad = await http.get("/api/v1/tasks", params={"status": "late"}, headers=auth("sue"))
    assert (
        bad.status_code == 422
        and "open, due, overdue, at_risk, expired, done, archived" in bad.json()["message"]
    )
    kit.clock.set(local(2026, 6, 3, 21))
    risky = await http.get("/api/v1/tasks", params={"status": "at-risk"}, headers=auth("sue"))
    assert [t["at_risk"] for t in risky.json()["items"]] == [True]

    kit.clock.set(local(2026, 7, 15, 9))
    assert (await http.get("/api/v1/tasks/stale", headers=auth("anna"))).status_code == 403
    stale = await http.get("/api/v1/tasks/stale", params={"days": 30}, headers=auth("sue"))
    assert [(t["task_id"], t["status"]) for t in stale.json()["items"]] == [(task["task_id"], "expired")]
    done = await http.post(
        "/api/v1/tasks:reactivate", json={"task_ids": [task["task_id"]], "owner": "bob"}, headers=auth("sue")
    )
    assert done.status_code == 200, done.text
    fresh = done.json()[0]["new_task"]
    assert (fresh["owner"], fresh["deadline"], fresh["reactivated_from"]) == (
        "bob",
        "2026-07-17",
        task["task_id"],
    )
    assert (await http.get("/api/v1/tasks/stale", params={"days": 30}, headers=auth("sue"))).json() == {
        "items": [],
        "next_cursor": None,
    }


async def test_task_lists_page_by_cursor_past_any_cap(http: httpx.AsyncClient) -> None:
    created = [
        await create(http, lead_id=lead, kind="not_reachable") for lead in ("L1", "L2", "L1", "L2", "L1")
    ]
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 2}
    for _ in range(5):
        page = (await http.get("/api/v1/tasks", params=params, headers=auth("sue"))).json()
        seen += [t["task_id"] for t in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert sorted(seen) == sorted(t["task_id"] for t in created) and len(seen) == 5


async def test_an_own_time_sent_as_a_number_is_the_wrong_type_not_a_time_in_1970(
    http: httpx.AsyncClient,
) -> None:
    task = await create(http)
    response = await http.put(
        f"/api/v1/tasks/{task['task_id']}/own-time", json={"own_time": 12345}, headers=auth("anna")
    )
    assert response.status_code == 422
    assert "not a number" in response.json()["message"] and "past" not in response.json()["message"]


async def test_the_status_filter_is_an_enum_in_the_spec(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    [status] = [p for p in spec["paths"]["/api/v1/tasks"]["get"]["parameters"] if p["name"] == "status"]
    assert {"open", "overdue", "at_risk", "archived"} <= set(status["schema"]["enum"])


async def test_every_task_has_a_reminder_the_advisor_can_change(http: httpx.AsyncClient, kit: Kit) -> None:
    task = await create(http, own_time="2026-06-02T14:00:00+02:00")
    assert task["reminder"] == {
        "before_seconds": 3600, "of": "own_time", "at": "2026-06-02T11:00:00Z", "sent_at": None
    }  # fmt: skip  (the default of tasks.yaml: 1 hour before the own time)
    url = f"/api/v1/tasks/{task['task_id']}/reminder"
    changed = await http.put(url, json={"before": "1d", "of": "deadline"}, headers=auth("anna"))
    assert changed.status_code == 200, changed.text
    assert changed.json()["reminder"]["at"] == "2026-06-14T22:00:00Z"  # deadline 06-15 ends 06-16 00:00 CEST
    too_far = await http.put(url, json={"before": "31d"}, headers=auth("anna"))
    assert too_far.status_code == 422 and "at most 30d" in too_far.text
    not_hers = await http.put(url, json={"before": "2h"}, headers=auth("bob"))
    assert not_hers.status_code == 404
    again = await http.get(f"/api/v1/tasks/{task['task_id']}", headers=auth("anna"))
    assert again.json()["reminder"]["before_seconds"] == 86400  # nothing changed by the refusals


async def test_the_reminder_can_be_chosen_with_the_own_time(http: httpx.AsyncClient, kit: Kit) -> None:
    task = await create(http, reminder={"before": "2h"})
    body = {"own_time": "2026-06-03T10:00:00+02:00", "reminder": {"before": "30m"}}
    response = await http.put(f"/api/v1/tasks/{task['task_id']}/own-time", json=body, headers=auth("anna"))
    assert response.status_code == 200, response.text
    assert response.json()["task"]["reminder"]["at"] == "2026-06-03T07:30:00Z"


async def test_a_supervisor_rehearses_the_rules_in_force(http: httpx.AsyncClient, kit: Kit) -> None:
    body = {"at": "2026-04-02T16:30:00+02:00", "disposition": "callback_later"}
    body["own_time"] = "2026-04-20T10:00:00+02:00"
    response = await http.post("/api/v1/tasks:preview", json=body, headers=auth("sue"))
    assert response.status_code == 200, response.text
    [row] = response.json()
    assert (row["kind"], row["deadline"], row["own_time"]) == ("callback_requested", "2026-04-16", None)
    refused = "own time 2026-04-20 10:00 is after the central deadline 2026-04-16"
    assert row["own_time_refused"].startswith(refused)
    assert await kit.tasks.list_tasks(now=kit.clock()) == [], "nothing is stored"
    advisor = await http.post("/api/v1/tasks:preview", json=body, headers=auth("anna"))
    assert advisor.status_code == 403


@pytest.mark.parametrize("before", ["0d", "31d", "721h", "43201m", "1h30m", 0, 2592001, 3600.5, True])
async def test_a_reminder_outside_what_the_schema_says_is_refused(
    http: httpx.AsyncClient, kit: Kit, before: object
) -> None:
    task = await create(http)
    url = f"/api/v1/tasks/{task['task_id']}/reminder"
    response = await http.put(url, json={"before": before}, headers=auth("anna"))
    assert response.status_code == 422, response.text
    assert response.json()["details"]["errors"][0]["field"] == "body.before"
    fine = await http.put(url, json={"before": "30d"}, headers=auth("anna"))
    assert fine.json()["reminder"]["before_seconds"] == 2592000
    whole = await http.put(url, json={"before": 370.0}, headers=auth("anna"))  # JSON's integer 370
    assert whole.json()["reminder"]["before_seconds"] == 370
async def test_the_stale_report_pages_by_cursor_oldest_activity_first(
    http: httpx.AsyncClient, kit: Kit
) -> None:
    await kit.leads(3)
    made = []
    for index in (1, 2, 3):
        made.append((await create(http, lead_id=f"L{index}", kind="not_reachable"))["task_id"])
        kit.clock.set(kit.clock() + timedelta(minutes=1))
    kit.clock.set(local(2026, 7, 15, 9))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"days": 30, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await http.get("/api/v1/tasks/stale", params=params, headers=auth("sue"))).json()
        assert len(page["items"]) <= 2
        seen += [t["task_id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made, "every stale task once, oldest activity first"
    recent = await http.get("/api/v1/tasks/stale", params={"days": 60}, headers=auth("sue"))
    assert recent.json() == {"items": [], "next_cursor": None}, "none older than 60 days"
