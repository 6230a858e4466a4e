"""The wallboard's numbers and the rules' status, read from what the engine already keeps.

Owned here: the shape of `GET /api/v1/wallboard` (also pushed on the stream to supervisors)
and `GET /api/v1/rules/status`. Nothing is invented: waiting calls and agents come from the
ACD's live state; "service level now" is the ACD's own sliding-window ratio (the one the
metrics export, over the last hour); answered and abandoned today are counted from the ACD's
event stream since midnight in the contact center's zone (the stream is capped: `complete`
says whether it still reaches back to midnight); campaigns are the dialer's own stats.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError

from core.errors import StoreUnavailableError
from dialer.loop.service import DialerService
from routing.acd import AcdService
from routing.acd.events import MAX_EVENTS

CAMPAIGN_FIELDS = (
    "campaign_id", "name", "mode", "state", "dial_level", "abandon_rate_24h", "abandon_rate_30d",
    "abandon_target", "abandons_24h", "live_answers_24h", "calls_in_flight", "answered_waiting", "leads",
)  # fmt: skip


def midnight(now: float, zone: ZoneInfo) -> float:
    local = datetime.fromtimestamp(now, zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


async def today_counts(acd: AcdService, since: float) -> tuple[dict[str, Counter[str]], bool]:
    """Inbound calls answered and abandoned per queue since `since`; and whether the capped
    stream still reaches back that far (else the counts start at its oldest event)."""
    redis, key = acd.events.redis, acd.events.keys.events
    try:
        entries = await redis.xrange(key, min=f"{int(since * 1000)}", max="+", count=MAX_EVENTS)
        oldest = await redis.xrange(key, min="-", max="+", count=1)
        kept = int(await redis.xlen(key))
    except (RedisError, OSError) as exc:
        raise StoreUnavailableError(f"Redis failed while counting today's calls: {exc}") from exc
    counts: dict[str, Counter[str]] = {"answered": Counter(), "abandoned": Counter()}
    for _id, fields in cast(list[tuple[Any, dict[bytes, bytes]]], entries):
        kind = fields.get(b"type", b"").decode()
        if kind not in ("handover", "abandoned"):
            continue
        data = fields.get(b"data", b"")
        if b'"campaign"' in data:
            continue  # an outbound call: the campaign's own stats count it
        queue = _queue_of(data)
        counts["answered" if kind == "handover" else "abandoned"][queue] += 1
    first = cast(list[tuple[bytes, Any]], oldest)
    reaches_back = not first or int(first[0][0].decode().split("-")[0]) <= since * 1000
    return counts, reaches_back or kept < MAX_EVENTS  # a shorter stream was never trimmed


def _queue_of(data: bytes) -> str:
    try:
        return str(json.loads(data).get("queue", ""))
    except ValueError:
        return ""


async def wallboard(acd: AcdService, dialer: DialerService | None, zone: ZoneInfo) -> dict[str, Any]:
    now = acd.ctx.clock()
    counts, complete = await today_counts(acd, midnight(now, zone))
    levels = acd.ctx.metrics.levels
    queues, tiers = [], _tiers(acd)
    for q in acd.queues():
        waits = [w.waited for w in q.waiting]
        queues.append(
            {
                "name": q.name, "waiting": len(q.waiting), "oldest_wait": max(waits, default=0.0),
                "talking_or_ringing": len(q.ringing), "service_level_now": levels.ratio(q.name, now),
                "service_level_target": q.service_level_target / 100,
                "service_level_within": q.service_level_within,
                "answered_today": counts["answered"][q.name], "abandoned_today": counts["abandoned"][q.name],
                "agents": q.agents,
                "callers": [_caller(acd, w.call_id, w.tier, w.waited) for w in q.waiting],
            }
        )  # fmt: skip
    agents = Counter(a.state for a in acd.agents())
    return {
        "at": now, "today_complete": complete, "queues": queues, "tiers": tiers,
        "agents": dict(agents), "campaigns": await _campaigns(dialer),
    }  # fmt: skip


def _caller(acd: AcdService, call_id: str, tier: str, waited: float) -> dict[str, Any]:
    active = acd.ctx.state.calls.get(call_id)
    number = (active.facts.number or active.facts.caller) if active is not None else ""
    return {"call_id": call_id, "caller": number, "tier": tier, "waited": waited}


def _tiers(acd: AcdService) -> list[dict[str, Any]]:
    waits: dict[str, list[float]] = {t.name: [] for t in acd.rules.tiers}
    for q in acd.queues():
        for w in q.waiting:
            waits.setdefault(w.tier, []).append(w.waited)
    return [
        {"name": name, "waiting": len(found), "oldest_wait": max(found, default=0.0)}
        for name, found in waits.items()
    ]


async def _campaigns(dialer: DialerService | None) -> list[dict[str, Any]]:
    if dialer is None:
        return []
    found = []
    for campaign in dialer.campaigns.campaigns:
        stats = await dialer.stats(campaign.id)
        found.append({name: stats.get(name) for name in CAMPAIGN_FIELDS})
    return found
