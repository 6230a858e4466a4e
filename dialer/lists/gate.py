"""The dial gate: the last check immediately before every Originate, and the batch check of the API.

Rules it keeps (DESIGN.md 2.1, issue 4 "The gate"):
- It decides on the E.164 number alone, at dial time, against the internal list, every
  registered national list and the campaign's own list. It never receives a CRM flag, so no
  CRM "allowed" can let a blacklisted number through.
- One Redis round trip: a Lua script reads the list registry, looks the number up in every list
  and, when it is blocked, appends the audit record, all in one atomic step. A list swapped in
  by a `--replace` import is seen whole before or whole after, never in between.
- Fail closed: a Redis error or a timeout is an outage, not a verdict: `verdict` raises
  StoreUnavailableError (logged, counted as an unavailable check and a `store-unavailable` block) and
  the dialer dials nothing; `check` turns it into the refusal with source `store-unavailable`.
  A string that is not E.164 is refused with source `invalid-number`, a campaign id that cannot
  name a list with `invalid-campaign`.
- Consent (DESIGN.md 2.8): when the campaign declares a consent purpose, the same Lua call reads the
  number's consent register (dialer/consent/) and refuses without a valid consent for that purpose
  (the lead's customer's; any customer's for a dial without a lead) with source `no-consent`, audited
  with the consent's state (missing, not-yet, expired, withdrawn). A dial it lets through under a
  consent is appended to the number's evidence list in that call. A withdrawal is seen by the next
  check; the register is in the same store, so it fails closed with it.
- Every refusal counts `switchboard_dial_blocked_total{source}` (campaign lists count as
  `campaign`, to keep the label set bounded; the audit record names the list).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram
from redis.asyncio import Redis

from core.errors import StoreUnavailableError, ValidationFailedError
from core.store_errors import store_available
from dialer.consent.consent_lua import CONSENT_LUA
from dialer.dialer_keys import ConsentKeys, DialerKeys, LeadKeys
from dialer.lists import packed
from dialer.lists.fast_numbers import try_normalize
from dialer.lists.store import (
    CAMPAIGN_PREFIX,
    LOOKUP_BATCH,
    campaign_list,
    e164_digits,
    require_binary,
)
from dialer.lists.store_scripts import AUDIT_LUA

log = logging.getLogger("switchboard.dialer.gate")

SOURCE_INTERNAL = "internal"
SOURCE_STORE_UNAVAILABLE = "store-unavailable"
SOURCE_INVALID = "invalid-number"
SOURCE_INVALID_CAMPAIGN = "invalid-campaign"
SOURCE_NO_CONSENT = "no-consent"

# Every list key comes in KEYS (from DialerKeys), from KEYS[first] on: the registered national lists
# in name order, then the campaign's list when there is one. ARGV[names] holds the national list names
# the caller believes registered (newline-joined); when the registry says otherwise the script
# answers {'stale', names} and the caller retries with the registry's names (a list just imported
# or dropped is consulted from the next check on; nothing is read or written on the stale answer).
_LISTS_LUA = """
local function registered(registry)
  local names = {}
  for _, name in ipairs(redis.call('SMEMBERS', registry)) do
    if string.sub(name, 1, 9) ~= 'campaign:' then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end
local function stale(registry, believed)
  local names = registered(registry)
  if table.concat(names, '\\n') ~= believed then return names end
  return nil
end
local function list_names(believed, campaign)
  local names = {}
  for name in string.gmatch(believed, '[^\\n]+') do names[#names + 1] = name end
  if campaign ~= '' then names[#names + 1] = campaign end
  return names
end
local function lookup(internal, first, names, number, bucket, rem)
  local hits = {}
  if redis.call('HEXISTS', internal, number) == 1 then hits[1] = 'internal' end
  for i, name in ipairs(names) do
    if has(redis.call('HGET', KEYS[first + i - 1], bucket), rem) then hits[#hits + 1] = name end
  end
  return hits
end
"""
_LOOKUP_LUA = packed.LUA_LOOKUP + _LISTS_LUA

# KEYS: internal, registry, audit stream, consent hash, consent dials list, then the lists (above).
# ARGV: national list names, campaign list or '', number, bucket, remainder bytes, campaign id, lead
# id, at, audit maxlen or '', consent purpose or '', now (epoch ms), call id, the lead's customer id.
# Returns {lists and 'no-consent' that refuse the number, consent state or ''}, or {'stale', names}.
_CHECK_LUA = (
    AUDIT_LUA
    + _LOOKUP_LUA
    + CONSENT_LUA
    + """
local changed = stale(KEYS[2], ARGV[1])
if changed then return {'stale', changed} end
local hits = lookup(KEYS[1], 6, list_names(ARGV[1], ARGV[2]), ARGV[3], ARGV[4], ARGV[5])
local state = ''
if ARGV[10] ~= '' then
  local record
  state, record = consent(KEYS[4], ARGV[10], string.lower(ARGV[13]), tonumber(ARGV[11]))
  if state ~= 'valid' then
    hits[#hits + 1] = 'no-consent'
  elseif #hits == 0 then
    redis.call('RPUSH', KEYS[5], cjson.encode({purpose = ARGV[10], customer = record.customer_id,
      source = record.source, campaign = ARGV[6], lead = ARGV[7], call = ARGV[12], at = ARGV[8]}))
  end
end
if #hits > 0 then
  local fields = {'number', ARGV[3], 'sources', table.concat(hits, ','),
                  'campaign', ARGV[6], 'lead', ARGV[7], 'at', ARGV[8]}
  if state ~= '' then
    fields[#fields + 1] = 'purpose'; fields[#fields + 1] = ARGV[10]
    fields[#fields + 1] = 'consent'; fields[#fields + 1] = state
  end
  audit(KEYS[3], ARGV[9], fields)
end
return {hits, state}
"""
)

# KEYS: internal, registry, then the lists (above). ARGV: national list names, campaign list or '',
# lookup_blob, the E.164 numbers joined by newlines (one argument each: per-argument encoding costs
# the client more than the lookup). Returns one list of hits per number, or {'stale', names}.
_CHECK_MANY_LUA = (
    _LOOKUP_LUA
    + """
local changed = stale(KEYS[2], ARGV[1])
if changed then return {'stale', changed} end
local names = list_names(ARGV[1], ARGV[2])
local fields, rems = unpair(ARGV[3])
local numbers = {}
for number in string.gmatch(ARGV[4], '[^\\n]+') do numbers[#numbers + 1] = number end
local hits = {}
local internal = redis.call('HMGET', KEYS[1], unpack(numbers))
for i = 1, #numbers do
  hits[i] = {}
  if internal[i] then hits[i][1] = 'internal' end
end
for n, name in ipairs(names) do
  local values = redis.call('HMGET', KEYS[2 + n], unpack(fields))
  for i = 1, #fields do
    if has(values[i], rems[i]) then local found = hits[i]; found[#found + 1] = name end
  end
end
return hits
"""
)
_STALE = b"stale"
_STALE_RETRIES = 3  # the registry changed between two checks: rarely twice in a row


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    sources: tuple[str, ...]
    number: str
    consent: str = ""  # the consent's state when the campaign needs one (dialer.consent.validity)


class BatchVerdict(NamedTuple):
    e164: str
    blocked: bool
    sources: tuple[str, ...]


class GateMetrics:
    """The gate's metric objects, on the registry the process (or the test) owns."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.blocked = Counter(
            "switchboard_dial_blocked_total",
            "Dials the blacklist gate refused, by source",
            ["source"],
            registry=registry,
        )
        self.checks = Counter(
            "switchboard_gate_checks_total",
            "Gate checks by result (allowed, blocked, unavailable, invalid)",
            ["result"],
            registry=registry,
        )
        self.seconds = Histogram(
            "switchboard_gate_check_seconds",
            "Gate check time including the Redis round trip",
            buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1.0),
            registry=registry,
        )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _label(source: str) -> str:
    return "campaign" if source.startswith(CAMPAIGN_PREFIX) else source


class Gate:
    """Answers "may this number be dialed now?" for the dialer, and batch checks for the API."""

    def __init__(
        self,
        redis: Redis,
        metrics: GateMetrics,
        *,
        default_region: str,
        keys: DialerKeys | None = None,
        timeout: float = 1.0,
        audit_maxlen: int | None = None,
    ) -> None:
        self._redis = require_binary(redis)
        self._metrics = metrics
        self.default_region = default_region.upper()
        self._keys = keys or DialerKeys()
        self._consent_keys = ConsentKeys.of(self._keys)
        self._lead_keys = LeadKeys.of(self._keys)
        self._timeout = timeout
        self._maxlen = "" if audit_maxlen is None else str(audit_maxlen)
        self._national: list[str] = []  # the registered national lists as last seen (see _LISTS_LUA)
        self._check = redis.register_script(_CHECK_LUA)
        self._check_many = redis.register_script(_CHECK_MANY_LUA)

    async def check(
        self,
        number_e164: str,
        campaign_id: str | None,
        lead_id: str | None,
        *,
        now: datetime,
        consent_purpose: str | None = None,
        call_id: str | None = None,
        customer_id: str | None = None,
    ) -> Verdict:
        """`verdict`, never raising: a store that cannot be consulted answers with the fail-closed
        refusal (source `store-unavailable`), for callers that report a verdict whatever happens."""
        try:
            return await self.verdict(
                number_e164, campaign_id, lead_id, now=now, consent_purpose=consent_purpose,
                call_id=call_id, customer_id=customer_id,
            )  # fmt: skip
        except StoreUnavailableError:
            return Verdict(allowed=False, sources=(SOURCE_STORE_UNAVAILABLE,), number=number_e164)

    async def verdict(
        self,
        number_e164: str,
        campaign_id: str | None,
        lead_id: str | None,
        *,
        now: datetime,
        consent_purpose: str | None = None,
        call_id: str | None = None,
        customer_id: str | None = None,
    ) -> Verdict:
        """The verdict for dialing `number_e164` now. An outage is not a verdict: when the store
        cannot be consulted it raises StoreUnavailableError (already logged and counted as an
        unavailable check), and the caller dials nothing.
        `consent_purpose`: the campaign needs a valid consent for it (the lead's customer's, else
        anyone's); a dial let through under it is recorded with `call_id` as evidence. The lead's
        `customer_id` is read from the lead when the caller does not pass it."""
        campaign = self._campaign_or_refusal(number_e164, campaign_id)
        if isinstance(campaign, Verdict):
            return campaign
        started = time.perf_counter()
        try:
            hits, consent = await self._lookup(
                number_e164,
                campaign,
                lead_id or "",
                [campaign_id or "", lead_id or "", now.isoformat(), self._maxlen],
                [consent_purpose or "", int(now.timestamp() * 1000), call_id or "", customer_id],
            )
        except StoreUnavailableError as exc:
            extra = {"number": number_e164, "campaign": campaign_id, "lead": lead_id}
            log.error("dial refused: %s", exc.message, extra=extra)
            self._refused(number_e164, SOURCE_STORE_UNAVAILABLE, "unavailable")
            raise
        finally:
            self._metrics.seconds.observe(time.perf_counter() - started)
        sources = tuple(_text(hit) for hit in hits)
        for source in sources:
            self._metrics.blocked.labels(source=_label(source)).inc()
        self._metrics.checks.labels(result="blocked" if sources else "allowed").inc()
        return Verdict(allowed=not sources, sources=sources, number=number_e164, consent=_text(consent))

    def _campaign_or_refusal(self, number_e164: str, campaign_id: str | None) -> str | Verdict:
        """The campaign's list name ('' for none), or the refusal of an input that cannot be checked."""
        extra = {"number": number_e164, "campaign": campaign_id}
        try:
            e164_digits([number_e164])
        except ValidationFailedError as exc:
            log.error("dial refused: %s", exc.message, extra=extra)
            return self._refused(number_e164, SOURCE_INVALID, "invalid")
        try:
            return campaign_list(campaign_id) if campaign_id else ""
        except ValidationFailedError as exc:
            log.error("dial refused: %s", exc.message, extra=extra)
            return self._refused(number_e164, SOURCE_INVALID_CAMPAIGN, "invalid")

    async def _lookup(
        self, number: str, campaign: str, lead_id: str, context: list[str], consent: list[Any]
    ) -> tuple[list[Any], Any]:
        """One Lua call: the lists holding `number` and the consent's state; the audit record (or the
        dial's consent evidence) is written in the same call. The lead lives in its own slot, so its
        customer is read before (only for a consent campaign's lead the caller did not pass)."""
        bucket, remainder = packed.split(int(number[1:]))
        k, c = self._keys, self._consent_keys
        keys = [
            k.blacklist_internal,
            k.blacklist_registry,
            k.audit_dial_blocked,
            c.number(number),
            c.dials(number),
        ]
        purpose, customer = consent[0], consent[3]
        with store_available("checking a number against the blacklist"):
            async with asyncio.timeout(self._timeout):
                if customer is None and purpose and lead_id:
                    customer = _text(
                        await self._redis.hget(self._lead_keys.lead(lead_id), "customer_id") or b""
                    )
                args = [
                    number,
                    bucket,
                    packed.remainder_key(remainder),
                    *context,
                    *consent[:3],
                    customer or "",
                ]
                reply = await self._with_lists(self._check, keys, campaign, args)
                return reply[0], reply[1]

    async def _with_lists(self, script: Any, keys: list[str], campaign: str, args: list[Any]) -> list[Any]:
        """Runs a check script with every list key in KEYS; retries with the registry's names when
        the lists changed since the last check."""
        for _ in range(_STALE_RETRIES):
            names = [*self._national, *([campaign] if campaign else [])]
            lists = [self._keys.blacklist_list(name) for name in names]
            reply: list[Any] = await script(
                keys=[*keys, *lists], args=["\n".join(self._national), campaign, *args]
            )
            if reply and reply[0] == _STALE:
                self._national = [_text(name) for name in reply[1]]
                continue
            return reply
        raise StoreUnavailableError("the list registry kept changing during the check")

    def note_unavailable(self) -> None:
        """A dial or a pacing round refused before reaching the gate because a store it needs is
        unreachable: the same fail-closed refusal, counted as an unavailable check."""
        self._metrics.checks.labels(result="unavailable").inc()

    def _refused(self, number: str, source: str, result: str) -> Verdict:
        self._metrics.blocked.labels(source=source).inc()
        self._metrics.checks.labels(result=result).inc()
        return Verdict(allowed=False, sources=(source,), number=number)

    async def check_many(self, numbers: Sequence[str], campaign_id: str | None = None) -> list[BatchVerdict]:
        """Per input number: its E.164 form, whether it is blocked, and by which lists.

        Inputs are read in the gate's default region; any that is not a phone number makes the
        whole call fail with ValidationFailedError naming them. Store errors raise
        StoreUnavailableError (nothing is reported as allowed when it could not be checked).
        """
        e164s = [try_normalize(number, self.default_region) for number in numbers]
        bad = [{"index": i, "input": numbers[i]} for i, e164 in enumerate(e164s) if e164 is None]
        if bad:
            raise ValidationFailedError(f"{len(bad)} input(s) are not phone numbers", invalid=bad[:20])
        valid = [e164 for e164 in e164s if e164 is not None]
        digits = e164_digits(valid)  # refuses E.164 strings longer than 15 digits
        campaign = campaign_list(campaign_id) if campaign_id else ""
        results: list[BatchVerdict] = []
        for start in range(0, len(valid), LOOKUP_BATCH):
            batch = valid[start : start + LOOKUP_BATCH]
            blob = packed.lookup_blob(digits[start : start + LOOKUP_BATCH])
            replies = await self._run_many(campaign, [blob, "\n".join(batch)])
            for e164, hits in zip(batch, replies, strict=True):
                sources = tuple(_text(hit) for hit in hits)
                results.append(BatchVerdict(e164, bool(sources), sources))
        return results

    async def _run_many(self, campaign: str, args: list[Any]) -> list[list[Any]]:
        keys = [self._keys.blacklist_internal, self._keys.blacklist_registry]
        with store_available("checking numbers against the blacklist"):
            async with asyncio.timeout(self._timeout * 5):
                return await self._with_lists(self._check_many, keys, campaign, args)
