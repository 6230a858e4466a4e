"""`switchboard outages ...`: outage notices from the command line, for supervisors.

Owned here: the subcommands, run against the engine's Redis (`redis.url` in the settings), where
the engine (every engine on that Redis) picks a change up within a second:
  declare  an outage: its segment (--prefix, --caller, --dialled, --tier, --crm FIELD=V1,V2),
           its message (--recording SOUND and/or --text TEXT), its window (--from, --until as
           ISO 8601 times; --from defaults to now) and the seconds a caller has to hang up after it
  list     every outage with its window, whether it is in force, notices played and callers who
           left after it (served by the notice)
  end      an outage now
An outage belongs to one ACD shard (`--shard`, default the settings' acd.shard): its engines tell
their callers.
Numbers are checked in the settings' `default_region`. Exit codes: 0 ok, 1 refused (a reason on
stderr, nothing stored), 4 Redis unreachable (cli.py).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from core.errors import StoreUnavailableError, ValidationFailedError
from routing.acd.outage_store import OutageRecord, OutageStore
from routing.outages import OutageSpec, check_numbers
from switchboard.cli_common import acd_keys, add_shard_option, new_console, new_table
from switchboard.redis_conn import open_redis
from switchboard.settings import Settings, load_settings

T = TypeVar("T")
EXIT_OK = 0
Subcommands = argparse._SubParsersAction  # the type of `parser.add_subparsers()`


def register(commands: Subcommands[argparse.ArgumentParser]) -> None:
    """Add `outages` to the `switchboard` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--settings", type=Path, metavar="FILE", help="settings file (redis.url, default_region)"
    )
    add_shard_option(common)
    text = "outage notices: tell only the callers an outage concerns (docs/outages.md)"
    group = commands.add_parser("outages", help=text, description=text)
    actions = group.add_subparsers(dest="outages_command", metavar="ACTION", required=True)
    declare = actions.add_parser("declare", parents=[common], help="declare an outage and its notice")
    declare.add_argument("outage_id", metavar="ID", help="short name, e.g. debrecen-fibre-0612")
    declare.add_argument("--title", required=True, help="what happened, for supervisors and agents")
    declare.add_argument(
        "--prefix", action="append", default=[], help="callers whose number starts so (+3652)"
    )
    declare.add_argument("--caller", action="append", default=[], help="a caller number")
    declare.add_argument("--dialled", action="append", default=[], help="a dialled line (DID)")
    declare.add_argument("--tier", action="append", default=[], help="a caller tier of routing.yaml")
    declare.add_argument(
        "--crm", action="append", default=[], metavar="FIELD=V1,V2", help="a CRM field's values"
    )
    declare.add_argument("--recording", metavar="SOUND", help="Asterisk sound file of the message")
    declare.add_argument("--text", help="the message as text (read out by the dialplan's TTS)")
    declare.add_argument("--from", dest="starts", metavar="TIME", help="ISO 8601 with a zone (default: now)")
    declare.add_argument("--until", dest="ends", metavar="TIME", required=True, help="ISO 8601 with a zone")
    declare.add_argument(
        "--leave-window", type=float, default=5.0, metavar="S", help="seconds to hang up after it"
    )
    declare.add_argument("--as", dest="actor", metavar="NAME", help="who declares it (default cli:<login>)")
    declare.set_defaults(func=cmd_declare)
    listing = actions.add_parser("list", parents=[common], help="outages with their notices and leavers")
    listing.set_defaults(func=cmd_list)
    end = actions.add_parser("end", parents=[common], help="end an outage now")
    end.add_argument("outage_id", metavar="ID")
    end.set_defaults(func=cmd_end)


def _on_store(args: argparse.Namespace, work: Callable[[OutageStore, Settings], Awaitable[T]]) -> T:
    settings = load_settings(args.settings)
    if settings.redis.url is None:
        raise StoreUnavailableError("no Redis to work on: set redis.url (SWITCHBOARD_REDIS_URL)")

    async def run() -> T:
        redis = await open_redis(settings)
        try:
            return await work(OutageStore(redis, acd_keys(args, settings)), settings)
        finally:
            await redis.aclose()

    return asyncio.run(run())


def _epoch(text: str, what: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailedError(
            f"{what} must be an ISO 8601 time, e.g. 2026-12-05T18:00+01:00: {text!r}"
        ) from None
    if moment.tzinfo is None:
        raise ValidationFailedError(f"{what} needs a zone (e.g. +01:00 or Z): {text!r}")
    return moment.timestamp()


def _spec(args: argparse.Namespace, now: float) -> OutageSpec:
    crm = []
    for item in args.crm:
        field, sep, values = item.partition("=")
        if not sep or not field or not values:
            raise ValidationFailedError(f"--crm must be FIELD=VALUE1,VALUE2: {item!r}")
        crm.append({"field": field, "values": [v.strip() for v in values.split(",") if v.strip()]})
    data = {
        "id": args.outage_id,
        "title": args.title,
        "segment": {
            "prefixes": args.prefix,
            "callers": args.caller,
            "dialled": args.dialled,
            "tiers": args.tier,
            "crm": crm,
        },
        "recording": args.recording,
        "text": args.text,
        "starts_at": _epoch(args.starts, "--from") if args.starts else now,
        "ends_at": _epoch(args.ends, "--until"),
        "leave_window_s": args.leave_window,
    }
    try:
        return OutageSpec.model_validate(data)
    except ValidationError as exc:
        reasons = [
            f"{'.'.join(str(p) for p in e['loc'])} {str(e['msg']).removeprefix('Value error, ')}".strip()
            for e in exc.errors()
        ]
        raise ValidationFailedError("outage not declared: " + "; ".join(reasons), problems=reasons) from None


def cmd_declare(args: argparse.Namespace, secrets: object) -> int:
    now = time.time()
    spec = _spec(args, now)

    async def work(store: OutageStore, settings: Settings) -> OutageRecord:
        problems = check_numbers(spec, settings.default_region)
        if spec.ends_at <= now:
            problems.append("--until is already past: the outage would never be announced")
        if problems:
            raise ValidationFailedError("outage not declared: " + "; ".join(problems), problems=problems)
        return await store.declare(spec, str(args.actor or f"cli:{getpass.getuser()}"), now)

    record = _on_store(args, work)
    print(f"declared {record.spec.id}: {_window(record)}; engines announce it within a second")
    return EXIT_OK


def cmd_list(args: argparse.Namespace, secrets: object) -> int:
    async def work(store: OutageStore, settings: Settings) -> list[OutageRecord]:
        return await store.all()

    records = _on_store(args, work)
    now = time.time()
    table = new_table("id", "title", "window", "in force", "played", "left", "unheard", "segment")
    for record in records:
        spec = record.effective
        segment = spec.segment.model_dump(exclude_defaults=True)
        table.add_row(spec.id, spec.title, _window(record), "yes" if spec.in_force(now) else "no",
                      str(record.played), str(record.left), str(record.unheard), str(segment))  # fmt: skip
    new_console().print(table)
    return EXIT_OK


def cmd_end(args: argparse.Namespace, secrets: object) -> int:
    async def work(store: OutageStore, settings: Settings) -> OutageRecord:
        return await store.end(args.outage_id, time.time())

    record = _on_store(args, work)
    print(
        f"ended {record.spec.id}: {_window(record)}; "
        f"{record.played} notices played, {record.left} left after one"
    )
    return EXIT_OK


def _window(record: OutageRecord) -> str:
    spec = record.effective
    start = datetime.fromtimestamp(spec.starts_at, UTC).isoformat(timespec="seconds")
    end = datetime.fromtimestamp(spec.ends_at, UTC).isoformat(timespec="seconds")
    return f"{start} .. {end}"
