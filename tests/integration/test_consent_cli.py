"""`switchboard consent import|show|withdraw|evidence` on a private Redis (switchboard/cli_consent.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import redis

from dialer.consent.csv_import import ConsentFileError
from switchboard.cli_consent import register
from tests.support.cli_harness import db, run_command

__all__ = ["db"]  # the fixtures, from the harness
pytestmark = pytest.mark.integration
RECORDS = "sb:dialer:{gate}:consent:num:"


def run(*argv: str) -> int:
    return run_command(register, *argv)


def test_a_garbled_consent_csv_names_each_bad_line_and_loses_nothing_stored(
    db: redis.Redis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.csv"
    good.write_text(
        "customer_id;phone;purpose;source;given_at;expires_at\n"
        "C1;06 30 100 0001;marketing;web-form;2025-03-01T09:30:00+01:00;2099-03-01T00:00:00Z\n"
        "C2;06 30 100 0002;marketing;web-form;2025-03-01T09:30:00+01:00;\n",
        encoding="utf-8",
    )
    assert run("consent", "import", str(good), "--as", "ops") == 0
    assert "2 rows: 2 given, 0 updated, 0 unchanged, 0 rejected" in capsys.readouterr().out
    assert run("consent", "withdraw", "06301000002", "--source", "letter", "--as", "sue") == 0
    stored = {key: db.hgetall(key) for key in db.scan_iter(f"{RECORDS}*")}

    garbage = tmp_path / "garbage.csv"
    garbage.write_text(
        "customer_id,phone,given_at,expires_at\n"
        "C1,06 30 100 0001,yesterday,\n"  # line 2
        'C3,"06 30 100 0003,2025-03-01T09:30:00Z,\n'  # line 3: a quote that never closes
        "C4,12,2025-03-01T09:30:00Z,\n"  # line 4
        "C5,06 30 100 0005,2025-03-01T09:30:00Z,2024-01-01T00:00:00Z\n"  # line 5
        "C2,06 30 100 0002,2025-03-01T09:30:00+01:00,\n"  # line 6: the old grant of a withdrawn consent
        "C6,06 30 100 0006,2025-03-01T09:30:00Z,,extra\n"  # line 7
        "C7,06 30 100 0007,2025-03-01T09:30:00Z,\n",  # line 8: good
        encoding="utf-8",
    )
    assert run("consent", "import", str(garbage), "--purpose", "marketing", "--source", "crm-export") == 1
    out = capsys.readouterr().out
    assert "7 rows: 1 given, 0 updated, 0 unchanged, 6 rejected" in out
    assert re.search(r"│ 2 +│ given_at: must be an ISO 8601 date and time with a zone .*got 'yesterday'", out)
    assert re.search(r"│ 3 +│ a quoted field opens on this line and is never closed", out)
    assert re.search(r"│ 4 +│ number: .*got '12'", out)
    assert re.search(r"│ 5 +│ expires_at: must be after given_at", out)
    assert re.search(r"│ 6 +│ marketing consent of customer C2 for \+36301000002 was withdrawn", out)
    assert re.search(r"│ 7 +│ the row has 5 cells but the header has 4 columns", out)
    after = {
        key: db.hgetall(key)
        for key in db.scan_iter(f"{RECORDS}*")
        if key != b"sb:dialer:{gate}:consent:num:+36301000007"
    }
    assert after == stored, "a bad row changed a stored consent"
    assert db.hexists(f"{RECORDS}+36301000007", "marketing|c7")


def test_a_header_with_an_unknown_or_missing_column_refuses_the_file(db: redis.Redis, tmp_path: Path) -> None:
    misspelt = tmp_path / "misspelt.csv"
    misspelt.write_text(
        "customer_id,phone,purpose,source,given_at,expires\nC1,06301000001,marketing,web,2025-03-01T09:30:00Z,2026\n",
        encoding="utf-8",
    )
    with pytest.raises(
        ConsentFileError, match=r"line 1: the header has unknown column\(s\) expires \(known: "
    ):
        run("consent", "import", str(misspelt))
    no_purpose = tmp_path / "no_purpose.csv"
    no_purpose.write_text("customer_id,phone,source,given_at\n", encoding="utf-8")
    with pytest.raises(ConsentFileError, match=r"line 1: the header lacks column\(s\) purpose"):
        run("consent", "import", str(no_purpose))
    latin = tmp_path / "latin.csv"
    latin.write_bytes(
        b"customer_id,phone,purpose,source,given_at\nC1,06301000001,marketing,\xe9crit,2025-03-01T09:30:00Z\n"
    )
    with pytest.raises(ConsentFileError, match=r"line 2: is not UTF-8 text"):
        run("consent", "import", str(latin))
    assert list(db.scan_iter(f"{RECORDS}*")) == []


def test_show_and_evidence_of_a_number(
    db: redis.Redis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "c.csv"
    file.write_text(
        "customer_id,number,purpose,source,given_at,reference\n"
        "C1,+36301000001,marketing,recorded-call,2025-03-01T09:30:00Z,rec-42\n",
        encoding="utf-8",
    )
    assert run("consent", "import", str(file), "--as", "crm") == 0
    assert (
        run("consent", "withdraw", "06 30 100 0001", "--source", "e-mail", "--reason", "asked", "--as", "sue")
        == 0
    )
    capsys.readouterr()

    assert run("consent", "show", "+36301000001") == 0
    assert re.search(r"marketing +│ C1 +│ withdrawn +│ recorded-call +│ rec-42", capsys.readouterr().out)
    assert run("consent", "evidence", "06301000001", "--json") == 0
    evidence = json.loads(capsys.readouterr().out)
    assert evidence["number"] == "+36301000001"
    assert [(c["source"], c["reference"], c["given_at"], c["state"]) for c in evidence["consents"]] == [
        ("recorded-call", "rec-42", "2025-03-01T09:30:00+00:00", "withdrawn")
    ]
    assert [(h["action"], h["actor"], h["source"]) for h in evidence["history"]] == [
        ("given", "crm", "recorded-call"),
        ("withdrawn", "sue", "e-mail"),
    ]
    assert evidence["dials"] == []
