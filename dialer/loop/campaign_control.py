"""Who runs which campaign: campaign states (running / paused / stopped) and the pacing leader.

Rules it keeps (DESIGN.md 2.7):
- A campaign's state lives in Redis, so every engine sharing the Redis (and a restarted one)
  sees the same; each change is audited (who, when, from what to what). A campaign that was
  never started is `stopped`: adding it to campaigns.yaml never starts dialing by itself.
- Only one engine paces at a time: the leader holds a lease (SET NX PX) and renews it while it
  runs; an engine that cannot renew (Redis unreachable, process frozen) stops pacing, and the
  lease runs out so another engine can take over. Calls already placed stay with the engine
  that placed them (it alone follows their events).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from core.errors import ValidationFailedError
from dialer.audit import text
from dialer.dialer_keys import DialerKeys, DialKeys

# KEYS[1] leader key. ARGV: instance id, lease ms. 1 if this instance holds the lease now.
_HOLD_LUA = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

_RESIGN_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


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


class LeaderLease:
    """The pacing lease: `hold()` takes or renews it; True while this instance is the leader."""

    def __init__(
        self, redis: Redis, instance_id: str, *, keys: DialerKeys | None = None, ttl_ms: int = 5000
    ) -> None:
        if not instance_id:
            raise ValidationFailedError("the leader lease needs the engine's instance id")
        self._redis = redis
        self.instance_id = instance_id
        self.key = DialKeys.of(keys).leader
        self.ttl_ms = ttl_ms
        self._hold = redis.register_script(_HOLD_LUA)
        self._resign = redis.register_script(_RESIGN_LUA)

    async def hold(self) -> bool:
        return bool(await self._hold(keys=[self.key], args=[self.instance_id, self.ttl_ms]))

    async def holder(self) -> str | None:
        raw = await self._redis.get(self.key)
        return None if raw is None else text(raw)

    async def resign(self) -> None:
        await self._resign(keys=[self.key], args=[self.instance_id])
