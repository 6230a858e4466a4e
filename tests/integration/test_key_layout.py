"""An older version's Redis moved to the hash-tagged layout: refused at start until
`switchboard migrate-keys` ran, then every list, lead and agent is where the new version looks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from core.errors import StoreUnavailableError
from dialer.leads.store import LeadStore
from dialer.lists.gate import Gate, GateMetrics
from dialer.lists.store import InternalList, PackedStore
from routing.acd.store import AcdStore, Change
from routing.agent_events import AgentState
from routing.agents import AgentStatus
from switchboard.key_layout import migrate, old_layout_found, refuse_old_layout
from tests.support.dialer_harness import lead

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
LISTED = "+36302222222"
TAGS = ("{gate}:", "{dial}:", "{acd}:", "{outbox}:")


async def _as_an_older_version_wrote_it(redis: aioredis.Redis) -> int:
    """Today's data renamed to the names of the layout before the hash tags."""
    keys = [key.decode() async for key in redis.scan_iter(match="sb:*")]
    for key in keys:
        old = key
        for tag in TAGS:
            old = old.replace(tag, "")
        await redis.rename(key, old)
    return len(keys)


def _gate(redis: aioredis.Redis) -> Gate:
    return Gate(redis, GateMetrics(CollectorRegistry()), default_region="HU")


async def test_an_old_layout_is_refused_then_moved_whole(redis_client: aioredis.Redis) -> None:
    await InternalList(redis_client).add("+36301111111", reason="do_not_call", actor="a", now=NOW)
    await PackedStore(redis_client).add("hu-robinson", [LISTED])
    await LeadStore(redis_client, default_region="HU").upsert_many(
        [lead(1)], now=NOW, actor="crm", campaign_id="c1"
    )
    await AcdStore(redis_client).commit(Change(statuses=[AgentStatus("a1", AgentState.READY, 1.0, 1.0)]))
    written = await _as_an_older_version_wrote_it(redis_client)

    assert (await _gate(redis_client).check(LISTED, None, None, now=NOW)).allowed, "why the engine refuses"
    assert "sb:dialer:bl:lists" in await old_layout_found(redis_client)
    with pytest.raises(StoreUnavailableError, match="switchboard migrate-keys"):
        await refuse_old_layout(redis_client)

    dry = await migrate(redis_client, dry_run=True)
    assert (dry.renamed, await redis_client.exists("sb:dialer:bl:lists")) == (written, 1), "nothing moved"
    await redis_client.set("sb:dialer:{dial}:leads:seq", "99")  # a newer engine wrote this one already
    done = await migrate(redis_client)
    assert (done.renamed, done.conflicts) == (written - 1, ["sb:dialer:leads:seq"])

    await redis_client.delete("sb:dialer:leads:seq")
    assert await old_layout_found(redis_client) == []
    await refuse_old_layout(redis_client)
    gate = _gate(redis_client)
    assert (await gate.check(LISTED, None, None, now=NOW)).sources == ("hu-robinson",)
    assert (await gate.check("+36301111111", None, None, now=NOW)).sources == ("internal",)
    assert (await LeadStore(redis_client, default_region="HU").get("L1")).status == "queued"
    status = await AcdStore(redis_client).agent_status("a1")
    assert status is not None and status.state is AgentState.READY
