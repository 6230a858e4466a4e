"""The simulator's transfers: BlindTransfer (the action and its event, in Asterisk 22's order),
Atxfer / CancelAtxfer (the consult, AttendedTransfer before the transferer's hangup), a dual
Redirect of a bridged pair (both halves go where they were sent), and the holding context
[switchboard-transfer]."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pbx.sim import AgentPhone, SimConfig, SimulatedPbx
from pbx.sim.rawclient import RawAmiClient
from tests.support.sim_calls import talking

pytestmark = pytest.mark.integration


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedPbx]:
    phones = {"1001": AgentPhone(answer_after_s=0.2), "1002": AgentPhone(answer_after_s=0.2)}
    pbx = SimulatedPbx(SimConfig(time_scale=20, agents=phones), seed=5)
    await pbx.start()
    yield pbx
    await pbx.stop()


@pytest.fixture
async def ami(sim: SimulatedPbx) -> AsyncIterator[RawAmiClient]:
    client = await RawAmiClient.connect("127.0.0.1", sim.port)
    await client.login("switchboard", "switchboard-secret")
    yield client
    await client.close()


async def test_blind_transfer_moves_the_caller_and_lets_the_transferer_go(
    sim: SimulatedPbx, ami: RawAmiClient
) -> None:
    caller, agent = await talking(sim, ami)
    start = len(ami.events)
    fields = [("Channel", agent), ("Exten", "queue-billing"), ("Context", "switchboard-transfer")]
    reply = await ami.request("BlindTransfer", fields)
    assert (reply.ok, reply.message) == (True, "Transfer succeeded")
    event = await ami.wait_event("BlindTransfer", since=start)
    assert (event.get("Result"), event.get("IsExternal")) == ("Success", "Yes")
    assert (event.get("TransfererChannel"), event.get("TransfereeChannel")) == (agent, caller)
    assert (event.get("Context"), event.get("Extension")) == ("switchboard-transfer", "queue-billing")
    assert event.get("BridgeNumChannels") == "2", "the bridge as it was when the transfer began"
    await ami.wait_event("MusicOnHoldStart", lambda e: e.get("Channel") == caller, since=start)
    await ami.wait_event("Hangup", lambda e: e.get("Channel") == agent, since=start)
    order = [
        (e.name, e.get("Channel") or e.get("TransfereeChannel"))
        for e in ami.events[start:]
        if e.name in ("BridgeLeave", "BlindTransfer", "BridgeDestroy", "MusicOnHoldStart", "Hangup")
    ]
    assert order[:3] == [  # as Asterisk 22.10.1 sends them: the event first, the caller leaves first
        ("BlindTransfer", caller),
        ("BridgeLeave", caller),
        ("BridgeLeave", agent),
    ]
    assert sorted(order[3:]) == [("BridgeDestroy", None), ("Hangup", agent), ("MusicOnHoldStart", caller)]
    held = sim.channels[caller]
    assert (held.context, held.exten, held.bridge) == ("switchboard-transfer", "queue-billing", None)


async def test_blind_transfer_refusals_name_what_is_wrong(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    assert (await ami.request("BlindTransfer", [("Exten", "x")])).message == "No channel specified"
    assert (await ami.request("BlindTransfer", [("Channel", "PJSIP/x")])).message == "No extension specified"
    missing = await ami.request("BlindTransfer", [("Channel", "PJSIP/nobody-1"), ("Exten", "x")])
    assert missing.message == "Channel specified does not exist"
    caller = await sim.inbound_call(patience_s=600)
    await ami.wait_event("MusicOnHoldStart", lambda e: e.get("Channel") == caller)
    start = len(ami.events)
    alone = await ami.request("BlindTransfer", [("Channel", caller), ("Exten", "hold")])
    assert (alone.ok, alone.message) == (False, "Transfer invalid")
    assert (await ami.wait_event("BlindTransfer", since=start)).get("Result") == "Invalid"
    assert sim.channels[caller].context == "switchboard-inbound", "nothing moved"


async def test_a_dual_redirect_sends_both_halves_of_a_bridge_where_they_were_sent(
    sim: SimulatedPbx, ami: RawAmiClient
) -> None:
    caller, agent = await talking(sim, ami)
    start = len(ami.events)
    fields = [
        ("Channel", caller), ("Context", "switchboard-transfer"), ("Exten", "hold"), ("Priority", "1"),
        ("ExtraChannel", agent), ("ExtraContext", "switchboard-transfer"), ("ExtraExten", "consult"),
        ("ExtraPriority", "1"),
    ]  # fmt: skip
    assert (await ami.request("Redirect", fields)).message == "Dual Redirect successful"
    for name in (caller, agent):
        await ami.wait_event("MusicOnHoldStart", lambda e, name=name: e.get("Channel") == name, since=start)
    assert not [e for e in ami.events[start:] if e.name == "Hangup"], "the agent's leg is not hung up"
    assert (sim.channels[caller].exten, sim.channels[agent].exten) == ("hold", "consult")


async def consulting(sim: SimulatedPbx, ami: RawAmiClient) -> tuple[str, str, str, int]:
    """Agent 1001 talks to a caller, then starts an attended transfer to phone 1002, who answers:
    (caller, agent leg, the target's leg, the index of the first event after the Atxfer)."""
    caller, agent = await talking(sim, ami)
    start = len(ami.events)
    fields = [("Channel", agent), ("Exten", "1002"), ("Context", "agents")]
    assert (await ami.request("Atxfer", fields)).message == "Atxfer successfully queued"
    await ami.wait_event("MusicOnHoldStart", lambda e: e.get("Channel") == caller, since=start)
    entered = await ami.wait_event(
        "BridgeEnter", lambda e: (e.get("Channel") or "").startswith("Local/1002@agents-"), since=start
    )
    target = entered.get("Channel") or ""
    assert sim.channels[agent].bridge is sim.channels[target].bridge, "the agent consults the target"
    assert sim.channels[caller].bridge is not sim.channels[agent].bridge
    return caller, agent, target, start


async def test_an_attended_transfer_completes_when_the_transferer_hangs_up(
    sim: SimulatedPbx, ami: RawAmiClient
) -> None:
    caller, agent, target, start = await consulting(sim, ami)
    assert (await ami.request("Hangup", [("Channel", agent)])).ok
    event = await ami.wait_event("AttendedTransfer", since=start)
    assert (event.get("Result"), event.get("DestType")) == ("Success", "Bridge")
    assert (event.get("OrigTransfererChannel"), event.get("TransfereeChannel")) == (agent, caller)
    assert event.get("TransferTargetChannel") == target
    assert event.get("OrigBridgeNumChannels") == "2" and event.get("SecondBridgeUniqueid")
    await ami.wait_event("Hangup", lambda e: e.get("Channel") == agent, since=start)
    names = [e.name for e in ami.events[start:]]
    assert names.index("AttendedTransfer") < next(
        i for i, e in enumerate(ami.events[start:]) if e.name == "Hangup" and e.get("Channel") == agent
    ), "Asterisk reports the transfer before the transferer's hangup"
    await ami.wait_event("BridgeEnter", lambda e: e.get("Channel") == target, since=start)
    assert sim.channels[caller].bridge is sim.channels[target].bridge, "the target joins the caller's bridge"
    assert sim.channels[caller].moh_class is None


async def test_cancel_atxfer_joins_the_transferer_back_and_raises_no_transfer_event(
    sim: SimulatedPbx, ami: RawAmiClient
) -> None:
    caller, agent, target, start = await consulting(sim, ami)
    reply = await ami.request("CancelAtxfer", [("Channel", agent)])
    assert (reply.ok, reply.message) == (True, "CancelAtxfer successfully queued")
    await ami.wait_event("Hangup", lambda e: e.get("Channel") == target, since=start)
    assert sim.channels[caller].bridge is sim.channels[agent].bridge, "back in the caller's bridge"
    assert not [e for e in ami.events[start:] if e.name == "AttendedTransfer"]
    refused = await ami.request("Atxfer", [("Channel", agent)])
    assert refused.message == "No extension specified"
