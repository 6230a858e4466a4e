"""Calls on the simulated PBX driven over raw AMI, as the engine would: an agent leg rung into
[switchboard-agent], a caller bridged to an agent. For the simulator's own tests (tests/*/test_sim_*)."""

from __future__ import annotations

from pbx.codec import Event
from pbx.sim import SimulatedPbx
from pbx.sim.rawclient import RawAmiClient


async def ring_agent(
    ami: RawAmiClient, dial: str, call_id: str, agent: str, timeout_ms: int = 15000
) -> Event:
    """Originate an agent leg into [switchboard-agent]; returns its OriginateResponse."""
    response = await ami.request(
        "Originate",
        [
            ("Async", "true"),
            ("Channel", dial),
            ("Context", "switchboard-agent"),
            ("Exten", "s"),
            ("Priority", "1"),
            ("Timeout", str(timeout_ms)),
            ("Variable", f"SWITCHBOARD_CALL_ID={call_id}"),
            ("Variable", f"SWITCHBOARD_AGENT_ID={agent}"),
        ],
    )
    return await ami.wait_event("OriginateResponse", lambda e: e.get("ActionID") == response.action_id)


async def talking(sim: SimulatedPbx, ami: RawAmiClient) -> tuple[str, str]:
    """A caller bridged to agent 1001's leg: (caller, agent leg)."""
    caller = await sim.inbound_call(patience_s=600)
    announced = await ami.wait_event("UserEvent", lambda e: e.get("UserEvent") == "SwitchboardInbound")
    origin = await ring_agent(ami, "PJSIP/1001", announced.get("CallID") or "", "a1")
    agent = origin.get("Channel") or ""
    await ami.wait_event("UserEvent", lambda e: e.get("UserEvent") == "SwitchboardAgentAnswered")
    assert (await ami.request("Bridge", [("Channel1", caller), ("Channel2", agent)])).ok
    await ami.wait_event("BridgeEnter", lambda e: e.get("Channel") == agent)
    return caller, agent
