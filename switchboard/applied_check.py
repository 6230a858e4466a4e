"""`switchboard check-config` beside the running engine: the rules it last applied, against the files.

The engine keeps the last version of each rule file it applied in Redis (switchboard/rules_store.py);
a restart on a broken file starts on it. So "the file is ok" is half the answer: an admin also
needs to know whether the engine runs this file, an older version (an edit not yet reloaded, or
one it refused), or nothing yet. `compare` says that for one kind (pure); `applied_lines` reads
Redis for every kind given. Without Redis the files are still checked, and the report says the
engine's side was not compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis

from switchboard.rules_store import AppliedRules, LastAppliedStore


@dataclass(frozen=True, slots=True)
class DiskVersion:
    """A rule file on disk: its content hash, or None when it does not load."""

    kind: str
    path: str
    hash: str | None


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def compare(disk: DiskVersion, applied: AppliedRules | None) -> str:
    """One line: how the file on disk stands to the version the engine last applied."""
    kind, path = disk.kind, disk.path
    if applied is None:
        start = "the engine refuses to start on it" if disk.hash is None else "the engine starts on it"
        return f"{kind}: no applied {kind} rules in Redis (no engine has run them there yet); {start}"
    running = f"{applied.hash[:12]}, applied {_when(applied.applied_at)} from {applied.file}"
    if disk.hash is None:
        return (
            f"{kind}: {path} is invalid; the engine runs the version it last applied ({running}), "
            "and a restart starts on that version"
        )
    if disk.hash == applied.hash:
        return f"{kind}: {path} is the version the engine last applied ({running})"
    return (
        f"{kind}: {path} ({disk.hash[:12]}) is not the version the engine last applied ({running}); "
        "the engine applies it at its next reload (file watch or SIGHUP)"
    )


async def applied_lines(redis: aioredis.Redis, files: list[DiskVersion], shard: str = "") -> list[str]:
    """`compare` for every file, with the applied versions read from `redis` (those the engines of
    ACD shard `shard` applied)."""
    applied = await LastAppliedStore(redis, shard=shard).fetch([disk.kind for disk in files], strict=True)
    return [compare(disk, applied.get(disk.kind)) for disk in files]
