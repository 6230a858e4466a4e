"""National list import against a real Redis: formats, bad lines, replace atomicity, append."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from core.errors import ValidationFailedError
from dialer.dialer_keys import DialerKeys
from dialer.lists.importer import ImportEmptyError, ImportFileError, ImportProgress, import_list
from dialer.lists.store import ListBusyError, PackedStore

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def _hu(rng: random.Random, count: int) -> list[str]:
    return sorted({f"+36{rng.choice((20, 30, 31, 70))}{rng.randrange(10**7):07d}" for _ in range(count)})


def _national(e164: str, style: int) -> str:
    """An E.164 HU mobile number in one of the formats national list files use."""
    p, sub = e164[3:5], e164[5:]
    return (
        f"+36 {p} {sub[:3]} {sub[3:]}",
        f"06{p}{sub}",
        f"0036{p}{sub}",
        f"06-{p}/{sub[:3]}-{sub[3:]}",
        f"36{p}{sub}",
    )[style % 5]


async def test_replace_reads_national_formats_and_reports_bad_lines(
    redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    lines = [
        "+36 30 123 4567",
        "06301234568",
        "",
        "0036301234569",
        "06-30/123-4570",
        "phone number",
        "06 30 123 4567",  # duplicate of line 1
        "12",
        "Tel: +36 20 555 0000",  # phonenumbers reads it: the slow path answers
    ]
    events: list[ImportProgress] = []
    report = await import_list(
        redis_client, _write(tmp_path / "hu.txt", lines), "hu-robinson", "replace", "HU",
        progress=events.append, now=NOW,
    )  # fmt: skip
    assert (report.lines, report.numbers, report.distinct, report.count) == (9, 6, 5, 5)
    assert (report.rejected, report.blank) == (2, 1)
    assert [(r.line, r.text) for r in report.rejected_lines] == [(6, "phone number"), (8, "12")]
    store = PackedStore(redis_client)
    expected = ["+36205550000", "+36301234567", "+36301234568", "+36301234569", "+36301234570"]
    assert sorted([n async for n in store.export("hu-robinson")]) == expected
    info = await store.info("hu-robinson")
    assert info.count == 5 and info.generation == 1
    assert info.meta["source"] == "hu.txt" and info.meta["region"] == "HU" and info.meta["mode"] == "replace"
    assert {e.phase for e in events} == {"read", "write", "done"}
    entries: Any = await redis_client.xrange(DialerKeys().audit_blacklist)
    audit = {k.decode(): v.decode() for k, v in entries[-1][1].items()}
    assert audit["action"] == "import" and audit["count"] == "5" and audit["rejected"] == "2"


async def test_rejected_lines_keep_the_first_n_and_count_all(
    redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    lines = [f"bad {i}" if i % 2 else f"0630{i:07d}" for i in range(1, 401)]
    path = _write(tmp_path / "hu.txt", lines)
    report = await import_list(redis_client, path, "hu-robinson", "replace", "HU", keep_rejected=10)
    assert report.rejected == 200 and report.count == 200
    assert [r.line for r in report.rejected_lines] == list(range(1, 20, 2))


async def test_replace_is_atomic_for_concurrent_checks(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    """While a --replace runs, a number on both the old and the new list is never answered "not blocked"."""
    rng = random.Random(42)
    both = _hu(rng, 300)
    old_only = sorted(set(_hu(rng, 60_000)) - set(both))
    new_only = sorted(set(_hu(rng, 60_000)) - set(both) - set(old_only))
    old = _write(tmp_path / "old.txt", [_national(n, i) for i, n in enumerate(both + old_only)])
    new = _write(tmp_path / "new.txt", [_national(n, i) for i, n in enumerate(new_only + both)])
    await import_list(redis_client, old, "hu-robinson", "replace", "HU")
    store = PackedStore(redis_client)
    phase = ["before"]
    seen: dict[str, int] = {}

    async def checker(importing: asyncio.Task[object]) -> None:
        while not importing.done():
            answers = await store.contains_many("hu-robinson", both)
            assert all(answers), f"a number on both lists was not blocked during {phase[0]}"
            seen[phase[0]] = seen.get(phase[0], 0) + 1

    def progress(event: ImportProgress) -> None:
        phase[0] = event.phase

    importing = asyncio.create_task(
        import_list(
            redis_client, new, "hu-robinson", "replace", "HU", progress=progress, chunk_bytes=64 << 10
        )
    )
    await asyncio.wait_for(asyncio.gather(importing, checker(importing)), timeout=120)
    assert seen.get("read", 0) > 0 and seen.get("write", 0) > 0, (
        seen
    )  # checks ran while it was reading and writing
    assert all(await store.contains_many("hu-robinson", both + new_only))
    assert not any(await store.contains_many("hu-robinson", old_only))
    assert await store.count("hu-robinson") == len(both) + len(new_only)
    assert (await store.info("hu-robinson")).generation == 2
    assert await redis_client.keys("*:bl:build:*") == [] and await redis_client.keys("*:bl:retired:*") == []


async def test_append_merges(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    rng = random.Random(7)
    first, second = _hu(rng, 3000), _hu(rng, 3000)
    await import_list(redis_client, _write(tmp_path / "a.txt", first), "hu-robinson", "append", "HU")
    report = await import_list(
        redis_client, _write(tmp_path / "b.txt", second), "hu-robinson", "append", "HU"
    )
    union = set(first) | set(second)
    assert report.added == len(union) - len(first)
    assert report.count == len(union)
    store = PackedStore(redis_client)
    assert sorted([n async for n in store.export("hu-robinson")]) == sorted(union)
    assert (await store.info("hu-robinson")).meta["mode"] == "append"


async def test_replace_with_no_number_leaves_the_list_alone(
    redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    await import_list(
        redis_client, _write(tmp_path / "a.txt", ["06301234567"]), "hu-robinson", "replace", "HU"
    )
    with pytest.raises(ImportEmptyError):
        await import_list(
            redis_client, _write(tmp_path / "b.txt", ["", "oops"]), "hu-robinson", "replace", "HU"
        )
    assert await PackedStore(redis_client).contains_many("hu-robinson", ["+36301234567"]) == [True]


async def test_one_import_per_list(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    path = _write(tmp_path / "a.txt", ["06301234567"])
    async with PackedStore(redis_client).lock("hu-robinson"):
        with pytest.raises(ListBusyError):
            await import_list(redis_client, path, "hu-robinson", "replace", "HU")


async def test_bad_arguments(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    path = _write(tmp_path / "a.txt", ["06301234567"])
    with pytest.raises(ImportFileError):
        await import_list(redis_client, tmp_path / "missing.txt", "hu-robinson", "replace", "HU")
    for name, mode, region in (("HU list", "replace", "HU"), ("hu", "merge", "HU"), ("hu", "replace", "XX")):
        with pytest.raises(ValidationFailedError):
            await import_list(redis_client, path, name, mode, region)  # type: ignore[arg-type]


async def test_crlf_and_no_final_newline(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    path = tmp_path / "pl.txt"
    path.write_bytes(b"+48 601 234 567\r\n601234568\r\n0048601234569")
    report = await import_list(redis_client, path, "pl-psmb", "replace", "PL")
    assert report.count == 3 and report.rejected == 0
    numbers = ["+48601234567", "+48601234568", "+48601234569"]
    assert await PackedStore(redis_client).contains_many("pl-psmb", numbers) == [True] * 3
