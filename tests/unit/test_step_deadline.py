"""core.step_deadline: the AMI waits of a bounded step end before the step's own timeout."""

from __future__ import annotations

import asyncio

import pytest

from core.step_deadline import ami_limit, bounded_step


async def test_outside_a_step_an_ami_wait_keeps_its_own_limit() -> None:
    assert ami_limit(5.0) == 5.0  # a manual dial from the API is not cut


async def test_in_a_step_an_ami_wait_ends_keep_seconds_before_the_step() -> None:
    async with bounded_step(5.0, keep=1.25):
        assert 3.5 < ami_limit(5.0) <= 3.75
        assert ami_limit(1.0) == 1.0  # a shorter wait of its own stays as it is
        async with bounded_step(10.0, keep=0.0):  # a nested step never extends the outer one
            assert ami_limit(5.0) <= 3.75
    assert ami_limit(5.0) == 5.0


async def test_the_tasks_a_step_starts_inherit_its_deadline() -> None:
    async def limit_in_a_task() -> float:  # a round's concurrent placers are tasks of their own
        return ami_limit(5.0)

    async with bounded_step(2.0, keep=0.5):
        assert await asyncio.create_task(limit_in_a_task()) <= 1.5


async def test_the_step_times_out_as_asyncio_timeout_does() -> None:
    with pytest.raises(TimeoutError):
        async with bounded_step(0.01, keep=0.0):
            await asyncio.Event().wait()


async def test_a_task_that_outlives_its_step_keeps_its_own_limit() -> None:
    async def limit_later(go: asyncio.Event) -> float:  # e.g. a renewal timer started in a round
        await go.wait()
        return ami_limit(5.0)

    go = asyncio.Event()
    async with bounded_step(2.0, keep=0.5):
        later = asyncio.create_task(limit_later(go))
    go.set()
    assert await later == 5.0
