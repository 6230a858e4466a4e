"""What the tests of the `switchboard` command share: one command group run in-process, the
environment a data subcommand reads (pointed at the private Redis), and a clean environment for
`main()`. Import the fixtures a test uses by name (pytest finds them in the test's module)."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from switchboard.logs import SecretFilter
from switchboard.private_redis import PrivateRedis

Register = Callable[[Any], None]
"""A `switchboard/cli_<area>.py` `register`: adds its subcommands to the parser's subparsers."""


def run_command(register: Register, *argv: str, secrets: SecretFilter | None = None) -> int:
    """Parse `argv` with the subcommands `register` adds and run the chosen one; its exit code."""
    parser = argparse.ArgumentParser(prog="switchboard")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args, secrets)
    return code


@pytest.fixture
def db(
    redis_server: PrivateRedis, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[redis.Redis]:
    """The data subcommands' environment (Redis URL, default region, no settings file) on the private
    Redis, emptied; a client on it. A test module's `CLI_COLUMNS` (e.g. "250") is the terminal width
    the commands see (COLUMNS); without, there is no terminal and tables are never cut."""
    monkeypatch.setenv("SWITCHBOARD_REDIS_URL", redis_server.url)
    monkeypatch.setenv("SWITCHBOARD_DEFAULT_REGION", "HU")
    columns: str | None = getattr(request.module, "CLI_COLUMNS", None)
    if columns is not None:
        monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.delenv("SWITCHBOARD_SETTINGS_FILE", raising=False)
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def db_url(db: redis.Redis, redis_server: PrivateRedis) -> str:
    """The URL of the Redis `db` prepared (for a test that opens its own clients)."""
    return redis_server.url


@pytest.fixture(autouse=True)  # for every test of a module that imports it
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SWITCHBOARD_* variable of the caller's shell reaches `main()`; logs as JSON."""
    for name in list(os.environ):
        if name.upper().startswith("SWITCHBOARD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SWITCHBOARD_LOG_FORMAT", "json")


@pytest.fixture(autouse=True)  # for every test of a module that imports it
def restore_root_logger() -> Iterator[None]:
    """main() configures the root logger for the process; put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
