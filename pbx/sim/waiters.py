"""Await a condition on the simulator instead of sleeping: futures resolved by predicates."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

from core.errors import SwitchboardError

T = TypeVar("T")


class SimTimeoutError(SwitchboardError, TimeoutError):
    """A `wait_for_*` on the simulated PBX saw nothing matching in time."""

    error_id = "sim-timeout"


class Waiters(Generic[T]):
    """Pending `(predicate, future)` pairs; `offer(item)` resolves those that match."""

    def __init__(self) -> None:
        self._pending: list[tuple[Callable[[T], bool], asyncio.Future[T]]] = []

    def __bool__(self) -> bool:
        return bool(self._pending)

    def offer(self, item: T) -> None:
        still: list[tuple[Callable[[T], bool], asyncio.Future[T]]] = []
        for predicate, future in self._pending:
            if future.done():
                continue
            if predicate(item):
                future.set_result(item)
            else:
                still.append((predicate, future))
        self._pending = still

    async def wait(self, predicate: Callable[[T], bool], timeout: float, what: str) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((predicate, future))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise SimTimeoutError(f"simulated PBX: no {what} within {timeout} s", timeout=timeout) from None
        finally:
            self._pending = [(p, f) for p, f in self._pending if f is not future]
