"""The console's sign-in: the session cookie stands for an API token (same roles), is HttpOnly and
SameSite=Strict, and every state change needs the CSRF header; the bearer API keeps working.
Real engine on a private Redis with the simulated PBX, real HTTP."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from switchboard.console.session import COOKIE, CSRF_HEADER
from switchboard.private_redis import PrivateRedis
from tests.support.console_harness import TOKENS, running_engine


async def test_a_session_cookie_acts_with_the_tokens_role_and_needs_csrf_for_changes(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    async with running_engine(redis_server, tmp_path) as engine, engine.http() as http:
        refused = await http.post("/console/api/login", json={"token": "not-a-token-at-all"})
        assert refused.status_code == 401
        form = await http.post("/console/api/login", data={"token": TOKENS["ann"]})
        assert form.status_code in (403, 422), "a form post (cross-site login) is refused"

        reply = await http.post("/console/api/login", json={"token": TOKENS["ann"]})
        assert reply.status_code == 200, reply.text
        session = reply.json()
        assert (session["name"], session["role"]) == ("1001", "advisor")
        assert session["timezone"] == "Europe/Budapest"
        cookie = reply.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Secure" not in cookie, "plain HTTP on localhost"
        assert TOKENS["ann"] not in cookie, "the cookie never holds the token"

        me = await http.get("/api/v1/acd/agents/1001")
        assert me.status_code == 200 and me.json()["state"] == "logged_out"
        other = await http.get("/api/v1/acd/agents/1002")
        assert other.status_code == 403, "an advisor's session acts as that advisor only"

        no_csrf = await http.post("/api/v1/acd/agents/1001/login")
        assert no_csrf.status_code == 403 and CSRF_HEADER in no_csrf.json()["message"]
        wrong = await http.post("/api/v1/acd/agents/1001/login", headers={CSRF_HEADER: "guess"})
        assert wrong.status_code == 403
        done = await http.post("/api/v1/acd/agents/1001/login", headers={CSRF_HEADER: session["csrf"]})
        assert done.status_code == 200 and done.json()["state"] == "ready"

        supervisor_only = await http.get("/api/v1/wallboard")
        assert supervisor_only.status_code == 403

        http.cookies.set(COOKIE, http.cookies[COOKIE][:-4] + "AAAA")
        assert (await http.get("/api/v1/acd/agents/1001")).status_code == 401, "a forged cookie is nobody"

        out = await http.post("/console/api/logout")
        assert out.status_code == 204

    async with running_engine(redis_server, tmp_path) as engine, engine.http("sue") as bearer:
        reply = await bearer.post("/api/v1/acd/agents/1002/login")
        assert reply.status_code == 200, "the bearer API needs no CSRF header"
        board = (await bearer.get("/api/v1/wallboard")).json()
        assert [q["name"] for q in board["queues"]][:1] == ["support"]
        assert board["agents"]["ready"] == 2, "1001 (still ready, kept in Redis) and 1002"
        rules = (await bearer.get("/api/v1/rules/status")).json()
        assert [r["kind"] for r in rules["items"]] == ["campaigns", "dispositions", "routing", "tasks"]
        assert rules["next_cursor"] is None


async def test_console_pages_and_assets_are_served_by_the_engine_with_a_strict_policy(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    async with running_engine(redis_server, tmp_path) as engine, engine.http() as http:
        page = await http.get("/console/")
        assert page.status_code == 200 and "<main" in page.text
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        for asset in ("js/app.js", "app.css", "i18n/hu.json", "favicon.svg"):
            reply = await http.get(f"/console/static/{asset}")
            assert reply.status_code == 200, asset
        assert (await http.get("/console/api/session")).status_code == 401
