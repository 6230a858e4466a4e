"""The fault proxy between an AMI client and the simulated PBX: each fault does what it says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pbx.sim import SimConfig, SimTimeoutError, SimulatedPbx
from pbx.sim.faultproxy import FaultProxy
from pbx.sim.rawclient import RawAmiClient

pytestmark = pytest.mark.integration

USER, SECRET = "switchboard", "switchboard-secret"
ORIGINATE = [
    ("Async", "true"), ("Channel", "PJSIP/+36301234567@trunk"), ("Context", "switchboard-outbound"),
    ("Exten", "s"), ("Priority", "1"), ("Variable", "SWITCHBOARD_CALL_ID=call-1"),
]  # fmt: skip


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedPbx]:
    pbx = SimulatedPbx(SimConfig(time_scale=20, customer_overrides={"+36301234567": "answer"}), seed=5)
    await pbx.start()
    yield pbx
    await pbx.stop()


@pytest.fixture
async def proxy(sim: SimulatedPbx) -> AsyncIterator[FaultProxy]:
    fault = FaultProxy("127.0.0.1", sim.port, seed=3)
    await fault.start()
    yield fault
    await fault.stop()


async def client(proxy: FaultProxy) -> RawAmiClient:
    ami = await RawAmiClient.connect("127.0.0.1", proxy.port)
    assert (await ami.login(USER, SECRET)).ok
    return ami


async def test_passes_traffic_unchanged(sim: SimulatedPbx, proxy: FaultProxy) -> None:
    ami = await client(proxy)
    assert (await ami.request("Ping")).ok
    assert not ami.malformed
    assert proxy.stats.actions["ping"] == 1
    await ami.close()


async def test_cut_after_originate_reaches_the_pbx_and_loses_the_answer(
    sim: SimulatedPbx, proxy: FaultProxy
) -> None:
    ami = await client(proxy)
    proxy.cut_after("Originate")
    action_id = ami.send("Originate", ORIGINATE)
    assert await ami.wait_closed()
    assert sim.originated_numbers() == ["+36301234567"]  # the PBX got it: the dial is in doubt
    assert not any(getattr(m, "action_id", None) == action_id for m in ami.messages)
    assert proxy.stats.cuts["originate"] == 1
    await ami.close()
    again = await client(proxy)  # only that one was cut
    assert (await again.request("Originate", ORIGINATE)).ok
    await again.close()


async def test_stall_holds_both_directions_then_resumes(sim: SimulatedPbx, proxy: FaultProxy) -> None:
    ami = await client(proxy)
    stall = asyncio.create_task(proxy.stall(0.6))
    await asyncio.sleep(0)  # let the stall start
    with pytest.raises(SimTimeoutError):
        await ami.request("Ping", timeout=0.3)
    await stall
    assert (await ami.request("Ping")).ok  # the socket stayed open; everything flows again
    assert proxy.stats.stalls == 1
    await ami.close()


async def test_injected_garbage_arrives_between_whole_messages(sim: SimulatedPbx, proxy: FaultProxy) -> None:
    ami = await client(proxy)
    proxy.inject(b"\x00\xffnot a header line\r\n\r\n")
    assert (await ami.request("Ping")).ok
    assert ami.malformed
    assert proxy.stats.injected == 1
    await ami.close()


async def test_reorder_swaps_events_of_two_channels_of_one_call(sim: SimulatedPbx, proxy: FaultProxy) -> None:
    ami = await client(proxy)
    proxy.reorder(1.0)
    assert (await ami.request("Originate", ORIGINATE)).ok
    await ami.wait_event("UserEvent", lambda e: e.get("UserEvent") == "SwitchboardOutboundAnswered")
    local = [(k, v.replace("PJSIP/+36301234567@trunk", "Local/+36301234567@customers")) for k, v in ORIGINATE]
    assert (await ami.request("Originate", local)).ok
    await ami.wait_event("OriginateResponse", lambda e: e.get("Channel", "").startswith("Local/+3630"))
    assert proxy.stats.swaps > 0  # the two Local halves' events were swapped
    await ami.close()


async def test_drop_cuts_every_connection_and_keeps_listening(sim: SimulatedPbx, proxy: FaultProxy) -> None:
    ami = await client(proxy)
    await proxy.drop()
    assert await ami.wait_closed()
    await ami.close()
    again = await client(proxy)
    assert (await again.request("Ping")).ok
    assert proxy.stats.connections == 2
    await again.close()
