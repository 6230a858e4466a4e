"""Import of a national (or campaign) list from a raw file: one phone number per line.

Lines are read in the list's default region in any common national format (see
dialer/lists/fast_numbers.py); blank lines are skipped; a line that is not a phone number is reported by
its line number (the first `keep_rejected` kept, all counted) and the rest is imported.
- `replace`: the new content is built under a build key while the old list keeps answering,
  then swapped in by one Lua call (PackedStore.swap_in). At no moment is the list empty or
  partial. A file with no number at all is refused rather than wiping the list.
- `append`: the file's numbers are merged into the live list bucket by bucket, each bucket by
  compare-and-set, so every gate check sees each bucket either before or after the merge.
One import per list at a time (PackedStore.lock). The CLI draws the progress bar from the
`progress` callback; the function yields to the event loop between chunks.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from redis.asyncio import Redis

from core.errors import SwitchboardError, ValidationFailedError
from core.phone_numbers import is_region
from dialer.dialer_keys import DialerKeys
from dialer.lists.fast_numbers import ChunkNormalizer, ChunkResult, normalize_chunk
from dialer.lists.packed import BucketBuilder
from dialer.lists.store import PackedStore, check_list_name

ImportMode = Literal["replace", "append"]
CHUNK_BYTES = 4 << 20


class ImportFileError(SwitchboardError):
    """The import file cannot be read."""

    error_id = "blacklist-import-file"


class ImportEmptyError(SwitchboardError):
    """A replace found no number in the file; the list is left as it was."""

    error_id = "blacklist-import-empty"


@dataclass(frozen=True, slots=True)
class RejectedLine:
    line: int  # 1-based
    text: str


@dataclass(frozen=True, slots=True)
class ImportProgress:
    phase: Literal["read", "write", "done"]
    bytes_read: int
    bytes_total: int
    lines: int
    numbers: int
    buckets_written: int = 0


@dataclass(frozen=True, slots=True)
class ImportReport:
    list_name: str
    mode: ImportMode
    path: str
    lines: int  # every line of the file, blank ones included
    numbers: int  # lines that were phone numbers
    distinct: int  # distinct numbers among them
    added: int  # numbers the list did not have before (replace: `distinct`)
    count: int  # the list's size afterwards
    rejected: int
    rejected_lines: tuple[RejectedLine, ...]
    blank: int
    seconds: float


@dataclass
class _Reading:
    """What the read phase accumulates."""

    builder: BucketBuilder
    lines: int = 0
    blank: int = 0
    rejected: int = 0
    bytes_read: int = 0
    kept: list[RejectedLine] | None = None


ProgressCallback = Callable[[ImportProgress], None]


def _blocks(path: Path, chunk_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Blocks of complete lines (no trailing newline) and the bytes consumed for each."""
    rest = b""
    with path.open("rb") as handle:
        while data := handle.read(chunk_bytes):
            buffer = rest + data
            cut = buffer.rfind(b"\n")
            if cut < 0:
                rest = buffer
                continue
            rest = buffer[cut + 1 :]
            yield buffer[:cut], cut + 1
    if rest:
        yield rest, len(rest)


def _record(state: _Reading, block: bytes, result: ChunkResult, keep: int) -> None:
    kept = state.kept if state.kept is not None else []
    state.kept = kept
    if result.rejected and len(kept) < keep:
        lines = block.split(b"\n")
        for index in result.rejected[: keep - len(kept)]:
            text = lines[index].decode("utf-8", "replace").strip()
            kept.append(RejectedLine(line=state.lines + index + 1, text=text[:120]))
    state.lines += block.count(b"\n") + 1
    state.blank += result.blank
    state.rejected += len(result.rejected)
    state.builder.add(result.numbers)


async def _read(
    path: Path,
    region: str,
    normalizer: ChunkNormalizer,
    *,
    progress: ProgressCallback | None,
    keep: int,
    refresh: Callable[[], Awaitable[None]],
    chunk_bytes: int,
) -> _Reading:
    total = path.stat().st_size  # noqa: ASYNC240 - one stat of a local file
    state = _Reading(BucketBuilder())
    for block, consumed in _blocks(path, chunk_bytes):
        _record(state, block, normalizer(block, region), keep)
        state.bytes_read += consumed
        if progress is not None:
            progress(ImportProgress("read", state.bytes_read, total, state.lines, state.builder.added))
        await refresh()
        await asyncio.sleep(0)  # let gate checks and the progress bar run between chunks
    return state


def _check_args(path: Path, name: str, mode: str, region: str) -> None:
    check_list_name(name)
    if mode not in ("replace", "append"):
        raise ValidationFailedError(f"import mode must be replace or append, not {mode!r}", mode=mode)
    if not is_region(region):
        raise ValidationFailedError(f"unknown region {region!r} (an ISO code such as HU, PL)", region=region)
    if not path.is_file():
        raise ImportFileError(f"cannot read {path}: no such file", path=str(path))


async def import_list(
    redis: Redis,
    path: str | Path,
    name: str,
    mode: ImportMode,
    default_region: str,
    *,
    progress: ProgressCallback | None = None,
    keys: DialerKeys | None = None,
    actor: str = "cli",
    now: datetime | None = None,
    keep_rejected: int = 100,
    normalizer: ChunkNormalizer = normalize_chunk,
    chunk_bytes: int = CHUNK_BYTES,
) -> ImportReport:
    """Import `path` into the packed list `name` (replace or append); see the module docstring."""
    path = Path(path)
    region = default_region.upper()
    _check_args(path, name, mode, region)
    started = time.perf_counter()
    store = PackedStore(redis, keys)
    async with store.lock(name) as refresh:
        state = await _read(
            path,
            region,
            normalizer,
            progress=progress,
            keep=keep_rejected,
            refresh=refresh,
            chunk_bytes=chunk_bytes,
        )
        at = (now or datetime.now(UTC)).isoformat()
        meta = {"updated_at": at, "mode": mode, "source": path.name, "region": region}
        writer = _replace if mode == "replace" else _append
        added, count, buckets = await writer(store, name, state, meta, progress)
        report = ImportReport(
            list_name=name, mode=mode, path=str(path), lines=state.lines, numbers=state.builder.added,
            distinct=state.builder.distinct, added=added, count=count, rejected=state.rejected,
            rejected_lines=tuple(state.kept or ()), blank=state.blank, seconds=time.perf_counter() - started,
        )  # fmt: skip
        await store.audit(_audit_record(report, actor, at, path.name))
    if progress is not None:
        progress(
            ImportProgress("done", state.bytes_read, state.bytes_read, state.lines, report.numbers, buckets)
        )
    return report


def _audit_record(report: ImportReport, actor: str, at: str, source: str) -> dict[str, str]:
    return {
        "action": "import", "list": report.list_name, "mode": report.mode, "source": source, "actor": actor,
        "numbers": str(report.numbers), "added": str(report.added), "count": str(report.count),
        "rejected": str(report.rejected), "at": at,
    }  # fmt: skip


def _writing(progress: ProgressCallback | None, state: _Reading) -> Callable[[int], None] | None:
    if progress is None:
        return None
    return lambda written: progress(
        ImportProgress("write", state.bytes_read, state.bytes_read, state.lines, state.builder.added, written)
    )


async def _replace(
    store: PackedStore, name: str, state: _Reading, meta: dict[str, str], progress: ProgressCallback | None
) -> tuple[int, int, int]:
    if not state.builder.added:
        raise ImportEmptyError(
            f"refusing to replace list {name!r} with a file that has no phone number",
            list=name,
            lines=state.lines,
            rejected=state.rejected,
        )
    token = secrets.token_hex(8)
    try:
        buckets = await store.write_build(name, token, state.builder.buckets(), _writing(progress, state))
        distinct = state.builder.distinct
        await store.swap_in(name, token, buckets=buckets, count=distinct, meta=meta)
    except BaseException:
        await store.discard_build(name, token)
        raise
    return distinct, distinct, buckets


async def _append(
    store: PackedStore, name: str, state: _Reading, meta: dict[str, str], progress: ProgressCallback | None
) -> tuple[int, int, int]:
    buckets = list(state.builder.buckets())
    added = await store.merge(name, buckets, _writing(progress, state))
    await store.set_meta(name, meta)
    return added, await store.count(name), len(buckets)
