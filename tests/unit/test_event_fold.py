"""The ACD's step lock (routing/acd/state_writes.StepLock): what ends a step (the held stream events
written) runs before the next step can start, also when the step failed; and which stream events
ride in the commit of the change they describe (routing/acd/inbound_effects.folded)."""

from __future__ import annotations

import asyncio

import pytest

from routing.acd import call_events as ev
from routing.acd.events import StreamEntry
from routing.acd.inbound_effects import folded
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


def test_an_event_rides_with_the_commit_before_it_unless_io_comes_between() -> None:
    call = object()
    talks, publish = ev.AgentTalks("a1", call), ev.Publish("handover", "a1", {})  # type: ignore[arg-type]
    note, hangup, leaves = ev.Note("n"), ev.HangUp("SIP/a1-1"), ev.AgentLeaves("a1", wrap_up=True)
    assert folded((talks, note, publish)) == {0: [2]}
    assert folded((talks, publish, publish)) == {0: [1, 2]}
    assert folded((talks, hangup, publish)) == {}, "an AMI action between: held for the step"
    assert folded((talks, leaves, publish)) == {}, "another agent's commit between: held for the step"
    assert folded((publish, talks)) == {}, "an event before the commit is not the commit's"
