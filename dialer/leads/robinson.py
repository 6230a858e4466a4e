"""Robinson-list requests (seed 000): an advisor asks, a supervisor decides, nothing is automatic.

Rules it keeps (DESIGN.md 2.2):
- A request carries customer name, phone, e-mail, customer id and a justification; one missing
  any of them is refused with ONE error naming every missing field (HTTP 422).
- States: pending -> approved | rejected, decided once, by a supervisor (the API checks the
  role), with a note; a rejection's note is mandatory, it is what the advisor reads.
- Approval, in one Lua step: the request becomes approved, the customer is excluded from lead
  distribution (dialer/leads/scripts.py EXCLUDE_CUSTOMER: every lead of the customer leaves the
  queues and can never be claimed again) and the audit record is written. Then every known
  number of the customer (the request's phone and the phones of all the customer's leads) goes
  on the internal blacklist through its own API, audited there and here. Approving an approved
  request again re-applies the numbers (repairs an approval interrupted by a Redis outage).
- Automation (a disposition rule) may OPEN a request for review, never approve one; it does not
  open a second request for a customer with one pending or already excluded.
- Every step leaves a record in the `audit:robinson` stream: who, when, what.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis

from core.errors import NotFoundError, SwitchboardError, ValidationFailedError
from core.phone_numbers import normalize
from dialer.audit import AuditTrail, maxlen_arg, text
from dialer.dialer_keys import DialerKeys, LeadKeys
from dialer.leads import robinson_scripts as lua
from dialer.leads.model import to_ms
from dialer.lists.store import InternalList
from dialer.paging import Cursor, page

STATUSES = ("pending", "approved", "rejected")
REQUIRED = {
    "customer_name": "customer name",
    "phone": "phone",
    "email": "e-mail",
    "customer_id": "customer id",
    "justification": "justification",
}
LIMITS = {"customer_name": 200, "phone": 40, "email": 254, "customer_id": 128, "justification": 2000}
NOTE_LIMIT = 2000
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_CUSTOMER_ID = re.compile(r"[^\s/?#]{1,128}")


class RequestNotFoundError(NotFoundError):
    error_id = "robinson-request-not-found"


class RequestNotPendingError(SwitchboardError):
    """The request was already decided (HTTP 409)."""

    error_id = "robinson-request-not-pending"


@dataclass(frozen=True, slots=True)
class RobinsonRequest:
    request_id: str
    customer_name: str
    phone: str
    phone_e164: str
    email: str
    customer_id: str
    justification: str
    requested_by: str
    requested_at: str
    status: str
    source: str
    decided_by: str | None
    decided_at: str | None
    note: str | None
    lead_id: str | None
    disposition_id: str | None
    numbers: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    """For the reviewing supervisor, computed when read: e.g. the customer id matches no lead."""

    @classmethod
    def from_hash(cls, raw: Mapping[Any, Any]) -> RobinsonRequest:
        h = {text(k): text(v) for k, v in raw.items()}
        names = [f.name for f in fields(cls) if f.name not in ("numbers", "warnings")]
        values: dict[str, Any] = {name: h.get(name) or None for name in names}
        for name in (*REQUIRED, "phone_e164", "requested_by", "requested_at", "status", "source"):
            values[name] = h.get(name, "")
        return cls(**values, numbers=tuple(json.loads(h.get("numbers", "[]"))))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["numbers"], data["warnings"] = list(self.numbers), list(self.warnings)
        return data


def validate_request(data: Mapping[str, Any], default_region: str) -> dict[str, str]:
    """The request's fields, trimmed, phone in E.164; one error naming every missing or bad field."""
    values = {name: str(data.get(name) or "").strip() for name in REQUIRED}
    missing = [name for name, value in values.items() if not value]
    invalid: dict[str, str] = {}
    for name, limit in LIMITS.items():
        if len(values[name]) > limit:
            invalid[name] = f"at most {limit} characters"
        elif _has_control(values[name], allow="\n\t" if name == "justification" else ""):
            invalid[name] = "contains control characters"
    if values["email"] and not _EMAIL.fullmatch(values["email"]):
        invalid["email"] = "not an e-mail address"
    if values["customer_id"] and not _CUSTOMER_ID.fullmatch(values["customer_id"]):
        invalid["customer_id"] = "must be 1-128 characters without spaces, '/', '?' or '#'"
    if values["phone"] and "phone" not in invalid:
        try:
            values["phone_e164"] = normalize(values["phone"], default_region)
        except ValidationFailedError as exc:
            invalid["phone"] = redacted(exc)
    if missing or invalid:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(REQUIRED[name] for name in missing))
        parts += [f"{REQUIRED[name]}: {why}" for name, why in invalid.items()]
        message = "the Robinson-list request is incomplete: " + "; ".join(parts)
        raise ValidationFailedError(message, missing=missing, invalid=invalid)
    return values


class RobinsonStore:
    """Robinson-list requests: file, list, approve, reject; with the exclusion and the blacklisting."""

    def __init__(
        self,
        redis: Redis,
        *,
        default_region: str,
        keys: DialerKeys | None = None,
        internal: InternalList | None = None,
        audit_maxlen: int | None = None,
    ) -> None:
        self._redis = redis
        self.keys = LeadKeys.of(keys)
        self.default_region = default_region.upper()
        self._internal = internal or InternalList(redis, keys, audit_maxlen=audit_maxlen)
        self._maxlen = maxlen_arg(audit_maxlen)
        self.audit = AuditTrail(redis, self.keys.audit_robinson, maxlen=audit_maxlen)
        self._file = redis.register_script(lua.FILE)
        self._approve = redis.register_script(lua.APPROVE)
        self._reject = redis.register_script(lua.REJECT)

    def _decide_keys(self, request_id: str, status: str) -> list[str]:
        """KEYS of APPROVE and REJECT (dialer/leads/robinson_scripts.py DECIDE)."""
        keys = self.keys
        decided = [
            keys.robinson_request(request_id),
            keys.robinson_status("pending"),
            keys.robinson_status(status),
        ]
        return [keys.audit_robinson, keys.audit_leads, *decided, *keys.script_tail]

    def _argv(self, now: datetime, *args: str) -> list[Any]:
        return [self.keys.prefix, to_ms(now), now.isoformat(), *args]

    async def file(
        self,
        data: Mapping[str, Any],
        *,
        requested_by: str,
        now: datetime,
        source: str = "advisor",
        lead_id: str | None = None,
        disposition_id: str | None = None,
    ) -> RobinsonRequest:
        """Open a pending request; ValidationFailedError names every missing field."""
        fields = validate_request(data, self.default_region)
        return await self._open(
            fields,
            requested_by=requested_by,
            now=now,
            source=source,
            lead_id=lead_id,
            disposition_id=disposition_id,
            skip_open=False,
        )

    async def open_for_review(
        self,
        data: Mapping[str, Any],
        *,
        requested_by: str,
        now: datetime,
        lead_id: str | None,
        disposition_id: str,
    ) -> tuple[RobinsonRequest, bool]:
        """Automation: open a request unless the customer has one pending or is already excluded;
        returns the (new or existing) request and whether it was opened now."""
        fields = validate_request(data, self.default_region)
        request = await self._open(
            fields,
            requested_by=requested_by,
            now=now,
            source="automation",
            lead_id=lead_id,
            disposition_id=disposition_id,
            skip_open=True,
        )
        return request, request.disposition_id == disposition_id

    async def _open(
        self,
        fields: dict[str, str],
        *,
        requested_by: str,
        now: datetime,
        source: str,
        lead_id: str | None,
        disposition_id: str | None,
        skip_open: bool,
    ) -> RobinsonRequest:
        if not requested_by:
            raise ValidationFailedError("a Robinson-list request needs the requesting advisor")
        fields = fields | {"customer_id": await self.known_customer_id(fields["customer_id"])}
        extra = {"requested_by": requested_by, "source": source}
        extra |= {"lead_id": lead_id or "", "disposition_id": disposition_id or ""}
        payload = json.dumps(fields | extra, ensure_ascii=False)
        args = self._argv(now, payload, self._maxlen, "1" if skip_open else "0")
        keys = [
            self.keys.audit_robinson, self.keys.robinson_seq, self.keys.robinson_status("pending"),
            self.keys.robinson_pending(fields["customer_id"]), self.keys.robinson_by(requested_by),
        ]  # fmt: skip
        _, request_id = await self._file(keys=[*keys, *self.keys.script_tail], args=args)
        return await self.get(text(request_id))

    async def known_customer_id(self, customer_id: str) -> str:
        """The id as the CRM sync stored it: `c-777` (trimmed, any case) finds customer `C-777`;
        an id no lead carries is kept as typed (the review then warns)."""
        if await self._redis.exists(self.keys.customer_leads(customer_id)):
            return customer_id
        stored = await self._redis.hget(self.keys.customer_ids, _ascii_lower(customer_id))
        return customer_id if stored is None else text(stored)

    async def _with_warnings(self, requests: list[RobinsonRequest]) -> list[RobinsonRequest]:
        pipe = self._redis.pipeline(transaction=False)
        for request in requests:
            pipe.exists(self.keys.customer_leads(request.customer_id))
        known = await pipe.execute() if requests else []
        return [
            r
            if found
            else replace(
                r,
                warnings=(
                    f"customer id {r.customer_id} matches no known customer "
                    "(no lead carries it): check it against the CRM",
                ),
            )
            for r, found in zip(requests, known, strict=True)
        ]

    async def get(self, request_id: str) -> RobinsonRequest:
        raw = await self._redis.hgetall(self.keys.robinson_request(request_id))
        if not raw:
            raise RequestNotFoundError(f"no Robinson-list request {request_id!r}", request_id=request_id)
        return (await self._with_warnings([RobinsonRequest.from_hash(raw)]))[0]

    async def list_requests(
        self, *, status: str | None = None, requested_by: str | None = None, limit: int = 100
    ) -> list[RobinsonRequest]:
        """Requests, oldest first (the review order), by status and/or requesting advisor."""
        if status is not None and status not in STATUSES:
            raise ValidationFailedError(f"status must be one of {', '.join(STATUSES)}", status=status)
        zsets = [self.keys.robinson_status(s) for s in ([status] if status else STATUSES)]
        if requested_by is not None:
            zsets = [self.keys.robinson_by(requested_by)]
        scored: list[tuple[float, str]] = []
        for zset in zsets:
            replies = cast(list[tuple[Any, float]], await self._redis.zrange(zset, 0, -1, withscores=True))
            scored += [(float(score), text(member)) for member, score in replies]
        pipe = self._redis.pipeline(transaction=False)
        for _, request_id in sorted(scored):
            pipe.hgetall(self.keys.robinson_request(request_id))
        requests = [RobinsonRequest.from_hash(raw) for raw in await pipe.execute() if raw]
        return await self._with_warnings(
            [r for r in requests if status is None or r.status == status][:limit]
        )

    async def page_requests(
        self,
        *,
        status: str | None = None,
        requested_by: str | None = None,
        after: Cursor | None = None,
        limit: int = 100,
    ) -> tuple[list[RobinsonRequest], Cursor | None]:
        """One page of requests, oldest first, strictly after `after`; and the next page's cursor."""
        if status is not None and status not in STATUSES:
            raise ValidationFailedError(f"status must be one of {', '.join(STATUSES)}", status=status)
        zsets = [self.keys.robinson_status(s) for s in ([status] if status else STATUSES)]
        if requested_by is not None:
            zsets = [self.keys.robinson_by(requested_by)]

        async def load(ids: list[str]) -> list[RobinsonRequest | None]:
            pipe = self._redis.pipeline(transaction=False)
            for request_id in ids:
                pipe.hgetall(self.keys.robinson_request(request_id))
            found = [RobinsonRequest.from_hash(raw) if raw else None for raw in await pipe.execute()]
            return [r if r is not None and status in (None, r.status) else None for r in found]

        requests, cursor = await page(self._redis, zsets, after, limit, load)
        return await self._with_warnings(requests), cursor

    async def excluded_by(self, customer_id: str) -> str | None:
        """The approved request that excluded the customer, or None."""
        value = await self._redis.hget(self.keys.robinson_excluded, customer_id)
        return None if value is None else text(value)

    async def approve(
        self, request_id: str, *, supervisor: str, now: datetime, note: str = ""
    ) -> RobinsonRequest:
        """Approve: exclude the customer from distribution and blacklist all their known numbers."""
        note = _note(note, required=False)
        args = self._argv(now, request_id, supervisor, note, self._maxlen)
        code, payload = await self._approve(keys=self._decide_keys(request_id, "approved"), args=args)
        if not code:
            self._refused(request_id, text(payload), "approve")
        request = await self.get(request_id)
        numbers = [request.phone_e164]
        for phones in json.loads(text(payload)):
            numbers += [n for n in json.loads(phones) if n not in numbers]
        reason = f"Robinson-list request {request_id} approved: {request.justification}"
        added = [
            number
            for number in numbers
            if await self._internal.add(number, reason=reason[:500], actor=supervisor, now=now)
        ]
        await self._redis.hset(self.keys.robinson_request(request_id), "numbers", json.dumps(numbers))
        await self.audit.append(
            {
                "action": "numbers-blacklisted",
                "request": request_id,
                "customer": request.customer_id,
                "actor": supervisor,
                "numbers": ",".join(numbers),
                "added": ",".join(added),
                "at": now.isoformat(),
            }
        )
        return await self.get(request_id)

    async def reject(self, request_id: str, *, supervisor: str, note: str, now: datetime) -> RobinsonRequest:
        """Reject with a note the advisor reads; the customer stays in distribution, and the leads a
        disposition held for this request are queued again."""
        note = _note(note, required=True)
        args = self._argv(now, request_id, supervisor, note, self._maxlen, self._maxlen)
        code, status = await self._reject(keys=self._decide_keys(request_id, "rejected"), args=args)
        if not code:
            self._refused(request_id, text(status), "reject")
        return await self.get(request_id)

    @staticmethod
    def _refused(request_id: str, status: str, verb: str) -> None:
        if status == "missing":
            raise RequestNotFoundError(f"no Robinson-list request {request_id!r}", request_id=request_id)
        raise RequestNotPendingError(
            f"cannot {verb} request {request_id}: it is already {status}",
            request_id=request_id,
            status=status,
        )


def redacted(exc: ValidationFailedError) -> str:
    """The error without the value that was sent (docs/operations.md: inputs are never echoed)."""
    sent = exc.details.get("input")
    return exc.message.replace(f": {sent!r}", "") if isinstance(sent, str) and sent else exc.message


def _has_control(value: str, allow: str) -> bool:
    return any(unicodedata.category(char) == "Cc" and char not in allow for char in value)


def _ascii_lower(value: str) -> str:
    """Lowercase ASCII letters only, as Lua's string.lower does in the upsert script."""
    return value.encode().lower().decode()


def _note(note: str | None, *, required: bool) -> str:
    note = (note or "").strip()
    if required and not note:
        raise ValidationFailedError("a rejection needs a note: the advisor reads it", missing=["note"])
    if len(note) > NOTE_LIMIT:
        raise ValidationFailedError(
            f"the note has more than {NOTE_LIMIT} characters", invalid={"note": "too long"}
        )
    return note
