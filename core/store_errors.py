"""The one mapping of store failures to the product's error: Redis errors, socket errors and timeouts
become StoreUnavailableError naming what was being done.

Owned here: which library exceptions mean "the store cannot be consulted". Stores (and the shells that
run Redis-bound work for a service) wrap their Redis calls in `store_available(what)`, so the
services above them catch StoreUnavailableError (a SwitchboardError) and never a driver's type.
TimeoutError covers a step bounded by `asyncio.timeout`: a frozen Redis is an unavailable store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from redis.exceptions import RedisClusterException, RedisError

from core.errors import StoreUnavailableError

STORE_FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError, RedisClusterException)
"""What the Redis client raises when the store is down, cut off or frozen (TimeoutError is an OSError;
it is named for the reader); on a Redis Cluster also RedisClusterException (a slot no node serves, no
node reachable), which is not a RedisError."""


@contextlib.contextmanager
def store_available(what: str) -> Iterator[None]:
    """Run the block; a store failure inside it raises StoreUnavailableError(operation=`what`)."""
    try:
        yield
    except STORE_FAILURES as exc:
        reason = str(exc) or type(exc).__name__  # a timeout has no text
        raise StoreUnavailableError(f"Redis failed while {what}: {reason}", operation=what) from exc
