"""`GET /api/v1/audit` and `/api/v1/audit/export`: the dialer's audit trails without redis-cli.

Robinson steps, dial blocks, list changes, dispositions, lead closes, tasks, campaign controls
dial attempts and consents (dialer/audit_query.py), filtered by number, customer, actor, kind and time,
in time order. The list pages by cursor like every list; the export streams every matching
record as CSV or NDJSON. Supervisors and admins only: the trails name customers and numbers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from core.errors import ValidationFailedError
from core.phone_numbers import normalize
from dialer.audit_query import KINDS, AuditFilter, AuditQuery, AuditRecord
from switchboard.api.auth import AUTH_RESPONSES, require_role
from switchboard.api.dialer_access import Stores
from switchboard.api.errors import error_doc
from switchboard.api.paging import LimitQuery, Page, TextTime
from switchboard.api.tokens import Principal

Kind = Literal[
    "robinson", "blocks", "lists", "dispositions", "leads", "tasks", "campaigns", "attempts", "consent"
]
assert set(get_args(Kind)) == set(KINDS)
Auditor = Annotated[Principal, Depends(require_role("supervisor", "admin"))]
ERRORS: dict[int | str, dict[str, object]] = {
    **AUTH_RESPONSES,
    422: error_doc("invalid filter; details name it"),
    503: error_doc("Redis unavailable"),
}
router = APIRouter(prefix="/api/v1", tags=["audit"], responses=ERRORS)


class AuditOut(BaseModel):
    kind: str
    id: str
    fields: dict[str, str]


class Filters:
    """The query parameters shared by the list and the export."""

    def __init__(
        self,
        *,
        kind: Annotated[list[Kind] | None, Query(description="one or more; default all")] = None,
        number: Annotated[str | None, Query(max_length=40, description="any common form")] = None,
        customer: Annotated[str | None, Query(max_length=128)] = None,
        actor: Annotated[str | None, Query(max_length=128)] = None,
        since: Annotated[TextTime | None, Query(description="ISO 8601 with zone, inclusive")] = None,
        until: Annotated[TextTime | None, Query(description="ISO 8601 with zone, inclusive")] = None,
    ) -> None:
        self.kind, self.number, self.customer, self.actor = kind, number, customer, actor
        self.since, self.until = since, until

    def resolve(self, default_region: str) -> AuditFilter:
        for name, moment in (("since", self.since), ("until", self.until)):
            if moment is not None and moment.tzinfo is None:
                raise ValidationFailedError(
                    f"{name} must carry a time zone, e.g. 2025-03-01T00:00:00Z", field=name
                )
        number = normalize(self.number, default_region) if self.number else None
        kinds = tuple(dict.fromkeys(self.kind)) if self.kind else KINDS
        return AuditFilter(kinds, number, self.customer, self.actor, self.since, self.until)


AuditFilters = Annotated[Filters, Depends()]
AuditCursor = Annotated[
    str | None,
    Query(
        max_length=100,
        pattern=rf"^[0-9]+-[0-9]+~({'|'.join(KINDS)})$",
        description="`next_cursor` of the previous page; omit for the first page",
    ),
]


def _out(record: AuditRecord) -> AuditOut:
    return AuditOut(kind=record.kind, id=record.id, fields=record.fields)


@router.get("/audit", response_model=Page[AuditOut])
async def read_audit(
    *,
    who: Auditor,
    stores: Stores,
    filters: AuditFilters,
    cursor: AuditCursor = None,
    limit: LimitQuery = 100,
) -> Page[AuditOut]:
    """Audit records of every trail, oldest first, filtered; page on with `cursor`."""
    query = AuditQuery(stores.redis, stores.keys)
    records, after = await query.page(filters.resolve(stores.default_region), cursor=cursor, limit=limit)
    return Page[AuditOut](items=[_out(r) for r in records], next_cursor=after)


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}, "description": "every record"}},
)
async def export_audit(
    *,
    who: Auditor,
    stores: Stores,
    filters: AuditFilters,
    export_format: Annotated[Literal["csv", "ndjson"], Query(alias="format")] = "csv",
) -> StreamingResponse:
    """Every matching record, oldest first, as CSV (kind, id, at, action, actor, then all fields as
    JSON) or NDJSON (one record per line)."""
    query, wanted = AuditQuery(stores.redis, stores.keys), filters.resolve(stores.default_region)
    media = "text/csv" if export_format == "csv" else "application/x-ndjson"
    return StreamingResponse(export_lines(query, wanted, export_format), media_type=media)


async def export_lines(query: AuditQuery, wanted: AuditFilter, fmt: str) -> AsyncIterator[str]:
    """The export, a page at a time (the CLI writes the same lines to a file)."""
    if fmt == "csv":
        yield _csv_line(["kind", "id", "at", "action", "actor", "fields"])
    cursor: str | None = None
    while True:
        records, cursor = await query.page(wanted, cursor=cursor, limit=500)
        for r in records:
            if fmt == "csv":
                actor = r.fields.get("actor") or r.fields.get("advisor", "")
                row = [r.kind, r.id, r.fields.get("at", ""), r.fields.get("action", ""), actor]
                yield _csv_line([*row, json.dumps(r.fields, ensure_ascii=False, sort_keys=True)])
            else:
                yield json.dumps({"kind": r.kind, "id": r.id, **r.fields}, ensure_ascii=False) + "\n"
        if cursor is None:
            return


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()
