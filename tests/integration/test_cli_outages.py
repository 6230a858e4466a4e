"""`switchboard outages ...` against a private Redis (switchboard/cli_outages.py): what it declares is
what the engine's store reads; a bad declaration is refused with its reason and stores nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from routing.acd.acd_keys import AcdKeys
from routing.acd.outage_store import OutageRecord, OutageStore
from switchboard.cli import main
from tests.support.cli_harness import db, db_url

__all__ = ["db", "db_url"]  # the fixtures, from the harness
pytestmark = pytest.mark.integration
LATER = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
CLI_COLUMNS = "250"  # the terminal width the commands see (tests/support/cli_harness.py `db`)


def stored(url: str, shard: str = "") -> list[OutageRecord]:
    async def read() -> list[OutageRecord]:
        client = aioredis.Redis.from_url(url)
        try:
            return await OutageStore(client, AcdKeys.of_shard(shard)).all()
        finally:
            await client.aclose()

    return asyncio.run(read())


def test_declare_list_and_end(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([
        "outages", "declare", "north-tv", "--title", "TV signal lost in the north",
        "--crm", "region=north,north-east", "--prefix", "+3646", "--recording", "outage-north-tv",
        "--until", LATER, "--as", "anna",
    ])  # fmt: skip
    assert code == 0
    (record,) = stored(db_url)
    assert record.declared_by == "anna" and record.spec.segment.prefixes == ("+3646",)
    assert [(c.field, c.values) for c in record.spec.segment.crm] == [("region", ("north", "north-east"))]
    assert record.spec.in_force(datetime.now(UTC).timestamp())

    assert main(["outages", "list"]) == 0
    listed = capsys.readouterr().out
    assert "north-tv" in listed and "TV signal lost in the north" in listed and "yes" in listed

    assert main(["outages", "end", "north-tv"]) == 0
    assert "ended north-tv" in capsys.readouterr().out
    assert not stored(db_url)[0].effective.in_force(datetime.now(UTC).timestamp())


def test_an_outage_is_declared_to_the_acd_shard_named_or_the_settings_one(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    declare = ["outages", "declare", "east-tv", "--title", "TV down", "--prefix", "+3646", "--text", "x"]
    assert main([*declare, "--until", LATER, "--shard", "east"]) == 0
    assert [r.spec.id for r in stored(db_url, "east")] == ["east-tv"] and not stored(db_url)
    capsys.readouterr()
    assert main(["outages", "list"]) == 0 and "east-tv" not in capsys.readouterr().out
    monkeypatch.setenv("SWITCHBOARD_ACD_SHARD", "east")  # the engine's own settings name its shard
    assert main(["outages", "list"]) == 0 and "east-tv" in capsys.readouterr().out
    assert main(["outages", "list", "--shard", "East"]) == 1
    assert "--shard" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (["--text", "x"], "names no callers"),
        (["--prefix", "+3646"], "needs a message"),
        (["--prefix", "+3646", "--text", "x", "--crm", "region"], "--crm must be FIELD=VALUE1,VALUE2"),
        (["--caller", "06 20 98", "--text", "x"], "segment.callers[0] is not a possible phone number"),
        (["--prefix", "3646", "--text", "x"], "segment.prefixes.0"),
    ],
)
def test_a_bad_declaration_is_refused_with_its_reason(
    db_url: str, capsys: pytest.CaptureFixture[str], extra: list[str], reason: str
) -> None:
    assert main(["outages", "declare", "o1", "--title", "t", "--until", LATER, *extra]) == 1
    assert reason in capsys.readouterr().err
    assert stored(db_url) == []


def test_an_end_in_the_past_or_without_a_zone_is_refused(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert (
        main(
            ["outages", "declare", "o1", "--title", "t", "--prefix", "+3646", "--text", "x", "--until", past]
        )
        == 1
    )
    assert "outage not declared: ends_at must be after starts_at" in capsys.readouterr().err
    earlier = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    window = ["--from", earlier, "--until", past]
    declare = ["outages", "declare", "o1", "--title", "t", "--prefix", "+3646", "--text", "x"]
    assert main([*declare, *window]) == 1
    assert "--until is already past" in capsys.readouterr().err
    assert (
        main(
            [
                "outages",
                "declare",
                "o1",
                "--title",
                "t",
                "--prefix",
                "+3646",
                "--text",
                "x",
                "--until",
                "2030-01-01T10:00",
            ]
        )
        == 1
    )
    assert "needs a zone" in capsys.readouterr().err
    assert stored(db_url) == []
