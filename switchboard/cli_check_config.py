"""`switchboard check-config FILE...`: validate settings, tokens and rule files without starting
anything, and compare the rule files with the versions the running engine last applied.

Every problem is printed with file:line:col; exit 1 if any file has one. The running engine's side
(from Redis) is only reported, never a failure: a check on a laptop without Redis still answers.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.config.loader import deprecated_spellings, load_rules
from core.errors import ConfigError, StoreUnavailableError
from dialer.campaigns.rules import Campaigns
from switchboard.applied_check import DiskVersion, applied_lines
from switchboard.campaign_checks import problems as shard_problems
from switchboard.cli_common import EXIT_OK, EXIT_PROBLEMS, Subcommands
from switchboard.config_check import (
    FileReport,
    default_registry,
    disk_version,
    engine_shard,
    link_check,
    named_rule_files,
)
from switchboard.logs import SecretFilter
from switchboard.redis_conn import connect_redis, open_redis
from switchboard.settings import Settings, load_settings, redact_url

RULE_FILE_KINDS = ("routing", "campaigns", "dispositions", "tasks")
NOT_COMPARED = "the running engine's rules were not compared"


def register(commands: Subcommands[argparse.ArgumentParser]) -> None:
    """Add `check-config` to the `switchboard` command."""
    check = commands.add_parser(
        "check-config",
        help="validate settings, tokens and rule files; lists every problem with file:line:col",
        description="Check configuration files without starting anything. The kind of each file (settings, "
        "api-tokens, routing, campaigns, tasks) is recognised from its name or contents. "
        "Exit 1 if any problem.",
    )
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check.add_argument("--kind", choices=default_registry().kinds(), help="treat every FILE as this kind")
    check.add_argument(
        "--redis",
        metavar="URL",
        help="compare the rule files with the versions the running engine last applied, kept in this "
        "Redis (default: the Redis of a settings FILE given)",
    )
    check.add_argument(
        "--shard", metavar="NAME", help="as the engines of this ACD shard run them: its campaigns, its "
        "applied versions (default: acd.shard of a settings FILE given, else the default shard)",
    )  # fmt: skip
    check.set_defaults(func=cmd_check_config)


def cmd_check_config(args: argparse.Namespace, secrets: SecretFilter) -> int:
    registry = default_registry()
    failed = problems = 0
    reports = []
    for path in args.files:
        report = registry.check_file(path, args.kind)
        reports.append(report)
        _print_report(report)
        if not report.ok:
            failed += 1
            problems += len(report.problems)
    printed = {str(problem) for report in reports for problem in report.problems}
    shard = args.shard if args.shard is not None else _settings_shard(reports)
    links = link_check({r.kind: Path(r.file) for r in reports if r.ok and r.kind in RULE_FILE_KINDS}, shard)
    links = [problem for problem in links if str(problem) not in printed]  # a settings file's check has them
    for problem in links:
        print(problem)
    if links:
        print(f"the rule files refer to each other wrongly ({len(links)} problem(s))")
        failed, problems = failed + len({p.file for p in links}), problems + len(links)
    for line in engine_side(args, reports, secrets, shard):
        print(line)
    total = len(args.files)
    if failed:
        print(f"{failed} of {total} file(s) have problems ({problems} in all)")
        return EXIT_PROBLEMS
    print(f"{total} file(s) ok")
    return EXIT_OK


def _print_report(report: FileReport) -> None:
    """One file's problems, then its verdict (with its deprecated spellings, which are no error)."""
    for problem in report.problems:
        print(problem)
    if report.ok:
        note = f"; {report.note}" if report.note else ""
        old = deprecated_spellings(report.file) if report.kind in RULE_FILE_KINDS else []
        for problem in old:
            print(f"{problem} (deprecated, not an error)")
        note += f"; {len(old)} deprecated spelling(s)" if old else ""
        print(f"{report.file}: ok ({report.kind}{note})")
    elif report.kind in RULE_FILE_KINDS:
        print(f"{report.file}: refused; a running engine keeps its {report.kind} rules and a restart"
              " starts on the last applied version (kept in Redis), flagged on /readyz and in"
              f" switchboard_rules_file_invalid{{kind=\"{report.kind}\"}}")  # fmt: skip


def _settings_shard(reports: list[FileReport]) -> str:
    """The shard of the first valid settings file given, as its engine runs (the environment's
    SWITCHBOARD_ACD_SHARD wins); none given: the environment's (and SWITCHBOARD_SETTINGS_FILE's)."""
    files = [Path(report.file) for report in reports if report.kind == "settings" and report.ok]
    return engine_shard(files[0] if files else None)


def engine_side(
    args: argparse.Namespace, reports: list[FileReport], secrets: SecretFilter, shard: str = ""
) -> list[str]:
    """The running engine's side: per rule file given (or named by a settings file given), the
    version the engine last applied (Redis) against the one on disk. Never fails the check."""
    settings_files = [Path(r.file) for r in reports if r.kind == "settings" and r.ok]
    files = {r.kind: Path(r.file) for r in reports if r.kind in RULE_FILE_KINDS}
    try:
        settings = load_settings(settings_files[0]) if settings_files else None
    except ConfigError as exc:  # the environment spoils a file that is fine on its own
        return [f"{NOT_COMPARED}: {secrets.mask(exc.message)}"]
    if settings is not None:
        secrets.add_secrets(settings.secrets())
        files = {**named_rule_files(settings), **files}
    if not files:
        return []
    disk = [disk_version(kind, path) for kind, path in files.items()]
    if args.redis is None and (
        settings is None or (settings.redis.url is None and not settings.sentinel.enabled)
    ):
        return [
            f"{NOT_COMPARED}: no Redis given (--redis URL, or a settings "
            "file with redis.url); the files above were checked on their own"
        ]
    try:
        return asyncio.run(_compare(args.redis, settings, disk, shard, files.get("campaigns")))
    except (StoreUnavailableError, RedisError) as exc:
        why = secrets.mask(exc.message if isinstance(exc, StoreUnavailableError) else str(exc))
        return [f"{NOT_COMPARED} ({why}); the files above were checked on their own"]


async def _compare(
    redis_url: str | None, settings: Settings | None, disk: list[DiskVersion], shard: str,
    campaigns: Path | None = None,
) -> list[str]:  # fmt: skip
    """The applied versions in Redis (`--redis`, else the settings' Redis) against the files on disk;
    then the campaigns (of `campaigns`, a valid file) whose shard no running engine has announced."""
    client: Redis
    if redis_url is not None:
        client, where = await connect_redis(redis_url, wait_s=3), redact_url(redis_url)
    else:
        assert settings is not None
        client, where = await open_redis(settings), settings.redis_display
    try:
        return [
            f"the rules the running engine last applied (Redis {where}):",
            *await applied_lines(client, disk, shard),
            *await _unpaced(client, campaigns),
        ]
    finally:
        await client.aclose()


async def _unpaced(client: Redis, path: Path | None) -> list[str]:
    """`campaign c1: shard 'nort' has no running engine`, per campaign nobody paces (never a failure:
    the shard's engines may just be down)."""
    try:
        campaigns = load_rules(path, Campaigns) if path is not None else None
    except ConfigError:
        return []  # its own check has said why
    if campaigns is None:
        return []
    found = await shard_problems(client, campaigns)
    return [f"{path}: {problem}" for problem in found]
