"""`switchboard audit-streams`: export the audit streams (e.g. abandon records for a regulator), trim them.

    switchboard audit-streams export dial-attempts --since 2026-01-01 --until 2026-07-01 \
        --where action=outcome --where result=abandoned > abandons.jsonl
    switchboard audit-streams trim

Runs against the engine's Redis (`redis.url`); retention is `audit.streams` in the settings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from core.errors import SwitchboardError
from switchboard.audit_retention import AuditMetrics, AuditRetention, export
from switchboard.redis_conn import open_redis
from switchboard.settings import DEFAULT_AUDIT_STREAMS, Settings, load_settings


def register(commands: Any) -> None:
    text = "export the audit streams as JSON lines, or trim them to their retention now"
    group = commands.add_parser("audit-streams", help=text, description=text)
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--settings", type=Path, metavar="FILE", help="settings file (redis.url, audit)")
    out = actions.add_parser("export", parents=[common], help="one stream's records as JSON lines on stdout")
    names = sorted(DEFAULT_AUDIT_STREAMS)
    out.add_argument("stream", choices=names, help="the stream (sb:dialer:audit:NAME)")
    out.add_argument("--since", type=date.fromisoformat, help="from this day (UTC, YYYY-MM-DD)")
    out.add_argument("--until", type=date.fromisoformat, help="before this day (UTC, YYYY-MM-DD)")
    out.add_argument(
        "--where", action="append", default=[], metavar="FIELD=VALUE", help="only records with it"
    )
    out.set_defaults(func=cmd_audit_export)
    trim = actions.add_parser("trim", parents=[common], help="apply audit.streams retention now")
    trim.set_defaults(func=cmd_audit_trim)


def _day_ms(day: date | None) -> int | None:
    return None if day is None else int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.settings)
    if settings.redis.url is None:
        raise SwitchboardError("redis.url is not set (settings file or SWITCHBOARD_REDIS_URL)")
    return settings


def cmd_audit_export(args: argparse.Namespace, secrets: object) -> int:
    settings = _settings(args)
    match = dict(item.split("=", 1) for item in args.where if "=" in item)
    until = _day_ms(args.until)

    async def run() -> int:
        redis = await open_redis(settings)
        count = 0
        try:
            records = export(redis, args.stream, since_ms=_day_ms(args.since),
                             until_ms=None if until is None else until - 1, match=match)  # fmt: skip
            async for record in records:
                sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
        finally:
            await redis.aclose()
        print(f"{count} record(s) from audit:{args.stream}", file=sys.stderr)
        return 0

    return asyncio.run(run())


def cmd_audit_trim(args: argparse.Namespace, secrets: object) -> int:
    settings = _settings(args)

    async def run() -> int:
        redis = await open_redis(settings)
        try:
            retention = AuditRetention(redis, settings.audit.streams, AuditMetrics(CollectorRegistry()))
            dropped = await retention.trim_once()
        finally:
            await redis.aclose()
        for stream, count in dropped.items():
            print(f"audit:{stream}: {count} record(s) dropped")
        return 0

    return asyncio.run(run())
