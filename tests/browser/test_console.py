"""The web console in a real browser (Debian's chromium, Playwright) against the real engine, the
simulated PBX and a private Redis: the advisor's call in hand, the supervisor's wallboard and
Robinson review, a task past its deadline in red, and every page in Hungarian, Polish and English."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from playwright.async_api import Browser, Route, expect

from dialer.tasks.reminders import Reminder, ReminderAnchor
from switchboard.console.routes import STATIC
from switchboard.private_redis import PrivateRedis
from tests.support.console_harness import Engine, running_engine, signed_in

RED = "rgb(176, 0, 32)"
EMPTY = "\u2013"  # what the console shows for an empty field (an en dash)
# Calls the engine through the console's own api module; the error sentence the page would show.
API_ERROR = """async ([method, path, body]) => {
    const { api } = await import("/console/static/js/api.js");
    try { await api(method, path, body); return null; } catch (exc) { return exc.message; }
}"""
DESCRIBE = """async (body) => (await import("/console/static/js/errors.js")).describeError(418, body)"""


async def _lead(engine: Engine, lead_id: str, number: str) -> None:
    lead = {"lead_id": lead_id, "customer_id": f"C-{lead_id}", "name": "Kiss Anna", "phones": [number]}
    await engine.call_api(
        "crm", "POST", "/api/v1/leads:bulk", json={"campaign_id": "renewals", "leads": [lead]}
    )


def _quiet(page: Any) -> list[str]:
    """Browser errors other than the expected 401 of the first session check."""
    return [p for p in page.problems if "401" not in p]


async def _consult_bob(page: Any) -> None:
    """Ann starts a warm transfer of her call to bob (advisor 1002): they consult."""
    await page.select_option("#transfer-kind", "agent")
    await page.fill("#transfer-to", "1002")
    await page.select_option("#transfer-mode", "warm")
    await page.click("#transfer-go")
    await expect(page.locator("#transfer-consulting")).to_be_visible()


async def _dispose_an_inbound_call_without_lead(engine: Engine, page: Any) -> None:
    """An inbound caller the CRM does not know: no lead; the disposition goes by the call id."""
    await page.click("#btn-ready")
    await expect(page.locator("#agent-state")).to_have_attribute("data-state", "ready")
    stranger = "+36301230077"
    channel = await engine.sim.inbound_call(stranger, ivr_choice="1")
    await expect(page.locator("#case-caller")).to_have_text(stranger, timeout=5000)
    case_id = (await page.locator("#case-id").inner_text()).strip()
    engine.sim.core.hangup(engine.sim.channels[channel], 16)
    await expect(page.locator("#wrap-up")).to_be_visible()
    await expect(page.locator("#disposition-lead")).to_have_value("")
    await page.select_option("#disposition-code", "do_not_call")
    await page.click("#save-disposition")
    await expect(page.locator("#disposition-status")).to_have_text(
        f"Disposition saved for case {case_id}: Do not call (nie dzwonić / ne hívjon)."
    )
    found = await engine.call_api("crm", "GET", "/api/v1/dispositions", params={"case_id": case_id})
    assert [(d["lead_id"], d["code"], d["number"]) for d in found["items"]] == [("", "do_not_call", stranger)]


async def test_the_bridged_call_and_its_case_reach_the_advisor_within_a_second(
    browser: Browser, redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    caller = "+36301234999"
    async with running_engine(redis_server, tmp_path) as engine:
        await engine.call_api(
            "crm", "PUT", f"/api/v1/acd/customers/{caller}", json={"segment": "active", "lead_id": "L-77"}
        )
        await _lead(engine, "L-77", caller)
        await engine.parts.acd.login("1004")  # tech 5: the top agent, kept for key callers
        page = await signed_in(browser, engine, "ann")
        await expect(page.locator("#no-call")).to_be_visible()
        await page.click("#btn-login")
        await expect(page.locator("#agent-state")).to_have_attribute("data-state", "ready")

        channel = await engine.sim.inbound_call(caller, ivr_choice="1")  # support, tech 3: advisor 1001
        await engine.sim.wait_for_action("Bridge", timeout=10)
        bridged = time.monotonic()
        await expect(page.locator("#case-caller")).to_have_text(caller, timeout=1000)
        assert time.monotonic() - bridged < 1.0, "the case is on screen within a second of the bridge"
        await expect(page.locator("#agent-state")).to_have_attribute("data-state", "busy")
        await expect(page.locator("#case-queue")).to_have_text("support")
        await expect(page.locator("#case-tier")).to_have_text("active")
        await expect(page.locator("#case-ivr")).to_have_text("no internet (1)")
        case_id = (await page.locator("#case-id").inner_text()).strip()
        assert case_id and case_id != EMPTY

        await page.fill("#summary", "Router restarted; still no sync. Line test booked.")
        await page.click("#save-summary")
        await expect(page.locator("#summary-status")).to_have_text("Saved.")
        call_id = engine.parts.acd.agent("1001").call_id
        assert (
            await engine.parts.acd.case(call_id)
        ).summary == "Router restarted; still no sync. Line test booked."

        engine.sim.core.hangup(engine.sim.channels[channel], 16)  # the caller hangs up: wrap-up
        await expect(page.locator("#wrap-up")).to_be_visible()
        await page.fill("#summary", "Router restarted; still no sync. Line test booked for Monday.")
        await page.click("#save-summary")
        await expect(page.locator("#summary-status")).to_have_text("Saved.")
        assert (await engine.parts.acd.case(call_id)).summary.endswith("for Monday."), "editable in wrap-up"

        await expect(page.locator("#disposition-lead")).to_have_value("L-77")
        await page.select_option("#disposition-code", "callback_later")
        await page.fill("#disposition-note", "call back after the line test")
        await page.click("#save-disposition")
        await expect(page.locator("#disposition-status")).to_contain_text("Disposition saved")
        saved = await engine.call_api("crm", "GET", "/api/v1/dispositions", params={"lead_id": "L-77"})
        assert [(d["code"], d["advisor"], d["call_id"]) for d in saved["items"]] == [
            ("callback_later", "1001", call_id)
        ]

        await _dispose_an_inbound_call_without_lead(engine, page)
        assert _quiet(page) == []


async def test_the_supervisor_sees_the_waiting_caller_and_an_approved_robinson_request_blocks_the_number(
    browser: Browser, redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    waiting, customer = "+36305550001", "+36305550002"
    async with running_engine(redis_server, tmp_path) as engine:
        board = await signed_in(browser, engine, "sue")
        await expect(board.locator("#wallboard")).to_be_visible()
        await engine.sim.inbound_call(waiting)  # nobody is logged in: the caller waits
        row = board.locator("[data-call]", has_text=waiting)
        await expect(row).to_be_visible(timeout=3000)
        await expect(board.locator('[data-tier="active"] td').nth(1)).to_have_text("1")

        advisor = await signed_in(browser, engine, "ann")
        fields = {
            "customer_name": "Kiss Anna", "phone": customer, "email": "anna@example.hu", "customer_id": "C-9",
            "justification": "Asked on the phone never to be called again.",
        }  # fmt: skip
        await advisor.fill("#rb-customer_name", fields["customer_name"])
        await advisor.click("#robinson-submit")
        await expect(advisor.locator("#rb-phone-error")).to_have_text("Required.")
        for name, value in fields.items():
            await advisor.fill(f"#rb-{name}", value)
        await advisor.click("#robinson-submit")
        await expect(advisor.locator("#robinson-status")).to_contain_text("Request filed")
        await expect(advisor.locator("#robinson tbody tr").first).to_contain_text("Pending")

        await board.click("#nav a[href='#/robinson']")
        pending = board.locator("tr[data-request]", has_text="Kiss Anna")
        await pending.locator("input").fill("Confirmed by phone.")
        await pending.locator("button.approve").click()
        await expect(pending).to_have_count(0)
        check = await engine.call_api("sue", "POST", "/api/v1/blacklist/check", json={"numbers": [customer]})
        assert check["results"][0]["blocked"] is True, "the approved customer's number is blocked"

        await board.click("#nav a[href='#/lists']")
        await board.fill("#check-numbers", customer)
        await board.click("#check")
        await expect(board.locator("td.bad")).to_have_text("yes")
        await advisor.reload()
        await expect(advisor.locator("#robinson tbody tr").first).to_contain_text("Confirmed by phone.")
        assert _quiet(board) == [] and _quiet(advisor) == []


async def test_a_task_past_its_deadline_is_red_and_the_picker_refuses_times_after_the_deadline(
    browser: Browser, redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    async with running_engine(redis_server, tmp_path) as engine:
        await _lead(engine, "L-1", "+36301110001")
        await _lead(engine, "L-2", "+36301110002")
        store, now = engine.parts.tasks.store, datetime.now(UTC)
        late = await store.create(
            lead_id="L-1", kind="not_reachable", now=now - timedelta(days=6), actor="1001"
        )
        fresh = await store.create(lead_id="L-2", kind="callback_requested", now=now, actor="1001")
        page = await signed_in(browser, engine, "ann")

        late_row = page.locator(f'tr[data-task="{late.task_id}"]')
        await expect(late_row.locator("td.deadline")).to_contain_text("passed")
        assert await late_row.locator("td.deadline").evaluate("e => getComputedStyle(e).color") == RED
        fresh_row = page.locator(f'tr[data-task="{fresh.task_id}"]')
        assert await fresh_row.locator("td.deadline").evaluate("e => getComputedStyle(e).color") != RED

        await fresh_row.locator("button").click()
        picker = fresh_row.locator("input[type=datetime-local]")
        after = (fresh.deadline_date + timedelta(days=1)).isoformat() + "T10:00"
        await picker.fill(after)
        await fresh_row.locator("button[type=submit]").click()
        error = fresh_row.locator("p.error")
        await expect(error).to_contain_text("after the deadline")
        shown = (await fresh_row.locator("td.deadline").inner_text()).strip()
        await expect(error).to_contain_text(shown)  # the deadline as the table shows it
        await picker.fill((now - timedelta(days=1)).strftime("%Y-%m-%dT10:00"))
        await fresh_row.locator("button[type=submit]").click()
        await expect(error).to_have_text("This time has already passed.")
        # The engine checks too; its refusal reads with the time and the deadline date filled in.
        zone = engine.runtime.settings.zone
        late_time = datetime.combine(fresh.deadline_date + timedelta(days=1), datetime.min.time(), zone)
        late_time += timedelta(hours=10)
        path = f"/api/v1/tasks/{fresh.task_id}/own-time"
        refused = await page.evaluate(API_ERROR, ["PUT", path, {"own_time": late_time.isoformat()}])
        deadline = fresh.deadline_date
        assert refused == (
            f"{late_time:%d/%m/%Y}, 10:00 is after the central deadline "
            f"({deadline.day} {deadline:%b} {deadline.year})."
        )
        page.problems.clear()  # the 422 just provoked
        good = (fresh.deadline_date - timedelta(days=2)).isoformat() + "T10:00"
        await picker.fill(good)
        await page.get_by_label("Remind me by e-mail").select_option("86400")  # seed 002: a reminder each
        await page.get_by_label("before", exact=True).select_option("deadline")
        await fresh_row.locator("button[type=submit]").click()
        await expect(page.locator(f'tr[data-task="{fresh.task_id}"] td').nth(3)).not_to_have_text(EMPTY)
        stored = await store.get(fresh.task_id)
        assert (
            stored.own_time is not None
            and stored.own_time.astimezone(engine.runtime.settings.zone).hour == 10
        )
        assert stored.reminder == Reminder(timedelta(days=1), ReminderAnchor.DEADLINE)
        assert stored.remind_at == stored.expires_at - timedelta(days=1)

        await page.click("button[data-filter=expired]")
        await expect(page.locator("tr[data-task]")).to_have_count(1)
        await expect(page.locator(f'tr[data-task="{late.task_id}"]')).to_be_visible()
        assert _quiet(page) == []


def _catalogue(lang: str) -> dict[str, str]:
    return dict(json.loads((STATIC / "i18n" / f"{lang}.json").read_text(encoding="utf-8")))


UNLABELLED = """() => [...document.querySelectorAll("input, select, textarea, button")]
    .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.textContent.trim())
    .map((e) => e.id || e.outerHTML.slice(0, 80))"""


async def _no_raw_keys(page: Any, lang: str) -> None:
    text = await page.locator("body").inner_text()
    raw = [key for key in _catalogue(lang) if key in text]
    assert raw == [], f"untranslated keys on {page.url} in {lang}: {raw}"
    assert await page.evaluate(UNLABELLED) == [], f"fields without a label on {page.url}"


async def _engine_errors_read_in(lang: str, advisor: Any, supervisor: Any) -> None:
    """The engine's errors, by id, in the user's language with their details filled in; an id the
    console does not know shows the engine's English message."""
    texts = _catalogue(lang)
    me = "/api/v1/acd/agents/1001"
    wrong_state = await advisor.evaluate(API_ERROR, ["POST", f"{me}/ready", None])
    logged_out = texts["state.logged_out"]
    assert wrong_state == texts["error.agent-transition-invalid"].replace("{state:state}", logged_out)
    too_long = await advisor.evaluate(API_ERROR, ["POST", f"{me}/pause", {"reason": "x" * 101}])
    problem = texts["validation.string_too_long"].replace("{max_length}", "100")
    item = texts["validation.item"].replace("{field}", texts["field.reason"]).replace("{problem}", problem)
    assert too_long == texts["validation.title"].replace("{problems}", item)
    unknown = {"error": "made-up-id", "message": "the engine's own words", "details": {}}
    assert await advisor.evaluate(DESCRIBE, unknown) == "the engine's own words"

    await supervisor.click("#nav a[href='#/lists']")
    await supervisor.fill("#internal-number", "12")
    await supervisor.fill("#internal-reason", "asked by letter")
    await supervisor.click("#internal-add")
    sentence = texts["error.validation-failed.phone-number"].replace("{region}", "HU")
    await expect(supervisor.locator("#internal-status")).to_have_text(sentence)


async def test_every_page_works_in_hungarian_polish_and_english(
    browser: Browser, redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    async with running_engine(redis_server, tmp_path) as engine:
        for lang in ("hu", "pl", "en"):
            texts = _catalogue(lang)
            advisor = await signed_in(browser, engine, "ann", lang=lang)
            await expect(advisor.locator("#tasks h2")).to_have_text(texts["tasks.title"])
            await expect(advisor.locator("#robinson-title")).to_have_text(texts["robinson.title"])
            await _no_raw_keys(advisor, lang)
            supervisor = await signed_in(browser, engine, "sue", lang=lang)
            for page in (
                "wallboard",
                "agents",
                "robinson",
                "tasks",
                "campaigns",
                "lists",
                "outages",
                "rules",
            ):
                await supervisor.click(f"#nav a[href='#/{page}']")
                await expect(supervisor.locator("main h1")).to_have_text(texts[f"nav.{page}"])
                await _no_raw_keys(supervisor, lang)
            assert _quiet(advisor) == [] and _quiet(supervisor) == []
            await _engine_errors_read_in(lang, advisor, supervisor)  # answers 4xx on purpose
            await advisor.context.close()
            await supervisor.context.close()


async def test_a_preview_offer_is_pushed_and_declined_and_the_advisor_pauses_with_a_reason(
    browser: Browser, redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    async with running_engine(redis_server, tmp_path) as engine:
        await _lead(engine, "L-5", "+36301110005")
        page = await signed_in(browser, engine, "ann")
        await expect(page.locator("#offer")).to_contain_text("No lead offered.")
        leads, now = engine.parts.stores.leads, datetime.now(UTC)
        claimed = await leads.claim("renewals", "pacer", now=now)
        assert claimed is not None
        await leads.offer(claimed.lead_id, "pacer", "1001", now=now, timeout=timedelta(minutes=5))
        await expect(page.locator("#offer")).to_contain_text("Kiss Anna", timeout=3000)  # pushed, no reload
        await expect(page.locator("#offer")).to_contain_text("+36301110005")
        await page.click("#offer-decline")
        await expect(page.locator("#offer")).to_contain_text("No lead offered.")
        assert await leads.current_offer("1001", now=datetime.now(UTC)) is None

        # The advisor's own state: log in, pause with a reason, ready, log out; the time in it shows.
        state = page.locator("#agent-state")
        await page.click("#btn-login")
        await expect(state).to_have_attribute("data-state", "ready")
        await page.fill("#pause-reason", "lunch")
        await page.click("#btn-pause")
        await expect(state).to_have_attribute("data-state", "paused")
        await expect(state.locator("xpath=..")).to_contain_text("lunch")  # the state line says why
        assert engine.parts.acd.agent("1001").pause_reason == "lunch"
        await expect(page.locator("#state-time")).to_have_text(re.compile(r"^0:0\d$"))
        await page.click("#btn-ready")
        await expect(state).to_have_attribute("data-state", "ready")
        await page.click("#btn-logout")
        await expect(state).to_have_attribute("data-state", "logged_out")
        assert engine.parts.acd.agent("1001").state == "logged_out"
        assert _quiet(page) == []


async def test_the_supervisor_reactivates_stale_tasks_in_bulk_and_archives_expired_ones(
    browser: Browser, redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    async with running_engine(redis_server, tmp_path) as engine:
        for n in (1, 2, 3):
            await _lead(engine, f"L-{n}", f"+3630111000{n}")
        store, now = engine.parts.tasks.store, datetime.now(UTC)
        old = [
            await store.create(
                lead_id=f"L-{n}", kind="not_reachable", now=now - timedelta(days=40), actor="1001"
            )
            for n in (1, 2)
        ]
        late = await store.create(
            lead_id="L-3", kind="not_reachable", now=now - timedelta(days=5), actor="1002"
        )
        page = await signed_in(browser, engine, "sue")
        await page.click("#nav a[href='#/tasks']")
        await page.click("main .tabs button:nth-child(3)")  # Stale
        # The expired list (which holds these tasks too) stays on screen until the stale one is drawn
        # with its own, empty selection: tick the boxes of the stale list.
        await expect(page.locator("main .tabs button:nth-child(3)")).to_have_attribute("aria-pressed", "true")
        for task in old:
            await page.locator(f'tr[data-task="{task.task_id}"] input[type=checkbox]').check()
        await page.click("main .row button")
        await expect(page.locator("#toast")).to_have_text("2 tasks reactivated.")
        assert all([(await store.get(t.task_id)).reactivated_to for t in old])

        await page.click("main .tabs button:nth-child(1)")  # Expired
        await expect(page.locator("main .tabs button:nth-child(1)")).to_have_attribute("aria-pressed", "true")
        row = page.locator(f'tr[data-task="{late.task_id}"]')
        await row.locator("input[type=checkbox]").check()
        await page.click("main .row button")
        await expect(row).to_have_count(0)
        assert (await store.get(late.task_id)).archived_by == "sue"
        assert _quiet(page) == []


async def test_the_supervisor_steers_campaigns_agents_lists_and_sees_a_refused_rules_edit(
    browser: Browser, redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    async with running_engine(redis_server, tmp_path) as engine:
        page = await signed_in(browser, engine, "sue")
        await page.click("#nav a[href='#/campaigns']")
        campaign = page.locator('tr[data-campaign="renewals"]')
        await campaign.get_by_role("button", name="Start").click()
        await expect(campaign.locator("td").nth(1)).to_have_text("Running")
        await campaign.get_by_role("button", name="Pause").click()
        await expect(campaign.locator("td").nth(1)).to_have_text("Paused")

        await engine.parts.acd.login("1003")
        await page.click("#nav a[href='#/agents']")
        agent = page.locator('tr[data-agent="1003"]')
        await agent.get_by_label("Skills of 1003").fill("billing:4, hungarian:5")
        async with page.expect_response(lambda r: r.url.endswith("/agents/1003/skills")) as saved:
            await agent.get_by_role("button", name="Save").click()  # the field shows what was typed at once
        assert (await saved.value).ok
        await expect(agent.get_by_label("Skills of 1003")).to_have_value("billing:4, hungarian:5")
        assert engine.parts.acd.agent("1003").skills == {"billing": 4, "hungarian": 5}
        await agent.get_by_label("Pause reason for 1003").fill("coaching")
        await agent.get_by_role("button", name="Pause").click()
        await expect(agent).to_contain_text("coaching")
        assert engine.parts.acd.agent("1003").state == "paused"

        await page.click("#nav a[href='#/lists']")
        await page.fill("#internal-number", "06 30 999 8877")
        await page.click("#internal-add")
        await expect(page.locator("#internal-status")).to_have_text("Give a number and a reason.")
        await page.fill("#internal-reason", "asked by letter")
        await page.click("#internal-add")
        await expect(page.locator("#internal-status")).to_have_text("+36309998877 is on the internal list.")
        await page.click("#internal-remove")
        await expect(page.locator("#internal-status")).to_have_text("+36309998877 is off the internal list.")

        routing = engine.rules_dir / "routing.yaml"
        routing.write_text(routing.read_text().replace("wrap_up: 20s", "wrap_up: -1s", 1))
        await engine.parts.reloader.check_all()
        await page.click("#nav a[href='#/rules']")
        refused = page.locator('[data-rules="routing"]')
        await expect(refused.locator("h3")).to_contain_text("Last refused edit")
        await expect(refused.locator("li")).to_contain_text("wrap_up")
        assert _quiet(page) == []


async def test_the_supervisor_declares_an_outage_that_only_its_callers_hear_and_ends_it(
    browser: Browser, redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    async with running_engine(redis_server, tmp_path) as engine:
        page = await signed_in(browser, engine, "sue")
        await page.click("#nav a[href='#/outages']")
        await page.fill("#outage-id", "debrecen-fibre")
        await page.fill("#outage-title", "Fibre cut in Debrecen")
        await page.fill("#outage-prefixes", "+3652")
        await page.fill("#outage-text", "We know about the fault; it is fixed by six.")
        await page.click("#outage-submit")
        await expect(page.locator("#outage-status")).to_have_text("Outage debrecen-fibre declared.")
        row = page.locator('tr[data-outage="debrecen-fibre"]')
        await expect(row.locator("td").nth(2)).to_have_text("Number prefixes: +3652")
        await expect(row.locator("td").nth(4)).to_have_text("yes")

        leaver = await engine.sim.inbound_call("+36521234567", "+3612345678", patience_s=0.5)
        outsider = await engine.sim.inbound_call("+36301112222", "+3612345678", patience_s=600)
        await engine.sim.wait_for_channels(lambda channels: leaver not in channels, timeout=10)
        heard = [e.get("Channel") for e in engine.sim.events if e.get("Context") == "switchboard-notice"]
        assert leaver in heard and outsider not in heard
        await page.click("#nav a[href='#/wallboard']")
        await page.click("#nav a[href='#/outages']")
        await expect(row.locator("td").nth(5)).to_have_text("1")  # heard
        await expect(row.locator("td").nth(6)).to_have_text("1")  # left after it: served by the notice
        await expect(row.locator("td").nth(7)).to_have_text("0")  # read out to everyone it was sent to

        await row.get_by_role("button", name="End now").click()
        await expect(row.locator("td").nth(4)).to_have_text("no")
        await page.fill("#outage-id", "debrecen-fibre")  # the same id again: refused with the engine's reason
        await page.fill("#outage-title", "Fibre cut in Debrecen")
        await page.fill("#outage-prefixes", "+3652")
        await page.fill("#outage-text", "We know about the fault.")
        await page.click("#outage-submit")
        await expect(page.locator("#outage-status")).to_contain_text("already declared")
        assert [p for p in _quiet(page) if "409 (Conflict)" not in p] == []  # the refusal itself


async def test_the_advisor_consults_a_colleague_completes_the_transfer_and_the_case_goes_with_the_call(
    browser: Browser, redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    async with running_engine(redis_server, tmp_path) as engine:
        acd = engine.parts.acd
        await acd.login("1004")  # the key callers' top agent stays out of the way
        page = await signed_in(browser, engine, "ann")
        await page.click("#btn-login")
        await expect(page.locator("#agent-state")).to_have_attribute("data-state", "ready")
        channel = await engine.sim.inbound_call("+36301234888", ivr_choice="1")
        await expect(page.locator("#case-caller")).to_have_text("+36301234888", timeout=3000)
        call_id = acd.agent("1001").call_id
        await page.fill("#summary", "Invoice twice; wants a refund.")
        await page.click("#save-summary")
        await expect(page.locator("#summary-status")).to_have_text("Saved.")
        bob = await signed_in(browser, engine, "bob")  # advisor 1002, on his own screen
        await bob.click("#btn-login")
        await expect(bob.locator("#agent-state")).to_have_attribute("data-state", "ready")

        await _consult_bob(page)
        case = await acd.case(call_id)
        assert (case.state, case.transferer, case.agent_id) == ("consulting", "1001", "1002")
        caller = engine.sim.channels[channel]
        assert caller.bridge is None and caller.context == "switchboard-transfer", (
            "the caller holds with music"
        )
        # the colleague answers the consult: the engine bridges them to ann (it holds its lock
        # until then, so the complete below waits for it)
        consult = await engine.sim.wait_for_action(
            "Bridge", lambda a: (a.get("Channel2") or "").startswith("PJSIP/1002-"), timeout=5
        )
        assert (consult.get("Channel1") or "").startswith("PJSIP/1001-")

        # bob has the case while they consult: id, summary, who transfers it
        await expect(bob.locator("#case-id")).to_have_text(case.case_id, timeout=3000)
        await expect(bob.locator("#summary")).to_have_value("Invoice twice; wants a refund.")
        await expect(bob.locator("#case-transferred-from")).to_have_text("1001")

        await page.click("#transfer-complete")
        await expect(page.locator("#wrap-up")).to_be_visible()
        await expect(bob.locator("#transfer-form")).to_be_visible(timeout=3000)  # the call is his now
        after = await acd.case(call_id)
        assert (after.state, after.agent_id, after.transferred_from) == ("connected", "1002", "1001")
        assert after.summary == "Invoice twice; wants a refund."

        await page.reload()  # the advisor reloads during wrap-up: the call is still there to finish
        await expect(page.locator("#case-id")).to_have_text(after.case_id, timeout=3000)
        await page.fill("#summary", "Invoice twice; wants a refund. Passed to billing (1002).")
        await page.click("#save-summary")
        await expect(page.locator("#summary-status")).to_have_text("Saved.")
        assert (await acd.case(call_id)).summary.endswith("Passed to billing (1002).")
        assert _quiet(page) == [] and _quiet(bob) == []


async def test_a_summary_typed_before_the_case_is_read_survives_the_read_and_is_saved(
    browser: Browser, redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    """The handover draws the call at once and the read of the case (the IVR label, the stored
    summary) redraws it when it answers: what the advisor typed meanwhile stays in the box and is
    what she saves. (The redraw used to put back the stored, empty summary: under load the save
    then stored "" and the colleague of a warm transfer got an empty box.) The read is held here
    until she has typed, so the order is forced."""
    case_reads = "**/api/v1/acd/calls/*/case"
    held: list[Route] = []
    asked = asyncio.Event()
    released = False

    async def hold_reads(route: Route) -> None:
        if route.request.method != "GET" or released:
            await route.continue_()
            return
        held.append(route)
        asked.set()

    async with running_engine(redis_server, tmp_path) as engine:
        acd = engine.parts.acd
        await acd.login("1004")  # the key callers' top agent stays out of the way
        page = await signed_in(browser, engine, "ann")
        await page.click("#btn-login")
        await expect(page.locator("#agent-state")).to_have_attribute("data-state", "ready")
        await page.route(case_reads, hold_reads)
        await engine.sim.inbound_call("+36301234888", ivr_choice="1")
        await expect(page.locator("#case-caller")).to_have_text("+36301234888", timeout=3000)
        await asyncio.wait_for(asked.wait(), 5)  # the handover drew the call; its read is on the way
        await expect(page.locator("#case-ivr")).to_have_text("1")  # no label yet: not read
        await page.fill("#summary", "Invoice twice; wants a refund.")

        released = True
        for route in held:
            await route.continue_()
        await expect(page.locator("#case-ivr")).to_have_text("no internet (1)")  # read and redrawn
        await expect(page.locator("#summary")).to_have_value("Invoice twice; wants a refund.")
        await page.click("#save-summary")
        await expect(page.locator("#summary-status")).to_have_text("Saved.")
        call_id = acd.agent("1001").call_id
        assert (await acd.case(call_id)).summary == "Invoice twice; wants a refund."
        assert _quiet(page) == []


async def test_the_consulted_colleague_sees_a_summary_written_during_the_consult(
    browser: Browser, redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    """The handover reaches bob with the summary as it was (empty here); ann writes it while they
    consult: bob's screen, which reads the case again during a consult, shows it (it used to keep
    the handover's empty summary over every later read)."""
    async with running_engine(redis_server, tmp_path) as engine:
        acd = engine.parts.acd
        await acd.login("1004")
        page = await signed_in(browser, engine, "ann")
        await page.click("#btn-login")
        await expect(page.locator("#agent-state")).to_have_attribute("data-state", "ready")
        await engine.sim.inbound_call("+36301234888", ivr_choice="1")
        await expect(page.locator("#case-caller")).to_have_text("+36301234888", timeout=3000)
        bob = await signed_in(browser, engine, "bob")
        await bob.click("#btn-login")
        await expect(bob.locator("#agent-state")).to_have_attribute("data-state", "ready")
        await _consult_bob(page)
        await expect(bob.locator("#case-transferred-from")).to_have_text("1001", timeout=5000)
        await expect(bob.locator("#summary")).to_have_value("")

        await page.fill("#summary", "Invoice twice; wants a refund.")
        await page.click("#save-summary")
        await expect(page.locator("#summary-status")).to_have_text("Saved.")
        await expect(bob.locator("#summary")).to_have_value("Invoice twice; wants a refund.")
        await page.click("#transfer-complete")
        await expect(bob.locator("#transfer-form")).to_be_visible(timeout=3000)  # the call is his now
        await expect(bob.locator("#summary")).to_have_value("Invoice twice; wants a refund.")
        assert _quiet(page) == [] and _quiet(bob) == []
