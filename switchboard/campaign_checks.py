"""Telling the user about campaigns that do not run as written (logged; the engine runs on).

- A campaign's queue must be a routing.yaml queue (`queues_known`), else its calls go to the first
  queue's agents.
- A campaign's ACD shard (dialer.campaigns.shard_check), checked at the start and at each hot reload
  of campaigns.yaml (never in a pacing round): a campaign of another shard is logged once at INFO
  with its shard (this engine leaves it); one whose shard no running engine has announced gets a
  WARNING naming the campaign, the file and the shard, and
  `switchboard_campaign_without_engine{campaign,shard}` is 1 while it lasts.
A shard has announced itself when one of its engines holds its ACD lease now (`{acd-<shard>}:owner`,
renewed every lease_renew while an engine of it runs), or has published its advisors
(`tasks:advisor-shards`); this engine's own shard always runs. A few reads per reload, one per other
shard named. `switchboard check-config` prints the same lines from the files and Redis.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Gauge
from redis.exceptions import RedisError

from dialer.audit import text
from dialer.campaigns.rules import Campaigns
from dialer.campaigns.shard_check import ShardProblem, foreign, shard_name, without_engine
from dialer.tasks.task_keys import TaskKeys
from routing.acd.acd_keys import AcdKeys

if TYPE_CHECKING:  # the CLI's check-config imports this module: not the ACD
    from routing.acd import AcdService

log = logging.getLogger("switchboard.campaigns")


async def running_shards(redis: aioredis.Redis, shards: Iterable[str], own: str | None = None) -> set[str]:
    """Which of these shards have announced a running engine (see the module docstring)."""
    found = {own} if own is not None else set()
    others = sorted(set(shards) - found)
    if not others:
        return found
    listed = {text(value) for value in await redis.hvals(TaskKeys().advisor_shards)}
    for shard in others:
        if shard in listed or await redis.exists(AcdKeys.of_shard(shard).owner):
            found.add(shard)
    return found


async def problems(redis: aioredis.Redis, campaigns: Campaigns, own: str | None = None) -> list[ShardProblem]:
    """The campaigns whose shard no running engine has announced."""
    return without_engine(campaigns, await running_shards(redis, (c.shard for c in campaigns.campaigns), own))


class CampaignShards:
    """One engine's check of the campaigns it loads (`check`, or `schedule` from a sync reload hook)."""

    def __init__(
        self, redis: aioredis.Redis, shard: str, file: Path | None, registry: CollectorRegistry | None = None
    ) -> None:
        self.redis, self.shard, self.file = redis, shard, file
        self.gauge = Gauge(
            "switchboard_campaign_without_engine",
            "1 while a campaign's ACD shard has no running engine (nobody paces it: a mistyped shard?)",
            ["campaign", "shard"], registry=registry,
        )  # fmt: skip
        self._told: set[tuple[str, str]] = set()  # (campaign, shard) already logged at INFO
        self._warned: set[ShardProblem] = set()
        self._task: asyncio.Task[list[ShardProblem]] | None = None

    def schedule(self, campaigns: Campaigns, *, after_s: float = 0.0) -> None:
        """Check in the background (a reload hook is synchronous); a newer reload replaces it.
        `after_s`: at the start, the other shards' engines started with this one take their leases
        meanwhile (a wait for them, not a synchronisation: their absence is what is reported)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = asyncio.create_task(self._check_after(campaigns, after_s), name="campaign-shards")

    async def _check_after(self, campaigns: Campaigns, after_s: float) -> list[ShardProblem]:
        if after_s > 0:
            await asyncio.sleep(after_s)
        return await self.check(campaigns)

    async def checked(self) -> list[ShardProblem]:
        """The problems the last scheduled check found, once it is done (tests)."""
        return await asyncio.shield(self._task) if self._task is not None else []

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=1.0)

    async def check(self, campaigns: Campaigns) -> list[ShardProblem]:
        others = foreign(campaigns, self.shard)
        for campaign_id, shard in others:
            if (campaign_id, shard) not in self._told:
                log.info("campaign %s belongs to %s: not paced by this engine (%s)", campaign_id,
                         shard_name(shard), shard_name(self.shard))  # fmt: skip
        self._told = set(others)
        try:
            found = await problems(self.redis, campaigns, self.shard)
        except (RedisError, OSError) as exc:
            log.warning("campaign shards not checked: Redis failed (%s)", type(exc).__name__)
            return []
        self._report(found)
        return found

    def _report(self, found: Collection[ShardProblem]) -> None:
        where = str(self.file) if self.file is not None else "campaigns"
        for problem in found:
            if problem not in self._warned:
                log.warning("%s (%s): nobody paces it; is the shard mistyped?", problem, where,
                            extra={"campaign": problem.campaign_id, "shard": problem.shard})  # fmt: skip
        self.gauge.clear()
        for problem in found:
            self.gauge.labels(campaign=problem.campaign_id, shard=problem.shard).set(1)
        self._warned = set(found)


def queues_known(campaigns: Campaigns, acd: AcdService) -> None:
    """Two files, one mistake to catch: a campaign's queue must be a routing.yaml queue."""
    for campaign in campaigns.campaigns:
        if campaign.queue is not None and campaign.queue not in acd.rules.index.queues:
            log.error(
                "campaign %s hands its calls to queue %r, which routing.yaml does not have; its calls go to"
                " the first queue's agents until it does", campaign.id, campaign.queue,
            )  # fmt: skip
