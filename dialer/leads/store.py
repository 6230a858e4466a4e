"""The lead store: leads in Redis, their distribution to engines and advisors, one atomic step each.

Rules it keeps (issue 4 "Campaigns and leads", DESIGN.md 2.2 and 2.7):
- Bulk upsert is idempotent by lead id: re-sending a lead changes nothing, re-sending it changed
  updates it in place. A re-sent lead never leaves claimed/dialing/done/closed/excluded by itself
  (a CRM sync does not restart finished leads); `reopen=True` requeues done and closed ones.
- A claim takes the campaign's best lead (priority, then age) and marks it claimed in one Lua
  call: no lead is ever claimed twice, whatever the number of tasks or engines. Claims are
  leased; `requeue_expired` puts back the leads of an engine that died.
- Leads of customers excluded by an approved Robinson request are never queued, claimed or
  offered again (the claim script re-checks the exclusion at claim time).
- The store never decides whether a number may be dialed: the gate does, at dial time. The one
  place it touches the blacklist is one-way: a CRM flag saying "do not call" and every number of
  an excluded customer are copied to the internal list; nothing here ever takes a number off.
- A preview lead is offered to one advisor at a time, for a limited time; each advisor holds at
  most one offer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from core.errors import ValidationFailedError
from dialer.audit import AuditTrail, maxlen_arg, text
from dialer.dialer_keys import DialerKeys, LeadKeys
from dialer.leads import scripts as lua
from dialer.leads.model import (
    CAMPAIGN_ID_PATTERN,
    STATUSES,
    Lead,
    LeadIn,
    PreparedLead,
    PriorityRule,
    offered_lead,
    prepare,
    to_ms,
)
from dialer.leads.store_results import (
    LeadNotClaimedError,
    LeadNotFoundError,
    LeadProblem,
    OfferRefusedError,
    UpsertReport,
)
from dialer.lists.store import InternalList

__all__ = [
    "CAMPAIGN_ID_PATTERN",
    "STATUSES",
    "Lead",
    "LeadIn",
    "LeadNotClaimedError",
    "LeadNotFoundError",
    "LeadProblem",
    "LeadStore",
    "OfferRefusedError",
    "UpsertReport",
]

_CHUNK = 500
DEFAULT_LEASE = timedelta(minutes=15)
EXCLUSION_ACTOR = "robinson"


@dataclass(frozen=True, slots=True)
class LeadHooks:
    """What the lead imports ask of the campaigns and the metrics (None: nothing asked)."""

    priority: PriorityRule | None = None
    """The campaigns' `lead_priority` rule (follows campaigns.yaml reloads)."""
    campaigns: Callable[[], Collection[str]] | None = None
    """The campaign ids in force: a lead for another campaign is refused."""
    imported: Callable[[str, UpsertReport], None] | None = None
    """Told of every upsert batch by source (api, csv): the import metrics."""


class LeadStore:
    """Leads of every campaign, for the dialer (claims), the advisors (offers) and the CRM (upserts)."""

    def __init__(
        self,
        redis: Redis,
        *,
        default_region: str,
        keys: DialerKeys | None = None,
        internal: InternalList | None = None,
        blocking_flags: Sequence[str] = ("do_not_call",),
        audit_maxlen: int | None = None,
        hooks: LeadHooks | None = None,
    ) -> None:
        self._redis = redis
        self.keys = LeadKeys.of(keys)
        self.default_region = default_region.upper()
        self._internal = internal or InternalList(redis, keys, audit_maxlen=audit_maxlen)
        self._blocking = tuple(blocking_flags)
        self._maxlen = maxlen_arg(audit_maxlen)
        self.audit = AuditTrail(redis, self.keys.audit_leads, maxlen=audit_maxlen)
        hooks = hooks or LeadHooks()
        self.priority, self.campaigns, self.imported = hooks.priority, hooks.campaigns, hooks.imported
        self._scripts = {
            name: redis.register_script(getattr(lua, name))
            for name in (
                "UPSERT",
                "CLAIM",
                "RELEASE",
                "MARK_DIALING",
                "FINISH",
                "SCHEDULE",
                "REQUEUE_EXPIRED",
                "OFFER",
                "ANSWER_OFFER",
                "EXPIRE_OFFERS",
                "HOLD",
            )
        }

    async def _run(self, name: str, now: datetime, *args: Any, keys: Sequence[str] = ()) -> Any:
        argv = [self.keys.prefix, to_ms(now), now.isoformat(), *args]
        return await self._scripts[name](keys=[*keys, *self.keys.script_tail], args=argv)

    # ---- import -------------------------------------------------------------------------------

    async def upsert_many(
        self,
        items: Iterable[Mapping[str, Any] | LeadIn],
        *,
        now: datetime,
        actor: str,
        campaign_id: str | None = None,
        reopen: bool = False,
        lines: Sequence[int] | None = None,
        source: str = "api",
        region: str | None = None,
    ) -> UpsertReport:
        """Create or update leads by lead id; invalid ones are reported (by index/line), the rest stored."""
        report = UpsertReport()
        batch: list[PreparedLead] = []
        for index, item in enumerate(items):
            report.received += 1
            try:
                batch.append(
                    self._known_campaign(
                        prepare(item, self.default_region, campaign_id, self.priority, region)
                    )
                )
            except ValidationFailedError as exc:
                line = lines[index] if lines is not None else None
                report.errors.append(LeadProblem(index, _lead_id_of(item), exc.message, line))
            if len(batch) >= _CHUNK:
                await self._store(batch, report, now, actor, reopen)
                batch = []
        if batch:
            await self._store(batch, report, now, actor, reopen)
        if self.imported is not None:
            self.imported(source, report)
        return report

    def _known_campaign(self, prepared: PreparedLead) -> PreparedLead:
        wanted = prepared.lead.campaign_id
        known = self.campaigns() if self.campaigns is not None else None
        if wanted is not None and known is not None and wanted not in known:
            listed = ", ".join(sorted(known)) or "none"
            message = f"campaign_id: no such campaign in campaigns.yaml (known: {listed}); never dialed"
            raise ValidationFailedError(message, field="campaign_id")
        return prepared

    async def _store(
        self, batch: list[PreparedLead], report: UpsertReport, now: datetime, actor: str, reopen: bool
    ) -> None:
        items = json.dumps([p.script_item() for p in batch], ensure_ascii=False)
        results = await self._run("UPSERT", now, "1" if reopen else "0", items)
        for prepared, (_, raw_result, raw_status) in zip(batch, results, strict=True):
            result, status = text(raw_result), text(raw_status)
            setattr(report, result, getattr(report, result) + 1)
            if status == "excluded":
                report.excluded += 1
            if result == "unchanged":
                continue
            reasons = [f"CRM flag {flag}" for flag in prepared.blocking_flags(self._blocking)]
            if status == "excluded":
                reasons.append(f"customer {prepared.lead.customer_id} is on the Robinson list")
            if reasons:
                report.numbers_blocked += await self._block(
                    prepared.phones, "; ".join(reasons), f"crm:{actor}", now, prepared.lead.lead_id
                )

    async def _block(self, phones: Iterable[str], reason: str, actor: str, now: datetime, lead: str) -> int:
        added = 0
        for number in phones:
            added += await self._internal.add(number, reason=f"{reason} (lead {lead})", actor=actor, now=now)
        return added

    # ---- reads --------------------------------------------------------------------------------

    async def find(self, lead_id: str) -> Lead | None:
        raw = await self._redis.hgetall(self.keys.lead(lead_id))
        return Lead.from_hash(raw) if raw else None

    async def get(self, lead_id: str) -> Lead:
        lead = await self.find(lead_id)
        if lead is None:
            raise LeadNotFoundError(f"no lead {lead_id!r}", lead_id=lead_id)
        return lead

    async def get_many(self, lead_ids: Sequence[str]) -> list[Lead]:
        pipe = self._redis.pipeline(transaction=False)
        for lead_id in lead_ids:
            pipe.hgetall(self.keys.lead(lead_id))
        return [Lead.from_hash(raw) for raw in await pipe.execute() if raw]

    async def customer_leads(self, customer_id: str) -> list[Lead]:
        ids = sorted(text(i) for i in await self._redis.smembers(self.keys.customer_leads(customer_id)))
        return await self.get_many(ids)

    async def queue_sizes(self, campaign_id: str) -> dict[str, int]:
        """Leads of a campaign waiting: `ready` now and `retry` later (for the leads-remaining gauge)."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.zcard(self.keys.ready(campaign_id))
        pipe.zcard(self.keys.retry(campaign_id))
        ready, retry = await pipe.execute()
        return {"ready": int(ready), "retry": int(retry)}

    async def any_due(self, campaign_id: str, *, now: datetime) -> bool:
        """Whether a claim could find a lead now (ready, or a retry whose time has come): a cheap
        check before an agent is reserved for a lead that is not there."""
        if int(await self._redis.zcard(self.keys.ready(campaign_id))):
            return True  # the retry queue is read only when nothing is ready
        return bool(int(await self._redis.zcount(self.keys.retry(campaign_id), "-inf", to_ms(now))))

    async def is_excluded(self, customer_id: str) -> bool:
        return bool(await self._redis.hexists(self.keys.robinson_excluded, customer_id))

    # ---- distribution -------------------------------------------------------------------------

    async def claim(
        self, campaign_id: str, owner: str, *, now: datetime, lease: timedelta = DEFAULT_LEASE
    ) -> Lead | None:
        """The campaign's next eligible lead, now held by `owner`; None when none is ready."""
        leads = await self.claim_many(campaign_id, owner, 1, now=now, lease=lease)
        return leads[0] if leads else None

    async def claim_many(
        self, campaign_id: str, owner: str, count: int, *, now: datetime, lease: timedelta = DEFAULT_LEASE
    ) -> list[Lead]:
        """Up to `count` leads of a campaign, best first, each claimed atomically by `owner`."""
        if not owner:
            raise ValidationFailedError("a claim needs an owner (the engine instance id)")
        claimed: list[Lead] = []
        more = 1
        while more and len(claimed) < count:
            args = (campaign_id, owner, int(lease.total_seconds() * 1000), count - len(claimed), 200)
            queues = (self.keys.ready(campaign_id), self.keys.retry(campaign_id))
            _, more, rows = await self._run("CLAIM", now, *args, keys=queues)
            claimed += [Lead.from_hash(dict(zip(row[::2], row[1::2], strict=True))) for row in rows]
        return claimed

    async def mark_dialing(self, lead_id: str, owner: str, *, now: datetime) -> None:
        """The owner is about to dial the lead (after the gate allowed it): counts one attempt."""
        await self._held("MARK_DIALING", lead_id, now, owner)

    async def release(
        self, lead_id: str, owner: str, *, now: datetime, next_attempt_at: datetime | None = None
    ) -> str:
        """Give a held lead back to its queue, not before `next_attempt_at` (nor before a retry time a
        disposition set meanwhile); returns the new status (queued, new or excluded)."""
        at = "" if next_attempt_at is None else str(to_ms(next_attempt_at))
        return await self._held("RELEASE", lead_id, now, owner, at)

    async def finish(self, lead_id: str, owner: str, *, now: datetime, reason: str = "") -> None:
        """The owner is done with the lead (e.g. reached, or out of attempts): status `done`."""
        keys = [self.keys.audit_leads]
        await self._held("FINISH", lead_id, now, owner, "done", reason, owner, self._maxlen, keys=keys)

    async def _held(
        self, script: str, lead_id: str, now: datetime, *args: str, keys: Sequence[str] = ()
    ) -> str:
        ok, status = await self._run(script, now, lead_id, *args, keys=keys)
        if not ok:
            raise LeadNotClaimedError(
                f"lead {lead_id!r} is not held by {args[0]!r} (status {text(status)})",
                lead_id=lead_id,
                status=text(status),
            )
        return text(status)

    async def close(self, lead_id: str, *, reason: str, actor: str, now: datetime) -> bool:
        """Close a lead for good (disposition automation, supervisor); False if missing or excluded."""
        keys = [self.keys.audit_leads]
        ok, _ = await self._run("FINISH", now, lead_id, "", "closed", reason, actor, self._maxlen, keys=keys)
        return bool(ok)

    async def hold(self, lead_id: str, *, request_id: str, reason: str, actor: str, now: datetime) -> str:
        """Hold a lead for a supervisor's review of Robinson-list request `request_id` ('' = one still
        to be filed by hand; filing it for the customer attaches it): not dialed, not closed. An
        approval excludes it, a rejection queues it again. Returns `held`, or the status that
        refused it (`closed`, `excluded`, `missing`)."""
        keys = [self.keys.audit_leads]
        _, status = await self._run("HOLD", now, lead_id, request_id, reason, actor, self._maxlen, keys=keys)
        return text(status)

    async def schedule_retry(self, lead_id: str, at: datetime, *, now: datetime) -> str:
        """Do not dial the lead before `at` (a queued or done lead is requeued for then); returns the
        status, or raises LeadNotClaimedError for a closed/excluded lead."""
        ok, status = await self._run("SCHEDULE", now, lead_id, str(to_ms(at)))
        if not ok:
            if text(status) == "missing":
                raise LeadNotFoundError(f"no lead {lead_id!r}", lead_id=lead_id)
            raise LeadNotClaimedError(
                f"lead {lead_id!r} is {text(status)}", lead_id=lead_id, status=text(status)
            )
        return text(status)

    async def requeue_expired(self, *, now: datetime) -> list[str]:
        """Put back leads whose claim lease ran out (their engine died); returns their ids."""
        return [text(i) for i in await self._run("REQUEUE_EXPIRED", now)]

    async def note_disposition(self, lead_id: str, code: str, *, now: datetime) -> None:
        await self._redis.hset(
            self.keys.lead(lead_id), mapping={"last_disposition": code, "updated_at": now.isoformat()}
        )

    # ---- preview offers -----------------------------------------------------------------------

    async def offer(
        self, lead_id: str, owner: str, advisor: str, *, now: datetime, timeout: timedelta
    ) -> None:
        """Offer a lead the owner holds to one advisor until `now + timeout`."""
        timeout_ms = int(timeout.total_seconds() * 1000)
        ok, why = await self._run(
            "OFFER", now, lead_id, owner, advisor, timeout_ms, keys=[self.keys.advisor_offer(advisor)]
        )
        if not ok:
            raise OfferRefusedError(
                f"cannot offer lead {lead_id!r} to {advisor!r}: {text(why)}",
                lead_id=lead_id,
                reason=text(why),
            )

    async def accept_offer(self, lead_id: str, advisor: str, *, now: datetime) -> None:
        await self._answer(lead_id, advisor, "accepted", now)

    async def decline_offer(self, lead_id: str, advisor: str, *, now: datetime) -> None:
        await self._answer(lead_id, advisor, "declined", now)

    async def _answer(self, lead_id: str, advisor: str, answer: str, now: datetime) -> None:
        ok, why = await self._run("ANSWER_OFFER", now, lead_id, advisor, answer)
        if not ok:
            raise OfferRefusedError(
                f"lead {lead_id!r} is not offered to {advisor!r}: {text(why)}",
                lead_id=lead_id,
                reason=text(why),
            )

    async def expire_offers(self, *, now: datetime) -> list[str]:
        """End offers whose time ran out; the leads stay with their owner, who may offer them again."""
        return [text(i) for i in await self._run("EXPIRE_OFFERS", now)]

    async def current_offer(self, advisor: str, *, now: datetime) -> Lead | None:
        return (await self.current_offers([advisor], now=now))[advisor]

    async def current_offers(self, advisors: Sequence[str], *, now: datetime) -> dict[str, Lead | None]:
        """The preview lead offered to each advisor now, if any: two round trips for any number of
        advisors (the screens of an engine ask together, switchboard/console/offers.py)."""
        found: dict[str, Lead | None] = dict.fromkeys(advisors)
        if not found:
            return found
        pipe = self._redis.pipeline(transaction=False)
        for advisor in found:
            pipe.get(self.keys.advisor_offer(advisor))
        offered = {a: text(i) for a, i in zip(found, await pipe.execute(), strict=True) if i is not None}
        if not offered:
            return found
        pipe = self._redis.pipeline(transaction=False)
        for lead_id in offered.values():
            pipe.hgetall(self.keys.lead(lead_id))
        now_ms = to_ms(now)
        for advisor, raw in zip(offered, await pipe.execute(), strict=True):
            found[advisor] = offered_lead(raw, advisor, now_ms)
        return found


def _lead_id_of(item: Mapping[str, Any] | LeadIn) -> str | None:
    value = item.lead_id if isinstance(item, LeadIn) else item.get("lead_id")
    return str(value) if value not in (None, "") else None
