"""Dial intents: the write-ahead record of a call about to be placed, and its one settlement.

Rules it keeps (issue 10 "No dial in doubt is repeated", "settling happens once"):
- `open` runs BEFORE the Originate leaves, in one script: the intent (call id, number, campaign,
  lead, holder, agent, kind, owner, the attempt's score), the pending attempt on the number and
  the lead (it counts against the caps at once; a held lead's goes into its own hash, `lead_log`
  marks the intent so), the dial counter, the lead `claimed -> dialing`,
  the number's lock extended to the call's hold (2 h; settling releases it), and the audit record.
  It writes nothing, so nothing may be dialed, when the lock is no longer this dialer's (`LOCK_LOST`:
  it ran out during a stall, and another dialer may have locked the number and read the caps
  without this attempt). A crash at any point after it leaves an intent that recovery
  (dialer/calls/recovery.py) resolves; a crash before it means nothing was dialed.
- The records are the source of truth about which calls were placed and by whom: `records`
  (by call id) and `open_intents` give the owner and the ActionID of every call without an
  outcome, `beat` / `alive` tell a live engine's calls from a dead one's.
- `cancel` undoes an intent whose Originate never left or that Asterisk refused (nothing rang).
- `settle` is the call's one settlement, keyed by call id: the attempt's result, the campaign's
  counters, the audit record, the number's lock and the lead's next step in one script, which
  marks the call settled (its record, with the marker, kept `settled_ttl`, longer than the service
  retries a write; recovery only looks at open intents); run again (a retry after a partial failure, a
  recovery racing the live path), it changes nothing, so nothing is ever counted twice. `settlement`
  says the same and whose the settlement is (`Settlement`): the engine's own metrics count a call
  whose settlement is this engine's, so the sum over engines counts each call once (an old owner
  woken after its calls were taken over and settled counts none of them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, cast

from redis.asyncio import Redis

from dialer.audit import maxlen_arg, text
from dialer.calls import intent_scripts as lua
from dialer.calls.attempts import PENDING, STAT_DIALS, hour_of, to_ms
from dialer.dialer_keys import DialerKeys, DialKeys, LeadKeys

OPEN_STATE = "open"


class Settlement(Enum):
    NOW = "now"  # settled by this write
    MINE = "mine"  # settled before by this engine (a write whose answer was lost, then retried)
    OTHERS = "others"  # settled before by another engine (or by a version that did not say)


LOCK_LOST = "lock-lost"  # `open` refused: the number's dial lock is no longer the intent's token


@dataclass(frozen=True, slots=True)
class Intent:
    """One call as recorded before its Originate left (what recovery needs to settle it)."""

    call_id: str
    action_id: str
    number: str
    campaign_id: str
    kind: str
    placed_ms: int
    owner: str  # the engine instance that placed it
    lead_id: str | None = None
    holder: str | None = None  # the lead's claim owner, when the lead was marked dialing
    agent_id: str | None = None
    lock_token: str | None = None
    connected_ms: int = 0  # when the customer was bridged to an agent (0: not known to be)
    answered_ms: int = 0  # when the customer answered (0: not known to have)
    bridge_ms: int = 0  # when the desk last sent a Bridge of the customer to an agent (0: never)
    bridge_refused_ms: int = 0  # when Asterisk last refused such a Bridge (0: never)
    bridge_by: str = ""  # the engine that wrote `bridge_ms` ('' for a record written before it was kept)
    bridge_refused_by: str = ""
    bridge_seq: int = 0  # the marks' place in the call's order of marks (0: not kept)
    bridge_refused_seq: int = 0

    @property
    def bridge_may_have_connected(self) -> bool:
        """A Bridge went out after the last one Asterisk refused (a refusal comes after its own
        Bridge, in the same millisecond at the earliest): the customer may have talked. Marks of
        one engine are compared by its clock; of two (a failover between them), whose clocks may
        differ, by the order in which they were written."""
        if self.bridge_seq and self.bridge_refused_seq and self.bridge_by != self.bridge_refused_by:
            return self.bridge_seq > self.bridge_refused_seq
        return self.bridge_ms > self.bridge_refused_ms

    def fields(self) -> list[str]:
        return [
            "state", OPEN_STATE, "call_id", self.call_id, "action_id", self.action_id, "number", self.number,
            "campaign", self.campaign_id, "kind", self.kind, "placed_ms", str(self.placed_ms),
            "owner", self.owner, "lead", self.lead_id or "", "holder", self.holder or "",
            "agent", self.agent_id or "", "lock", self.lock_token or "",
        ]  # fmt: skip

    @classmethod
    def from_hash(cls, raw: dict[Any, Any]) -> Intent:
        f = {text(k): text(v) for k, v in raw.items()}
        return cls(
            call_id=f["call_id"], action_id=f.get("action_id", ""), number=f["number"],
            campaign_id=f.get("campaign", ""), kind=f.get("kind", ""), placed_ms=int(f.get("placed_ms", "0")),
            owner=f.get("owner", ""), lead_id=f.get("lead") or None, holder=f.get("holder") or None,
            agent_id=f.get("agent") or None, lock_token=f.get("lock") or None,
            connected_ms=int(f.get("connected_ms") or "0"), answered_ms=int(f.get("answered_ms") or "0"),
            bridge_ms=int(f.get("bridge_ms") or "0"),
            bridge_refused_ms=int(f.get("bridge_refused_ms") or "0"),
            bridge_by=f.get("bridge_by", ""), bridge_refused_by=f.get("bridge_refused_by", ""),
            bridge_seq=int(f.get("bridge_seq") or "0"),
            bridge_refused_seq=int(f.get("bridge_refused_seq") or "0"),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class LeadStep:
    """What settling does to the lead: `release` (for `next_attempt_at`), `done` or `closed`."""

    kind: str
    holder: str
    next_attempt_at: datetime | None = None
    reason: str = ""
    actor: str = ""


def member(call_id: str, result: str, campaign: str) -> str:
    return f"{call_id}|{result}|{campaign}"


class IntentStore:
    """Open, cancel and settle placed calls; list the intents still open (see the module doc)."""

    def __init__(
        self,
        redis: Redis,
        keys: DialerKeys | None = None,
        *,
        retention: timedelta = timedelta(days=31),
        settled_ttl: timedelta = timedelta(hours=1),  # > how long the service retries a write
        audit_maxlen: int | None = None,
    ) -> None:
        self._redis = redis
        self.keys = DialKeys.of(keys)
        self._leads = LeadKeys.of(keys)
        self.retention = retention
        self.settled_ttl = settled_ttl
        self._maxlen = maxlen_arg(audit_maxlen)
        self._open = redis.register_script(lua.OPEN)
        self._cancel = redis.register_script(lua.CANCEL)
        self._settle = redis.register_script(lua.SETTLE)
        self._mark = redis.register_script(lua.MARK)

    def _keys(self, call_id: str, number: str, campaign: str, lead_id: str | None) -> list[str]:
        keys = self.keys
        found = [
            keys.call(call_id), keys.intents, keys.stats(campaign), keys.audit_attempts,
            keys.dial_lock(number), self._leads.audit_leads, keys.number_attempts(number),
        ]  # fmt: skip
        if lead_id:
            found.append(keys.lead_attempts(lead_id))
        return [*found, *self._leads.script_tail]

    def _head(self, at: datetime) -> list[str | int]:
        return [self.keys.prefix, to_ms(at), at.isoformat()]

    async def open(
        self, intent: Intent, *, at: datetime, hold: timedelta, stale: Sequence[bool] | None = None
    ) -> str | None:
        """Record the intent before the Originate; None when written, else why not (`LOCK_LOST`: the
        number's lock is no longer `intent.lock_token`; the lead is no longer held by
        `intent.holder`; the call id exists): then nothing is written and nothing may be dialed.
        `stale`: for the number's and the lead's attempt ZSETs, whether they hold entries older than
        the retention, as the caps' read of them just found (None: not read, trim them)."""
        audit = [
            "action", "dial", "call", intent.call_id, "number", intent.number, "campaign", intent.campaign_id,
            "lead", intent.lead_id or "", "kind", intent.kind, "agent", intent.agent_id or "",
            "at", at.isoformat(),
        ]  # fmt: skip
        args = [
            *self._head(at), intent.call_id, member(intent.call_id, PENDING, intent.campaign_id),
            to_ms(at - self.retention), int(self.retention.total_seconds() * 1000),
            f"{hour_of(at)}:{STAT_DIALS}", intent.lead_id or "", intent.holder or "", intent.lock_token or "",
            int(hold.total_seconds() * 1000), self._maxlen, json.dumps(intent.fields()), json.dumps(audit),
            "" if stale is None else "".join("1" if old else "0" for old in stale),
        ]  # fmt: skip
        keys = self._keys(intent.call_id, intent.number, intent.campaign_id, intent.lead_id)
        ok, why = await self._open(keys=keys, args=args)
        return None if int(ok) else text(why)

    async def cancel(self, intent: Intent, *, at: datetime, detail: str) -> bool:
        """The Originate never left or was refused: the intent, its pending attempt and the dial count
        are undone and the lead is `claimed` again (its holder then gives it back)."""
        audit = [
            "action", "dial-cancelled", "call", intent.call_id, "number", intent.number,
            "campaign", intent.campaign_id, "lead", intent.lead_id or "", "detail", detail,
            "at", at.isoformat(),
        ]  # fmt: skip
        args = [
            *self._head(at), intent.call_id, member(intent.call_id, PENDING, intent.campaign_id),
            f"{hour_of(at)}:{STAT_DIALS}", intent.lead_id or "", intent.holder or "", self._maxlen,
            json.dumps(audit),
        ]  # fmt: skip
        keys = self._keys(intent.call_id, intent.number, intent.campaign_id, intent.lead_id)
        return bool(await self._cancel(keys=keys, args=args))

    async def settle(self, intent: Intent, **fields: Any) -> bool:
        """`settlement` (its keyword arguments), True when settled now; False if settled before."""
        return await self.settlement(intent, **fields) is Settlement.NOW

    async def settlement(
        self,
        intent: Intent,
        *,
        result: str,
        counts: dict[str, int],
        step: LeadStep | None,
        at: datetime,
        detail: str = "",
        by: str = "",
    ) -> Settlement:
        """`settle`, saying whose the settlement is: `by` names the settler (default `intent.owner`, the
        engine settling it; settlement.Outcomes adds its process's nonce: a second process with the
        same engine id is another settler)."""
        by = by or intent.owner
        hour = hour_of(at)
        flat = [item for name, amount in counts.items() for item in (f"{hour}:{name}", str(amount))]
        audit = [
            "action", "outcome", "call", intent.call_id, "number", intent.number,
            "campaign", intent.campaign_id, "lead", intent.lead_id or "", "result", result,
            "at", at.isoformat(),
        ]  # fmt: skip
        if detail:
            audit += ["detail", detail]
        lead = intent.lead_id or "" if step is not None else ""
        next_ms = "" if step is None or step.next_attempt_at is None else str(to_ms(step.next_attempt_at))
        args = [
            *self._head(at), intent.call_id, member(intent.call_id, result, intent.campaign_id), to_ms(at),
            to_ms(at - self.retention), result, json.dumps(flat), intent.lock_token or "", lead,
            step.holder if step else "", step.kind if step else "", next_ms, step.reason if step else "",
            step.actor if step else "", self._maxlen, json.dumps(audit),
            int(self.settled_ttl.total_seconds() * 1000), member(intent.call_id, PENDING, intent.campaign_id),
            int(self.retention.total_seconds() * 1000), by,
        ]  # fmt: skip
        keys = self._keys(intent.call_id, intent.number, intent.campaign_id, intent.lead_id)
        answer = await self._settle(keys=keys, args=args)
        if int(answer[0]):
            return Settlement.NOW
        settler = text(answer[2]) if len(answer) > 2 else ""
        return Settlement.MINE if settler == by else Settlement.OTHERS

    async def _marked(
        self, call_id: str, at: datetime, field: str, *, latest: bool = False, by: str = ""
    ) -> bool:
        args: list[str | int] = [to_ms(at), field, "latest" if latest else "", by]
        return bool(await self._mark(keys=[self.keys.call(call_id)], args=args))

    async def mark_connected(self, call_id: str, *, at: datetime) -> bool:
        """The open intent's customer is bridged to an agent (recovery settles it as answered);
        False if the call is settled or has no record (nothing is written then)."""
        return await self._marked(call_id, at, "connected_ms")

    async def mark_answered(self, call_id: str, *, at: datetime) -> bool:
        """The open intent's customer answered (recovery counts it as an abandon in doubt if it
        ended unseen past the grace); False if the call is settled or has no record."""
        return await self._marked(call_id, at, "answered_ms")

    async def mark_bridge_sent(self, call_id: str, *, at: datetime, by: str = "") -> bool:
        """The desk sends a Bridge of the open intent's customer to an agent: they may talk unseen
        (recovery settles a call that then ended unseen as answered, never as an abandon in doubt,
        unless Asterisk refused this Bridge: `mark_bridge_refused`). The later moment is kept (of
        engine `by`'s marks; another engine's mark replaces one of `by`'s whatever its moment)."""
        return await self._marked(call_id, at, "bridge_ms", latest=True, by=by)

    async def mark_bridge_refused(self, call_id: str, *, at: datetime, by: str = "") -> bool:
        """Asterisk refused the desk's Bridge (or it was never sent): it connected nobody. A Bridge
        marked after it is not covered. The later moment is kept, so retried marks of one call's
        Bridges and refusals may land in any order (`by`: as `mark_bridge_sent`)."""
        return await self._marked(call_id, at, "bridge_refused_ms", latest=True, by=by)

    async def beat(self, owner: str, *, ttl: timedelta) -> None:
        """This engine is alive (renewed by the round, every lease/3): its open intents are its own."""
        await self._redis.set(self.keys.engine(owner), "1", px=int(ttl.total_seconds() * 1000))

    async def stop_beating(self, owner: str) -> None:
        """This engine no longer leads (it can act on none of its calls): the leader may take its
        open intents over at its next recovery pass instead of after the heartbeat's TTL."""
        await self._redis.delete(self.keys.engine(owner))

    async def alive(self, owners: Sequence[str]) -> set[str]:
        """Which of these engines renewed their heartbeat recently."""
        if not owners:
            return set()
        pipe = self._redis.pipeline(transaction=False)
        for owner in owners:
            pipe.exists(self.keys.engine(owner))
        return {owner for owner, found in zip(owners, await pipe.execute(), strict=True) if found}

    async def settled(self, call_id: str) -> str | None:
        """The result a call was settled with, None while it is open or unknown."""
        value = await self._redis.hget(self.keys.call(call_id), "settled")
        return None if value is None else text(value)

    async def records(self, call_ids: Sequence[str]) -> dict[str, Intent | None]:
        """The dial records (`dial:call:{id}`) of these calls: the intent while it is open (owner and
        ActionID included), None once settled; a call id without any record is left out."""
        if not call_ids:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for call_id in call_ids:
            pipe.hgetall(self.keys.call(call_id))
        found: dict[str, Intent | None] = {}
        for call_id, raw in zip(call_ids, await pipe.execute(), strict=True):
            hashed = {text(k): text(v) for k, v in cast(dict[Any, Any], raw).items()}
            if "settled" in hashed:
                found[call_id] = None
            elif hashed.get("state") == OPEN_STATE:
                found[call_id] = Intent.from_hash(hashed)
        return found

    async def settled_records(self, call_ids: Sequence[str]) -> dict[str, tuple[Intent, str]]:
        """The settled ones among these calls: the intent as it was placed, and its result."""
        if not call_ids:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for call_id in call_ids:
            pipe.hgetall(self.keys.call(call_id))
        found: dict[str, tuple[Intent, str]] = {}
        for call_id, raw in zip(call_ids, await pipe.execute(), strict=True):
            hashed = {text(k): text(v) for k, v in cast(dict[Any, Any], raw).items()}
            if "settled" in hashed and "call_id" in hashed and "number" in hashed:
                found[call_id] = (Intent.from_hash(hashed), hashed["settled"])
        return found

    async def open_intents(self, *, limit: int = 500) -> list[Intent]:
        """Intents without an outcome yet, oldest first."""
        ids = [text(i) for i in await self._redis.zrange(self.keys.intents, 0, limit - 1)]
        if not ids:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for call_id in ids:
            pipe.hgetall(self.keys.call(call_id))
        found: list[Intent] = []
        stale: list[str] = []
        for call_id, raw in zip(ids, await pipe.execute(), strict=True):
            hashed = cast(dict[Any, Any], raw)
            if not hashed or b"settled" in hashed or "settled" in hashed:
                stale.append(call_id)  # settled meanwhile (or lost): nothing to resolve
                continue
            found.append(Intent.from_hash(hashed))
        if stale:
            await self._redis.zrem(self.keys.intents, *stale)
        return found
