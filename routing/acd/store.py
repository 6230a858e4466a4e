"""Redis persistence of the ACD: agents, their statuses, the calls being handled, timers, CRM records.

Rules it keeps:
- Keys come from AcdKeys (routing/acd/routing_keys.py's layout plus the shell's own); values
  are routing/acd/store_records.py JSON, so a restarted engine rebuilds the same queue; the Lua
  is routing/acd/store_scripts.py.
- Every multi-key update is one MULTI/EXEC (`commit`; stream events it carries last), and taking an agent for
  a call is a Lua compare-and-set (`reserve`; `hold` when the dialer takes an
  agent for a call it is placing): the agent must still be ready (or held for
  that very call) and the call still waiting in its queue, so two engines sharing a Redis never ring
  one agent for two calls or two agents for one call. A call offered as it arrives is stored by
  its reservation (`arrived`: one write, no waiting record first); its CRM record and case id
  come before it in one round trip (`arrival`), or with it in one script (store_arrival.py).
- An agent's status record has no history; the history is a list beside it,
  appended to and trimmed on each change (routing/acd/history.py), so a write
  costs the change, not the agent's whole hour.
- Agent profiles from routing.yaml are seeded at start and on reload, unless a
  supervisor edited that agent over the API (source `api`): the edit wins.
- Fenced (given the ACD's core.lease.Lease, when several engines share the Redis): every
  write of the calls and agent statuses (`commit`, `reserve`, `hold`, `rewrite`) runs only
  while this engine's lease token is the current one; a stale owner's write changes nothing and
  raises NotOwnerError. Seeded profiles, CRM records and the case counter are not owner state.
- A malformed record is logged and skipped, never fatal. Redis failures become
  StoreUnavailableError.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from core.errors import ValidationFailedError
from core.lease import FencedBatch, FencedScript, Lease
from core.store_errors import STORE_FAILURES, store_available
from routing.acd import store_scripts
from routing.acd.acd_keys import AcdKeys
from routing.acd.calls import ActiveCall, CallState
from routing.acd.events import MAX_EVENTS, StreamEntry
from routing.acd.history import HistoryWriter
from routing.acd.state import AcdState
from routing.acd.store_records import (
    SOURCE_API,
    SOURCE_RULES,
    Stored,
    case_prefix,
    dump_call,
    dump_profile,
    dump_status,
    load_active,
    load_history,
    load_profile,
    load_status,
    source_of,
)
from routing.acd.timers import Timer, TimerKind
from routing.agents import AgentStatus
from routing.rules import AgentSpec

log = logging.getLogger("switchboard.acd.store")

ENDED_TTL_S = 86400


@dataclass
class Change:
    """Writes that must land together."""

    statuses: list[AgentStatus] = field(default_factory=list)
    calls: list[ActiveCall] = field(default_factory=list)  # upserted; waiting ones are queued
    left_queues: list[tuple[str, str]] = field(default_factory=list)  # (call id, queue) after overflow
    ended: list[ActiveCall] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)
    cancelled_timers: list[str] = field(default_factory=list)  # Timer.key
    events: list[StreamEntry] = field(default_factory=list)  # appended to the stream, after the rest

    def __bool__(self) -> bool:
        return any((self.statuses, self.calls, self.left_queues, self.ended, self.timers,
                    self.cancelled_timers, self.events))  # fmt: skip


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


class AcdStore:
    def __init__(
        self,
        redis: aioredis.Redis,
        keys: AcdKeys | None = None,
        *,
        ended_ttl_s: int = ENDED_TTL_S,
        lease: Lease | None = None,
    ):
        self.redis = redis
        self.keys = keys or AcdKeys()
        self.lease = lease
        self._ended_ttl = ended_ttl_s
        self._reserve = FencedScript(redis, store_scripts.RESERVE, lease)
        self._hold = FencedScript(redis, store_scripts.HOLD, lease)
        self._arrival = redis.register_script(store_scripts.ARRIVAL)
        self.history = HistoryWriter()

    @contextlib.asynccontextmanager
    async def _writes(self) -> AsyncIterator[Any]:
        """One atomic batch of writes: MULTI/EXEC, or one fenced script when there is a lease."""
        if self.lease is None:
            async with self.redis.pipeline(transaction=True) as pipe:
                yield pipe
                await pipe.execute()
            return
        batch = FencedBatch()
        yield batch
        await self.lease.write(batch)

    # -- loading ------------------------------------------------------------------
    async def load(self) -> Stored:
        found = Stored()
        with store_available("loading the ACD state"):
            agent_ids = sorted(_text(a) for a in await self.redis.smembers(self.keys.agents))
            call_ids = sorted(_text(c) for c in await self.redis.smembers(self.keys.calls))
            async with self.redis.pipeline(transaction=False) as pipe:
                for agent_id in agent_ids:
                    pipe.get(self.keys.agent_profile(agent_id))
                    pipe.get(self.keys.agent_status(agent_id))
                    pipe.lrange(self.keys.agent_history(agent_id), 0, -1)
                for call_id in call_ids:
                    pipe.get(self.keys.call(call_id))
                pipe.hgetall(self.keys.timers)
                values = await pipe.execute()
        self._read_agents(agent_ids, values[: 3 * len(agent_ids)], found)
        self._read_calls(values[3 * len(agent_ids) : -1], found)
        found.timers = _read_timers(values[-1])
        return found

    def _read_agents(self, agent_ids: list[str], values: list[Any], found: Stored) -> None:
        for position, agent_id in enumerate(agent_ids):
            profile, status, history = values[3 * position : 3 * position + 3]
            if profile is None:
                continue
            try:
                found.profiles[agent_id], found.sources[agent_id] = load_profile(profile)
                found.statuses[agent_id] = self._status(agent_id, status, history)
            except ValidationFailedError as exc:
                log.error("skipping agent %s: %s", agent_id, exc.message, extra={"agent_id": agent_id})

    def _status(self, agent_id: str, raw: bytes | None, entries: list[bytes]) -> AgentStatus:
        """The status record with its history list (an old record carrying its history keeps it)."""
        status = load_status(raw) if raw else AgentStatus(agent_id)
        try:
            history = load_history(entries, agent_id)
        except ValidationFailedError as exc:  # the agent stays; its list is written anew at the next change
            log.error("dropping agent %s's history: %s", agent_id, exc.message, extra={"agent_id": agent_id})
            history, entries = (), []
        if entries or not status.history:
            status = replace(status, history=history)
        self.history.loaded(agent_id, status.history, from_list=bool(entries))
        return status

    def _read_calls(self, values: list[Any], found: Stored) -> None:
        for raw in values:
            if raw is None:
                continue
            try:
                active = load_active(raw)
            except ValidationFailedError as exc:
                log.error("skipping a stored call: %s", exc.message, extra=exc.details)
                continue
            found.calls[active.id] = active

    async def call(self, call_id: str) -> ActiveCall | None:
        """A call being handled, or one that ended within the last day."""
        with store_available("reading a call"):
            raw = await self.redis.get(self.keys.call(call_id))
        return None if raw is None else load_active(raw)

    async def agent_status(self, agent_id: str) -> AgentStatus | None:
        with store_available("reading an agent status"):
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.get(self.keys.agent_status(agent_id))
                pipe.lrange(self.keys.agent_history(agent_id), 0, -1)
                raw, entries = await pipe.execute()
        return None if raw is None else self._status(agent_id, raw, entries)

    def _put_status(self, pipe: Any, status: AgentStatus) -> None:
        pipe.set(self.keys.agent_status(status.agent_id), dump_status(status, with_history=False))
        self.history.queue(pipe, self.keys.agent_history(status.agent_id), self.history.plan(status))

    # -- agents -------------------------------------------------------------------
    async def seed_profiles(self, specs: Iterable[AgentSpec]) -> None:
        """Write routing.yaml's agents, except those a supervisor edited over the API."""
        specs = list(specs)
        if not specs:
            return
        with store_available("seeding agent profiles"):
            current = await self.redis.mget([self.keys.agent_profile(s.id) for s in specs])
            async with self.redis.pipeline(transaction=True) as pipe:
                for spec, raw in zip(specs, current, strict=True):
                    if raw is not None and source_of(raw) == SOURCE_API:
                        continue
                    pipe.set(self.keys.agent_profile(spec.id), dump_profile(spec, SOURCE_RULES))
                    pipe.sadd(self.keys.agents, spec.id)
                await pipe.execute()

    async def save_profile(self, spec: AgentSpec, source: str, status: AgentStatus | None = None) -> None:
        with store_available("saving an agent profile"):
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(self.keys.agent_profile(spec.id), dump_profile(spec, source))
                pipe.sadd(self.keys.agents, spec.id)
                if status is not None:
                    self._put_status(pipe, status)
                await pipe.execute()
        if status is not None:
            self.history.written(status)

    # -- atomic updates -------------------------------------------------------------
    async def commit(self, change: Change) -> None:
        if not change:
            return
        keys = self.keys
        with store_available("saving ACD state"):
            async with self._writes() as pipe:
                latest = {status.agent_id: status for status in change.statuses}  # one history write each
                for status in latest.values():
                    self._put_status(pipe, status)
                for call_id, queue in change.left_queues:
                    pipe.zrem(keys.queue(queue), call_id)
                for active in change.calls:
                    self._put_call(pipe, active)
                for active in change.ended:
                    pipe.set(keys.call(active.id), _dump(active), ex=self._ended_ttl)
                    pipe.srem(keys.calls, active.id)
                    pipe.zrem(keys.queue(active.call.queue), active.id)
                if change.timers:
                    pipe.hset(keys.timers, mapping=_hash({t.key: t.dump() for t in change.timers}))
                if change.cancelled_timers:
                    pipe.hdel(keys.timers, *change.cancelled_timers)
                for entry in change.events:  # the ACD's hash tag too: one slot, one fenced script
                    pipe.xadd(keys.events, entry.fields(), maxlen=MAX_EVENTS, approximate=True)
        for status in latest.values():
            self.history.written(status)

    def _put_call(self, pipe: Any, active: ActiveCall) -> None:
        keys, call = self.keys, active.call
        pipe.set(keys.call(call.id), _dump(active))
        pipe.sadd(keys.calls, call.id)
        if active.state is CallState.WAITING:
            pipe.zadd(keys.queue(call.queue), {call.id: call.entered_at})
        else:
            pipe.zrem(keys.queue(call.queue), call.id)

    async def reserve(
        self,
        status: AgentStatus,
        offered: ActiveCall,
        timer: Timer,
        *,
        held: bool = False,
        arrived: bool = False,
    ) -> bool:
        """Store `status` (the agent reserved) and `offered` only if the agent is still ready (or,
        `held`, still held for this call) and the call still waiting; False when another engine got
        there first. `arrived`: the call has just arrived and was never stored as waiting; it is
        stored here, offered (one write for admitting and offering it)."""
        keys = self.keys
        with store_available("reserving an agent"):
            done = await self._reserve(
                keys=[
                    keys.agent_status(status.agent_id),
                    keys.queue(offered.call.queue),
                    keys.call(offered.id),
                    keys.calls,
                    keys.timers,
                    keys.agent_history(status.agent_id),
                ],
                args=[
                    offered.id, dump_status(status, with_history=False), _dump(offered), timer.key,
                    timer.dump(), "1" if held else "0", f"{TimerKind.HOLD}:{status.agent_id}",
                    "1" if arrived else "0", *self.history.plan(status).args(),
                ],
            )  # fmt: skip
        if done:
            self.history.written(status)
        return bool(done)

    async def hold(self, status: AgentStatus, timer: Timer) -> bool:
        """Store `status` (the agent held for an outbound call) and its safety timer only if the agent
        is still ready; False when another engine took them first."""
        keys = self.keys
        with store_available("holding an agent"):
            done = await self._hold(
                keys=[keys.agent_status(status.agent_id), keys.timers, keys.agent_history(status.agent_id)],
                args=[
                    dump_status(status, with_history=False), timer.key, timer.dump(),
                    *self.history.plan(status).args(),
                ],
            )  # fmt: skip
        if done:
            self.history.written(status)
        return bool(done)

    async def rewrite(self, state: AcdState, timers: Iterable[Timer]) -> None:
        """Write the whole state again (after Redis failed and memory went ahead of it)."""
        keys = self.keys
        queues = {q.name for q in state.rules.queues} | {a.call.queue for a in state.calls.values()}
        with store_available("rewriting the ACD state"):
            async with self._writes() as pipe:
                for agent_id, spec in state.profiles.items():
                    pipe.set(
                        keys.agent_profile(agent_id),
                        dump_profile(spec, state.sources.get(agent_id, SOURCE_RULES)),
                    )
                    pipe.sadd(keys.agents, agent_id)
                for status in state.statuses.values():
                    self.history.forget(status.agent_id)  # written whole
                    self._put_status(pipe, status)
                pipe.delete(keys.calls, keys.timers, *(keys.queue(q) for q in sorted(queues)))
                for active in state.calls.values():
                    self._put_call(pipe, active)
                mapping = {t.key: t.dump() for t in timers}
                if mapping:
                    pipe.hset(keys.timers, mapping=_hash(mapping))
        for status in state.statuses.values():
            self.history.written(status)

    async def ping(self, timeout: float = 1.0) -> bool:
        try:
            await asyncio.wait_for(self.redis.ping(), timeout)
        except STORE_FAILURES:
            return False
        return True

    # -- CRM, case numbers, rules ----------------------------------------------------------
    async def crm_record(self, number: str) -> dict[str, str] | None:
        with store_available("reading a CRM record"):
            raw = await self.redis.hgetall(self.keys.crm_customer(number))
        return {_text(k): _text(v) for k, v in raw.items()} if raw else None

    async def put_crm_record(self, number: str, record: Mapping[str, str]) -> None:
        key = self.keys.crm_customer(number)
        with store_available("saving a CRM record"):
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                if record:
                    pipe.hset(key, mapping=_hash(record))
                await pipe.execute()

    async def next_case_id(self, now: float) -> str:
        """`20250616-000042`: the day (UTC) and a counter that never repeats; an ACD shard's cases
        carry its name (`20250616-east-000042`: each shard counts its own)."""
        with store_available("numbering a case"):
            number = await self.redis.incr(self.keys.case_seq)
        return _case_id(now, number, self.keys.shard)

    async def arrival(self, number: str | None, now: float) -> tuple[dict[str, str] | None, str]:
        """The caller's CRM record (None: no number, or no record) and a new case id, in one round trip."""
        keys = self.keys
        with store_available("reading a CRM record and numbering a case"):
            record, counter = await self._arrival(
                keys=[keys.crm_customer(number) if number else keys.case_seq, keys.case_seq],
                args=["1" if number else "0"],
            )
        pairs = [_text(item) for item in record]
        crm = dict(zip(pairs[::2], pairs[1::2], strict=True)) or None
        return crm, _case_id(now, int(counter), keys.shard)

    async def set_rules_active(self, content_hash: str, applied_at: float, source: str) -> None:
        mapping = {"hash": content_hash, "applied_at": repr(applied_at), "source": source}
        with store_available("recording the active rules"):
            await self.redis.hset(self.keys.rules_active, mapping=_hash(mapping))


def _case_id(now: float, number: int, shard: str) -> str:
    return f"{case_prefix(now, shard)}{number:06d}"


def _hash(values: Mapping[str, str]) -> dict[FieldT, EncodableT]:
    return dict(values.items())


def _dump(active: ActiveCall) -> str:
    return dump_call(active.call, active.facts.to_dict())


def _read_timers(raw: Mapping[bytes | str, bytes | str]) -> list[Timer]:
    timers = []
    for key, value in raw.items():
        try:
            timers.append(Timer.load(_text(key), value))
        except (ValueError, KeyError, TypeError):
            log.error("skipping a malformed ACD timer %r", _text(key))
    return timers
