"""The ACD's step lock (routing/acd/state_writes.StepLock): what ends a step (the held stream events
written) runs before the next step can start, also when the step failed."""

from __future__ import annotations

import asyncio

import pytest

from routing.acd.events import StreamEntry
from routing.acd.state_writes import StepLock


async def test_a_step_ends_before_the_next_one_starts_even_when_it_failed() -> None:
    lock, order = StepLock(), list[str]()

    async def end() -> None:
        order.append("end")
        await asyncio.sleep(0)  # a round trip: the next step still waits

    lock.at_step_end = end

    async def step(name: str, fail: bool = False) -> None:
        async with lock:
            order.append(name)
            await asyncio.sleep(0)
            if fail:
                raise RuntimeError(name)

    results = await asyncio.gather(step("one", fail=True), step("two"), return_exceptions=True)
    assert order == ["one", "end", "two", "end"]
    assert isinstance(results[0], RuntimeError) and results[1] is None
    assert not lock.locked()


async def test_the_lock_is_released_when_ending_the_step_fails() -> None:
    lock = StepLock()

    async def end() -> None:
        raise OSError("gone")

    lock.at_step_end = end
    with pytest.raises(OSError):
        async with lock:
            pass
    assert not lock.locked()


def test_a_stream_entry_is_the_fields_publish_writes() -> None:
    entry = StreamEntry("handover", "a1", {"call_id": "c1", "name": "Zoë", "wait": 1.5})
    assert entry.fields() == {
        "type": "handover", "agent_id": "a1", "data": '{"call_id":"c1","name":"Zo\\u00eb","wait":1.5}'
    }  # fmt: skip
