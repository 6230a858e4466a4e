"""`switchboard leads|robinson|blacklist` subcommands against a private Redis (switchboard/cli_dialer.py)."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from core.errors import ValidationFailedError
from switchboard import cli_audit
from switchboard.cli_dialer import register
from switchboard.private_redis import PrivateRedis
from tests.support.cli_harness import db, run_command

__all__ = ["db"]  # the fixtures, from the harness


def run(*argv: str) -> int:
    return run_command(register, *argv)


def test_leads_import_lists_bad_lines_and_imports_the_rest(
    db: redis.Redis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text(
        "lead_id,customer_id,phone,do_not_call\n"
        "L1,C1,06 30 123 4567,false\nL2,C2,12,false\nL3,,06301112222,\nL4,C4,06 70 555 0004,true\n",
        encoding="utf-8",
    )
    assert run("leads", "import", str(csv_file), "--campaign", "spring", "--as", "ops") == 1
    out = capsys.readouterr().out
    assert "4 rows: 2 created, 0 updated, 0 unchanged, 2 rejected" in out
    assert "1 numbers put on the internal list" in out
    assert re.search(r"│ 3 +│ L2 +│ phones\[0\]: not a possible phone number: '12'", out)
    assert re.search(r"│ 4 +│ L3 +│ customer_id: is required", out)
    assert db.hget("sb:dialer:{dial}:lead:L1", "status") == b"queued"
    assert db.hexists("sb:dialer:{gate}:bl:internal", "+36705550004")
    assert run("leads", "import", str(csv_file), "--campaign", "spring") == 1
    assert "0 created, 0 updated, 2 unchanged" in capsys.readouterr().out


def test_robinson_workflow_from_the_command_line(db: redis.Redis, capsys: pytest.CaptureFixture[str]) -> None:
    missing = ["robinson", "file", "--customer-name", "Kiss Anna", "--phone", "06301234567", "--as", "anna"]
    with pytest.raises(ValidationFailedError, match="missing e-mail, customer id, justification"):
        run(*missing)
    full = [*missing, "--email", "a@example.hu", "--customer-id", "C1", "--justification", "spam lead"]
    assert run(*full) == 0
    assert "filed rr-1 (pending)" in capsys.readouterr().out
    assert run("robinson", "list", "--status", "pending") == 0
    assert "rr-1" in capsys.readouterr().out
    assert run("robinson", "approve", "rr-1", "--as", "sue", "--note", "ok") == 0
    out = capsys.readouterr().out
    assert "rr-1: approved by sue" in out and "+36301234567" in out
    assert db.hexists("sb:dialer:{gate}:bl:internal", "+36301234567")
    assert run("robinson", "list", "--status", "pending") == 0, "nothing found is not a failure"
    assert "no requests" in capsys.readouterr().out


def test_internal_list_and_national_list_commands(
    db: redis.Redis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("blacklist", "add", "06 30 765 4321", "--reason", "asked by letter", "--as", "sue") == 0
    assert "+36307654321 added to the internal list" in capsys.readouterr().out
    national = tmp_path / "hu.txt"
    national.write_text("+36 30 111 2222\n06301113333\nnot a number\n0036301114444\n", encoding="utf-8")
    assert run("blacklist", "import", str(national), "--list", "hu-robinson", "--replace") == 1
    out = capsys.readouterr().out
    assert "hu-robinson (replace): 3 numbers read" in out and "not a number" in out
    assert run("blacklist", "count") == 0
    assert capsys.readouterr().out.splitlines() == ["internal\t1", "hu-robinson\t3"]
    exported = tmp_path / "out.txt"
    assert run("blacklist", "export", "--list", "hu-robinson", "-o", str(exported)) == 0
    assert sorted(exported.read_text().split()) == ["+36301112222", "+36301113333", "+36301114444"]
    assert run("blacklist", "remove", "+36307654321", "--reason", "mistake") == 0
    assert "removed from the internal list" in capsys.readouterr().out
    assert run("blacklist", "export", "--list", "internal") == 0
    assert capsys.readouterr().out == ""


def test_leads_import_runs_while_campaigns_yaml_is_broken_and_takes_an_encoding(
    db: redis.Redis, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "campaigns.yaml"
    broken.write_text("campaigns:\n  - id: spring\n    mode: [not, a, mode\n", encoding="utf-8")
    monkeypatch.setenv("SWITCHBOARD_RULES_CAMPAIGNS", str(broken))
    csv_file = tmp_path / "leads.csv"
    csv_file.write_bytes("lead_id,customer_id,name,phone\nL1,C1,Tóth Éva,06 30 123 4567\n".encode("latin-1"))
    assert run("leads", "import", str(csv_file), "--campaign", "spring", "--encoding", "latin-1") == 0
    out = capsys.readouterr().out
    assert "is broken, lead_priority not applied" in out and "1 created" in out
    assert db.hget("sb:dialer:{dial}:lead:L1", "name") == "Tóth Éva".encode()


def test_audit_command_filters_the_trails_and_exports_them(
    db: redis.Redis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    filing = ["robinson", "file", "--customer-name", "Kiss Anna", "--phone", "06301234567", "--as", "anna"]
    filing += ["--email", "a@example.hu", "--customer-id", "C1", "--justification", "spam lead"]
    assert run(*filing) == 0
    assert run("robinson", "approve", "rr-1", "--as", "sue", "--note", "ok") == 0
    capsys.readouterr()

    def audit(*argv: str) -> int:
        return run_command(cli_audit.register, "audit", *argv)

    assert audit("--number", "06 30 123 4567", "--actor", "sue") == 0
    out = capsys.readouterr().out
    assert "lists" in out and "add" in out and "filed" not in out
    export = tmp_path / "audit.csv"
    assert audit("--customer", "C1", "--kind", "robinson", "--export", str(export)) == 0
    assert "3 records written" in capsys.readouterr().out
    rows = list(csv.DictReader(export.read_text(encoding="utf-8").splitlines()))
    assert [row["action"] for row in rows] == ["filed", "approved", "numbers-blacklisted"]


def test_blacklist_import_shows_one_row_per_phase_and_counts_buckets_not_bytes(
    db: redis.Redis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    national = tmp_path / "big.txt"  # 10 000 buckets: the writer reports every 2 000
    national.write_text("".join(f"+3630{1_000_000 + i}\n" for i in range(10_000)), encoding="utf-8")
    assert run("blacklist", "import", str(national), "--list", "hu-robinson", "--replace") == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if "reading big.txt" in line or "writing buckets" in line]
    assert len(rows) == 2, out
    assert "MB" in rows[0] and "10,000 numbers" in rows[0]
    assert "10,000 buckets" in rows[1] and "kB" not in rows[1]


def test_blacklist_export_into_a_pipe_closed_early_ends_quietly(
    db: redis.Redis, redis_server: PrivateRedis, tmp_path: Path
) -> None:
    national = tmp_path / "hu.txt"
    national.write_text("".join(f"+3630{1_000_000 + i}\n" for i in range(50_000)), encoding="utf-8")
    assert run("blacklist", "import", str(national), "--list", "hu-robinson", "--replace") == 0
    env = {**os.environ, "SWITCHBOARD_REDIS_URL": redis_server.url}
    command = f"{sys.executable} -m switchboard blacklist export --list hu-robinson | head -n 1"
    done = subprocess.run(  # a real shell pipe: head closes it after one line
        ["bash", "-o", "pipefail", "-c", command],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip().startswith("+3630"), done
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 141, "the exit status a pipe closed early gives (128 + SIGPIPE)"
