"""The consent register in Redis: grants, withdrawals, reads, and the evidence for a number.

Rules it keeps (DESIGN.md 2.8; keys in dialer/dialer_keys.py `ConsentKeys`):
- One record per number, purpose and customer. Every change is one Lua call that writes the
  record, the CRM read-back index, the number's own evidence log and the `audit:consent` stream
  together: nothing changes unaudited, and nothing is audited that did not change.
- A re-sent, unchanged grant is a no-op (`unchanged`); a withdrawn consent is replaced only by a
  grant given after the withdrawal (dialer/consent/validity.py `grant_refusal`), so a CRM re-sync of
  an old grant never revives it: it is reported as refused and the withdrawal stays.
- A withdrawal takes effect at once: the gate reads the same record in its own Lua call.
- A batch is validated item by item: a bad item is reported by its index (and file line) and
  never stops or spoils the good ones; nothing stored is lost by a bad item.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis

from core.errors import ValidationFailedError
from core.phone_numbers import normalize
from core.redis_cluster_support import ensure_loaded
from dialer.audit import AUDIT_LUA, maxlen_arg, text
from dialer.consent.model import prepare
from dialer.consent.validity import ConsentRecord, customer_key, field_of, from_ms, to_ms
from dialer.dialer_keys import ConsentKeys, DialerKeys
from dialer.paging import Cursor, page

# Appends one entry (flat field/value pairs) as a JSON object to a number's evidence LIST: a small
# LIST costs a few hundred bytes where a STREAM per number would cost about 4 KB.
_LOG_LUA = """
local function log(key, fields)
  local entry = {}
  for i = 1, #fields, 2 do entry[fields[i]] = fields[i + 1] end
  redis.call('RPUSH', key, cjson.encode(entry))
end
"""

# KEYS: number hash, index, number log, audit. ARGV: field, json, given_ms, expires_ms, source,
# reference, number, purpose, customer, actor, at, recorded_ms, maxlen, index member
_GIVE_LUA = (
    AUDIT_LUA
    + _LOG_LUA
    + """
local old = redis.call('HGET', KEYS[1], ARGV[1])
local action = 'given'
if old then
  local o = cjson.decode(old)
  local withdrawn = tonumber(o.withdrawn_ms) or 0
  if withdrawn > 0 and tonumber(ARGV[3]) <= withdrawn then return {'refused', tostring(withdrawn)} end
  if withdrawn == 0 and tonumber(o.given_ms) == tonumber(ARGV[3])
     and tonumber(o.expires_ms) == tonumber(ARGV[4]) and o.source == ARGV[5] and o.reference == ARGV[6] then
    return {'unchanged', ''}
  end
  action = 'updated'
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[12], ARGV[14])
local fields = {'action', action, 'number', ARGV[7], 'purpose', ARGV[8], 'customer', ARGV[9],
                'source', ARGV[5], 'reference', ARGV[6], 'given_ms', ARGV[3], 'expires_ms', ARGV[4],
                'actor', ARGV[10], 'at', ARGV[11]}
log(KEYS[3], fields)
audit(KEYS[4], ARGV[13], fields)
return {action, ''}
"""
)

# Appends one entry (flat field/value pairs) as a JSON object to a number's evidence LIST: a small
# LIST costs a few hundred bytes where a STREAM per number would cost about 4 KB.
_LOG_LUA = """
local function log(key, fields)
  local entry = {}
  for i = 1, #fields, 2 do entry[fields[i]] = fields[i + 1] end
  redis.call('RPUSH', key, cjson.encode(entry))
end
"""

# KEYS: number hash, index, number log, audit. ARGV: purpose or '' (all), customer key or '' (all),
# withdrawn_ms, actor, source, at, maxlen, number, reason. Returns the purposes withdrawn.
_WITHDRAW_LUA = (
    AUDIT_LUA
    + _LOG_LUA
    + """
local done = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local f = all[i]
  local sep = string.find(f, '|', 1, true)
  local purpose, customer = string.sub(f, 1, sep - 1), string.sub(f, sep + 1)
  if (ARGV[1] == '' or purpose == ARGV[1]) and (ARGV[2] == '' or customer == ARGV[2]) then
    local r = cjson.decode(all[i + 1])
    if (tonumber(r.withdrawn_ms) or 0) == 0 then
      r.withdrawn_ms = tonumber(ARGV[3]); r.withdrawn_by = ARGV[4]; r.withdrawal_source = ARGV[5]
      redis.call('HSET', KEYS[1], f, cjson.encode(r))
      redis.call('ZADD', KEYS[2], ARGV[3], ARGV[8] .. '|' .. f)
      local fields = {'action', 'withdrawn', 'number', ARGV[8], 'purpose', purpose,
                      'customer', r.customer_id, 'source', ARGV[5], 'reason', ARGV[9],
                      'actor', ARGV[4], 'at', ARGV[6]}
      log(KEYS[3], fields)
      audit(KEYS[4], ARGV[7], fields)
      done[#done + 1] = purpose
    end
  end
end
return done
"""
)


@dataclass(frozen=True, slots=True)
class ConsentProblem:
    """A consent that was not stored: its index in the batch (and file line) and why."""

    index: int
    message: str
    line: int | None = None


@dataclass
class GrantReport:
    received: int = 0
    given: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[ConsentProblem] = field(default_factory=list)

    def add(self, other: GrantReport) -> None:
        self.received += other.received
        self.given += other.given
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.errors += other.errors


@dataclass(frozen=True, slots=True)
class DialUnderConsent:
    """One dial the gate let through under a consent."""

    at: str
    purpose: str
    customer_id: str
    campaign_id: str
    lead_id: str
    call_id: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """What proves a number's consents: the records now, their whole history, every dial under them."""

    number: str
    records: tuple[ConsentRecord, ...]
    history: tuple[dict[str, str], ...]  # each with action, number, purpose, customer, source, actor, at
    dials: tuple[DialUnderConsent, ...]


class ConsentStore:
    """Grants, withdrawals and reads of the consent register over one Redis client."""

    def __init__(
        self,
        redis: Redis,
        *,
        default_region: str,
        keys: DialerKeys | None = None,
        audit_maxlen: int | None = None,
    ) -> None:
        self._redis = redis
        self.default_region = default_region.upper()
        self.keys = ConsentKeys.of(keys)
        self._maxlen = maxlen_arg(audit_maxlen)
        self._give = redis.register_script(_GIVE_LUA)
        self._withdraw = redis.register_script(_WITHDRAW_LUA)

    def _number(self, number: str) -> str:
        return normalize(number, self.default_region)

    async def give(self, data: Mapping[str, Any], *, actor: str, now: datetime) -> tuple[ConsentRecord, str]:
        """Record one consent: (the record as stored, 'given' | 'updated' | 'unchanged');
        ValidationFailedError when it is invalid or would revive a withdrawn consent."""
        report = await self.give_many([data], actor=actor, now=now)
        if report.errors:
            message = report.errors[0].message
            raise ValidationFailedError(message, problems=[message])
        record = prepare(data, default_region=self.default_region, now=now, actor=actor)
        status = "given" if report.given else "updated" if report.updated else "unchanged"
        raw = await self._redis.hget(
            self.keys.number(record.number), field_of(record.purpose, record.customer_id)
        )
        return (record if raw is None else ConsentRecord.from_json(record.number, raw)), status

    async def give_many(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        actor: str,
        now: datetime,
        region: str | None = None,
        lines: Sequence[int] | None = None,
    ) -> GrantReport:
        """Record every valid consent of a batch (one pipelined round trip); the others are reported."""
        report = GrantReport(received=len(items))
        prepared: list[tuple[int, ConsentRecord]] = []
        for index, item in enumerate(items):
            line = lines[index] if lines is not None else None
            try:
                prepared.append(
                    (
                        index,
                        prepare(
                            item, default_region=self.default_region, now=now, actor=actor, region=region
                        ),
                    )
                )
            except ValidationFailedError as exc:
                report.errors.append(ConsentProblem(index, exc.message, line))
        if prepared:
            await ensure_loaded(self._redis, self._give)
            pipe = self._redis.pipeline(transaction=False)
            for _, record in prepared:
                await self._give(
                    keys=self._keys_of(record.number), args=self._give_args(record, now), client=pipe
                )
            replies = await pipe.execute()
            for (index, record), reply in zip(prepared, replies, strict=True):
                status, detail = text(reply[0]), text(reply[1])
                if status == "refused":
                    withdrawn_at = from_ms(int(detail))
                    assert withdrawn_at is not None
                    why = (
                        f"{record.purpose} consent of customer {record.customer_id} for {record.number} was "
                        f"withdrawn at {withdrawn_at.isoformat()}; only a consent given after that counts "
                        f"(given_at {record.given_at.isoformat()})"
                    )
                    report.errors.append(
                        ConsentProblem(index, why, lines[index] if lines is not None else None)
                    )
                else:
                    setattr(report, status, getattr(report, status) + 1)
        report.errors.sort(key=lambda problem: problem.index)
        return report

    def _keys_of(self, number: str) -> list[str]:
        k = self.keys
        return [k.number(number), k.index, k.log(number), k.audit]

    def _give_args(self, record: ConsentRecord, now: datetime) -> list[Any]:
        name = field_of(record.purpose, record.customer_id)
        return [
            name,
            record.to_json(),
            to_ms(record.given_at),
            to_ms(record.expires_at) if record.expires_at else 0,
            record.source,
            record.reference,
            record.number,
            record.purpose,
            record.customer_id,
            record.recorded_by,
            now.isoformat(),
            to_ms(now),
            self._maxlen,
            f"{record.number}|{name}",
        ]

    async def withdraw(
        self,
        number: str,
        *,
        actor: str,
        source: str,
        now: datetime,
        purpose: str | None = None,
        customer_id: str | None = None,
        reason: str = "",
    ) -> list[str]:
        """Withdraw the number's consents (of one purpose and/or customer, else all) at once; returns
        the purposes withdrawn (empty: nothing was in force to withdraw)."""
        if not actor.strip() or not source.strip():
            raise ValidationFailedError(
                "a withdrawal needs an actor and a source", missing=["actor", "source"]
            )
        e164 = self._number(number)
        args: list[Any] = [
            purpose or "", customer_key(customer_id) if customer_id else "", to_ms(now), actor, source,
            now.isoformat(), self._maxlen, e164, reason,
        ]  # fmt: skip
        done = await self._withdraw(keys=self._keys_of(e164), args=args)
        return [text(purpose) for purpose in done]

    async def records(self, number: str) -> list[ConsentRecord]:
        """Every consent of a number (any state), by purpose then customer."""
        e164 = self._number(number)
        raw = cast(dict[Any, Any], await self._redis.hgetall(self.keys.number(e164)))
        return [ConsentRecord.from_json(e164, raw[name]) for name in sorted(raw, key=text)]

    async def page(
        self, *, since: datetime | None, after: Cursor | None, limit: int
    ) -> tuple[list[ConsentRecord], Cursor | None]:
        """Consents by time of their last change (grant, update, withdrawal), oldest first."""
        low = to_ms(since) if since is not None else None
        return await page(self._redis, [self.keys.index], after, limit, self._load, low=low)

    async def _load(self, members: list[str]) -> list[ConsentRecord | None]:
        pipe = self._redis.pipeline(transaction=False)
        split = [member.partition("|") for member in members]
        for number, _, name in split:
            pipe.hget(self.keys.number(number), name)
        replies = await pipe.execute()
        return [
            None if raw is None else ConsentRecord.from_json(number, raw)
            for (number, _, _), raw in zip(split, replies, strict=True)
        ]

    async def evidence(self, number: str) -> Evidence:
        """A number's records, every grant, change and withdrawal of them, and every dial under them."""
        e164 = self._number(number)
        records = await self.records(e164)
        pipe = self._redis.pipeline(transaction=False)
        pipe.lrange(self.keys.log(e164), 0, -1)
        pipe.lrange(self.keys.dials(e164), 0, -1)
        logged, dialed = await pipe.execute()
        history = tuple(_entry(raw) for raw in logged)
        dials = tuple(
            DialUnderConsent(
                at=f.get("at", ""), purpose=f.get("purpose", ""), customer_id=f.get("customer", ""),
                campaign_id=f.get("campaign", ""), lead_id=f.get("lead", ""), call_id=f.get("call", ""),
            )
            for f in map(_entry, dialed)
        )  # fmt: skip
        return Evidence(e164, tuple(records), history, dials)


def _entry(raw: Any) -> dict[str, str]:
    """One evidence entry: a JSON object of text fields (an empty Lua table encodes as [])."""
    data = json.loads(raw)
    return {str(k): text(v) for k, v in data.items()} if isinstance(data, dict) else {}
