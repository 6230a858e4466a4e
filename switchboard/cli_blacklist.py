"""`switchboard blacklist add|remove|import|export|count`: the internal blacklist and the national
lists from the command line (docs/blacklist.md). Registered by switchboard/cli_dialer.py; exit codes
as there: 0 ok, 1 done with rejected lines, 141 when the reader of standard output went away.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from core.phone_numbers import normalize
from dialer.lists.importer import ImportProgress, ImportReport, import_list
from dialer.stores import DialerStores
from switchboard.cli_common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    SHOWN_ERRORS,
    Subcommands,
    actor,
    command_group,
    new_console,
    new_table,
    stdout_gone,
    with_stores,
)
from switchboard.settings import Settings

if TYPE_CHECKING:  # rich is loaded by the commands that print (switchboard/cli_common.py)
    from rich.console import Console
    from rich.progress import Progress, TaskID


def add_blacklist(commands: Subcommands[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    group = command_group(commands, "blacklist", "the internal blacklist and national lists")
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
    from rich.progress import BarColumn, Progress, TextColumn  # noqa: PLC0415 - see TYPE_CHECKING above

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
        table = new_table("line", "text", title=f"lines that are not phone numbers ({report.rejected})")
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
