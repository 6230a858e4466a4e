"""The dialer's background work stops cleanly even when a settlement write was spawned just before
the stop (seen in CI: a 'never awaited' coroutine from a task cancelled before it ran)."""

from __future__ import annotations

import gc

from prometheus_client import CollectorRegistry

from dialer.calls.dial_metrics import DialerMetrics
from dialer.loop.background import BackgroundWork, DialerSettings
from pbx.client import AmiClient, AmiSettings


async def test_a_write_spawned_just_before_close_is_dropped_without_a_stray_coroutine() -> None:
    sender = AmiClient(AmiSettings("127.0.0.1", 1, "switchboard", "unused"))  # never connected: sends nothing
    work = BackgroundWork(DialerSettings(), sender, DialerMetrics(CollectorRegistry()))
    ran, done = [], []

    async def write() -> None:
        ran.append(True)

    work.spawn(work.then(lambda: work.retried("write-outcome", write), lambda: done.append(True)))
    await work.close()  # before the task's first step: it is cancelled without running
    gc.collect()  # a coroutine made and never awaited would warn here (an error under pytest's filters)

    assert ran == [] and done == [] and work.tasks == set()
