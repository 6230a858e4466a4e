"""A bounded step's deadline, so that an AMI wait inside it times out as AMI, not as the step.

A step that does Redis work and waits on Asterisk (a pacing round: claims, the gate, the intent,
then the Originate's answer) is bounded by one timeout, mapped to "Redis failed" at its boundary
(core.store_errors): all a frozen Redis shows is time running out. An AMI wait that ran the step
out would be reported as Redis too (a stalled link is silent until the keepalive notices). So the
step sets the time by which its AMI waits must end, `keep` seconds before its own timeout (the
time the rest of the step needs for Redis), and the waits take `ami_limit(theirs)`: a stalled
link raises the AMI client's own timeout (counted in switchboard_ami_actions_total), first.
The deadline is a context variable: the tasks a step starts (a round's placers) inherit it, until
the step is over (a task that outlives it waits as long as its own limit says).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(slots=True)
class _Step:
    ami_by: float  # loop time by which the step's AMI waits must end
    open: bool = True  # a task the step started may outlive it: a closed step's deadline is no one's


_STEP: ContextVar[_Step | None] = ContextVar("switchboard_bounded_step", default=None)


@contextlib.asynccontextmanager
async def bounded_step(seconds: float, *, keep: float) -> AsyncIterator[None]:
    """Bound the block by `seconds` (TimeoutError, as `asyncio.timeout`); its AMI waits end `keep`
    seconds earlier (`ami_limit`)."""
    end = asyncio.get_running_loop().time() + seconds
    outer = _STEP.get()
    by = end - keep if outer is None or not outer.open else min(outer.ami_by, end - keep)
    step = _Step(by)
    token = _STEP.set(step)
    try:
        async with asyncio.timeout_at(end):
            yield
    finally:
        step.open = False
        _STEP.reset(token)


def ami_time_left() -> float | None:
    """What is left of the current step's AMI time (0 or less: none); None outside a bounded step."""
    step = _STEP.get()
    if step is None or not step.open:
        return None
    return step.ami_by - asyncio.get_running_loop().time()


def ami_limit(limit: float) -> float:
    """`limit`, cut to what is left of the current step's AMI time (may be 0 or less: none left)."""
    left = ami_time_left()
    return limit if left is None else min(limit, left)
