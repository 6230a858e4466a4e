"""`switchboard leads|robinson|blacklist ...`: the dialer's data from the command line.

Owned here: the subcommands an operator or supervisor runs against the engine's Redis (from
`redis.url` in the settings): lead CSV import with a progress bar and a per-line error table, and
the Robinson-list workflow. `blacklist` (the internal blacklist and national list import / export /
count) lives in switchboard/cli_blacklist.py, the shared plumbing in cli_common.py.
switchboard/cli.py calls `register(commands)`; each handler returns the exit code:
0 ok (an empty list included), 1 done with rejected lines, 141 when the reader of standard
output went away (`blacklist export | head`), and the errors of cli.py (4: Redis).
Every change is made in the name given with `--as` (default `cli:<login>`), for the audit trails.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import SwitchboardError
from dialer.campaigns.rules import load_campaigns
from dialer.leads.csv_import import CsvProgress, CsvReport, import_csv
from dialer.leads.robinson import STATUSES, RobinsonRequest
from dialer.stores import DialerStores
from switchboard.cli_blacklist import add_blacklist
from switchboard.cli_common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    SHOWN_ERRORS,
    Subcommands,
    actor,
    command_group,
    new_console,
    new_table,
    with_stores,
)
from switchboard.settings import Settings

if TYPE_CHECKING:  # rich is loaded by the commands that print (switchboard/cli_common.py)
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table


def register(commands: Subcommands[argparse.ArgumentParser]) -> None:
    """Add `leads`, `robinson` and `blacklist` to the `switchboard` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--settings", type=Path, metavar="FILE", help="settings YAML file (for redis.url)")
    common.add_argument("--as", dest="actor", metavar="NAME", help="who is acting, for the audit trail")
    _add_leads(commands, common)
    _add_robinson(commands, common)
    add_blacklist(commands, common)


def _add_leads(commands: Subcommands[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    group = command_group(commands, "leads", "import leads (docs/leads.md)")
    imp = group.add_parser(
        "import",
        parents=[common],
        help="import a lead CSV file (bad lines are listed, the rest imported)",
        description="Upsert the leads of a CSV file (header: lead_id, customer_id, phone, ...; see "
        "docs/leads.md). Lines that cannot be imported are listed by line number; exit 1 if any.",
    )
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--campaign", required=True, metavar="ID", help="campaign of rows without campaign_id")
    imp.add_argument(
        "--reopen", action="store_true", help="requeue leads of the file that are done or closed"
    )
    imp.add_argument(
        "--encoding",
        default="UTF-8",
        metavar="NAME",
        help="the file's encoding: latin-1, cp1250, ... (default UTF-8)",
    )
    imp.add_argument("--region", metavar="CC", help="region of national numbers (a `region` column wins)")
    imp.set_defaults(func=cmd_leads_import)


def _add_robinson(commands: Subcommands[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    group = command_group(commands, "robinson", "Robinson-list requests (docs/robinson.md)")
    filing = group.add_parser("file", parents=[common], help="file a request for a supervisor to review")
    for flag, what in (
        ("--customer-name", "customer's name"),
        ("--phone", "customer's phone"),
        ("--email", "customer's e-mail"),
        ("--customer-id", "customer id"),
        ("--justification", "why the customer should be listed"),
    ):
        filing.add_argument(flag, default="", help=f"{what} (required)")
    filing.set_defaults(func=cmd_robinson_file)
    listing = group.add_parser("list", parents=[common], help="list requests, oldest first")
    listing.add_argument("--status", choices=STATUSES, help="only requests in this state")
    listing.add_argument("--advisor", metavar="NAME", help="only requests this advisor filed")
    listing.set_defaults(func=cmd_robinson_list)
    approve = group.add_parser(
        "approve", parents=[common], help="approve: blacklist and exclude the customer"
    )
    approve.add_argument("request_id", metavar="ID")
    approve.add_argument("--note", default="", help="a note kept with the decision")
    approve.set_defaults(func=cmd_robinson_decide, decision="approve")
    reject = group.add_parser("reject", parents=[common], help="reject with a note the advisor reads")
    reject.add_argument("request_id", metavar="ID")
    reject.add_argument("--note", required=True, help="why (the advisor reads it)")
    reject.set_defaults(func=cmd_robinson_decide, decision="reject")


# ---- leads ------------------------------------------------------------------------------------


def _progress(console: Console) -> AbstractContextManager[Progress]:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: PLC0415

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    return Progress(*columns, console=console, transient=False)


def _campaign_rules(stores: DialerStores, settings: Settings, console: Console) -> None:
    """The campaigns' lead_priority rules, as the API applies them. A broken campaigns.yaml does
    not stop the import (the engine keeps running its last good version): the rules are skipped
    with a warning."""
    if settings.rules.campaigns is None:
        return
    try:
        campaigns = load_campaigns(settings.rules.campaigns)
        stores.leads.priority, stores.leads.campaigns = campaigns.priority_for, campaigns.by_id.keys
    except SwitchboardError as exc:
        console.print(f"warning: {settings.rules.campaigns} is broken, lead_priority not applied: {exc}")


def cmd_leads_import(args: argparse.Namespace, secrets: object) -> int:
    console = new_console()

    async def work(stores: DialerStores, settings: Settings) -> CsvReport:
        _campaign_rules(stores, settings, console)
        with _progress(console) as bar:
            task = bar.add_task(f"importing {args.file.name}", total=None)

            def show(p: CsvProgress) -> None:
                bar.update(task, completed=p.bytes_read, total=p.bytes_total)

            return await import_csv(
                stores.leads,
                args.file,
                campaign_id=args.campaign,
                now=stores.clock(),
                actor=actor(args),
                progress=show,
                reopen=args.reopen,
                encoding=args.encoding,
                region=args.region,
            )

    report = with_stores(args, work)
    up = report.upsert
    console.print(
        f"{report.rows} rows: {up.created} created, {up.updated} updated, {up.unchanged} unchanged, "
        f"{len(report.errors)} rejected; {up.excluded} on the Robinson list, "
        f"{up.numbers_blocked} numbers put on the internal list"
    )
    if report.errors:
        table = new_table("line", "lead_id", "problem", title=f"lines not imported ({len(report.errors)})")
        for problem in report.errors[:SHOWN_ERRORS]:
            table.add_row(str(problem.line), problem.lead_id or "", problem.message)
        console.print(table)
        if len(report.errors) > SHOWN_ERRORS:
            console.print(f"... and {len(report.errors) - SHOWN_ERRORS} more")
        return EXIT_PROBLEMS
    return EXIT_OK


# ---- Robinson ---------------------------------------------------------------------------------


def _request_table(requests: Sequence[RobinsonRequest]) -> Table:
    table = new_table("id", "status", "customer", "phone", "filed by", "filed at", "justification", "note")
    for r in requests:
        customer = f"{r.customer_name} ({r.customer_id})"
        table.add_row(
            r.request_id,
            r.status,
            customer,
            r.phone_e164,
            r.requested_by,
            r.requested_at,
            r.justification,
            "; ".join([*([r.note] if r.note else []), *(f"WARNING: {w}" for w in r.warnings)]),
        )
    return table


def cmd_robinson_file(args: argparse.Namespace, secrets: object) -> int:
    data = {
        "customer_name": args.customer_name,
        "phone": args.phone,
        "email": args.email,
        "customer_id": args.customer_id,
        "justification": args.justification,
    }

    async def work(stores: DialerStores, settings: Settings) -> RobinsonRequest:
        return await stores.robinson.file(data, requested_by=actor(args), now=stores.clock())

    request = with_stores(args, work)
    new_console().print(f"filed {request.request_id} (pending): a supervisor will review it")
    return EXIT_OK


def cmd_robinson_list(args: argparse.Namespace, secrets: object) -> int:
    async def work(stores: DialerStores, settings: Settings) -> list[RobinsonRequest]:
        return await stores.robinson.list_requests(
            status=args.status, requested_by=args.advisor, limit=10_000
        )

    found = with_stores(args, work)
    console = new_console()
    if not found:
        console.print("no requests")
        return EXIT_OK  # an empty answer is an answer
    console.print(_request_table(found))
    return EXIT_OK


def cmd_robinson_decide(args: argparse.Namespace, secrets: object) -> int:
    async def work(stores: DialerStores, settings: Settings) -> RobinsonRequest:
        robinson, who, now = stores.robinson, actor(args), stores.clock()
        if args.decision == "approve":
            return await robinson.approve(args.request_id, supervisor=who, note=args.note, now=now)
        return await robinson.reject(args.request_id, supervisor=who, note=args.note, now=now)

    request = with_stores(args, work)
    console = new_console()
    console.print(f"{request.request_id}: {request.status} by {request.decided_by}")
    if request.numbers:
        console.print(
            f"on the internal list: {', '.join(request.numbers)}; customer {request.customer_id} excluded"
        )
    return EXIT_OK


# ---- blacklist --------------------------------------------------------------------------------
