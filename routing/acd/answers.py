"""Asterisk's answers the ACD does not wait for (docs/performance.md, figure 4).

An agent's Originate, a Bridge and the case number's Setvar are written at once, in the order the
ACD decides them, and the ACD goes on to its next event; each answer is awaited in a task of its
own here. What an answer says is handed back under the ACD's lock, as an event is (one at a
time, never interleaved with another event's handling): a Bridge's answer becomes the call's
BridgeResult (routing/acd/inbound_effects.py), an agent's Originate refused or unanswered is
settled as a ring that failed (routing/acd/dispatcher.py), each only while this engine owns the
ACD. A Setvar's answer is only logged (the executor does it). What is known before anything
leaves (not sent: not the owner, encode error, not ready) is still raised where the action is
decided. A resync first waits for the answers under way (`settled`): the answers a lost link
failed are handed back before it judges the calls, as when the ACD waited for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

log = logging.getLogger("switchboard.acd")
T = TypeVar("T")


class Answers:
    """The answers awaited apart, and the lock their results are handed back under."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self.lock = lock
        self.tasks: set[asyncio.Task[Any]] = set()

    def follow(self, answer: Awaitable[T], then: Callable[[T], Awaitable[None]] | None = None) -> None:
        """Await `answer` apart; then `then(result)` under the ACD's lock (if given). `answer` must
        turn every outcome into a result (the executor's answers do: they never raise AmiError)."""
        task = asyncio.get_running_loop().create_task(self._run(answer, then), name="acd-answer")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, answer: Awaitable[T], then: Callable[[T], Awaitable[None]] | None) -> None:
        try:
            result = await answer
            if then is None:
                return
            async with self.lock:
                await then(result)
        except Exception:
            log.exception("ACD failed on an action's answer")

    async def settled(self, timeout: float) -> None:
        """Wait (at most `timeout` s) until every answer awaited so far was handed back. Never
        under the ACD's lock: the hand-backs take it."""
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=timeout)

    async def aclose(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=5.0)
