"""`switchboard consent ...`: the consent register from the command line (docs/consent.md).

Owned here: the subcommands a supervisor or admin runs against the engine's Redis: `import` (a
consent CSV, bad lines listed), `show` (a number's consents and their state now), `withdraw`,
and `evidence` (the proof for a number: its consents, their history and every dial under them;
a readable report or `--json`). Exit codes as in switchboard/cli_common.py: 0 ok, 1 done with
rejected lines, 4 Redis. Changes are made in the name given with `--as` (default `cli:<login>`).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialer.consent.csv_import import ConsentCsvReport, import_consents
from dialer.consent.store import Evidence
from dialer.consent.validity import ConsentRecord, state_of
from dialer.stores import DialerStores
from switchboard.cli_common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    SHOWN_ERRORS,
    Subcommands,
    actor,
    new_console,
    new_table,
    with_stores,
)
from switchboard.settings import Settings

if TYPE_CHECKING:  # rich is loaded by the commands that print (switchboard/cli_common.py)
    from rich.table import Table


def register(commands: Subcommands[argparse.ArgumentParser]) -> None:
    """Add `consent` to the `switchboard` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--settings", type=Path, metavar="FILE", help="settings YAML file (for redis.url)")
    common.add_argument("--as", dest="actor", metavar="NAME", help="who is acting, for the audit trail")
    text = "the consent register: import, show, withdraw, evidence (docs/consent.md)"
    parser = commands.add_parser("consent", help=text, description=text)
    group = parser.add_subparsers(dest="consent_command", metavar="ACTION", required=True)
    _add_import(group, common)
    _add_reads_and_withdraw(group, common)


def _add_import(group: Subcommands[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    imp = group.add_parser(
        "import",
        parents=[common],
        help="import a consent CSV file (bad lines are listed, the rest recorded)",
        description="Record the consents of a CSV file (header: customer_id, phone, purpose, source, "
        "given_at, [expires_at, reference, region]; see docs/consent.md). Lines that cannot be "
        "recorded are listed by line number; exit 1 if any.",
    )
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--purpose", metavar="WORD", help="purpose of rows without a purpose column")
    imp.add_argument("--source", metavar="TEXT", help="source of rows without a source column")
    imp.add_argument(
        "--encoding", default="UTF-8", metavar="NAME", help="latin-1, cp1250, ... (default UTF-8)"
    )
    imp.add_argument("--region", metavar="CC", help="region of national numbers (a `region` column wins)")
    imp.set_defaults(func=cmd_consent_import)


def _add_reads_and_withdraw(
    group: Subcommands[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    show = group.add_parser("show", parents=[common], help="a number's consents and their state now")
    show.add_argument("number", metavar="NUMBER", help="any common form")
    show.set_defaults(func=cmd_consent_show)
    withdraw = group.add_parser("withdraw", parents=[common], help="withdraw a number's consents at once")
    withdraw.add_argument("number", metavar="NUMBER")
    withdraw.add_argument(
        "--source", required=True, metavar="TEXT", help="how the customer withdrew, e.g. letter"
    )
    withdraw.add_argument("--purpose", metavar="WORD", help="only this purpose (default: every purpose)")
    withdraw.add_argument("--customer", metavar="ID", help="only this customer's (default: everyone's)")
    withdraw.add_argument("--reason", default="", metavar="TEXT")
    withdraw.set_defaults(func=cmd_consent_withdraw)
    evidence = group.add_parser(
        "evidence",
        parents=[common],
        help="the proof for a number: consents, their history, every dial under them",
    )
    evidence.add_argument("number", metavar="NUMBER")
    evidence.add_argument("--json", action="store_true", help="one JSON document instead of tables")
    evidence.set_defaults(func=cmd_consent_evidence)


def cmd_consent_import(args: argparse.Namespace, secrets: object) -> int:
    console = new_console()

    async def work(stores: DialerStores, settings: Settings) -> ConsentCsvReport:
        return await import_consents(
            stores.consent,
            args.file,
            now=stores.clock(),
            actor=actor(args),
            purpose=args.purpose,
            source=args.source,
            encoding=args.encoding,
            region=args.region,
        )

    report = with_stores(args, work)
    grants = report.grants
    console.print(
        f"{report.rows} rows: {grants.given} given, {grants.updated} updated, {grants.unchanged} unchanged, "
        f"{len(report.errors)} rejected"
    )
    if not report.errors:
        return EXIT_OK
    table = new_table("line", "problem", title=f"lines not recorded ({len(report.errors)})")
    for problem in report.errors[:SHOWN_ERRORS]:
        table.add_row(str(problem.line), problem.message)
    console.print(table)
    if len(report.errors) > SHOWN_ERRORS:
        console.print(f"... and {len(report.errors) - SHOWN_ERRORS} more")
    return EXIT_PROBLEMS


def _record_row(record: ConsentRecord, stores: DialerStores) -> list[str]:
    def iso(value: Any) -> str:
        return value.isoformat() if value is not None else ""

    return [
        record.purpose, record.customer_id, state_of(record, stores.clock()).value, record.source,
        record.reference, iso(record.given_at), iso(record.expires_at), iso(record.withdrawn_at),
        record.withdrawn_by,
    ]  # fmt: skip


def _records_table(records: tuple[ConsentRecord, ...] | list[ConsentRecord], stores: DialerStores) -> Table:
    columns = ("purpose", "customer", "state", "source", "reference", "given", "expires", "withdrawn", "by")
    table = new_table(*columns, title="consents")
    for record in records:
        table.add_row(*_record_row(record, stores))
    return table


def cmd_consent_show(args: argparse.Namespace, secrets: object) -> int:
    console = new_console()

    async def work(stores: DialerStores, settings: Settings) -> tuple[list[ConsentRecord], DialerStores]:
        return await stores.consent.records(args.number), stores

    records, stores = with_stores(args, work)
    if not records:
        console.print(f"{args.number}: no consent recorded")
        return EXIT_OK
    console.print(_records_table(records, stores))
    return EXIT_OK


def cmd_consent_withdraw(args: argparse.Namespace, secrets: object) -> int:
    async def work(stores: DialerStores, settings: Settings) -> list[str]:
        return await stores.consent.withdraw(
            args.number, actor=actor(args), source=args.source, now=stores.clock(),
            purpose=args.purpose, customer_id=args.customer, reason=args.reason,
        )  # fmt: skip

    withdrawn = with_stores(args, work)
    new_console().print(
        f"withdrawn: {', '.join(withdrawn)}" if withdrawn else "no consent in force to withdraw"
    )
    return EXIT_OK


def evidence_json(evidence: Evidence, stores: DialerStores) -> dict[str, Any]:
    """The evidence as one JSON-ready document (what `--json` prints)."""

    def record(r: ConsentRecord) -> dict[str, Any]:
        data = asdict(r)
        for name in ("given_at", "expires_at", "withdrawn_at", "recorded_at"):
            data[name] = data[name].isoformat() if data[name] is not None else None
        data["state"] = state_of(r, stores.clock()).value
        return data

    return {
        "number": evidence.number,
        "consents": [record(r) for r in evidence.records],
        "history": list(evidence.history),
        "dials": [asdict(d) for d in evidence.dials],
    }


def cmd_consent_evidence(args: argparse.Namespace, secrets: object) -> int:
    console = new_console()

    async def work(stores: DialerStores, settings: Settings) -> tuple[Evidence, DialerStores]:
        return await stores.consent.evidence(args.number), stores

    evidence, stores = with_stores(args, work)
    if args.json:
        print(json.dumps(evidence_json(evidence, stores), ensure_ascii=False, indent=2))
        return EXIT_OK
    console.print(f"consent evidence for {evidence.number}")
    console.print(_records_table(evidence.records, stores))
    history = new_table("at", "action", "purpose", "customer", "source", "actor", "reason", title="history")
    for f in evidence.history:
        names = ("at", "action", "purpose", "customer", "source", "actor", "reason")
        history.add_row(*(f.get(name, "") for name in names))
    console.print(history)
    dials = new_table("at", "purpose", "customer", "campaign", "lead", "call", title="dials under consent")
    for d in evidence.dials:
        dials.add_row(d.at, d.purpose, d.customer_id, d.campaign_id, d.lead_id, d.call_id)
    console.print(dials)
    return EXIT_OK
