"""`switchboard migrate-keys`: rename the keys an older version wrote to the hash-tagged layout.

    switchboard migrate-keys --dry-run     # what would move
    switchboard migrate-keys               # with every engine stopped, before the new version starts

Works on the one Redis in `redis.url` (switchboard/key_layout.py); move to a cluster afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from switchboard.key_layout import migrate
from switchboard.redis_conn import open_redis
from switchboard.settings import load_settings


def register(commands: Any) -> None:
    text = "rename the keys of an older version to the hash-tagged layout (every engine stopped)"
    command = commands.add_parser("migrate-keys", help=text, description=text)
    command.add_argument("--settings", type=Path, metavar="FILE", help="settings file (redis.url)")
    command.add_argument("--dry-run", action="store_true", help="count what would move, change nothing")
    command.set_defaults(func=cmd_migrate_keys)


def cmd_migrate_keys(args: argparse.Namespace, secrets: object) -> int:
    settings = load_settings(args.settings)

    async def run() -> int:
        redis = await open_redis(settings)
        try:
            done = await migrate(redis, dry_run=args.dry_run)
        finally:
            await redis.aclose()
        verb = "would rename" if args.dry_run else "renamed"
        print(f"{verb} {done.renamed} key(s), {'would drop' if args.dry_run else 'dropped'} {done.dropped}")
        for key in done.conflicts:
            print(f"left {key}: its new name is taken (a newer engine wrote it); compare and remove one")
        return 1 if done.conflicts else 0

    return asyncio.run(run())
