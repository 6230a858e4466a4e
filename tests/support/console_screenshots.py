"""Screenshots of the console's main pages for docs/console/ (run by scripts/screenshots).

The real engine on a private Redis and the simulated PBX, a little data (an advisor on a call
with a case summary, a waiting caller, tasks one of them past its deadline, a Robinson request),
Debian's chromium at a laptop's 1366x768.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

from switchboard.private_redis import PrivateRedis
from tests.support.console_harness import CHROMIUM, CHROMIUM_ARGS, Engine, running_engine, signed_in


async def _seed(engine: Engine) -> None:
    leads = [
        {"lead_id": f"L-{n}", "customer_id": f"C-{n}", "name": name, "phones": [f"+3630111000{n}"]}
        for n, name in enumerate(["Kiss Anna", "Nagy Béla", "Tóth Éva"], start=1)
    ]
    await engine.call_api(
        "crm", "POST", "/api/v1/leads:bulk", json={"campaign_id": "renewals", "leads": leads}
    )
    await engine.call_api(
        "crm", "PUT", "/api/v1/acd/customers/+36301234999", json={"segment": "active", "lead_id": "L-1"}
    )
    store, now = engine.parts.tasks.store, datetime.now(UTC)
    await store.create(lead_id="L-1", kind="not_reachable", now=now - timedelta(days=6), actor="1001")
    second = await store.create(lead_id="L-2", kind="callback_requested", now=now, actor="1001")
    third = await store.create(lead_id="L-3", kind="not_reachable", now=now, actor="1001")
    zone = engine.runtime.settings.zone
    day = datetime.now(zone).date() + timedelta(days=1)
    while day.weekday() >= 5:  # a working day, inside calling hours
        day += timedelta(days=1)
    for task, hour in ((second, 10), (third, 14)):
        at = datetime(day.year, day.month, day.day, hour, tzinfo=zone)
        await store.set_own_time(task.task_id, at, now=now, actor="1001")
    request = {"customer_name": "Tóth Éva", "phone": "+36301110003", "email": "eva@example.hu",
               "customer_id": "C-3", "justification": "Asked never to be called again."}  # fmt: skip
    await engine.call_api("ann", "POST", "/api/v1/robinson-requests", json=request)


async def shoot(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    redis = PrivateRedis().start()
    written: list[Path] = []
    try:
        async with running_engine(redis, Path(tempfile.mkdtemp())) as engine, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            await _seed(engine)
            await engine.parts.acd.login("1004")
            advisor = await signed_in(browser, engine, "ann", lang="hu")
            await advisor.click("#btn-login")
            await engine.sim.inbound_call("+36301234999", ivr_choice="1")
            await advisor.wait_for_selector("#case-caller")
            await advisor.fill("#summary", "Nincs internet a router újraindítása után; vonalmérés kérve.")
            await advisor.click("#save-summary")
            await engine.sim.inbound_call("+36305550001", ivr_choice="2")
            written.append(await _shot(advisor, out / "advisor-hu.png"))
            supervisor = await signed_in(browser, engine, "sue", lang="en")
            await supervisor.wait_for_selector("[data-call]")
            written.append(await _shot(supervisor, out / "wallboard-en.png"))
            await supervisor.click("#nav a[href='#/robinson']")
            await supervisor.wait_for_selector("tr[data-request]")
            written.append(await _shot(supervisor, out / "robinson-en.png"))
            polish = await signed_in(browser, engine, "ann", lang="pl")
            await polish.wait_for_selector("tr[data-task]")
            await polish.wait_for_selector("#case-caller")  # the layout above is final
            await polish.click("#cal-week")  # the week
            await polish.wait_for_selector("#tasks .cal .item")
            await polish.locator("#tasks").screenshot(path=str(out / "tasks-pl.png"))
            written.append(out / "tasks-pl.png")
            await browser.close()
    finally:
        redis.stop()
    return written


async def _shot(page: Any, path: Path) -> Path:
    await page.screenshot(path=str(path))
    return path


if __name__ == "__main__":
    for written in asyncio.run(shoot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/console"))):
        print(f"{written} ({written.stat().st_size // 1024} KB)")
