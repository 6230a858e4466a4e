"""Who runs which campaign: campaign states (running / paused / stopped) and the pacing leader.

Rules it keeps (DESIGN.md 2.7):
- A campaign's state lives in Redis, so every engine sharing the Redis (and a restarted one)
  sees the same; each change is audited (who, when, from what to what). A campaign that was
  never started is `stopped`: adding it to campaigns.yaml never starts dialing by itself.
- Only one engine paces at a time (one per ACD shard: its campaigns): the leader holds a lease
  with a fencing token (core/lease.py) and renews it on its own timer; an engine that cannot
  renew (Redis unreachable, process frozen) stops pacing, and the lease runs out so another
  engine takes over.
  Before each dial the leader confirms the lease in Redis, so a paused old leader dials nothing
  once a new one took over. Calls already placed stay with the engine that placed them (it alone
  follows their events). Under `switchboard run` the pacing shares the ACD shard's lease (the desk
  is the ACD), so one engine owns both; a dialer with its own desk uses LeaderLease.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from core.errors import ValidationFailedError
from core.lease import Lease, LeaseMetrics
from dialer.audit import text
from dialer.dialer_keys import DialerKeys, DialKeys


class CampaignState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"  # no new calls; resumes where it was
    STOPPED = "stopped"  # no new calls; the default of a campaign never started


@dataclass(frozen=True, slots=True)
class CampaignStatus:
    campaign_id: str
    state: CampaignState = CampaignState.STOPPED
    actor: str = ""
    at: str = ""
    reason: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"campaign_id": self.campaign_id, "state": self.state.value, "actor": self.actor,
                "at": self.at, "reason": self.reason}  # fmt: skip


def _status(campaign_id: str, raw: Any) -> CampaignStatus:
    try:
        data = json.loads(text(raw))
        return CampaignStatus(
            campaign_id, CampaignState(data["state"]), str(data.get("actor", "")), str(data.get("at", "")),
            str(data.get("reason", "")),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return CampaignStatus(campaign_id, CampaignState.STOPPED, reason="unreadable state record")


class CampaignControl:
    """Campaign states in Redis, with an audit record for every change."""

    def __init__(
        self, redis: Redis, keys: DialerKeys | None = None, *, audit_maxlen: int | None = None
    ) -> None:
        self._redis = redis
        self.keys = DialKeys.of(keys)
        self._audit_maxlen = audit_maxlen

    async def states(self) -> dict[str, CampaignStatus]:
        raw = await self._redis.hgetall(self.keys.campaign_states)
        return {text(key): _status(text(key), value) for key, value in raw.items()}

    async def status(self, campaign_id: str) -> CampaignStatus:
        raw = await self._redis.hget(self.keys.campaign_states, campaign_id)
        return CampaignStatus(campaign_id) if raw is None else _status(campaign_id, raw)

    async def set_state(
        self, campaign_id: str, state: CampaignState, *, actor: str, now: datetime, reason: str = ""
    ) -> CampaignStatus:
        if not actor:
            raise ValidationFailedError("a campaign state change needs an actor")
        previous = await self.status(campaign_id)
        record = {"state": state.value, "actor": actor, "at": now.isoformat(), "reason": reason}
        audit = {"action": state.value, "campaign": campaign_id, "previous": previous.state.value,
                 "actor": actor, "at": now.isoformat(), "reason": reason}  # fmt: skip
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self.keys.campaign_states, campaign_id, json.dumps(record))
        pipe.xadd(self.keys.audit_campaigns, audit, maxlen=self._audit_maxlen, approximate=True)  # type: ignore[arg-type]
        await pipe.execute()
        return CampaignStatus(campaign_id, state, actor, now.isoformat(), reason)


class LeaderLease(Lease):
    """The pacing lease of its own (role `pacing`), one per ACD shard (`shard`: its campaigns):
    `hold()` takes or renews it, `resign()` gives it up."""

    def __init__(
        self,
        redis: Redis,
        instance_id: str,
        *,
        keys: DialerKeys | None = None,
        ttl_ms: int = 3000,
        renew_s: float | None = None,
        metrics: LeaseMetrics | None = None,
        shard: str = "",
    ) -> None:
        ttl_s = ttl_ms / 1000
        super().__init__(
            redis, DialKeys.of(keys).leader_of(shard), engine_id=instance_id, role="pacing", ttl_s=ttl_s,
            renew_s=renew_s if renew_s is not None else ttl_s / 3, metrics=metrics,
        )  # fmt: skip

    async def hold(self) -> bool:
        return await self.acquire()

    async def resign(self) -> None:
        await self.release()
