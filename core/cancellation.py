"""Background loops that stop when asked, on Python 3.11 too.

On Python 3.11 `asyncio.wait_for` (which redis-py uses inside its commands) can swallow a
CancelledError when the awaited operation finishes at the same moment (fixed in 3.12). A loop
that relies on the cancel alone then sleeps and goes on: whoever awaits it after cancelling it
(an engine's stop, a test's teardown, the event loop's shutdown) waits forever, and a lease loop
keeps renewing a lease its engine gave up. A swallowed cancel still leaves its mark:
`Task.cancelling()` stays above 0 until someone uncancels the task. Every loop that runs until
cancelled calls `raise_if_cancelling()` once per round, and stops are bounded (`stop_task`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)


def raise_if_cancelling() -> None:
    """Raise CancelledError if the current task was asked to stop, even if the cancel was lost."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def stop_task(task: asyncio.Task[object] | asyncio.Task[None] | None, timeout: float = 5.0) -> bool:
    """Cancel `task` and wait for it at most `timeout` seconds; False (logged) if it is still running."""
    if task is None or task.done():
        return True
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=timeout)
    if task in done:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            task.result()
        return True
    log.error("task %s did not stop within %.1f s of its cancel", task.get_name(), timeout)
    return False
