"""Every test here drives Debian's chromium (never a downloaded browser build) through Playwright
against the real engine and the simulated PBX, and gets the `browser` marker. Without chromium or
Playwright the tests skip with the reason, except in CI (CI=true), where that is a failure:
scripts/test installs chromium (scripts/_env.sh, ensure_chromium)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.console_harness import CHROMIUM, CHROMIUM_ARGS

if TYPE_CHECKING:
    from playwright.async_api import Browser

HERE = Path(__file__).resolve().parent


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"chromium is not installed at {CHROMIUM} (apt-get install chromium chromium-driver)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = _missing()
    for item in items:
        if HERE not in item.path.resolve().parents:
            continue
        item.add_marker(pytest.mark.browser)
        if reason and os.environ.get("CI") != "true":
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    reason = _missing()
    if reason:
        pytest.fail(f"CI must run the browser tests: {reason}")
    from playwright.async_api import async_playwright  # noqa: PLC0415 - only once chromium is known to be there

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            with contextlib.suppress(Exception):
                await launched.close()
