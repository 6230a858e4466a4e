"""LocalDesk: the dialer's own agent desk, for running outbound campaigns without the inbound ACD.

It implements dialer.desk.protocol.AgentDesk (what the dialer asks of the agents' owner) and is a
PbxService (register it in the Engine before the DialerService). The ACD does the same job for
a combined deployment; this one keeps only what outbound needs:
- agents (id, interface, skills, queues) and their state live in one Redis HASH, so several
  engines share them; a reservation is one Lua call (READY -> RESERVED), never double-booked;
- connect: ring the reserved (or the longest-idle fitting) agent with an Originate into
  [switchboard-agent] carrying the call's SWITCHBOARD_CALL_ID, and when the agent answers
  (UserEvent SwitchboardAgentAnswered) Bridge the customer's channel with the agent's leg;
- an agent who does not answer is made ready again and the call offered to another agent;
- after the call the agent spends `wrap_up_s` in wrap-up, then is ready again;
- a reservation nobody followed up within `reservation_ttl_s` (the engine that made it died) is
  freed by any engine's tick, so an agent is never stuck reserved;
- a withdrawn call (abandoned by the dialer) is never bridged: a late agent leg is hung up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.errors import AmiError, NotFoundError
from dialer.audit import text
from dialer.desk.protocol import AnsweredCall, CallTarget, DeskAgent
from dialer.dialer_keys import DialerKeys, DialKeys
from dialer.pacing.decision import PacingAgentState
from pbx.call_changes import CallChange, ChannelHungUp, OriginateResult, UserEventSeen
from pbx.codec import Event
from pbx.service import ActionSender
from pbx.switchboard_events import AgentAnswered, decode
from pbx.tracker import CALL_ID_VARIABLE, CallTracker

log = logging.getLogger("switchboard.dialer.desk")

_STORE_ERRORS = (RedisError, OSError, TimeoutError)
AGENT_CONTEXT = "switchboard-agent"
_PACING_STATE = {
    "ready": PacingAgentState.READY,
    "reserved": PacingAgentState.RESERVED,
    "ringing": PacingAgentState.TALKING,
    "busy": PacingAgentState.TALKING,
    "wrap_up": PacingAgentState.WRAPUP,
}

_FITS_LUA = """
local function fits(a, needs, queue)
  if #needs > 0 then
    for _, need in ipairs(needs) do
      local level = a.skills and a.skills[need[1]]
      if not level or tonumber(level) < tonumber(need[2]) then return false end
    end
    return true
  end
  if queue == '' or not a.queues or #a.queues == 0 then return true end
  for _, q in ipairs(a.queues) do if q == queue then return true end end
  return false
end
"""

# KEYS[1] agents HASH. ARGV: call id, now, wanted agent ('' = any), needs JSON, queue ('' = any).
_RESERVE_LUA = (
    _FITS_LUA
    + """
local call_id, now, wanted = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local needs = cjson.decode(ARGV[4])
local best = nil
if wanted ~= '' then
  local raw = redis.call('HGET', KEYS[1], wanted)
  if raw then
    local a = cjson.decode(raw)
    if a.state == 'ready' then best = a end
  end
else
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local a = cjson.decode(all[i + 1])
    if a.state == 'ready' and fits(a, needs, ARGV[5]) then
      if best == nil or a.since < best.since or (a.since == best.since and a.id < best.id) then best = a end
    end
  end
end
if not best then return false end
best.state = 'reserved'
best.call_id = call_id
best.since = now
redis.call('HSET', KEYS[1], best.id, cjson.encode(best))
return best.id
"""
)

# KEYS[1] agents HASH. ARGV: agent, call id ('' = any), from states (comma list), to state, now,
# wrap_until ('' = none). Returns 1 if the agent was in one of the from states (and the call).
_MOVE_LUA = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local a = cjson.decode(raw)
if ARGV[2] ~= '' and a.call_id ~= ARGV[2] then return 0 end
local allowed = false
for state in string.gmatch(ARGV[3], '[^,]+') do if a.state == state then allowed = true end end
if not allowed then return 0 end
a.state = ARGV[4]
a.since = tonumber(ARGV[5])
if ARGV[4] == 'ready' or ARGV[4] == 'paused' or ARGV[4] == 'logged_out' then a.call_id = '' end
a.wrap_until = tonumber(ARGV[6]) or 0
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(a))
return 1
"""


class AgentNotFoundError(NotFoundError):
    error_id = "desk-agent-not-found"


@dataclass
class _DeskCall:
    call: AnsweredCall
    agent_id: str = ""
    action_id: str = ""
    agent_channel: str = ""
    agent_uniqueid: str = ""
    phase: str = "waiting"  # waiting | ringing | connected
    withdrawn: bool = False


def fits(agent: Mapping[str, Any], target: CallTarget) -> bool:
    """The same test as the reservation script: needs met, or a member of the queue."""
    skills = agent.get("skills") or {}
    if target.needs:
        return all(int(skills.get(skill, 0)) >= level for skill, level in target.needs)
    queues = agent.get("queues") or []
    return target.queue is None or not queues or target.queue in queues


class LocalDesk:
    """Agents for outbound calls, owned by the dialer (see the module docstring)."""

    name = "dialer-desk"

    def __init__(
        self,
        redis: Redis,
        sender: ActionSender,
        *,
        keys: DialerKeys | None = None,
        clock: Callable[[], float],
        ring_timeout_s: float = 15.0,
        wrap_up_s: float = 0.0,
        store_timeout_s: float = 1.0,
        reservation_ttl_s: float = 300.0,
    ) -> None:
        self._redis = redis
        self.store_timeout_s = store_timeout_s
        self.reservation_ttl_s = reservation_ttl_s
        self._sender = sender
        self._key = DialKeys.of(keys).desk_agents
        self._clock = clock
        self.ring_timeout_s = ring_timeout_s
        self.wrap_up_s = wrap_up_s
        self._reserve = redis.register_script(_RESERVE_LUA)
        self._move_script = redis.register_script(_MOVE_LUA)
        self._calls: dict[str, _DeskCall] = {}
        self._by_action: dict[str, str] = {}
        self._inbox: asyncio.Queue[Sequence[CallChange]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self._closing = False

    # ---- agents (API, tests) ----------------------------------------------------------------------

    async def login(
        self,
        agent_id: str,
        interface: str,
        skills: Mapping[str, int],
        *,
        queues: Sequence[str] = (),
        now: float,
    ) -> None:
        """Log an agent in, ready at once (replaces what was stored about them)."""
        record = {"id": agent_id, "interface": interface, "skills": dict(skills), "queues": list(queues),
                  "state": "ready", "since": now, "call_id": "", "wrap_until": 0}  # fmt: skip
        await self._redis.hset(self._key, agent_id, json.dumps(record))

    async def set_ready(self, agent_id: str, now: float) -> bool:
        return await self._move(agent_id, "", ("paused", "wrap_up", "logged_out"), "ready", now)

    async def pause(self, agent_id: str, now: float) -> bool:
        return await self._move(agent_id, "", ("ready", "wrap_up"), "paused", now)

    async def logout(self, agent_id: str, now: float) -> bool:
        return await self._move(agent_id, "", ("ready", "paused", "wrap_up"), "logged_out", now)

    async def agent(self, agent_id: str) -> dict[str, Any]:
        raw = await self._redis.hget(self._key, agent_id)
        if raw is None:
            raise AgentNotFoundError(f"no agent {agent_id!r} at the dialer's desk", agent_id=agent_id)
        data: dict[str, Any] = json.loads(text(raw))
        return data

    async def _all(self) -> list[dict[str, Any]]:
        raw = await self._redis.hgetall(self._key)
        return [json.loads(text(value)) for value in raw.values()]

    async def _move(
        self,
        agent_id: str,
        call_id: str,
        sources: Sequence[str],
        state: str,
        now: float,
        *,
        wrap_until: float = 0,
    ) -> bool:
        args: list[str | float] = [agent_id, call_id, ",".join(sources), state, now, wrap_until or ""]
        return bool(await self._move_script(keys=[self._key], args=args))

    # ---- AgentDesk --------------------------------------------------------------------------------

    async def agents(self, target: CallTarget, now: float) -> Sequence[DeskAgent]:
        found = []
        for agent in await self._all():
            state = _PACING_STATE.get(str(agent.get("state")))
            if state is None or not fits(agent, target):
                continue
            wrap = float(agent.get("wrap_until") or 0) or None
            found.append(DeskAgent(str(agent["id"]), state, float(agent.get("since", now)), wrap))
        return found

    async def reserve(
        self, target: CallTarget, call_id: str, now: float, *, agent_id: str | None = None
    ) -> str | None:
        needs = json.dumps([[skill, level] for skill, level in target.needs])
        args: list[str | float] = [call_id, now, agent_id or "", needs, target.queue or ""]
        reserved = await self._reserve(keys=[self._key], args=args)
        return None if reserved is None else text(reserved)

    async def release(self, agent_id: str, call_id: str, now: float) -> None:
        await self._move(agent_id, call_id, ("reserved", "ringing"), "ready", now)

    async def connect(self, call: AnsweredCall, now: float) -> None:
        entry = self._calls.setdefault(call.call_id, _DeskCall(call))
        agent_id = call.agent_id or await self.reserve(call.target, call.call_id, now)
        if agent_id is None:
            return  # waits; tick offers it to the next agent who becomes ready
        await self._ring(entry, agent_id, now)

    async def withdraw(self, call_id: str, now: float) -> None:
        entry = self._calls.get(call_id)
        if entry is None:
            return
        if entry.phase == "ringing":
            entry.withdrawn = True  # its agent leg is hung up when it answers, freed when it fails
            return
        self._calls.pop(call_id, None)
        if entry.agent_id and entry.phase != "connected":
            await self.release(entry.agent_id, call_id, now)

    async def _ring(self, entry: _DeskCall, agent_id: str, now: float) -> None:
        call_id = entry.call.call_id
        try:
            interface = str((await self.agent(agent_id))["interface"])
        except AgentNotFoundError:
            return
        if not await self._move(agent_id, call_id, ("reserved",), "ringing", now):
            return
        entry.agent_id, entry.phase = agent_id, "ringing"
        entry.action_id = f"sbd-{uuid.uuid4().hex[:16]}"
        self._by_action[entry.action_id] = call_id
        variables = {CALL_ID_VARIABLE: call_id, "SWITCHBOARD_AGENT_ID": agent_id,
                     "SWITCHBOARD_CAMPAIGN": entry.call.campaign_id}  # fmt: skip
        try:
            result = await self._sender.originate(
                channel=interface, variables=variables, context=AGENT_CONTEXT, exten="s",
                timeout_ms=int(self.ring_timeout_s * 1000), action_id=entry.action_id,
            )  # fmt: skip
            refused = not result.response.ok
        except AmiError:
            refused = True
        if refused:
            await self._missed(entry, now)

    # ---- PbxService -------------------------------------------------------------------------------

    async def handle(self, event: Event, changes: Sequence[CallChange]) -> None:
        """Queued for the desk's own worker: Redis work never runs in the engine's event task."""
        relevant = [c for c in changes if isinstance(c, OriginateResult | UserEventSeen | ChannelHungUp)]
        if relevant:
            self._inbox.put_nowait(relevant)
            if self._worker is None or self._worker.done():
                self._worker = asyncio.create_task(self._work(), name="dialer-desk-events")

    async def _work(self) -> None:
        while not self._closing:
            changes = await self._inbox.get()
            try:
                async with asyncio.timeout(self.store_timeout_s * 2):
                    await self._handle(changes)
            except _STORE_ERRORS as exc:
                log.warning("desk could not follow an event: %s", type(exc).__name__)

    async def _handle(self, changes: Sequence[CallChange]) -> None:
        for change in changes:
            if isinstance(change, OriginateResult) and change.action_id in self._by_action:
                if not change.ok:
                    entry = self._calls.get(self._by_action[change.action_id])
                    if entry is not None:
                        await self._missed(entry, self._clock())
            elif isinstance(change, UserEventSeen) and isinstance(answered := decode(change), AgentAnswered):
                await self._answered(answered)
            elif isinstance(change, ChannelHungUp):
                await self._hung_up(change)

    async def _answered(self, change: AgentAnswered) -> None:
        call_id, agent_channel = change.call_id, change.channel
        entry = self._calls.get(call_id)
        if entry is None or entry.phase != "ringing":
            return
        now = self._clock()
        if entry.withdrawn:
            self._calls.pop(call_id, None)
            await self._hangup(agent_channel)
            await self._move(entry.agent_id, call_id, ("ringing",), "ready", now)
            return
        entry.agent_channel, entry.agent_uniqueid = agent_channel, change.uniqueid
        entry.phase = "connected"
        await self._move(entry.agent_id, call_id, ("ringing",), "busy", now)
        try:
            await self._sender.send("Bridge", {"Channel1": entry.call.channel, "Channel2": agent_channel})
        except AmiError as exc:
            log.warning("bridge of call %s failed: %s", call_id, exc.message, extra={"call_id": call_id})

    async def _missed(self, entry: _DeskCall, now: float) -> None:
        """The agent did not answer (or could not be rung): ready again; the call tries the next one."""
        call_id = entry.call.call_id
        self._by_action.pop(entry.action_id, None)
        await self._move(entry.agent_id, call_id, ("ringing", "reserved"), "ready", now)
        if entry.withdrawn:
            self._calls.pop(call_id, None)
            return
        entry.agent_id, entry.phase, entry.action_id = "", "waiting", ""

    async def _hung_up(self, change: ChannelHungUp) -> None:
        entry = self._calls.get(change.call_id or "")
        if entry is None or entry.phase != "connected":
            return
        if change.uniqueid not in (entry.call.uniqueid, entry.agent_uniqueid):
            return
        self._calls.pop(entry.call.call_id, None)
        self._by_action.pop(entry.action_id, None)
        now = self._clock()
        if self.wrap_up_s > 0:
            await self._move(
                entry.agent_id, entry.call.call_id, ("busy",), "wrap_up", now, wrap_until=now + self.wrap_up_s
            )
        else:
            await self._move(entry.agent_id, entry.call.call_id, ("busy",), "ready", now)

    async def _hangup(self, channel: str) -> None:
        if channel:
            with contextlib.suppress(AmiError):  # gone already
                await self._sender.send("Hangup", {"Channel": channel, "Cause": 16})

    async def _expire(self, agent: Mapping[str, Any], now: float) -> None:
        """Wrap-up over; or a reservation nobody followed up (its engine died): ready again."""
        state, agent_id, call_id = agent.get("state"), str(agent["id"]), str(agent.get("call_id") or "")
        wrap = float(agent.get("wrap_until") or 0)
        if state == "wrap_up" and wrap and wrap <= now:
            await self._move(agent_id, "", ("wrap_up",), "ready", now)
        stale = float(agent.get("since") or now) + self.reservation_ttl_s <= now
        if state in ("reserved", "ringing") and stale and call_id not in self._calls:
            log.warning("agent %s freed: reservation for %s was never followed up", agent_id, call_id)
            await self._move(agent_id, call_id, ("reserved", "ringing"), "ready", now)

    async def resync(self, tracker: CallTracker) -> None:
        """After a reconnect: calls whose channels are gone free their agents."""
        now = self._clock()
        for call_id, entry in list(self._calls.items()):
            if entry.phase != "ringing" and not tracker.channels_for_call(call_id):
                self._calls.pop(call_id, None)
                if entry.agent_id:
                    await self._move(entry.agent_id, call_id, ("reserved", "ringing", "busy"), "ready", now)

    async def tick(self, now: float) -> None:
        """Wrap-ups that ended, stale reservations, waiting calls offered to agents who became ready;
        run as a background step (never in the engine's ticker), one at a time, bounded."""
        if not self._closing and (self._housekeeping is None or self._housekeeping.done()):
            self._housekeeping = asyncio.create_task(self._bounded_tick(now), name="dialer-desk-tick")

    async def _bounded_tick(self, now: float) -> None:
        try:
            async with asyncio.timeout(self.store_timeout_s * 2):
                await self._tick(now)
        except _STORE_ERRORS as exc:
            log.warning("desk tick skipped: %s", type(exc).__name__)

    async def close(self) -> None:
        """Stop the desk's worker and background step (the engine stops calling it first)."""
        self._closing = True
        tasks = [task for task in (self._worker, self._housekeeping) if task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)

    async def _tick(self, now: float) -> None:
        for agent in await self._all():
            await self._expire(agent, now)
        for entry in list(self._calls.values()):
            if entry.phase == "waiting" and not entry.withdrawn:
                agent_id = await self.reserve(entry.call.target, entry.call.call_id, now)
                if agent_id is not None:
                    await self._ring(entry, agent_id, now)
