"""The `switchboard` command: run the engine, run the demo, check configuration files.

Owns argument parsing, exit codes and what a person sees when something is
wrong: one clear message on stderr (secrets masked), never a traceback for a
mistake in settings, files or credentials. Tracebacks are kept for bugs.

The entry points live in switchboard/entry.py and are imported only when
`run` or `demo` needs it. Its contract:
    run_engine(settings) and run_demo(settings, duration_s), plain or async;
    an int result is the exit code. On SIGINT/SIGTERM the coroutine is
    cancelled: clean up in `finally`. Raise AmiLoginError for a refused login
    (exit 3), StoreUnavailableError when Redis is unreachable (exit 4).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import platform
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from core.errors import (
    AmiConnectionError,
    AmiLoginError,
    ConfigError,
    StoreUnavailableError,
    SwitchboardError,
)
from switchboard import __version__
from switchboard.api.tokens import ROLES, hash_token, new_token
from switchboard.logs import SecretFilter, configure_logging
from switchboard.private_redis import PrivateRedis
from switchboard.settings import SETTINGS_FILE_ENV, RedisSection, Settings, load_settings

EXIT_OK = 0
EXIT_ERROR = 1  # a runtime error, or check-config found problems
EXIT_USAGE = 2  # bad command line or invalid/incomplete settings
EXIT_AMI_LOGIN = 3  # Asterisk refused the AMI login: fix the credentials, retrying will not help
EXIT_STORE = 4  # Redis unreachable (or redis-server missing for the demo)
EXIT_AMI_UNREACHABLE = 5  # no TCP connection to Asterisk's AMI port
EXIT_INTERRUPTED = 130
ENGINE_MODULE = "switchboard.entry"
log = logging.getLogger("switchboard")
Subcommands = argparse._SubParsersAction  # the type of `parser.add_subparsers()`


class EngineMissingError(SwitchboardError):
    error_id = "engine-missing"


DESCRIPTION = """\
Switchboard: call-center engine for Asterisk (outbound dialer + inbound ACD).

Settings come from a YAML file (--settings FILE or SWITCHBOARD_SETTINGS_FILE)
and SWITCHBOARD_* environment variables, which win over the file. See
config/settings.example.yaml and docs/operations.md.
"""

EPILOG = """\
examples:
  switchboard check-config config/settings.yaml config/routing.yaml
  switchboard run --settings /etc/switchboard/settings.yaml
  switchboard demo --duration 60
  switchboard new-token --name crm-sync --role crm

exit codes: 0 ok, 1 error or problems found, 2 bad usage or settings,
            3 AMI login refused, 4 Redis unreachable, 5 Asterisk unreachable
"""


# Defined here; any other command is added by its module's `register` (switchboard/cli_<area>.py).
OWN_COMMANDS = ("run", "demo", "version", "new-token")
COMMAND_MODULES = (
    "cli_dialer", "cli_consent", "cli_acd", "cli_tasks", "cli_audit", "cli_audit_streams", "cli_outages",
    "cli_migrate_keys",
)  # fmt: skip


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The `switchboard` parser. When `argv` starts with one of OWN_COMMANDS the subcommand modules
    are not imported (they load the CSV importers, the rule explainer, the IVR dialplan...): a
    restarted `switchboard run` loads only what running needs. Any other command line (help, an
    unknown command) gets them all, so usage and help read the same."""
    own_only = bool(argv and argv[0] in OWN_COMMANDS)
    parser = argparse.ArgumentParser(
        prog="switchboard",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"switchboard {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = _common_options()
    _add_run(commands, common)
    _add_demo(commands, common)
    if not own_only:
        _register(commands, "cli_check_config")  # listed after `demo`, as always
    commands.add_parser("version", help="print the version").set_defaults(func=cmd_version)
    _add_new_token(commands)
    for name in () if own_only else COMMAND_MODULES:
        _register(commands, name)
    return parser


def _register(commands: Subcommands[argparse.ArgumentParser], module: str) -> None:
    importlib.import_module(f"switchboard.{module}").register(commands)


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--settings",
        type=Path,
        metavar="FILE",
        help=f"settings YAML file (default: ${SETTINGS_FILE_ENV}, else environment only)",
    )
    common.add_argument(
        "--log-format",
        choices=("json", "console", "auto"),
        help="json lines, readable console, or auto (console on a terminal; default from settings)",
    )
    common.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        type=str.upper,
        help="least severe messages to log (default from settings: INFO)",
    )
    return common


def _add_run(commands: Subcommands[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    run = commands.add_parser(
        "run",
        parents=[common],
        help="run the engine against your Asterisk and Redis",
        description="Connect to Asterisk (AMI) and Redis, serve the HTTP API, and run the dialer and the ACD "
        "until stopped (Ctrl-C or SIGTERM). Needs redis.url and ami.secret.",
    )
    run.set_defaults(func=cmd_run)


def _add_demo(commands: Subcommands[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="watch the engine handle calls on a simulated Asterisk",
        description="Run the engine against a simulated Asterisk (real AMI over TCP) with simulated "
        "customers and agents. Without redis.url a private redis-server is started and removed afterwards.",
    )
    demo.add_argument(
        "--duration",
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="how long to run (default: 60)",
    )
    demo.add_argument("--http-port", type=int, metavar="PORT", help="HTTP API port (default from settings)")
    demo.set_defaults(func=cmd_demo)


def _add_new_token(commands: Subcommands[argparse.ArgumentParser]) -> None:
    token = commands.add_parser(
        "new-token",
        help="make an API token and the line to add to the tokens file",
        description="Print a new random API token (give it to its user; it is shown once) and the entry "
        "(with its SHA-256 only) to paste into the tokens file.",
    )
    token.add_argument("--name", required=True, help="who or what uses the token (shown in audit logs)")
    token.add_argument("--role", required=True, choices=ROLES)
    token.set_defaults(func=cmd_new_token)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def main(argv: Sequence[str] | None = None, *, engine_module: str = ENGINE_MODULE) -> int:
    """Entry point of the console script; returns the exit code."""
    args = build_parser(sys.argv[1:] if argv is None else argv).parse_args(argv)
    args.engine_module = engine_module
    secrets = SecretFilter()
    try:
        code: int = args.func(args, secrets)
        return code
    except SwitchboardError as exc:
        code, hint = _classify(exc)
        message = secrets.mask(exc.message)
        print(f"switchboard: {message}" + (f"\n{hint}" if hint else ""), file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print("switchboard: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # any command's output piped into `head`: no traceback, as any Unix tool
        from switchboard.cli_common import stdout_gone  # noqa: PLC0415 - loads the dialer's stores

        return stdout_gone()


def _classify(exc: SwitchboardError) -> tuple[int, str]:
    if isinstance(exc, ConfigError):
        return EXIT_USAGE, ""
    if isinstance(exc, AmiLoginError):
        return EXIT_AMI_LOGIN, (
            "Check ami.username / ami.secret (SWITCHBOARD_AMI_USERNAME / SWITCHBOARD_AMI_SECRET) against "
            "the user's section in Asterisk's manager.conf (see config/asterisk/manager_switchboard.conf), "
            "and that its permit= lines admit this host. Retrying will not help until that is fixed."
        )
    if isinstance(exc, StoreUnavailableError):
        return EXIT_STORE, "Check redis.url (SWITCHBOARD_REDIS_URL) and that the Redis server is running."
    if isinstance(exc, AmiConnectionError):
        return (
            EXIT_AMI_UNREACHABLE,
            "Check ami.host / ami.port and that Asterisk's manager.conf has enabled = yes.",
        )
    return EXIT_ERROR, ""


def _load(args: argparse.Namespace, secrets: SecretFilter) -> Settings:
    settings = load_settings(args.settings)
    secrets.add_secrets(settings.secrets())
    updates: dict[str, Any] = {}
    log_updates = {"format": args.log_format, "level": args.log_level}
    if any(log_updates.values()):
        updates["log"] = settings.log.model_copy(update={k: v for k, v in log_updates.items() if v})
    if getattr(args, "http_port", None) is not None:
        updates["http"] = settings.http.model_copy(update={"port": args.http_port})
    if updates:
        settings = settings.model_copy(update=updates)
    configure_logging(settings.log.format, settings.log.level, secrets=settings.secrets())
    return settings


def cmd_run(args: argparse.Namespace, secrets: SecretFilter) -> int:
    settings = _load(args, secrets)
    settings.require_for_run()
    run_engine = engine_function(args.engine_module, "run_engine", "run")
    log.info(
        "starting engine",
        extra={"ami": f"{settings.ami.host}:{settings.ami.port}", "redis": settings.redis_display},
    )
    return execute(lambda: run_engine(settings))


def cmd_demo(args: argparse.Namespace, secrets: SecretFilter) -> int:
    settings = _load(args, secrets)
    run_demo = engine_function(args.engine_module, "run_demo", "demo")
    if settings.redis.url is not None or settings.sentinel.enabled:
        return execute(lambda: run_demo(settings, args.duration))
    with PrivateRedis() as private:
        log.info("started a private redis-server for the demo", extra={"redis": private.url})
        with_redis = settings.model_copy(update={"redis": RedisSection(url=SecretStr(private.url))})
        return execute(lambda: run_demo(with_redis, args.duration))


def cmd_version(args: argparse.Namespace, secrets: SecretFilter) -> int:
    print(f"switchboard {__version__} (python {platform.python_version()})")
    return EXIT_OK


def cmd_new_token(args: argparse.Namespace, secrets: SecretFilter) -> int:
    token = new_token()
    print(f"# API token for {args.name} ({args.role}); give it to them now, it is not stored anywhere:")
    print(token)
    print("# add this entry to the tokens file (http.tokens_file):")
    entry = {"name": args.name, "role": args.role, "token_sha256": hash_token(token)}
    print(yaml.safe_dump([entry], sort_keys=False, allow_unicode=True), end="")  # quotes a name like 1001
    return EXIT_OK


def engine_function(module_name: str, name: str, command: str) -> Callable[..., object]:
    """The engine's entry point, imported only now; a clear error if this build has none."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise
        raise EngineMissingError(
            f"`switchboard {command}` is not available in this build: the engine module "
            f"{module_name} does not exist yet",
            module=module_name,
        ) from None
    function = getattr(module, name, None)
    if not callable(function):
        raise EngineMissingError(
            f"`switchboard {command}` is not available in this build: {module_name}.{name} is missing",
            module=module_name,
        )
    return function  # type: ignore[no-any-return]


def execute(start: Callable[[], object]) -> int:
    """Call the engine; run it to completion if it is a coroutine. SIGINT/SIGTERM cancel it gracefully."""
    result = start()
    if inspect.isawaitable(result):
        result = asyncio.run(_until_signal(result))
    return result if isinstance(result, int) and not isinstance(result, bool) else EXIT_OK


async def _until_signal(awaitable: Awaitable[object]) -> object:
    task = asyncio.ensure_future(awaitable)
    loop = asyncio.get_running_loop()
    received: list[str] = []

    def stop(sig: signal.Signals) -> None:
        received.append(sig.name)
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop, sig)
    try:
        return await task
    except asyncio.CancelledError:
        if not received:
            raise
        log.info("stopped by %s", received[0])
        return EXIT_OK
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


if __name__ == "__main__":  # python -m switchboard.cli
    sys.exit(main())
