"""Ownership leases with fencing tokens: one owner per role among the engines sharing a Redis.

Self-contained (Redis, the error tree, prometheus): the ACD and the dialer's pacing both use it.
Rules it keeps (docs/reliability.md):
- The lease is one Redis key holding `{token}:{engine id}`, set with NX and a TTL. The token is
  INCR'd at every acquisition (a hash beside the lease also remembers the last holder), so an
  owner that lost the lease and got it back holds a new token.
- It is renewed on its own timer (`run`), every `renew_s`, whatever the engine is doing; a standby
  polls on the same timer and takes the lease once it has run out. An owner whose renewals
  failed for a while (Redis unreachable, the process frozen) and finds its value still in the
  key gets it back with the same token (nobody owned meanwhile); listeners hear of it again,
  since events went unhandled while it did not own.
- Locally, ownership ends `valid_s` after the last renewal was *sent* (a monotonic clock, so a
  frozen process wakes up not owning): `owned` is what event handlers check before acting.
- A restarted engine whose previous run is provably dead (core/engine_run.py) takes that run's
  lease back at once (`take_back`), with the next token.
- An engine that takes the lease from another one (ran out, or given up) knows that one
  (`superseded`): with the new token, its fenced writes and call actions are refused, so what it
  left (the dialer's placed calls) may be taken over at once rather than after its heartbeat.
- Every state write of an owner is fenced: a Lua script first checks that the lease key still
  holds this owner's value, else writes nothing and the caller gets NotOwnerError. `FencedScript`
  fences one script (the lease key goes last in KEYS, the holder's value last in ARGV);
  `FencedBatch` fences a batch of plain writes (what a MULTI/EXEC would carry).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.exceptions import RedisError

from core.cancellation import raise_if_cancelling
from core.errors import NotOwnerError, ValidationFailedError
from core.lease_scripts import ACQUIRE, BATCH, FENCE_CHECK, RELEASE, TAKE_BACK

log = logging.getLogger("switchboard.lease")

_CHUNK = 500  # fields per HSET op (Lua's unpack has a stack limit)


class LeaseMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.owned = Gauge(
            "switchboard_owner", "1 while this engine owns the role (a lease in Redis)",
            ["role", "engine"], registry=registry,
        )  # fmt: skip
        self.failovers = Counter(
            "switchboard_owner_failovers", "This engine took a role over from another engine",
            ["role"], registry=registry,
        )  # fmt: skip
        self.lost = Counter(
            "switchboard_owner_lost", "This engine lost a role it owned (not renewed in time, or taken)",
            ["role"], registry=registry,
        )  # fmt: skip


class Lease:
    """One role's lease as seen by one engine; see the module docstring.

    `on_change(owned)` listeners run (synchronously) on every change of ownership."""

    def __init__(
        self,
        redis: aioredis.Redis,
        key: str,
        *,
        engine_id: str,
        role: str,
        ttl_s: float = 3.0,
        renew_s: float = 1.0,
        metrics: LeaseMetrics | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not engine_id:
            raise ValidationFailedError("a lease needs the engine's id", role=role)
        if not 0 < renew_s < ttl_s:
            raise ValidationFailedError(
                f"lease renew interval {renew_s} s must be below its TTL {ttl_s} s", role=role
            )
        self.key, self.meta_key = key, f"{key}:meta"
        self.engine_id, self.role = engine_id, role
        self.ttl_s, self.renew_s = ttl_s, renew_s
        self.valid_s = ttl_s - renew_s / 2  # local margin: stop acting before Redis lets it run out
        self.metrics = metrics
        self._redis = redis
        self._monotonic = monotonic
        self._acquire = redis.register_script(ACQUIRE)
        self._release = redis.register_script(RELEASE)
        self._take_back = redis.register_script(TAKE_BACK)
        self._batch = redis.register_script(FENCE_CHECK + BATCH)
        self._value: str | None = None
        self._last = ""  # the value this engine held last, owned or lapsed
        self.continues: int | None = None
        """The token of this engine's previous ownership when nobody else owned the role since
        (same token kept, or the next one taken by this engine); None otherwise."""
        self._took_from: str | None = None  # the other engine this ownership took the lease from
        self._sent = self._passed = 0  # fence checks sent; the last sent one Redis passed (confirm)
        self._valid_until = 0.0
        self._listeners: list[Callable[[bool], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._serial = asyncio.Lock()  # one acquire at a time: each sends the value the last one got
        self._set_gauge(False)

    # -- what owners read -------------------------------------------------------------------
    @property
    def owned(self) -> bool:
        return self._value is not None and self._monotonic() < self._valid_until

    @property
    def token(self) -> int | None:
        """The fencing token of the current ownership (None when not the owner)."""
        return _token(self._value) if self._value is not None and self.owned else None

    def fence_value(self) -> str:
        """The value fenced writes carry; NotOwnerError when this engine does not own the role."""
        if self._value is None or not self.owned:
            raise NotOwnerError(f"this engine does not own the {self.role}", role=self.role)
        return self._value

    def superseded(self) -> tuple[str, ...]:
        """The engine this one took the lease from, while this ownership lasts (its token fences
        that engine: it can act on nothing of the role); () otherwise."""
        return (self._took_from,) if self._took_from is not None and self.owned else ()

    def on_change(self, listener: Callable[[bool], None]) -> None:
        self._listeners.append(listener)

    async def holder(self) -> str | None:
        """The engine id of the current owner (any engine), None when nobody owns the role."""
        raw = await self._redis.get(self.key)
        return None if raw is None else _text(raw).split(":", 1)[-1]

    # -- taking, renewing, giving up --------------------------------------------------------
    async def acquire(self) -> bool:
        """Take the lease if free, renew it if this engine holds it; True if it owns the role now."""
        async with self._serial:
            sent, lapsed = self._monotonic(), self._value is not None and not self.owned
            ttl_ms = max(1, int(self.ttl_s * 1000))
            keys, args = [self.key, self.meta_key], [self.engine_id, str(ttl_ms), self._last]
            result = await self._acquire(keys=keys, args=args)
            return self._acquired(result, sent, lapsed)

    async def take_back(self) -> bool:
        """At start, when this engine id's previous run is provably dead (core/engine_run.py): its
        lease is taken over now with the next token instead of after its TTL; otherwise (no lease,
        another engine's) a plain `acquire`. True if this engine owns the role now."""
        async with self._serial:
            sent, ttl_ms = self._monotonic(), max(1, int(self.ttl_s * 1000))
            result = await self._take_back(keys=[self.key, self.meta_key], args=[self.engine_id, str(ttl_ms)])
            if int(result[0]) == 1:
                log.warning("%s lease of this engine's previous run taken back at once", self.role)
                return self._acquired(result, sent, lapsed=False)
        return await self.acquire()

    def _acquired(self, result: Any, sent: float, lapsed: bool) -> bool:
        if int(result[0]) != 1:
            self._change(None, 0.0)
            return False
        value, previous = _text(result[1]), _text(result[2])
        if value != self._value and previous and previous != self.engine_id and self.metrics is not None:
            self.metrics.failovers.labels(role=self.role).inc()
        if lapsed:
            self._value = None  # owned again after a lapse: a change listeners must hear of
        last = _token(self._last) if self._last else None
        next_one = previous == self.engine_id and last is not None and _token(value) == last + 1
        self.continues = last if value == self._last or next_one else None
        if previous != self.engine_id:  # taken from another engine (a renewal or a lapse keeps it)
            self._took_from = previous or None
        self._last = value
        self._change(value, sent + self.valid_s)
        return True

    async def release(self) -> None:
        """Give the role up now (a clean stop), so a standby need not wait for the TTL."""
        value, self._last, self.continues = self._value, "", None
        self._change(None, 0.0, released=True)  # stop acting first: the key may be gone the next moment
        if value is not None:
            await self._release(keys=[self.key], args=[value])

    def start(self) -> None:
        """Renew (or, on a standby, try to take) the lease every `renew_s`, in its own task."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"lease-{self.role}")

    async def stop(self, *, release: bool = True) -> None:
        """Stop renewing; `release=False` is what a crash looks like (the lease runs out)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task], timeout=2.0)  # bounded: redis-py may swallow a cancel
        if release:
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                async with asyncio.timeout(self.renew_s):
                    await self.release()

    async def run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.renew_s):
                    await self.acquire()
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("%s lease: Redis failed (%s)", self.role, type(exc).__name__)
                self._expire_if_due()
            raise_if_cancelling()  # a stop must end the renewals even if redis-py swallowed its cancel
            await asyncio.sleep(self.renew_s)  # the renewal period itself, not a synchronisation

    def mark(self) -> int:
        """A point to `confirm` from; NotOwnerError when this engine does not own the role."""
        self.fence_value()
        return self._sent

    async def confirm(self, since: int | None = None) -> None:
        """Check in Redis, not only locally, that this engine still owns the role: the last step
        before an action no fence can guard (an Originate). NotOwnerError if not. With `since` (a
        `mark`), no command when a fenced write or check sent after it already passed in Redis."""
        value = self.fence_value()
        if since is not None and self._passed > since:
            return
        sent = self._sending()
        if _text(await self._redis.get(self.key) or b"") != value:
            raise self.refused()
        self._checked(sent, value)

    def _sending(self) -> int:
        self._sent += 1
        return self._sent

    def _checked(self, sent: int, value: str) -> None:  # fence check `sent` passed with `value`
        if value == self._value:
            self._passed = max(self._passed, sent)

    async def write(self, batch: FencedBatch) -> None:
        """Run `batch` if this engine still owns the role; NotOwnerError (nothing written) if not."""
        if not batch.args:
            return
        value, sent = self.fence_value(), self._sending()
        if await self._batch(keys=[*batch.keys, self.key], args=[*batch.args, value]) == -1:
            raise self.refused()
        self._checked(sent, value)

    def refused(self) -> NotOwnerError:
        """A fence refused a write: another engine took the role (this one learns it here first)."""
        self._change(None, 0.0)
        return NotOwnerError(f"another engine owns the {self.role} now; write refused", role=self.role)

    def _expire_if_due(self) -> None:
        if self._value is not None and not self.owned:
            self._change(None, 0.0)

    def _change(self, value: str | None, valid_until: float, *, released: bool = False) -> None:
        """A new value is a new ownership (a new token), even when the old one was never seen lost.
        `released`: given up on purpose (a clean stop), which is not a loss (no warning, not counted)."""
        was, self._value, self._valid_until = self._value, value, valid_until
        if was == value:
            return
        self._passed = 0  # a new ownership: what passed before it confirms nothing
        self._set_gauge(value is not None)
        extra = {"role": self.role, "engine": self.engine_id, "lease": value or ""}
        if value is not None:
            log.warning("this engine owns the %s now (lease %s)", self.role, value, extra=extra)
        elif was is not None and released:
            log.info("this engine gave the %s up (a clean stop)", self.role, extra=extra)
        elif was is not None:
            log.warning("this engine no longer owns the %s", self.role, extra=extra)
            if self.metrics is not None:
                self.metrics.lost.labels(role=self.role).inc()
        for listener in list(self._listeners):
            listener(value is not None)

    def _set_gauge(self, owned: bool) -> None:
        if self.metrics is not None:
            self.metrics.owned.labels(role=self.role, engine=self.engine_id).set(int(owned))


class FencedScript:
    """A Lua script that writes only while `lease` is this engine's (no lease: it always runs).

    The script body returns anything but -1; -1 means the fence refused: NotOwnerError."""

    def __init__(self, redis: aioredis.Redis, body: str, lease: Lease | None) -> None:
        self._lease = lease
        self._script = redis.register_script(body if lease is None else FENCE_CHECK + body)

    async def __call__(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        if self._lease is None:
            return await self._script(keys=list(keys), args=list(args))
        value, sent = self._lease.fence_value(), self._lease._sending()
        result = await self._script(keys=[*keys, self._lease.key], args=[*args, value])
        if result == -1:
            raise self._lease.refused()
        self._lease._checked(sent, value)
        return result


class FencedBatch:
    """Plain writes collected like a pipeline's, then run by `Lease.write` as one fenced script:
    refused by the fence, none of them runs."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.args: list[Any] = []

    def _op(self, command: str, keys: Sequence[str], *args: Any) -> None:
        self.keys.extend(keys)
        self.args.extend((command, len(keys), len(args), *args))

    def set(self, key: str, value: Any, ex: int | None = None) -> None:
        self._op("SET", [key], value, *(("EX", ex) if ex is not None else ()))

    def sadd(self, key: str, *members: Any) -> None:
        self._op("SADD", [key], *members)

    def srem(self, key: str, *members: Any) -> None:
        self._op("SREM", [key], *members)

    def zadd(self, key: str, mapping: Mapping[str, float]) -> None:
        pairs = ((repr(float(score)), member) for member, score in mapping.items())
        self._op("ZADD", [key], *(x for pair in pairs for x in pair))

    def zrem(self, key: str, *members: Any) -> None:
        self._op("ZREM", [key], *members)

    def hset(self, key: str, mapping: Mapping[Any, Any]) -> None:
        items = list(mapping.items())
        for start in range(0, len(items), _CHUNK):
            self._op("HSET", [key], *(x for pair in items[start : start + _CHUNK] for x in pair))

    def hdel(self, key: str, *fields: Any) -> None:
        self._op("HDEL", [key], *fields)

    def delete(self, *keys: str) -> None:
        self._op("DEL", keys)

    def rpush(self, key: str, *values: Any) -> None:
        self._op("RPUSH", [key], *values)

    def ltrim(self, key: str, start: int, end: int) -> None:
        self._op("LTRIM", [key], start, end)

    def xadd(self, key: str, fields: Mapping[Any, Any], maxlen: int, approximate: bool = True) -> None:
        pairs = (x for pair in fields.items() for x in pair)
        self._op("XADD", [key], "MAXLEN", "~" if approximate else "=", maxlen, "*", *pairs)


def _token(value: str) -> int:
    return int(value.split(":", 1)[0])


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
