"""Dispositions: what an advisor records after a call, the automation it triggers, the CRM's read-back.

Rules it keeps (DESIGN.md 2.1, 2.6; seed 001):
- A disposition names a known lead and a code of the rules in force (dialer/dispositions/rules.py); an
  unknown code is refused with the list of known ones, so a typo never skips the automation.
- An inbound call has no lead: `record_inbound` takes its call, case, caller and CRM record instead.
  Its automation acts on the caller (`blacklist` blocks the caller's number, `robinson_request`
  files from the CRM record); `retry_after` and `close_lead` have no lead to act on (skipped), and
  the lead followers (campaign retry, follow-up tasks) are not called. It is read back by call or case.
- The rule's actions run before the disposition is stored, `blacklist` first: when the store
  fails halfway, the number is already blocked (fail closed) and re-sending the disposition
  repeats only idempotent steps (an entry already on the list, the same retry time, a closed
  lead, the same pending Robinson request).
- `robinson_request` opens a request for review (or finds the customer's pending one) and holds
  the lead: neither dialed nor closed until a supervisor decides (seed 000). An approval excludes
  the customer; a rejection queues the lead again. When the lead lacks a field a request needs
  (e.g. the e-mail), the action reports `needs-input` naming it, the lead is held all the same,
  and the request the advisor then files by hand for the customer is the one that decides it.
  A `close_lead` in the same rule does not close a held lead (it reports `skipped`, saying why):
  closing it would decide before the review.
- The actions themselves are dialer.dispositions.actions.DispositionActions.
- Every disposition and each action's outcome is written to the `audit:dispositions` stream;
  the CRM reads dispositions back by lead or since a time (`list_for_lead`, `list_since`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from core.errors import NotFoundError, ValidationFailedError
from core.phone_numbers import normalize
from dialer.audit import AuditTrail, text
from dialer.consent.store import ConsentStore
from dialer.dialer_keys import DialerKeys, LeadKeys
from dialer.dispositions.actions import ActionContext, ActionResult, DispositionActions
from dialer.dispositions.rules import (
    DEFAULT_RULES,
    DispositionRule,
    DispositionRules,
)
from dialer.leads.model import to_ms
from dialer.leads.robinson import RobinsonStore
from dialer.leads.store import LeadStore
from dialer.lists.fast_numbers import try_normalize
from dialer.lists.store import InternalList
from dialer.paging import Cursor, page

NOTE_LIMIT = 2000


class DispositionNotFoundError(NotFoundError):
    error_id = "disposition-not-found"


@dataclass(frozen=True, slots=True)
class Disposition:
    disposition_id: str
    lead_id: str
    code: str
    label: str
    advisor: str
    note: str
    number: str | None
    call_id: str | None
    case_id: str
    campaign_id: str | None
    customer_id: str
    at: str
    actions: tuple[ActionResult, ...]

    @classmethod
    def from_hash(cls, raw: Mapping[Any, Any]) -> Disposition:
        h = {text(k): text(v) for k, v in raw.items()}
        actions = tuple(ActionResult(**item) for item in json.loads(h.get("actions", "[]")))
        return cls(
            disposition_id=h["disposition_id"],
            lead_id=h["lead_id"],
            code=h["code"],
            label=h.get("label", ""),
            advisor=h.get("advisor", ""),
            note=h.get("note", ""),
            number=h.get("number") or None,
            call_id=h.get("call_id") or None,
            case_id=h.get("case_id", ""),
            campaign_id=h.get("campaign_id") or None,
            customer_id=h.get("customer_id", ""),
            at=h["at"],
            actions=actions,
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["actions"] = [asdict(action) for action in self.actions]
        return data


Follower = Callable[[Disposition, datetime], Awaitable[object]]


class DispositionService:
    """Records dispositions and carries out their automation; `rules` is swapped on reload."""

    def __init__(
        self,
        redis: Redis,
        *,
        leads: LeadStore,
        robinson: RobinsonStore,
        internal: InternalList,
        consent: ConsentStore | None = None,
        keys: DialerKeys | None = None,
        rules: DispositionRules = DEFAULT_RULES,
        audit_maxlen: int | None = None,
        followers: Sequence[Follower] = (),
    ) -> None:
        self._redis = redis
        self.keys = LeadKeys.of(keys)
        self.leads = leads
        self.actions = DispositionActions(leads, robinson=robinson, internal=internal, consent=consent)
        self.rules = rules
        self.audit = AuditTrail(redis, self.keys.audit_dispositions, maxlen=audit_maxlen)
        self.followers: list[Follower] = list(followers)
        """Called with each stored disposition (in the engine: the campaign's retry rule and the
        follow-up tasks), in order; a failure is the caller's error, the disposition stays stored."""

    def replace_rules(self, rules: DispositionRules) -> None:
        """Hot reload of dispositions.yaml: the next disposition uses the new rules."""
        self.rules = rules

    def _rule(self, code: str) -> DispositionRule:
        rule = self.rules.rule(code)
        if rule is None:
            known = ", ".join(self.rules.codes)
            raise ValidationFailedError(
                f"unknown disposition {code!r}; known: {known}", reason="unknown-code", code=code, known=known
            )
        return rule

    async def record(
        self,
        *,
        lead_id: str,
        code: str,
        advisor: str,
        now: datetime,
        note: str = "",
        number: str | None = None,
        call_id: str | None = None,
        case_id: str = "",
    ) -> Disposition:
        """Apply the code's automation to the lead, then store the disposition; returns it with results."""
        rule, note = self._rule(code.strip()), self._note(note)
        lead = await self.leads.get(lead_id)
        e164 = normalize(number, self.leads.default_region) if number else None
        disposition_id = f"d-{await self._redis.incr(self.keys.disposition_seq)}"
        context = ActionContext(disposition_id, rule, lead, advisor, note, e164, now)
        results = [await self.actions.run(action, context) for action in rule.ordered_actions()]
        record = Disposition(
            disposition_id=disposition_id,
            lead_id=lead.lead_id,
            code=rule.code,
            label=rule.label,
            advisor=advisor,
            note=note,
            number=e164,
            call_id=call_id,
            case_id=case_id,
            campaign_id=lead.campaign_id,
            customer_id=lead.customer_id,
            at=now.isoformat(),
            actions=tuple(results),
        )
        await self._store(record, now)
        await self.leads.note_disposition(lead.lead_id, rule.code, now=now)
        for follow in self.followers:
            await follow(record, now)
        return record

    async def record_inbound(
        self,
        *,
        call_id: str,
        case_id: str,
        caller: str,
        code: str,
        advisor: str,
        now: datetime,
        note: str = "",
        customer: Mapping[str, str] | None = None,
    ) -> Disposition:
        """The disposition of an inbound call (no lead): its automation acts on the caller's number
        and CRM record; stored and read back by call and case (and in the `since` read)."""
        rule, note = self._rule(code.strip()), self._note(note)
        crm = dict(customer or {})
        e164 = try_normalize(caller, self.leads.default_region) if caller else None
        disposition_id = f"d-{await self._redis.incr(self.keys.disposition_seq)}"
        context = ActionContext(disposition_id, rule, None, advisor, note, e164, now, crm)
        results = [await self.actions.run(action, context) for action in rule.ordered_actions()]
        record = Disposition(
            disposition_id=disposition_id,
            lead_id="",
            code=rule.code,
            label=rule.label,
            advisor=advisor,
            note=note,
            number=e164,
            call_id=call_id,
            case_id=case_id,
            campaign_id=None,
            customer_id=crm.get("customer_id", ""),
            at=now.isoformat(),
            actions=tuple(results),
        )
        await self._store(record, now)
        return record

    def _note(self, note: str) -> str:
        note = note.strip()
        if len(note) > NOTE_LIMIT:
            message = f"the note has more than {NOTE_LIMIT} characters"
            raise ValidationFailedError(message, reason="too-long", field="note", limit=NOTE_LIMIT)
        return note

    async def _store(self, record: Disposition, now: datetime) -> None:
        data = record.as_dict()
        data["actions"] = json.dumps(data["actions"], ensure_ascii=False)
        mapping = {k: "" if v is None else str(v) for k, v in data.items()}
        at = to_ms(now)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self.keys.disposition(record.disposition_id), mapping=mapping)  # type: ignore[arg-type]
        if record.lead_id:
            pipe.zadd(self.keys.lead_dispositions(record.lead_id), {record.disposition_id: at})
        if record.call_id:
            pipe.zadd(self.keys.call_dispositions(record.call_id), {record.disposition_id: at})
        if record.case_id:
            pipe.zadd(self.keys.case_dispositions(record.case_id), {record.disposition_id: at})
        pipe.zadd(self.keys.disposition_index, {record.disposition_id: at})
        audit = {
            "action": "disposition",
            "disposition": record.disposition_id,
            "lead": record.lead_id,
            "call": record.call_id or "",
            "case": record.case_id,
            "customer": record.customer_id,
            "number": record.number or "",
            "code": record.code,
            "actor": record.advisor,
            "at": record.at,
            "results": ",".join(f"{r.action}:{r.status}" for r in record.actions),
        }
        pipe.xadd(self.keys.audit_dispositions, audit, maxlen=self.audit.maxlen, approximate=True)  # type: ignore[arg-type]
        await pipe.execute()

    # ---- reads (the CRM) ----------------------------------------------------------------------

    async def get(self, disposition_id: str) -> Disposition:
        raw = await self._redis.hgetall(self.keys.disposition(disposition_id))
        if not raw:
            raise DispositionNotFoundError(
                f"no disposition {disposition_id!r}", disposition_id=disposition_id
            )
        return Disposition.from_hash(raw)

    async def list_for_lead(
        self, lead_id: str, *, since: datetime | None = None, limit: int = 1000
    ) -> list[Disposition]:
        """A lead's dispositions, oldest first (optionally from `since` on, inclusive)."""
        return await self._range(self.keys.lead_dispositions(lead_id), since, limit)

    async def page(
        self,
        *,
        lead_id: str | None = None,
        call_id: str | None = None,
        case_id: str | None = None,
        since: datetime | None = None,
        after: Cursor | None = None,
        limit: int = 100,
    ) -> tuple[list[Disposition], Cursor | None]:
        """One page, oldest first: of a lead, a call, a case (the first given) or of all, from `since`
        (inclusive) and strictly after the cursor of the previous page; the next page's cursor, None
        on the last."""
        key = self.keys.disposition_index
        if lead_id is not None:
            key = self.keys.lead_dispositions(lead_id)
        elif call_id is not None:
            key = self.keys.call_dispositions(call_id)
        elif case_id is not None:
            key = self.keys.case_dispositions(case_id)
        low = None if since is None else float(to_ms(since))
        return await page(self._redis, [key], after, limit, self._load, low=low)

    async def _load(self, ids: list[str]) -> list[Disposition | None]:
        pipe = self._redis.pipeline(transaction=False)
        for disposition_id in ids:
            pipe.hgetall(self.keys.disposition(disposition_id))
        return [Disposition.from_hash(raw) if raw else None for raw in await pipe.execute()]

    async def list_since(self, since: datetime, *, limit: int = 1000) -> list[Disposition]:
        """Every disposition set at or after `since`, oldest first; page on with the last `at`."""
        return await self._range(self.keys.disposition_index, since, limit)

    async def _range(self, zset: str, since: datetime | None, limit: int) -> list[Disposition]:
        low = "-inf" if since is None else to_ms(since)
        ids = await self._redis.zrangebyscore(zset, low, "+inf", start=0, num=limit)
        pipe = self._redis.pipeline(transaction=False)
        for disposition_id in ids:
            pipe.hgetall(self.keys.disposition(text(disposition_id)))
        return [Disposition.from_hash(raw) for raw in await pipe.execute() if raw]
