"""Moving an existing Redis to the hash-tagged key layout (docs/redis.md, "Upgrading").

Since the Redis Cluster work every key carries the hash tag of the slot it shares with the keys its
scripts touch with it. Older versions wrote the same data without the tag; a new engine would not
see it, and an empty blacklist lets every number through, so the engine refuses to start while
keys of the old layout are there (`old_layout_found`), and `switchboard migrate-keys` renames them
(RENAME keeps each key's TTL), with every engine stopped:

- `sb:dialer:bl:*`, `sb:dialer:consent:*` and the audit streams `blacklist`, `dial-blocked`,
  `consent` -> `sb:dialer:{gate}:...`; every other `sb:dialer:*` -> `sb:dialer:{dial}:...`
- `sb:routing:*` -> `sb:routing:{acd}:...` (`sb:routing:engine:<id>`, a live run's record with a
  TTL, is dropped: the next start writes it again)
- `sb:webhooks:*` -> `sb:webhooks:{outbox}:...`
A key whose new name is taken already is left as it is and counted as a conflict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.errors import StoreUnavailableError
from dialer.dialer_keys import DialerKeys
from dialer.key_prefix import DEFAULT_PREFIX, DIAL_TAG, GATE_TAG
from routing.acd.acd_keys import AcdKeys
from switchboard.webhooks.outbox import PREFIX as OUTBOX_PREFIX

ROUTING = AcdKeys().prefix
WEBHOOKS = "sb:webhooks:"
_GATE_AUDIT = ("audit:blacklist", "audit:dial-blocked", "audit:consent")
# Keys every deployment of the old layout has once it ran (checked one by one: on a cluster they
# live in different slots).
_MARKS = (
    f"{DEFAULT_PREFIX}bl:lists", f"{DEFAULT_PREFIX}bl:internal", f"{ROUTING}agents", f"{ROUTING}owner",
    f"{DEFAULT_PREFIX}leads:seq", f"{DEFAULT_PREFIX}dial:campaigns", f"{WEBHOOKS}cursor",
)  # fmt: skip


def new_name(key: str) -> str | None:
    """The key's name in the tagged layout; '' to drop it; None when it is not an old-layout key."""
    for prefix, tagged in ((DEFAULT_PREFIX, DialerKeys().gate), (ROUTING, AcdKeys().base)):
        if key.startswith(prefix) and not key.startswith(prefix + "{"):
            rest = key.removeprefix(prefix)
            if prefix == ROUTING:
                return "" if rest.startswith("engine:") else tagged + rest
            gate = rest.startswith(("bl:", "consent:")) or rest in _GATE_AUDIT
            return f"{prefix}{GATE_TAG if gate else DIAL_TAG}{rest}"
    if key.startswith(WEBHOOKS) and not key.startswith(OUTBOX_PREFIX):
        return OUTBOX_PREFIX + key.removeprefix(WEBHOOKS)
    return None


@dataclass
class Migration:
    renamed: int = 0
    dropped: int = 0
    conflicts: list[str] = field(default_factory=list)


def _text(key: Any) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)


async def old_layout_found(redis: Any) -> list[str]:
    """The old-layout keys among the few every deployment has (empty: nothing to migrate)."""
    return [key for key in _MARKS if await redis.exists(key)]


async def refuse_old_layout(redis: Any) -> None:
    """At start: an engine that cannot see the lists it would guard must not run."""
    found = await old_layout_found(redis)
    if found:
        raise StoreUnavailableError(
            f"Redis holds keys of an older version's layout ({', '.join(found)}): stop every engine and "
            "run `switchboard migrate-keys` before starting this version (docs/redis.md)",
            keys=found,
        )


async def migrate(redis: Any, *, dry_run: bool = False) -> Migration:
    """Rename every old-layout key of one Redis (run with every engine stopped)."""
    done = Migration()
    for pattern in ("sb:dialer:*", "sb:routing:*", "sb:webhooks:*"):
        keys = [_text(key) async for key in redis.scan_iter(match=pattern, count=1000)]
        await _move(redis, keys, done, dry_run)
    return done


async def _move(redis: Any, keys: Iterable[str], done: Migration, dry_run: bool) -> None:
    for key in keys:
        target = new_name(key)
        if target is None:
            continue
        if target == "":
            done.dropped += 1
            if not dry_run:
                await redis.delete(key)
        elif dry_run or await redis.renamenx(key, target):
            done.renamed += 1
        else:
            done.conflicts.append(key)
