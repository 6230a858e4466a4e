"""What the wallboard and the rules page read: today's answered and abandoned calls per queue from
the ACD's event stream (outbound calls left to the campaigns' stats), waits per tier, and each rule
file's version in force with the last refused edit located by line. Real engine, private Redis."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from switchboard.private_redis import PrivateRedis
from tests.support.console_harness import running_engine


async def test_the_wallboard_counts_todays_inbound_calls_and_shows_waits_per_tier(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    async with running_engine(redis_server, tmp_path) as engine:
        events = engine.parts.acd.events
        await events.publish("handover", "1001", {"call_id": "a", "queue": "support", "waited": 3.0})
        await events.publish("handover", "1002", {"call_id": "b", "queue": "support", "waited": 9.0})
        await events.publish("abandoned", "", {"call_id": "c", "queue": "billing", "waited": 40.0})
        await events.publish("handover", "1003", {"call_id": "d", "queue": "sales", "campaign": "renewals"})
        await events.publish("ended", "1001", {"call_id": "a", "queue": "support"})
        await engine.sim.inbound_call("+36305550009")  # nobody logged in: waits
        board = await engine.call_api("sue", "GET", "/api/v1/wallboard")
        queues = {q["name"]: q for q in board["queues"]}
        assert (queues["support"]["answered_today"], queues["billing"]["abandoned_today"]) == (2, 1)
        assert queues["sales"]["answered_today"] == 0, "an outbound call is the campaign's, not the queue's"
        assert board["today_complete"] is True
        waiting = [c for q in board["queues"] for c in q["callers"]]
        assert [c["caller"] for c in waiting] == ["+36305550009"]
        tiers = {t["name"]: t for t in board["tiers"]}
        assert tiers[waiting[0]["tier"]]["waiting"] == 1
        assert [c["campaign_id"] for c in board["campaigns"]] == ["renewals"]
        assert board["campaigns"][0]["state"] == "stopped"


async def test_the_rules_status_names_the_version_in_force_and_the_last_refused_edit(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    async with running_engine(redis_server, tmp_path) as engine:
        status = "/api/v1/rules/status"
        before = {r["kind"]: r for r in (await engine.call_api("sue", "GET", status))["items"]}
        assert before["routing"]["refused_at"] is None and len(before["routing"]["hash"]) == 64
        routing = engine.rules_dir / "routing.yaml"
        routing.write_text(routing.read_text().replace("wrap_up: 20s", "wrap_up: -1s", 1))
        assert await engine.parts.reloader.check_all() == {"routing": False}
        after = {r["kind"]: r for r in (await engine.call_api("sue", "GET", status))["items"]}
        assert after["routing"]["hash"] == before["routing"]["hash"], "the refused edit is not in force"
        issues = after["routing"]["refused_issues"]
        assert issues and issues[0]["line"] > 1 and "wrap_up" in issues[0]["path"]
        async with engine.http("ann") as advisor:
            assert (await advisor.get("/api/v1/rules/status")).status_code == 403
            codes: list[str] = []
            cursor = None
            while True:  # the codes advisors pick from, one page of 3 at a time, none twice
                params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
                page = (await advisor.get("/api/v1/disposition-codes", params=params)).json()
                codes += [c["code"] for c in page["items"]]
                if (cursor := page["next_cursor"]) is None:
                    break
            in_force = engine.parts.stores.dispositions.rules.codes
            assert codes == sorted(in_force) and len(codes) > 3
