"""Dial attempts in Redis: per number across every campaign (call caps, abandon quarantine), per lead
(retry delays, attempt limits), the per-number dial lock, and the hourly campaign statistics.

Rules it keeps (DESIGN.md 2.6, 2.7):
- An attempt is recorded (result `pending`) before its Originate leaves, with the dial intent
  (dialer.calls.intents), and settled with its result when the call ends, once per call id. A pending
  attempt counts against the cap at once, so a crash between the two can never let a number be
  dialed more often than the cap allows; one whose outcome never arrived reads as `failed` for
  the retry rules until recovery settles it as `unknown`. (`record` / `settle` below are the
  same steps without a lead or an intent, for tools and tests.)
- A lead's attempts made by its holder live in the lead's hash (`dial_attempts`, written with the
  lead's status by the intent's scripts); callbacks and older versions wrote them to the lead's
  ZSET, which is still read (`lead_attempts` merges the two) when the lead's hash says it may hold
  some (`dial_zset`, set by every write of the ZSET, and at start-up for the ZSETs older versions
  wrote: `mark_lead_zsets`); the caps' read of a lead without it costs no command.
- The per-number history is shared by all campaigns, manual dials and callbacks: the cap is
  "across ALL campaigns". Entries older than `retention` are trimmed by the writes here; the dial
  intent trims a history only when the caps' read of it (under the number's lock) found such entries.
- One call at a time per number, across engines and campaigns: a lease (SET NX PX) taken before
  the caps are read, kept while the call lasts and released when it ends (its TTL covers an engine
  that died), so two campaigns can neither both pass the cap check for the same number at the
  same moment nor ring a person who is already on a call with us.
- Campaign statistics are counters per UTC hour (dials, live answers, abandons, answering
  machines), from which the abandon rate over 24 h and 30 d and the recent answer rate are read.
- Every attempt and every outcome also goes to the `audit:dial-attempts` stream.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from dialer.audit import text
from dialer.compliance.caps import Attempt, CallResult
from dialer.dialer_keys import DialerKeys, DialKeys, LeadKeys
from dialer.pacing.abandon_window import AbandonWindow, HourBucket

log = logging.getLogger("switchboard.dialer")

PENDING = "pending"
LEAD_LOG_FIELD = "dial_attempts"  # the lead hash's own attempts (dialer/leads/transition_scripts.py)
LEAD_ZSET_FIELD = "dial_zset"  # '1': the lead's `dial:lead` ZSET was written (read it with the field)
_MONTH_HOURS = 30 * 24
_HOUR_S = 3600
STAT_DIALS, STAT_ANSWERS, STAT_ABANDONS, STAT_MACHINES = "d", "a", "x", "m"

# KEYS: the attempt ZSETs to update. ARGV: call id, new member, score if the member is missing,
# retention cutoff (ms), retention (ms). Replaces the member that starts with "call_id|" (or adds
# it); the ZSET expires a retention later (emptied by the ZREM, it is made anew without a TTL).
_SETTLE_LUA = """
local prefix = ARGV[1] .. '|'
for _, key in ipairs(KEYS) do
  local found = nil
  local members = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  for i = 1, #members, 2 do
    if string.sub(members[i], 1, #prefix) == prefix then found = i end
  end
  local score = ARGV[3]
  if found then
    score = members[found + 1]
    redis.call('ZREM', key, members[found])
  end
  redis.call('ZADD', key, score, ARGV[2])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[4])
  redis.call('PEXPIRE', key, ARGV[5])
end
return 1
"""

# KEYS: lead hashes whose `dial:lead` ZSET was written: each existing one is marked (none is made).
_MARK_ZSET_LUA = f"""
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('HSET', key, '{LEAD_ZSET_FIELD}', '1') end
end
return #KEYS
"""

_EXTEND_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

_UNLOCK_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def hour_of(moment: datetime) -> int:
    return math.floor(moment.timestamp() / _HOUR_S)


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One stored attempt; `result` is None while the call is still going on."""

    call_id: str
    at: datetime
    result: CallResult | None
    campaign: str

    def attempt(self, disposition: str | None = None) -> Attempt:
        """As the caps core sees it: an attempt whose outcome never came counts as failed."""
        result = self.result or CallResult.FAILED
        return Attempt(at=self.at, result=result, campaign=self.campaign, disposition=disposition)


Locked = tuple[str, list[AttemptRecord]]  # a number's lock token and its history read under it


def _member(call_id: str, result: str, campaign: str) -> str:
    return f"{call_id}|{result}|{campaign}"


def _record(member: Any, score: Any) -> AttemptRecord | None:
    call_id, _, rest = text(member).partition("|")
    result, _, campaign = rest.partition("|")
    at = datetime.fromtimestamp(float(score) / 1000, UTC)
    try:
        parsed = None if result == PENDING else CallResult(result)
    except ValueError:
        return None  # written by a newer version: skip rather than guess
    return AttemptRecord(call_id, at, parsed, campaign)


def _records(raw: Any) -> list[AttemptRecord]:
    records = (_record(member, score) for member, score in cast(list[tuple[Any, Any]], raw))
    return [record for record in records if record is not None]


def merged(zset: list[AttemptRecord], logged: str) -> list[AttemptRecord]:
    """A lead's attempts: its ZSET's and its hash's `dial_attempts` (JSON member -> epoch ms, LIB's
    attempt_log), one per call id (a settled entry wins over a pending one), oldest first."""
    found = {record.call_id: record for record in zset}
    try:
        log = json.loads(logged) if logged else {}
    except ValueError:
        log = {}  # unreadable: the ZSET's entries still count
    for member, score in log.items() if isinstance(log, dict) else ():
        try:
            record = _record(member, score)
        except (TypeError, ValueError, OverflowError):
            continue  # not an attempt as LIB writes them: skipped, as a newer version's result is
        if record is not None and (record.call_id not in found or found[record.call_id].result is None):
            found[record.call_id] = record
    return sorted(found.values(), key=lambda record: record.at)


def within_retention(records: Sequence[AttemptRecord], cutoff: datetime) -> list[AttemptRecord]:
    """The attempts that still count when the retention starts at `cutoff` (now - retention): those
    after it. A ZSET expires that long after its last write, but a lead's hash keeps its
    `dial_attempts` (trimmed only by its holder's next dial) and a ZSET written since keeps older
    entries until a write trims them: whatever the caps read, older attempts are not counted."""
    return [record for record in records if record.at > cutoff]


def lead_history(records: Sequence[AttemptRecord], last_disposition: str | None) -> list[Attempt]:
    """A lead's attempts for `dialer.compliance.caps.lead_retry`; its last disposition goes on the last."""
    ordered = sorted(records, key=lambda record: record.at)
    return [
        record.attempt(last_disposition if index == len(ordered) - 1 else None)
        for index, record in enumerate(ordered)
    ]


@dataclass(frozen=True, slots=True)
class CampaignCounts:
    """What pacing and the stats endpoint read: the abandon window and the recent answer sample."""

    window: AbandonWindow
    recent_dials: int
    recent_answers: int
    dials_24h: int
    machines_24h: int


class AttemptStore:
    """Attempt history, dial locks and campaign counters over one Redis client."""

    def __init__(
        self,
        redis: Redis,
        keys: DialerKeys | None = None,
        *,
        retention: timedelta = timedelta(days=31),
        audit_maxlen: int | None = None,
    ) -> None:
        self._redis = redis
        self.keys = DialKeys.of(keys)
        self._leads = LeadKeys.of(keys)
        self.retention = retention
        self._audit_maxlen = audit_maxlen
        self._settle = redis.register_script(_SETTLE_LUA)
        self._unlock = redis.register_script(_UNLOCK_LUA)
        self._extend = redis.register_script(_EXTEND_LUA)
        self._mark_zsets = redis.register_script(_MARK_ZSET_LUA)
        self.zsets_marked = False  # by the start-up pass (older versions' ZSETs): until then, all read

    # ---- the per-number dial lock ---------------------------------------------------------------

    async def lock_number(self, number: str, *, ttl: timedelta = timedelta(seconds=15)) -> str | None:
        """A token if this caller may dial `number` now (nobody else is dialing it), else None."""
        token = secrets.token_hex(8)
        ok = await self._redis.set(
            self.keys.dial_lock(number), token, nx=True, px=int(ttl.total_seconds() * 1000)
        )
        return token if ok else None

    async def hold_number(self, number: str, token: str, *, ttl: timedelta) -> bool:
        """Keep the lock for the call's life (released when it ends; the TTL covers a dead engine)."""
        args: list[str | int] = [token, int(ttl.total_seconds() * 1000)]
        return bool(await self._extend(keys=[self.keys.dial_lock(number)], args=args))

    async def lock_and_read(self, number: str, *, ttl: timedelta = timedelta(seconds=15)) -> Locked | None:
        """`lock_number`, then `number_attempts` read under the lock, in one round trip (a pipeline:
        Redis runs the read after the lock): the token and the history, or None when not locked."""
        token, pipe = secrets.token_hex(8), self._redis.pipeline(transaction=False)
        pipe.set(self.keys.dial_lock(number), token, nx=True, px=int(ttl.total_seconds() * 1000))
        pipe.zrange(self.keys.number_attempts(number), 0, -1, withscores=True)
        locked, raw = await pipe.execute()
        return (token, _records(raw)) if locked else None

    async def unlock_number(self, number: str, token: str) -> None:
        await self._unlock(keys=[self.keys.dial_lock(number)], args=[token])

    # ---- reads ----------------------------------------------------------------------------------

    async def number_attempts(self, number: str) -> list[AttemptRecord]:
        return await self._read(self.keys.number_attempts(number))

    async def lead_attempts(
        self, lead_id: str, *, logged: str | None = None, zset: bool = True
    ) -> list[AttemptRecord]:
        """The lead's attempts: those its holder's dials keep in the lead's hash (`dial_attempts`;
        `logged`, its value as the caller read it with the lead, else read here) and those of its
        `dial:lead` ZSET (callbacks, tools, and what older versions wrote there), read unless the
        lead read with `logged` said it has none (`zset` False: its hash has no `dial_zset`)."""
        key = self.keys.lead_attempts(lead_id)
        if logged is not None:
            read = zset or not self.zsets_marked  # an older version's ZSET may be unmarked yet
            return merged(await self._read(key) if read else [], logged)
        pipe = self._redis.pipeline(transaction=False)
        pipe.zrange(key, 0, -1, withscores=True)
        pipe.hget(self._leads.lead(lead_id), LEAD_LOG_FIELD)
        raw, log = await pipe.execute()
        return merged(_records(raw), text(log) if log is not None else "")

    async def _read(self, key: str) -> list[AttemptRecord]:
        return _records(await self._redis.zrange(key, 0, -1, withscores=True))

    async def mark_lead_zsets(self) -> int:
        """At start-up: every lead whose `dial:lead` ZSET exists (one an older version wrote without
        marking the lead) gets `dial_zset` in its hash, so the caps read it. Idempotent; returns the
        number of ZSETs found."""
        start, found = len(self.keys.lead_attempts("")), 0
        pattern = self.keys.lead_attempts("*")  # `{dial}` is no glob syntax: one slot's keys
        batch: list[str] = []
        async for raw in self._redis.scan_iter(match=pattern, count=1000, _type="zset"):
            batch.append(self._leads.lead(text(raw)[start:]))
            if len(batch) == 500:
                found += await self._mark_zsets(keys=batch, args=[])
                batch = []
        found += await self._mark_zsets(keys=batch, args=[]) if batch else 0
        self.zsets_marked = True
        return found

    async def mark_in_background(self) -> None:
        """`mark_lead_zsets` in the background (a large keyspace is many SCANs; every lead's ZSET is
        read until it is done). A Redis failure leaves it undone till the next start: all are read."""
        try:
            found = await self.mark_lead_zsets()
        except (RedisError, OSError) as exc:
            log.warning("older versions' lead attempt ZSETs not marked (%s); every lead's is read", exc)
            return
        if found:
            log.info("marked %d leads whose attempt ZSET an older version wrote", found)

    # ---- writes ---------------------------------------------------------------------------------

    async def record(
        self, *, call_id: str, number: str, campaign: str, lead_id: str | None, at: datetime, kind: str,
        agent_id: str | None = None,
    ) -> None:  # fmt: skip
        """A placed call: a pending attempt on the number (and lead), an audit record, a dial count."""
        member, score = _member(call_id, PENDING, campaign), to_ms(at)
        cutoff = to_ms(at - self.retention)
        keep_ms = int(self.retention.total_seconds() * 1000)
        if lead_id:  # marked first: a marker without its ZSET only costs a read
            await self._mark_zsets(keys=[self._leads.lead(lead_id)], args=[])
        pipe = self._redis.pipeline(transaction=True)
        for key in self._attempt_keys(number, lead_id):
            pipe.zadd(key, {member: score})
            pipe.zremrangebyscore(key, "-inf", cutoff)
            pipe.pexpire(key, keep_ms)
        pipe.hincrby(self.keys.stats(campaign), f"{hour_of(at)}:{STAT_DIALS}", 1)
        entry = {
            "action": "dial", "call": call_id, "number": number, "campaign": campaign,
            "lead": lead_id or "", "kind": kind, "agent": agent_id or "", "at": at.isoformat(),
        }  # fmt: skip
        pipe.xadd(self.keys.audit_attempts, entry, maxlen=self._audit_maxlen, approximate=True)  # type: ignore[arg-type]
        await pipe.execute()

    async def settle(
        self, *, call_id: str, number: str, campaign: str, lead_id: str | None, result: CallResult,
        at: datetime,
    ) -> None:  # fmt: skip
        """The call's result replaces its pending attempt (added if the record step was lost)."""
        keys = self._attempt_keys(number, lead_id)
        member = _member(call_id, result.value, campaign)
        cutoff = to_ms(at - self.retention)
        keep_ms = int(self.retention.total_seconds() * 1000)
        if lead_id:  # marked first: a ZSET written is never left unmarked by a failure between
            await self._mark_zsets(keys=[self._leads.lead(lead_id)], args=[])
        await self._settle(keys=keys, args=[call_id, member, to_ms(at), cutoff, keep_ms])
        entry = {
            "action": "outcome", "call": call_id, "number": number, "campaign": campaign,
            "lead": lead_id or "", "result": result.value, "at": at.isoformat(),
        }  # fmt: skip
        await self._redis.xadd(self.keys.audit_attempts, entry, maxlen=self._audit_maxlen, approximate=True)  # type: ignore[arg-type]

    def _attempt_keys(self, number: str, lead_id: str | None) -> list[str]:
        keys = [self.keys.number_attempts(number)]
        if lead_id:
            keys.append(self.keys.lead_attempts(lead_id))
        return keys

    # ---- campaign counters ----------------------------------------------------------------------

    async def count(self, campaign: str, at: datetime, counts: dict[str, int]) -> None:
        """Add to this hour's counters, e.g. {"a": 1, "x": 1} for an abandoned live answer."""
        if not counts:
            return
        hour = hour_of(at)
        pipe = self._redis.pipeline(transaction=True)
        for name, amount in counts.items():
            pipe.hincrby(self.keys.stats(campaign), f"{hour}:{name}", amount)
        await pipe.execute()

    async def counts(self, campaign: str, now: datetime) -> CampaignCounts:
        """The campaign's counters as pacing needs them; drops hours older than 30 days."""
        raw = await self._redis.hgetall(self.keys.stats(campaign))
        table, stale = _hour_table(raw.items(), hour_of(now))
        if stale:
            await self._redis.hdel(self.keys.stats(campaign), *stale)
        return _counts_from(table, hour_of(now))


def _hour_table(
    items: Iterable[tuple[Any, Any]], now_hour: int
) -> tuple[dict[int, dict[str, int]], list[str]]:
    table: dict[int, dict[str, int]] = {}
    stale: list[str] = []
    for field, value in items:
        name = text(field)
        hour_text, _, stat = name.partition(":")
        try:
            hour = int(hour_text)
        except ValueError:
            stale.append(name)
            continue
        if hour <= now_hour - _MONTH_HOURS:
            stale.append(name)
            continue
        table.setdefault(hour, {})[stat] = int(text(value))
    return table, stale


def _counts_from(table: dict[int, dict[str, int]], now_hour: int) -> CampaignCounts:
    buckets = tuple(
        HourBucket(hour, row.get(STAT_ANSWERS, 0), row.get(STAT_ABANDONS, 0))
        for hour, row in sorted(table.items())
        if row.get(STAT_ANSWERS, 0) or row.get(STAT_ABANDONS, 0)
    )
    recent = [table.get(hour, {}) for hour in (now_hour - 1, now_hour)]
    day = [row for hour, row in table.items() if now_hour - 24 < hour <= now_hour]
    return CampaignCounts(
        window=AbandonWindow(buckets),
        recent_dials=sum(row.get(STAT_DIALS, 0) for row in recent),
        recent_answers=sum(row.get(STAT_ANSWERS, 0) for row in recent),
        dials_24h=sum(row.get(STAT_DIALS, 0) for row in day),
        machines_24h=sum(row.get(STAT_MACHINES, 0) for row in day),
    )
