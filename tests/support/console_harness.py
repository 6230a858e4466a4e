"""Shared harness for the console's tests (no tests here): the real engine (`Runtime`, as
`switchboard run` builds it) on a private Redis, speaking AMI over TCP to the simulated PBX,
its HTTP server on a free port; and Debian's chromium driven by Playwright.

Tokens: `ann-token` is advisor 1001 (tech 3, billing 5 in config/routing.yaml), `bob-token`
advisor 1002, `sue-token` a supervisor, `crm-token` the CRM. Rule files are the shipped
examples (config/), copied so a test may edit them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from pbx.sim import AgentPhone, SimConfig, SimulatedPbx
from switchboard.api.tokens import TokenStore
from switchboard.private_redis import PrivateRedis
from switchboard.runtime import EXAMPLE_CONFIG, Parts, Runtime
from switchboard.settings import AmiSection, HttpSection, RedisSection, RulesSection, Settings

SECRET = "console-secret"
TOKENS = {"ann": "ann-token-0123456789", "bob": "bob-token-0123456789", "sue": "sue-token-0123456789",
          "crm": "crm-token-0123456789"}  # fmt: skip
AGENT_OF = {"ann": "1001", "bob": "1002"}
STORE = TokenStore.from_tokens(
    [
        (TOKENS["ann"], "1001", "advisor"),
        (TOKENS["bob"], "1002", "advisor"),
        (TOKENS["sue"], "sue", "supervisor"),
        (TOKENS["crm"], "crm", "crm"),
    ]
)
CHROMIUM = os.environ.get("SWITCHBOARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
]  # fmt: skip
CAMPAIGNS = """
version: 1
campaigns:
  - id: renewals
    name: Renewals
    mode: progressive
    dial_string: PJSIP/{number}@trunk
    queue: sales
"""


@dataclass
class Engine:
    sim: SimulatedPbx
    runtime: Runtime
    parts: Parts
    base_url: str
    rules_dir: Path

    def http(self, who: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {TOKENS[who]}"} if who else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=10)

    async def call_api(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        async with self.http(who) as client:
            reply = await client.request(method, path, **kwargs)
        assert reply.status_code < 300, f"{method} {path}: {reply.status_code} {reply.text}"
        return reply.json() if reply.content else None


def _rule_files(folder: Path) -> RulesSection:
    for name in ("routing.yaml", "dispositions.yaml", "tasks.yaml"):
        shutil.copy(EXAMPLE_CONFIG / name, folder / name)
    (folder / "campaigns.yaml").write_text(CAMPAIGNS)
    return RulesSection(
        routing=folder / "routing.yaml", campaigns=folder / "campaigns.yaml",
        dispositions=folder / "dispositions.yaml", tasks=folder / "tasks.yaml",
    )  # fmt: skip


@contextlib.asynccontextmanager
async def running_engine(
    redis: PrivateRedis, folder: Path, sim: SimConfig | None = None
) -> AsyncIterator[Engine]:
    pbx = SimulatedPbx(
        sim or SimConfig(users={"switchboard": SECRET}, default_agent=AgentPhone(answer_after_s=0.1)), seed=3
    )
    port = await pbx.start()
    settings = Settings(
        ami=AmiSection(port=port, secret=SecretStr(SECRET)),
        redis=RedisSection(url=SecretStr(redis.url)),
        http=HttpSection(port=0),
        rules=_rule_files(folder),
    )
    runtime = Runtime(settings, tokens=STORE)
    try:
        parts = await runtime.start()
        await parts.engine.client.wait_ready(10)
        yield Engine(pbx, runtime, parts, f"http://127.0.0.1:{runtime.http_port}", folder)
    finally:
        await runtime.stop()
        await pbx.stop()


async def signed_in(browser: Any, engine: Engine, who: str, *, lang: str = "en") -> Any:
    """A fresh browser page signed in through the console's login form, in `lang`."""
    context = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-GB")
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.problems = problems
    await page.goto(f"{engine.base_url}/console/")
    await page.wait_for_selector("#login-button")  # the page is ready (its language switch too)
    await page.select_option("#lang", lang)
    await page.wait_for_selector(f"html[lang={lang}]", state="attached")
    await page.fill("#token", TOKENS[who])
    await page.keyboard.press("Enter")  # the keyboard alone signs in
    await page.wait_for_selector("#nav a[aria-current=page]")
    return page
