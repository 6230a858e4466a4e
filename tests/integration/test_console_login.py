"""Console sign-in over real HTTP (uvicorn), timed by an injected clock: repeated failures from one
client are answered 429 with Retry-After (a doubling lockout); a good token still signs in once
the lockout ends, and signing in is never slowed for a client that did not fail. A session ends
after console.session_hours."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from switchboard.api import AppState, TokenStore, create_app, serve_http, stop_http
from switchboard.console import routes as console
from switchboard.metrics import create_metrics
from switchboard.settings import ConsoleSection, Settings

TOKEN = "throttle-token-000001"


class Clock:
    def __init__(self) -> None:
        self.now = 2_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def base_url(clock: Clock) -> AsyncIterator[str]:
    console_settings = ConsoleSection(login_free_failures=3, login_max_lockout_seconds=60, session_hours=2)
    settings = Settings(console=console_settings)
    tokens = TokenStore.from_tokens([(TOKEN, "1001", "advisor")])
    app = create_app(AppState(settings, tokens, create_metrics(process=False)))
    console.install(app, clock=clock)
    server, task = await serve_http(app, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.port}"
    await stop_http(server, task)


async def _login(http: httpx.AsyncClient, token: str, via: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": via} if via else {}
    return await http.post("/console/api/login", json={"token": token}, headers=headers)


async def test_failed_sign_ins_are_throttled_with_retry_after_and_a_good_token_works_after(
    base_url: str, clock: Clock
) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        assert [(await _login(http, f"guess-{n}")).status_code for n in range(3)] == [401, 401, 401]
        fourth = await _login(http, "guess-3")
        assert fourth.status_code == 401 and fourth.json()["details"]["retry_after"] == 1

        locked = await _login(http, TOKEN)
        assert locked.status_code == 429, "even the right token waits out the lockout (no faster guessing)"
        assert locked.headers["retry-after"] == "1"
        assert locked.json()["error"] == "too-many-requests"
        assert locked.json()["details"] == {"retry_after": 1}

        clock.now += 1
        fifth = await _login(http, "guess-4")
        assert fifth.status_code == 401 and fifth.json()["details"]["retry_after"] == 2, "doubles"
        clock.now += 1
        assert (await _login(http, "guess-5")).status_code == 429
        assert (await _login(http, TOKEN, via="192.0.2.7")).status_code == 200, (
            "another client (behind the local proxy) signs in at once"
        )
        clock.now += 1
        ok = await _login(http, TOKEN)
        assert ok.status_code == 200 and ok.json()["name"] == "1001"
        assert (await _login(http, "guess-6")).json()["details"]["retry_after"] == 0, "a success forgets"


async def test_a_session_ends_after_its_hours(base_url: str, clock: Clock) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        assert (await _login(http, TOKEN)).status_code == 200
        clock.now += 2 * 3600 - 1
        assert (await http.get("/console/api/session")).status_code == 200
        clock.now += 1
        assert (await http.get("/console/api/session")).status_code == 401, "two hours later: signed out"
