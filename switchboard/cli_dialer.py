"""`switchboard leads|robinson|blacklist ...`: the dialer's data from the command line.

Owned here: the subcommands an operator or supervisor runs against the engine's Redis (from
`redis.url` in the settings): lead CSV import with a progress bar and a per-line error table,
the Robinson-list workflow, the internal blacklist and national list import/export/count.
switchboard/cli.py calls `register(commands)`; each handler returns the exit code:
0 ok (an empty list included), 1 done with rejected lines, 141 when the reader of standard
output went away (`blacklist export | head`), and the errors of cli.py (4: Redis).
Every change is made in the name given with `--as` (default `cli:<login>`), for the audit trails.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

from redis.asyncio import Redis
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from core.errors import StoreUnavailableError, SwitchboardError
from core.phone_numbers import normalize
from dialer.campaigns.rules import load_campaigns
from dialer.leads.csv_import import CsvProgress, CsvReport, import_csv
from dialer.leads.robinson import STATUSES, RobinsonRequest
from dialer.lists.importer import ImportProgress, ImportReport, import_list
from dialer.stores import DialerStores
from switchboard.redis_conn import connect_redis
from switchboard.settings import Settings, load_settings

T = TypeVar("T")
EXIT_OK, EXIT_PROBLEMS = 0, 1
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE, what `yes | head` leaves as yes's status
SHOWN_ERRORS = 50
Subcommands = argparse._SubParsersAction  # the type of `parser.add_subparsers()`


def register(commands: Subcommands[argparse.ArgumentParser]) -> None:
    """Add `leads`, `robinson` and `blacklist` to the `switchboard` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--settings", type=Path, metavar="FILE", help="settings YAML file (for redis.url)")
    common.add_argument("--as", dest="actor", metavar="NAME", help="who is acting, for the audit trail")
    _add_leads(commands, common)
    _add_robinson(commands, common)
    _add_blacklist(commands, common)


def _group(commands: Subcommands[argparse.ArgumentParser], name: str, text: str) -> Subcommands[Any]:
    parser = commands.add_parser(name, help=text, description=text)
    return parser.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)


def _add_leads(commands: Subcommands[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    group = _group(commands, "leads", "import leads (docs/leads.md)")
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
    group = _group(commands, "robinson", "Robinson-list requests (docs/robinson.md)")
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


def _add_blacklist(commands: Subcommands[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    group = _group(commands, "blacklist", "the internal blacklist and national lists")
    for action, text in (("add", "put a number on the internal list"), ("remove", "take it off again")):
        parser = group.add_parser(action, parents=[common], help=text)
        parser.add_argument("number", metavar="NUMBER")
        parser.add_argument("--reason", required=True, help="why (kept in the audit trail)")
        parser.set_defaults(func=cmd_blacklist_change, change=action)
    imp = group.add_parser(
        "import",
        parents=[common],
        help="import a national (or campaign) list file, one number per line",
        description="Numbers in any common national format; unparseable lines are listed by number. "
        "--replace builds the new list aside and swaps it in at once (never empty or partial).",
    )
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument(
        "--list", required=True, dest="list_name", metavar="NAME", help="e.g. hu-robinson, pl-psmb"
    )
    mode = imp.add_mutually_exclusive_group(required=True)
    mode.add_argument("--replace", dest="mode", action="store_const", const="replace")
    mode.add_argument("--append", dest="mode", action="store_const", const="append")
    imp.add_argument("--region", help="default region of national formats (default: settings default_region)")
    imp.set_defaults(func=cmd_blacklist_import)
    export = group.add_parser("export", parents=[common], help="write a list's numbers, one E.164 per line")
    export.add_argument(
        "--list", required=True, dest="list_name", metavar="NAME", help="a list name, or internal"
    )
    export.add_argument("--output", "-o", type=Path, metavar="FILE", help="default: standard output")
    export.set_defaults(func=cmd_blacklist_export)
    count = group.add_parser("count", parents=[common], help="how many numbers each list holds")
    count.add_argument("--list", dest="list_name", metavar="NAME", help="only this list (or internal)")
    count.set_defaults(func=cmd_blacklist_count)


# ---- plumbing ---------------------------------------------------------------------------------


def actor(args: argparse.Namespace) -> str:
    return str(args.actor or f"cli:{getpass.getuser()}")


async def _connect(settings: Settings) -> Redis:
    if settings.redis.url is None:
        raise StoreUnavailableError("no Redis to work on: set redis.url (SWITCHBOARD_REDIS_URL)")
    return await connect_redis(settings.redis.url.get_secret_value())


def with_stores(args: argparse.Namespace, work: Callable[[DialerStores, Settings], Awaitable[T]]) -> T:
    settings = load_settings(args.settings)

    async def run() -> T:
        redis = await _connect(settings)
        try:
            return await work(DialerStores.build(redis, default_region=settings.default_region), settings)
        finally:
            await redis.aclose()

    return asyncio.run(run())


def new_console() -> Console:
    """Rich output; when standard output is not a terminal (a pipe, a file) nothing is cut to 80
    columns: tables take the width they need."""
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 100_000
    return Console(highlight=False, soft_wrap=True, width=width)


def stdout_gone() -> int:
    """The reader of standard output went away (`... | head`): no traceback, and no second
    BrokenPipeError when Python flushes stdout at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_PIPE_CLOSED


def _progress(console: Console) -> AbstractContextManager[Progress]:
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    return Progress(*columns, console=console, transient=False)


# ---- leads ------------------------------------------------------------------------------------


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
        table = Table("line", "lead_id", "problem", title=f"lines not imported ({len(report.errors)})")
        for problem in report.errors[:SHOWN_ERRORS]:
            table.add_row(str(problem.line), problem.lead_id or "", problem.message)
        console.print(table)
        if len(report.errors) > SHOWN_ERRORS:
            console.print(f"... and {len(report.errors) - SHOWN_ERRORS} more")
        return EXIT_PROBLEMS
    return EXIT_OK


# ---- Robinson ---------------------------------------------------------------------------------


def _request_table(requests: Sequence[RobinsonRequest]) -> Table:
    table = Table("id", "status", "customer", "phone", "filed by", "filed at", "justification", "note")
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


def cmd_blacklist_change(args: argparse.Namespace, secrets: object) -> int:
    async def work(stores: DialerStores, settings: Settings) -> tuple[str, bool]:
        number = normalize(args.number, settings.default_region)
        change = stores.internal.add if args.change == "add" else stores.internal.remove
        return number, await change(number, reason=args.reason, actor=actor(args), now=stores.clock())

    number, changed = with_stores(args, work)
    done = {"add": ("added to", "already on"), "remove": ("removed from", "was not on")}[args.change]
    new_console().print(f"{number} {done[0] if changed else done[1]} the internal list")
    return EXIT_OK


class ImportBar:
    """Two rows for a list import, each updated in place: the file read (MB, numbers found),
    then the buckets written (a count, not bytes)."""

    def __init__(self, progress: Progress, file_name: str) -> None:
        self.progress, self.file_name = progress, file_name
        self.tasks: dict[str, TaskID] = {}

    def _task(self, phase: str, description: str) -> TaskID:
        if phase not in self.tasks:  # one row per phase, made once
            self.tasks[phase] = self.progress.add_task(description, total=None, amount="")
        return self.tasks[phase]

    def show(self, p: ImportProgress) -> None:
        if p.phase == "read":
            task = self._task("read", f"reading {self.file_name}")
            amount = f"{p.bytes_read / 1e6:.1f}/{p.bytes_total / 1e6:.1f} MB, {p.numbers:,} numbers"
            self.progress.update(task, completed=p.bytes_read, total=p.bytes_total, amount=amount)
        elif p.phase == "write":
            task = self._task("write", "writing buckets")
            self.progress.update(task, completed=p.buckets_written, amount=f"{p.buckets_written:,} buckets")
        elif p.phase == "done":
            for task in self.tasks.values():
                total = self.progress.tasks[task].total
                self.progress.update(task, total=total or 1, completed=total or 1)


def _import_progress(console: Console) -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[amount]}"))
    return Progress(*columns, console=console, transient=False)


def cmd_blacklist_import(args: argparse.Namespace, secrets: object) -> int:
    console = new_console()

    async def work(stores: DialerStores, settings: Settings) -> ImportReport:
        with _import_progress(console) as progress:
            bar = ImportBar(progress, args.file.name)
            return await import_list(
                stores.redis,
                args.file,
                args.list_name,
                args.mode,
                args.region or settings.default_region,
                progress=bar.show,
                keys=stores.keys,
                actor=actor(args),
                now=stores.clock(),
            )

    report = with_stores(args, work)
    console.print(
        f"{report.list_name} ({report.mode}): {report.numbers} numbers read ({report.distinct} distinct), "
        f"{report.added} added, list now holds {report.count}; {report.rejected} lines rejected; "
        f"{report.seconds:.1f} s"
    )
    if report.rejected_lines:
        table = Table("line", "text", title=f"lines that are not phone numbers ({report.rejected})")
        for rejected in report.rejected_lines[:SHOWN_ERRORS]:
            table.add_row(str(rejected.line), rejected.text)
        console.print(table)
    return EXIT_PROBLEMS if report.rejected else EXIT_OK


def cmd_blacklist_export(args: argparse.Namespace, secrets: object) -> int:
    async def work(stores: DialerStores, settings: Settings) -> int:
        out = args.output.open("w", encoding="utf-8") if args.output else sys.stdout
        written = 0
        try:
            if args.list_name == "internal":
                async for entry in stores.internal.export():
                    out.write(f"{entry.number}\n")
                    written += 1
            else:
                async for number in stores.packed.export(args.list_name):
                    out.write(f"{number}\n")
                    written += 1
            out.flush()  # a closed pipe shows here, not at interpreter exit
        finally:
            if args.output:
                out.close()
        return written

    try:
        written = with_stores(args, work)
    except BrokenPipeError:
        return stdout_gone()
    print(f"{written} numbers exported from {args.list_name}", file=sys.stderr)
    return EXIT_OK


def cmd_blacklist_count(args: argparse.Namespace, secrets: object) -> int:
    async def work(stores: DialerStores, settings: Settings) -> list[tuple[str, int]]:
        names = [args.list_name] if args.list_name else ["internal", *await stores.packed.names()]
        counts = []
        for name in names:
            size = await stores.internal.count() if name == "internal" else await stores.packed.count(name)
            counts.append((name, size))
        return counts

    for name, size in with_stores(args, work):
        print(f"{name}\t{size}")
    return EXIT_OK
