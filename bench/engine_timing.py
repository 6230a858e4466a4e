"""Where an event's time goes in the engine of figure 4: bench-only wrappers, no hook in product code.

`bench/engine_proc.py --timing PATH` installs them before the runtime starts and writes, at exit,
per AMI event name: count, the mean wait from the AMI reader handing the event over to its handling
starting (the backlog: events are handled one at a time, in order), the mean handling time, and the
mean time the process spent awaiting Redis and awaiting AMI while it was handled: an action's
answer (`AmiClient.send`), or only the write of one whose answer is awaited apart
(`AmiClient.submit`, as the ACD's Originate, Bridge and Setvar are; their answers are not in an
event's time any more). Every Redis command, pipeline and AMI action is timed; concurrent tasks,
such as the ticker or the dialer, add theirs. The ticker's rounds are counted the same way.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from redis.asyncio.client import Pipeline, Redis

from pbx.client import AmiClient
from pbx.codec import Event
from switchboard.engine import Engine

REDIS_S = [0.0, 0]  # seconds awaiting Redis, round trips
AMI_S = [0.0, 0]  # seconds awaiting AMI (an answer, or a write whose answer is awaited apart), actions
# per event name: count, backlog, handling, Redis, AMI (seconds)
TOTALS: defaultdict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0.0])


def _timed(call: Callable[..., Awaitable[Any]], into: list[float]) -> Callable[..., Awaitable[Any]]:
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await call(*args, **kwargs)
        finally:
            into[0] += time.perf_counter() - started
            into[1] += 1

    return timed


def install() -> None:
    Redis.execute_command = _timed(Redis.execute_command, REDIS_S)  # type: ignore[method-assign,assignment]
    Pipeline.execute = _timed(Pipeline.execute, REDIS_S)  # type: ignore[method-assign,assignment]
    AmiClient.send = _timed(AmiClient.send, AMI_S)  # type: ignore[method-assign,assignment]
    AmiClient.submit = _timed(AmiClient.submit, AMI_S)  # type: ignore[method-assign,assignment]
    on_event, tick = Engine._on_event, Engine.tick

    def handed_over(self: Engine, event: Event) -> Awaitable[None]:
        arrived = time.perf_counter()  # the AMI reader calls this as the event is read

        async def handled() -> None:
            started, redis_before, ami_before = time.perf_counter(), REDIS_S[0], AMI_S[0]
            await on_event(self, event)
            handle = time.perf_counter() - started
            _add(event.name, started - arrived, handle, REDIS_S[0] - redis_before, AMI_S[0] - ami_before)

        return handled()

    async def timed_tick(self: Engine) -> None:
        started, redis_before, ami_before = time.perf_counter(), REDIS_S[0], AMI_S[0]
        await tick(self)
        _add("(tick)", 0.0, time.perf_counter() - started, REDIS_S[0] - redis_before, AMI_S[0] - ami_before)

    Engine._on_event = handed_over  # type: ignore[assignment,method-assign]
    Engine.tick = timed_tick  # type: ignore[method-assign]


def _add(name: str, *seconds: float) -> None:
    totals = TOTALS[name]
    totals[0] += 1
    for index, value in enumerate(seconds, start=1):
        totals[index] += value


def write(path: Path) -> None:
    fields = ("backlog_ms", "handle_ms", "redis_ms", "ami_ms")
    rows: dict[str, dict[str, float]] = {
        name: {"count": n, **{f: 1e3 * t / n for f, t in zip(fields, totals, strict=True)}}
        for name, (n, *totals) in sorted(TOTALS.items(), key=lambda item: -item[1][0] * item[1][2])
        if n
    }
    rows["(redis)"] = {"count": REDIS_S[1], "mean_ms": 1e3 * REDIS_S[0] / max(1, REDIS_S[1])}
    rows["(ami)"] = {"count": AMI_S[1], "mean_ms": 1e3 * AMI_S[0] / max(1, AMI_S[1])}
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
