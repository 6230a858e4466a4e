"""What every `switchboard` data subcommand shares: exit codes, the Redis the settings name, the
dialer stores over it, the rich console and the closed-pipe exit.

The subcommand modules (cli_dialer, cli_blacklist, cli_consent, cli_tasks, cli_audit, cli_outages)
build on these; switchboard/cli.py maps the errors they raise to its exit codes (4: Redis).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from redis.asyncio import Redis

from core.errors import StoreUnavailableError, ValidationFailedError
from dialer.stores import DialerStores
from routing.acd.acd_keys import AcdKeys
from switchboard.redis_conn import open_redis
from switchboard.settings import Settings, load_settings

if TYPE_CHECKING:  # rich is loaded by the commands that print, not by `run` (its start-up is timed)
    from rich.console import Console
    from rich.table import Table

T = TypeVar("T")
EXIT_OK, EXIT_PROBLEMS = 0, 1
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE, what `yes | head` leaves as yes's status
SHOWN_ERRORS = 50
Subcommands = argparse._SubParsersAction  # the type of `parser.add_subparsers()`


def command_group(commands: Subcommands[argparse.ArgumentParser], name: str, text: str) -> Subcommands[Any]:
    parser = commands.add_parser(name, help=text, description=text)
    return parser.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)


def add_shard_option(parser: argparse.ArgumentParser) -> None:
    """`--shard NAME`: the ACD shard whose data a command reads or writes (docs/redis.md)."""
    parser.add_argument(
        "--shard", metavar="NAME",
        help="the ACD shard whose data to use (default: acd.shard of the settings, else the default shard)",
    )  # fmt: skip


def acd_keys(args: argparse.Namespace, settings: Settings, prefix: str = "sb:routing:") -> AcdKeys:
    """The keys of the ACD shard `--shard` names, else the settings' `acd.shard`."""
    shard = settings.acd.shard if args.shard is None else args.shard
    try:
        return AcdKeys.of_shard(shard, prefix)
    except ValueError as exc:
        raise ValidationFailedError(f"--shard: {exc}") from None


def actor(args: argparse.Namespace) -> str:
    return str(args.actor or f"cli:{getpass.getuser()}")


async def _connect(settings: Settings) -> Redis:
    if settings.redis.url is None:
        raise StoreUnavailableError("no Redis to work on: set redis.url (SWITCHBOARD_REDIS_URL)")
    return await open_redis(settings)  # a plain client, or a cluster client with redis.cluster


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
    from rich.console import Console  # noqa: PLC0415 - see TYPE_CHECKING above

    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 100_000
    return Console(highlight=False, soft_wrap=True, width=width)


def new_table(*columns: str, **options: Any) -> Table:
    """A rich Table with these column headers (`title=` and the like as `options`)."""
    from rich.table import Table  # noqa: PLC0415 - see TYPE_CHECKING above

    return Table(*columns, **options)


def stdout_gone() -> int:
    """The reader of standard output went away (`... | head`): no traceback, and no second
    BrokenPipeError when Python flushes stdout at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_PIPE_CLOSED
