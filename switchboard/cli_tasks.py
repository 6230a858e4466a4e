"""`switchboard tasks ...`: follow-up tasks from the command line, for supervisors.

Owned here: the subcommands run against the engine's Redis (`redis.url` in the settings), with
the task rules of `rules.tasks` (else the built-in ones) and the contact center's `timezone`:
  list        tasks by status (expired, due, overdue, at-risk, open, done, archived), advisor,
              campaign, in a table; expired tasks stay listed until archived
  stale       callbacks nobody handled for more than N days (seed 002: "months-old tasks")
  reactivate  give stale tasks a fresh deadline in bulk (by id, or every stale one)
  archive     take done or expired tasks off the lists
  counts      tasks by status now, and expired tasks by rule since the start
  preview     rehearse the rules without Redis: for a result at an instant, the deadline, expiry,
              at-risk start and reminder each rule would give (and whether an own time fits)
`list` and `stale` also write JSON (`--json`, the API's task objects) or CSV (`--csv`) for
scripts. switchboard/cli.py calls `register(commands)`; each handler returns the exit code: 0 ok
(nothing found included), 1 some refused, and the errors of cli.py (4: Redis). Changes are made in the
name given with `--as` (default `cli:<login>`), for the audit trail.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import SwitchboardError, ValidationFailedError
from dialer.compliance.caps import parse_duration
from dialer.stores import DialerStores
from dialer.tasks.preview import RulePreview, preview
from dialer.tasks.reads import ListStatus, TaskView
from dialer.tasks.reminders import MAX_BEFORE, Reminder, ReminderAnchor
from dialer.tasks.rules import DEFAULT_TASK_RULES, load_task_rules
from dialer.tasks.store import TaskStore
from switchboard.cli_common import actor, new_console, new_table, with_stores
from switchboard.settings import Settings, load_settings

if TYPE_CHECKING:  # rich is loaded by the commands that print (switchboard/cli_common.py)
    from rich.table import Table

T = TypeVar("T")
EXIT_OK, EXIT_PROBLEMS = 0, 1
Subcommands = argparse._SubParsersAction  # the type of `parser.add_subparsers()`
STATUS_WORDS = [status.value.replace("_", "-") for status in ListStatus]


def register(commands: Subcommands[argparse.ArgumentParser]) -> None:
    """Add `tasks` to the `switchboard` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--settings", type=Path, metavar="FILE", help="settings file (redis.url, timezone)")
    common.add_argument("--as", dest="actor", metavar="NAME", help="who is acting, for the audit trail")
    text = "follow-up tasks, deadlines and callbacks (docs/tasks.md)"
    group = commands.add_parser("tasks", help=text, description=text)
    actions = group.add_subparsers(dest="tasks_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=[common], help="tasks by status, advisor or campaign")
    listing.add_argument("--status", choices=STATUS_WORDS, help="only tasks with this status or flag")
    _filters(listing)
    listing.add_argument("--limit", type=int, default=500, metavar="N", help="at most N tasks (default 500)")
    _formats(listing)
    listing.set_defaults(func=cmd_tasks_list)
    stale = actions.add_parser("stale", parents=[common], help="callbacks not handled for more than N days")
    stale.add_argument("--days", type=int, metavar="N", help="default: stale_after_days of tasks.yaml")
    _filters(stale)
    _formats(stale)
    stale.set_defaults(func=cmd_tasks_stale)
    again = actions.add_parser(
        "reactivate",
        parents=[common],
        help="give stale tasks a fresh deadline (by id, or all stale ones)",
        description="Each task gets a new task of its kind with a deadline counted from now; an open one is "
        "closed as reactivated, an expired one stays expired (its penalty stays counted).",
    )
    again.add_argument("task_ids", nargs="*", metavar="TASK_ID")
    again.add_argument("--stale-days", type=int, metavar="N", help="every task `tasks stale --days N` lists")
    again.add_argument("--owner", metavar="ADVISOR", help="give the new tasks to this advisor")
    _filters(again)
    again.set_defaults(func=cmd_tasks_reactivate)
    archive = actions.add_parser("archive", parents=[common], help="take done or expired tasks off the lists")
    archive.add_argument("task_ids", nargs="+", metavar="TASK_ID")
    archive.set_defaults(func=cmd_tasks_archive)
    _preview_parser(actions)
    counts = actions.add_parser("counts", parents=[common], help="tasks by status, expired ones by rule")
    counts.set_defaults(func=cmd_tasks_counts)


def _preview_parser(actions: Subcommands[argparse.ArgumentParser]) -> None:
    text = "rehearse the rules: the deadline, expiry, at-risk start and reminder each rule would give"
    when = "ISO 8601, e.g. 2026-04-02T16:30; without a zone, the contact center's local time"
    rehearse = actions.add_parser("preview", help=text, description=text + " (no Redis needed)")
    add = rehearse.add_argument
    add("--settings", type=Path, metavar="FILE", help="settings file (rules.tasks, timezone)")
    add("--rules", type=Path, metavar="FILE", help="the tasks.yaml to rehearse (default: settings, built-in)")
    add("--timezone", metavar="ZONE", help="the contact center's zone (default: the settings')")
    add("--at", type=_instant, metavar="TIME", help=f"when the result comes ({when}; default: now)")
    add("--result", metavar="RESULT", help="a call result, e.g. no_answer (default: every rule)")
    add("--disposition", metavar="CODE", help="a disposition code, e.g. callback_later")
    add("--own-time", type=_instant, metavar="TIME", help="an own time to check and be reminded of")
    add("--reminder", type=_duration, metavar="DURATION", help="e.g. 1h or 1d (default: tasks.yaml)")
    add("--reminder-of", choices=[a.value for a in ReminderAnchor], default="own_time")
    add("--json", action="store_true", help="a JSON array, as GET /api/v1/tasks:preview")
    rehearse.set_defaults(func=cmd_tasks_preview)


def _instant(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date and time like 2026-04-02T16:30") from None


def _duration(value: str) -> timedelta:
    try:
        parsed = parse_duration(value)
    except ValueError:
        parsed = value
    if not isinstance(parsed, timedelta) or not timedelta(0) < parsed <= MAX_BEFORE:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration of up to 30 days like 1h, 90m or 1d")
    return parsed


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--advisor", metavar="NAME", help="only this advisor's tasks")
    parser.add_argument("--campaign", metavar="ID", help="only this campaign's tasks")


def _formats(parser: argparse.ArgumentParser) -> None:
    formats = parser.add_mutually_exclusive_group()
    formats.add_argument("--json", action="store_true", help="a JSON array of tasks, as the API returns them")
    formats.add_argument("--csv", action="store_true", help="CSV with a header line")


def write_machine(views: Sequence[TaskView], args: argparse.Namespace) -> bool:
    """The tasks as JSON or CSV on standard output when asked (an empty list too); else False."""
    rows = [view.as_dict() for view in views]
    if args.json:
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return True
    if args.csv:
        fieldnames = list(rows[0]) if rows else ["task_id", "kind", "status"]
        writer = csv.DictWriter(sys.stdout, fieldnames=fieldnames, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return True
    return False


# ---- plumbing ---------------------------------------------------------------------------------


def _with_tasks(args: argparse.Namespace, work: Callable[[TaskStore, datetime], Awaitable[T]]) -> T:
    async def on_stores(stores: DialerStores, settings: Settings) -> T:
        rules = load_task_rules(settings.rules.tasks) if settings.rules.tasks else DEFAULT_TASK_RULES
        store = TaskStore(stores.redis, leads=stores.leads, rules=rules, cc_zone=settings.timezone)
        return await work(store, datetime.now(UTC))

    return with_stores(args, on_stores)


def _clock(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""


def _status_text(view: TaskView) -> str:
    words = [view.status.status.value]
    words += [flag for flag, on in (("overdue", view.status.overdue), ("at risk", view.status.at_risk)) if on]
    if view.task.archived:
        words.append("archived")
    text = ", ".join(words)
    return f"[red]{text}[/red]" if view.status.status.value == "expired" else text


def task_table(views: Sequence[TaskView], title: str) -> Table:
    """Tasks as supervisors read them: times in the contact center's zone."""
    table = new_table(
        "task", "kind", "status", "lead", "customer", "owner", "campaign", "deadline", "own time",
        "last dial", title=title,
    )  # fmt: skip
    for view in views:
        task = view.task
        zone = ZoneInfo(task.cc_zone)
        table.add_row(
            task.task_id, task.kind, _status_text(view), task.lead_id, task.customer_id,
            task.owner or "(any)", task.campaign_id or "", f"{task.deadline_date} 23:59:59",
            _clock(task.own_time, zone), _clock(task.last_dialed_at, zone),
        )  # fmt: skip
    return table


# ---- commands ---------------------------------------------------------------------------------


def cmd_tasks_list(args: argparse.Namespace, secrets: object) -> int:
    status = args.status.replace("-", "_") if args.status else None

    async def work(store: TaskStore, now: datetime) -> list[TaskView]:
        return await store.list_tasks(
            now=now, status=status, owner=args.advisor, campaign_id=args.campaign, limit=args.limit
        )

    views = _with_tasks(args, work)
    if write_machine(views, args):
        return EXIT_OK
    console = new_console()
    if not views:
        console.print(f"no {args.status or ''} tasks".replace("  ", " "))
        return EXIT_OK  # an empty answer is an answer
    console.print(task_table(views, f"{args.status or 'all'} tasks ({len(views)})"))
    return EXIT_OK


def cmd_tasks_stale(args: argparse.Namespace, secrets: object) -> int:
    async def work(store: TaskStore, now: datetime) -> tuple[list[TaskView], int]:
        days = args.days or store.rules.stale_after_days
        return await store.stale(now=now, days=days, owner=args.advisor, campaign_id=args.campaign), days

    views, days = _with_tasks(args, work)
    if write_machine(views, args):
        return EXIT_OK
    console = new_console()
    if not views:
        console.print(f"no callbacks left unhandled for more than {days} days")
        return EXIT_OK
    console.print(task_table(views, f"callbacks unhandled for more than {days} days ({len(views)})"))
    console.print("reactivate them with: switchboard tasks reactivate --stale-days", days)
    return EXIT_OK


def cmd_tasks_reactivate(args: argparse.Namespace, secrets: object) -> int:
    if not args.task_ids and args.stale_days is None:
        raise SwitchboardError("name the tasks to reactivate, or use --stale-days N for every stale one")

    async def work(store: TaskStore, now: datetime) -> list[Any]:
        ids = list(args.task_ids)
        if args.stale_days is not None:
            found = await store.stale(
                now=now, days=args.stale_days, owner=args.advisor, campaign_id=args.campaign
            )
            ids += [view.task.task_id for view in found if view.task.task_id not in ids]
        return await store.reactivate(ids, now=now, actor=actor(args), owner=args.owner)

    done = _with_tasks(args, work)
    table = new_table("task", "new task", "owner", "deadline", "result", title=f"reactivated ({len(done)})")
    for item in done:
        new = item.new_task
        table.add_row(
            item.task_id, new.task_id if new else "", (new.owner or "") if new else "",
            str(new.deadline_date) if new else "", item.detail,
        )  # fmt: skip
    new_console().print(table)
    return EXIT_OK if done and all(item.new_task for item in done) else EXIT_PROBLEMS


def cmd_tasks_archive(args: argparse.Namespace, secrets: object) -> int:
    async def work(store: TaskStore, now: datetime) -> list[tuple[str, str]]:
        results = []
        for task_id in args.task_ids:
            try:
                task = await store.archive(task_id, now=now, actor=actor(args))
                results.append((task_id, f"archived ({task.state})"))
            except SwitchboardError as exc:
                results.append((task_id, f"not archived: {exc.message}"))
        return results

    results = _with_tasks(args, work)
    console = new_console()
    for task_id, result in results:
        console.print(f"{task_id}: {result}")
    return EXIT_OK if all(result.startswith("archived") for _, result in results) else EXIT_PROBLEMS


def cmd_tasks_counts(args: argparse.Namespace, secrets: object) -> int:
    async def work(store: TaskStore, now: datetime) -> tuple[dict[str, int], dict[str, int]]:
        return await store.status_counts(now=now), await store.expired_counts()

    counts, expired = _with_tasks(args, work)
    table = new_table("status", "tasks", title="tasks now (not archived)")
    for status, count in counts.items():
        table.add_row(status.replace("_", " "), str(count))
    console = new_console()
    console.print(table)
    by_rule = new_table("rule", "expired", title="expired since the start (penalties)")
    for rule, count in sorted(expired.items()):
        by_rule.add_row(rule, str(count))
    console.print(by_rule)
    return EXIT_OK


def cmd_tasks_preview(args: argparse.Namespace, secrets: object) -> int:
    settings = load_settings(args.settings) if args.settings else None
    path = args.rules or (settings.rules.tasks if settings else None)
    rules = load_task_rules(path) if path else DEFAULT_TASK_RULES
    zone_name = args.timezone or (settings.timezone if settings else "Europe/Budapest")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        message = f"--timezone {zone_name!r} is not a known time zone, e.g. Europe/Budapest"
        raise ValidationFailedError(message) from None

    def aware(moment: datetime | None) -> datetime | None:
        return moment.replace(tzinfo=zone) if moment is not None and moment.tzinfo is None else moment

    at = aware(args.at) or datetime.now(UTC)
    reminder = Reminder(args.reminder, ReminderAnchor(args.reminder_of)) if args.reminder else None
    rows = preview(
        rules, at, zone.key, result=args.result, disposition=args.disposition, own_time=aware(args.own_time),
        reminder=reminder,
    )  # fmt: skip
    if args.json:
        print(json.dumps([row.as_dict() for row in rows], indent=2, ensure_ascii=False))
        return EXIT_OK
    console = new_console()
    if not rows:
        given = (("result", args.result), ("disposition", args.disposition))
        asked = " or ".join(f"{word} {value}" for word, value in given if value)
        console.print(f"no rule of the task rules starts on {asked}: no task would be created")
        return EXIT_OK
    console.print(preview_table(rows, zone, at))
    for row in rows:
        if row.own_time_refused:
            console.print(f"{row.kind}: own time refused: {row.own_time_refused}")
    return EXIT_OK


def preview_table(rows: Sequence[RulePreview], zone: ZoneInfo, at: datetime) -> Table:
    table = new_table(
        "rule", "starts on", "deadline (handle until)", "expires at", "at risk from", "own time", "reminder",
        title=f"a task created {at.astimezone(zone):%Y-%m-%d %a %H:%M} {zone.key}",
    )  # fmt: skip
    for row in rows:
        anchor = row.reminder_anchor.replace("_", " ")
        reminder = f"{_clock(row.reminder_at, zone)} ({_span(row.reminder.before)} before {anchor})"
        own = _clock(row.own_time, zone) or ("refused" if row.own_time_refused else "")
        table.add_row(
            row.kind, row.trigger, f"{row.deadline:%Y-%m-%d %a} 23:59:59", _clock(row.expires_at, zone),
            _clock(row.at_risk_from, zone), own, reminder,
        )  # fmt: skip
    return table


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
