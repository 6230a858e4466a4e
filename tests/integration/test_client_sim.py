"""End to end: AmiClient + CallTracker against the simulated Asterisk (pbx.sim) over TCP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import pbx.sim
from core.errors import AmiConnectionError, AmiLoginError, AmiTimeoutError
from pbx.client import AmiClient, AmiSettings
from pbx.codec import Event
from pbx.tracker import CallChange, CallEnded, CallTracker, OriginateResult

SimulatedPbx: Any = getattr(pbx.sim, "SimulatedPbx", None)
SimConfig: Any = getattr(pbx.sim, "SimConfig", None)
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(SimulatedPbx is None, reason="pbx.sim does not export SimulatedPbx yet"),
]
BUSY = "+36301111111"
ANSWERS = "+36302222222"


class Engine:
    """The smallest engine: a client whose events feed a tracker, with resync on (re)connect."""

    def __init__(self, port: int, secret: str = "switchboard-secret", **options: Any) -> None:
        self.tracker = CallTracker()
        self.changes: list[CallChange] = []
        self.resyncs = 0
        self._changed = asyncio.Event()
        settings = AmiSettings("127.0.0.1", port, "switchboard", secret, reconnect_min=0.01, **options)
        self.client = AmiClient(settings, on_event=self.on_event, on_connected=self.resync)

    def on_event(self, event: Event) -> None:
        self.changes.extend(self.tracker.apply(event))
        self._changed.set()
        self._changed.clear()

    async def resync(self) -> None:
        mark = self.tracker.begin_resync()
        channels = await self.client.core_show_channels()
        self.changes.extend(self.tracker.resync(channels, since=mark))
        self.resyncs += 1
        self._changed.set()
        self._changed.clear()

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._changed.wait()

    def result(self, action_id: str) -> OriginateResult | None:
        found = [c for c in self.changes if isinstance(c, OriginateResult) and c.action_id == action_id]
        return found[0] if found else None


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    config = SimConfig(time_scale=20.0, customer_overrides={BUSY: "busy", ANSWERS: "answer"})
    simulator = SimulatedPbx(config, seed=1)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


@pytest.fixture
async def engine(sim: Any) -> AsyncIterator[Engine]:
    made = Engine(sim.port)
    await made.client.connect()
    try:
        yield made
    finally:
        await made.client.close()


def originates(sim: Any) -> int:
    return sum(1 for action in sim.actions if action.name == "Originate")


async def test_calls_are_correlated_by_call_id_and_action_id(sim: Any, engine: Engine) -> None:
    client = engine.client
    await client.originate(
        channel=f"PJSIP/{BUSY}@trunk", application="Wait", data="2",
        variables={"SWITCHBOARD_CALL_ID": "c-busy"}, action_id="o-busy",
    )  # fmt: skip
    await client.originate(
        channel=f"PJSIP/{ANSWERS}@trunk", application="Wait", data="2",
        variables={"SWITCHBOARD_CALL_ID": "c-answer"}, action_id="o-answer",
    )  # fmt: skip
    await engine.until(lambda: engine.result("o-busy") is not None and engine.result("o-answer") is not None)
    busy, answered = engine.result("o-busy"), engine.result("o-answer")
    assert busy is not None and answered is not None
    assert (busy.ok, busy.reason, busy.uniqueid) == (False, 5, None)
    assert (answered.ok, answered.reason, answered.call_id) == (True, 4, "c-answer")
    await engine.until(lambda: CallEnded("c-answer", answered.uniqueid or "") in engine.changes)
    sizes = engine.tracker.sizes()
    sizes.pop("recent_hangups")
    assert set(sizes.values()) == {0}


async def test_originate_lost_with_the_connection_is_not_resent(sim: Any, engine: Engine) -> None:
    sim.fail_next("Originate", mode="close")
    with pytest.raises(AmiConnectionError):
        await engine.client.originate(channel=f"PJSIP/{ANSWERS}@trunk", application="Wait", data="1")
    await engine.until(lambda: engine.resyncs == 2)
    await engine.client.wait_ready(5)
    assert originates(sim) == 1


async def test_silent_and_garbage_answers_time_out_without_dropping_the_connection(
    sim: Any, engine: Engine
) -> None:
    for mode in ("silence", "garbage"):
        sim.fail_next("Originate", mode=mode)
        with pytest.raises(AmiTimeoutError):
            await engine.client.originate(
                channel=f"PJSIP/{ANSWERS}@trunk", application="Wait", data="1", timeout=0.5
            )
        assert (await engine.client.send("Ping")).response.ok
    assert engine.resyncs == 1


async def test_reconnect_resyncs_the_tracker(sim: Any, engine: Engine) -> None:
    await sim.drop_connections()
    await engine.until(lambda: engine.resyncs == 2)
    await engine.client.wait_ready(5)
    assert (await engine.client.send("Ping")).response.ok


async def test_wrong_secret_against_the_simulator(sim: Any) -> None:
    wrong = Engine(sim.port, secret="nope")
    with pytest.raises(AmiLoginError, match="switchboard"):
        await wrong.client.connect()
    await wrong.client.close()
