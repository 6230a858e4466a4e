"""`switchboard audit`: the dialer's audit trails without redis-cli (docs/operations.md).

Filters by number, customer, actor, kind and time; prints the newest matching records as a
table, or writes every matching record to a file (`--export audit.csv` or `.ndjson`), the same
lines as `GET /api/v1/audit/export`.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from core.errors import ValidationFailedError
from core.phone_numbers import normalize
from dialer.audit_query import KINDS, AuditFilter, AuditQuery, AuditRecord
from dialer.stores import DialerStores
from switchboard.api.audit_api import export_lines
from switchboard.cli_common import EXIT_OK, new_console, new_table, with_stores
from switchboard.settings import Settings

SHOWN = 200


def register(commands: Any) -> None:
    audit = commands.add_parser(
        "audit",
        help="read the audit trails (Robinson steps, blocks, list changes, dispositions, ...)",
        description="Audit records of the dialer, oldest first, filtered; --export writes all of them.",
    )
    audit.add_argument("--settings", type=Path, metavar="FILE", help="settings YAML file (for redis.url)")
    audit.add_argument("--number", help="a phone number in any common form")
    audit.add_argument("--customer", metavar="ID")
    audit.add_argument("--actor", metavar="NAME", help="who acted (advisor, supervisor, token name)")
    audit.add_argument("--kind", action="append", choices=KINDS, help="repeatable; default all")
    audit.add_argument("--since", type=_aware, metavar="ISO", help="e.g. 2025-03-01T00:00:00Z")
    audit.add_argument("--until", type=_aware, metavar="ISO")
    audit.add_argument("--export", type=Path, metavar="FILE", help="write every record: .csv or .ndjson")
    audit.set_defaults(func=cmd_audit)


def _aware(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone, e.g. 2025-03-01T00:00:00Z")
    return moment


def cmd_audit(args: argparse.Namespace, secrets: object) -> int:
    console = new_console()

    async def work(stores: DialerStores, settings: Settings) -> list[AuditRecord] | int:
        number = normalize(args.number, stores.default_region) if args.number else None
        kinds = tuple(args.kind) if args.kind else KINDS
        wanted = AuditFilter(kinds, number, args.customer, args.actor, args.since, args.until)
        query = AuditQuery(stores.redis, stores.keys)
        if args.export is not None:
            fmt = "csv" if args.export.suffix.lower() == ".csv" else "ndjson"
            written = 0
            with args.export.open("w", encoding="utf-8", newline="") as out:
                async for line in export_lines(query, wanted, fmt):
                    out.write(line)
                    written += 1
            return written - (1 if fmt == "csv" else 0)
        records, _ = await query.page(wanted, limit=SHOWN)
        return records

    try:
        found = with_stores(args, work)
    except ValidationFailedError as exc:
        console.print(f"error: {exc.message}")
        return 2
    if isinstance(found, int):
        console.print(f"{found} records written to {args.export}")
        return EXIT_OK
    table = new_table("kind", "at", "action", "actor", "details", title=f"audit records ({len(found)})")
    for r in found:
        rest = {k: v for k, v in r.fields.items() if k not in {"at", "action", "actor"}}
        details = ", ".join(f"{k}={v}" for k, v in rest.items())
        table.add_row(
            r.kind, r.fields.get("at", ""), r.fields.get("action", ""), r.fields.get("actor", ""), details
        )
    console.print(table)
    if len(found) == SHOWN:
        console.print(f"showing the first {SHOWN}; narrow the filters or use --export")
    return EXIT_OK
