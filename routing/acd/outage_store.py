"""Declared outages and their notices in Redis (keys in acd_keys.py).

Owned here: the outages supervisors declare (`outages` HASH id -> JSON: the spec, who declared
it and when, and when it was ended early), their counters (`outage:counts` HASH `{id}:played` /
`{id}:left`), and the callers hearing a notice now (`notices` HASH call id -> JSON {outage, at}),
so an engine that restarts mid-notice neither plays it twice nor loses the caller who leaves.
A notice's start and its end (left, or back to the queue) are each one MULTI/EXEC. Declaring an
id that exists is refused: outages are ended, never silently replaced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis.asyncio as aioredis

from core.errors import NotFoundError, SwitchboardError
from core.store_errors import store_available
from routing.acd.acd_keys import AcdKeys
from routing.outages import OutageSpec


class OutageExistsError(SwitchboardError):
    error_id = "outage-exists"


@dataclass(frozen=True, slots=True)
class OutageRecord:
    spec: OutageSpec  # as declared
    declared_by: str
    declared_at: float
    ended_at: float | None = None  # ended early by a supervisor
    played: int = 0  # callers who heard the notice
    left: int = 0  # of them, callers who hung up after it: served by the notice
    unheard: int = 0  # of them, callers to whom Asterisk could not read it out (no text-to-speech)

    @property
    def effective(self) -> OutageSpec:
        """The spec with the early end applied (what callers hear)."""
        if self.ended_at is None or self.ended_at >= self.spec.ends_at:
            return self.spec
        return self.spec.model_copy(update={"ends_at": max(self.ended_at, self.spec.starts_at)})


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8") if isinstance(raw, bytes) else raw


class OutageStore:
    def __init__(self, redis: aioredis.Redis, keys: AcdKeys | None = None) -> None:
        self.redis = redis
        self.keys = keys or AcdKeys()

    async def declare(self, spec: OutageSpec, by: str, now: float) -> OutageRecord:
        record = OutageRecord(spec, by, now)
        body = json.dumps({"spec": spec.model_dump(mode="json"), "declared_by": by, "declared_at": now})
        with store_available("declaring an outage"):
            added = await self.redis.hsetnx(self.keys.outages, spec.id, body)
        if not added:
            raise OutageExistsError(
                f"outage {spec.id!r} is already declared; end it or pick another id", id=spec.id
            )
        return record

    async def end(self, outage_id: str, now: float) -> OutageRecord:
        """End an outage now (no caller hears it from now on); its counters stay."""
        with store_available("ending an outage"):
            raw = await self.redis.hget(self.keys.outages, outage_id)
            if raw is None:
                raise NotFoundError(f"no outage {outage_id!r}", id=outage_id)
            data = json.loads(_text(raw))
            # two supervisors ending it at once both write about `now`: the earlier end is kept
            data["ended_at"] = min(now, data.get("ended_at") or now)
            await self.redis.hset(self.keys.outages, outage_id, json.dumps(data))
        return await self.get(outage_id)

    async def get(self, outage_id: str) -> OutageRecord:
        found = [r for r in await self.all() if r.spec.id == outage_id]
        if not found:
            raise NotFoundError(f"no outage {outage_id!r}", id=outage_id)
        return found[0]

    async def all(self) -> list[OutageRecord]:
        """Every declared outage with its counters, the latest start first."""
        with store_available("reading the outages"):
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hgetall(self.keys.outages)
                pipe.hgetall(self.keys.outage_counts)
                declared, counts = await pipe.execute()
        counters = {_text(k): int(v) for k, v in counts.items()}
        records = []
        for raw in declared.values():
            data = json.loads(_text(raw))
            spec = OutageSpec.model_validate(data["spec"])
            records.append(
                OutageRecord(
                    spec,
                    data["declared_by"],
                    data["declared_at"],
                    data.get("ended_at"),
                    counters.get(f"{spec.id}:played", 0),
                    counters.get(f"{spec.id}:left", 0),
                    counters.get(f"{spec.id}:unheard", 0),
                )
            )
        return sorted(records, key=lambda r: (-r.spec.starts_at, r.spec.id))

    # -- notices ------------------------------------------------------------------------------
    async def notice_started(self, call_id: str, outage_id: str, now: float) -> None:
        with store_available("recording a notice"):
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(self.keys.notices, call_id, json.dumps({"outage": outage_id, "at": now}))
                pipe.hincrby(self.keys.outage_counts, f"{outage_id}:played", 1)
                await pipe.execute()

    async def notice_ended(self, call_id: str, outage_id: str, *, left: bool) -> None:
        """The caller hung up during the notice (`left`: served by it) or came back to queue."""
        with store_available("ending a notice"):
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hdel(self.keys.notices, call_id)
                if left:
                    pipe.hincrby(self.keys.outage_counts, f"{outage_id}:left", 1)
                await pipe.execute()

    async def notice_unheard(self, outage_id: str) -> None:
        """Asterisk could not read the notice out to a caller it was sent to."""
        with store_available("counting an unheard notice"):
            await self.redis.hincrby(self.keys.outage_counts, f"{outage_id}:unheard", 1)

    async def notices(self) -> dict[str, tuple[str, float]]:
        """Callers hearing a notice: call id -> (outage id, since)."""
        with store_available("reading the notices"):
            raw = await self.redis.hgetall(self.keys.notices)
        found = {}
        for call_id, body in raw.items():
            data = json.loads(_text(body))
            found[_text(call_id)] = (str(data["outage"]), float(data["at"]))
        return found

    async def forget_notice(self, call_id: str) -> None:
        with store_available("forgetting a notice"):
            await self.redis.hdel(self.keys.notices, call_id)
