"""`switchboard tasks ...` against a private Redis (switchboard/cli_tasks.py). The CLI reads the real
clock, so the tasks are seeded relative to now."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from switchboard.cli_tasks import register
from tests.support.cli_harness import db, db_url, run_command
from tests.support.tasks_harness import build_kit

__all__ = ["db", "db_url"]  # the fixtures, from the harness
pytestmark = pytest.mark.integration
CLI_COLUMNS = "220"  # the terminal width the commands see (tests/support/cli_harness.py `db`)


def run(*argv: str) -> int:
    return run_command(register, *argv)


async def _seed(url: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        kit = build_kit(client)
        await kit.leads(1, 2, 3)
        now = datetime.now(UTC)
        long_ago = now - timedelta(days=40)
        forgotten = await kit.tasks.create(lead_id="L1", kind="not_reachable", now=long_ago, actor="anna")
        promised = long_ago + timedelta(hours=1)
        await kit.tasks.set_own_time(forgotten.task_id, promised, now=long_ago, actor="anna")
        await kit.tasks.create(lead_id="L2", kind="callback_requested", now=now, actor="bob")
        handled = await kit.tasks.create(lead_id="L3", kind="not_reachable", now=long_ago, actor="anna")
        await kit.tasks.close(handled.task_id, code="sale", now=long_ago, actor="anna")
        await kit.tasks.expire_due(now=now)
    finally:
        await client.aclose()


def test_supervisors_list_report_reactivate_and_archive_from_the_command_line(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_seed(db_url))

    assert run("tasks", "list", "--status", "expired") == 0
    out = capsys.readouterr().out
    assert "expired tasks (1)" in out and "t-1" in out and "not_reachable" in out and "t-2" not in out
    assert run("tasks", "list", "--status", "due") == 0, "nothing found is not a failure"
    assert "no due tasks" in capsys.readouterr().out
    assert run("tasks", "list", "--advisor", "bob") == 0
    out = capsys.readouterr().out
    assert "t-2" in out and "callback_requested" in out and "t-1" not in out

    assert run("tasks", "stale", "--days", "30") == 0
    out = capsys.readouterr().out
    assert "callbacks unhandled for more than 30 days (1)" in out and "t-1" in out
    assert run("tasks", "reactivate", "--stale-days", "30", "--owner", "carol", "--as", "sue") == 0
    out = capsys.readouterr().out
    assert "t-1" in out and "t-4" in out and "carol" in out
    assert run("tasks", "stale", "--days", "30") == 0
    assert "no callbacks left unhandled for more than 30 days" in capsys.readouterr().out

    assert run("tasks", "archive", "t-1", "t-2", "--as", "sue") == 1
    out = capsys.readouterr().out
    assert "t-1: archived (expired)" in out and "t-2: not archived: task t-2 is still open" in out
    assert run("tasks", "list", "--status", "expired") == 0
    capsys.readouterr()
    assert run("tasks", "counts") == 0
    out = capsys.readouterr().out
    assert "not_reachable" in out and "expired since the start" in out


def test_tasks_list_for_scripts_as_json_csv_and_an_uncut_table_in_a_pipe(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(_seed(db_url))
    assert run("tasks", "list", "--json") == 0
    tasks = json.loads(capsys.readouterr().out)
    assert {t["task_id"]: t["status"] for t in tasks} == {"t-1": "expired", "t-2": "open", "t-3": "done"}
    assert run("tasks", "list", "--csv", "--advisor", "bob") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["task_id"], r["kind"], r["owner"]) for r in rows] == [("t-2", "callback_requested", "bob")]
    assert run("tasks", "list", "--json", "--status", "due") == 0
    assert json.loads(capsys.readouterr().out) == []
    monkeypatch.delenv("COLUMNS")  # standard output is a pipe here, as in `tasks list | grep`
    assert run("tasks", "list", "--advisor", "bob") == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "t-2" in line)
    assert "callback_requested" in row and "23:59:59" in row, "one uncut line per task"
