"""The simulator's transfers event for event against Asterisk 22.10.1: the same flows as the
recordings in tests/fixtures/ami/transfers/ (AMI BlindTransfer of an agent leg into
[switchboard-transfer]; AMI Atxfer by the agent leg to 1002, then the transferer hangs up,
CancelAtxfer, or the target hangs up) give the same bridge, music, hold, transfer and hangup
events of the caller, the agent's leg and the target's leg, in the same order."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pbx.sim import AgentPhone, SimConfig, SimulatedPbx
from pbx.sim.rawclient import RawAmiClient
from tests.support.recordings import TRANSFERS, recorded_events, transfer_sequence
from tests.support.sim_calls import talking

pytestmark = pytest.mark.integration

# The bench's channels: a caller Local/<number>@customers, agents Local/<id>@agents (;1 halves).
RECORDED = {
    "Local/36301234567@customers": "caller",
    "Local/1001@agents": "agent",
    "Local/1002@agents": "target",
}


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedPbx]:
    phones = {"1001": AgentPhone(answer_after_s=0.2), "1002": AgentPhone(answer_after_s=0.2)}
    pbx = SimulatedPbx(SimConfig(time_scale=20, agents=phones), seed=7)
    await pbx.start()
    yield pbx
    await pbx.stop()


@pytest.fixture
async def ami(sim: SimulatedPbx) -> AsyncIterator[RawAmiClient]:
    client = await RawAmiClient.connect("127.0.0.1", sim.port)
    await client.login("switchboard", "switchboard-secret")
    yield client
    await client.close()


def recorded(name: str) -> list[tuple[str, str]]:
    return transfer_sequence(recorded_events(TRANSFERS / f"{name}.txt"), RECORDED)


def simulated(ami: RawAmiClient, start: int, roles: dict[str, str]) -> list[tuple[str, str]]:
    return transfer_sequence([dict(e.fields) for e in ami.events[start:]], roles)


async def test_blind_transfer_events_as_recorded(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    caller, agent = await talking(sim, ami)
    start = len(ami.events)
    fields = [("Channel", agent), ("Exten", "queue-billing"), ("Context", "switchboard-transfer")]
    assert (await ami.request("BlindTransfer", fields)).message == "Transfer succeeded"
    await ami.wait_event("MusicOnHoldStart", lambda e: e.get("Channel") == caller, since=start)
    await ami.wait_event("Hangup", lambda e: e.get("Channel") == agent, since=start)
    assert simulated(ami, start, {caller: "caller", agent: "agent"}) == recorded("blind-transfer")


async def consult(sim: SimulatedPbx, ami: RawAmiClient) -> tuple[str, str, str, int]:
    caller, agent = await talking(sim, ami)
    start = len(ami.events)
    fields = [("Channel", agent), ("Exten", "1002"), ("Context", "agents")]
    assert (await ami.request("Atxfer", fields)).message == "Atxfer successfully queued"
    entered = await ami.wait_event("BridgeEnter", lambda e: e.get("Channel") == agent, since=start)
    target = next(
        e.get("Channel") or ""
        for e in ami.events[start:]
        if e.name == "BridgeEnter" and e.get("BridgeUniqueid") == entered.get("BridgeUniqueid")
        and e.get("Channel") != agent
    )  # fmt: skip
    return caller, agent, target, start


@pytest.mark.parametrize(
    ("recording", "action", "done"),
    [
        ("atxfer-complete", "hangup-transferer", "agent"),
        ("atxfer-cancel", "cancel", "target"),
        ("atxfer-target-hangup", "hangup-target", "target"),
    ],
)
async def test_attended_transfer_events_as_recorded(
    sim: SimulatedPbx, ami: RawAmiClient, recording: str, action: str, done: str
) -> None:
    caller, agent, target, start = await consult(sim, ami)
    if action == "cancel":
        assert (
            await ami.request("CancelAtxfer", [("Channel", agent)])
        ).message == "CancelAtxfer successfully queued"
    else:
        assert (
            await ami.request("Hangup", [("Channel", agent if action == "hangup-transferer" else target)])
        ).ok
    gone = {"agent": agent, "target": target}[done]
    await ami.wait_event("Hangup", lambda e: e.get("Channel") == gone, since=start)
    roles = {caller: "caller", agent: "agent", target: "target"}
    assert simulated(ami, start, roles) == recorded(recording)


async def test_atxfer_without_a_feature_code_is_refused_as_asterisk_does() -> None:
    pbx = SimulatedPbx(SimConfig(time_scale=20, atxfer_feature=""), seed=7)
    await pbx.start()
    try:
        client = await RawAmiClient.connect("127.0.0.1", pbx.port)
        await client.login("switchboard", "switchboard-secret")
        caller, agent = await talking(pbx, client)
        reply = await client.request("Atxfer", [("Channel", agent), ("Exten", "1002")])
        assert (reply.ok, reply.message) == (False, "No attended transfer feature code found")
        assert pbx.channels[caller].bridge is pbx.channels[agent].bridge, "nothing moved"
        await client.close()
    finally:
        await pbx.stop()


async def test_atxfer_by_a_leg_without_the_transfer_feature_is_queued_and_does_nothing(
    sim: SimulatedPbx, ami: RawAmiClient
) -> None:
    """Asterisk 22.10.1 acks the Atxfer of a bridged leg without CHANNEL(dtmf_features)=T (here the
    caller's, which the shipped dialplan does not give it) and nothing happens: no hold, no consult."""
    caller, agent = await talking(sim, ami)
    start = len(ami.events)
    fields = [("Channel", caller), ("Exten", "1002"), ("Context", "agents")]
    assert (await ami.request("Atxfer", fields)).message == "Atxfer successfully queued"
    await ami.request("Ping", [])
    assert not [e for e in ami.events[start:] if e.name in ("Hold", "MusicOnHoldStart", "Newchannel")]
    assert sim.channels[caller].bridge is sim.channels[agent].bridge
