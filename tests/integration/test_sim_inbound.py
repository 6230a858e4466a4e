"""The inbound contract: holding context, agent legs, bridging, and the traffic generator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from pbx.codec import Event
from pbx.sim import AgentPhone, SimConfig, SimulatedPbx, TierPool, TrafficConfig
from pbx.sim.rawclient import RawAmiClient
from tests.support.sim_calls import ring_agent

pytestmark = pytest.mark.integration


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedPbx]:
    config = SimConfig(
        time_scale=20,
        agents={
            "1001": AgentPhone(answer_after_s=1.0),
            "1002": AgentPhone(answer_after_s=None),
            "1003": AgentPhone(answer_after_s=0.5, talk_s=2.0),
            "1004": AgentPhone(answer_after_s=0.5, hangup_unbridged_after_s=3.5),
        },
    )
    pbx = SimulatedPbx(config, seed=11)
    await pbx.start()
    yield pbx
    await pbx.stop()


@pytest.fixture
async def ami(sim: SimulatedPbx) -> AsyncIterator[RawAmiClient]:
    client = await RawAmiClient.connect("127.0.0.1", sim.port)
    await client.login("switchboard", "switchboard-secret")
    yield client
    await client.close()


def _user_event(name: str) -> Callable[[Event], bool]:
    return lambda e: e.get("UserEvent") == name


async def test_inbound_call_is_announced_and_held(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    name = await sim.inbound_call(
        caller="+36301234567", dialled="+3612345678", ivr_choice="2", patience_s=600
    )
    assert name.startswith("PJSIP/trunk-")
    announced = await ami.wait_event("UserEvent", _user_event("SwitchboardInbound"))
    channel = sim.channels[name]
    assert announced.get("Channel") == name
    assert announced.get("CallID") == channel.uniqueid
    assert (announced.get("CallerIDNum"), announced.get("Dialled"), announced.get("IvrChoice")) == (
        "+36301234567",
        "+3612345678",
        "2",
    )
    assert announced.chan_variables()["SWITCHBOARD_CALL_ID"] == channel.uniqueid
    moh = await ami.wait_event("MusicOnHoldStart", lambda e: e.get("Channel") == name)
    assert moh.get("Class") == "default"
    newchannel = next(e for e in ami.events if e.name == "Newchannel" and e.get("Channel") == name)
    assert (newchannel.get("ChannelStateDesc"), newchannel.get("CallerIDNum")) == ("Ring", "+36301234567")
    assert newchannel.get("Context") == "switchboard-inbound"
    names = [e.name for e in ami.events if e.get("Channel") == name and e.name not in ("Newexten", "VarSet")]
    assert names == ["Newchannel", "Newstate", "UserEvent", "MusicOnHoldStart"]


async def test_impatient_caller_hangs_up(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    name = await sim.inbound_call(patience_s=1.0)
    hangup = await ami.wait_event("Hangup", lambda e: e.get("Channel") == name)
    assert (hangup.get("Cause"), hangup.get("Cause-txt")) == ("16", "Normal Clearing")
    tail = [e.name for e in ami.events if e.get("Channel") == name][-3:]
    assert tail == ["HangupRequest", "MusicOnHoldStop", "Hangup"]
    record = next(r for r in sim.call_log if r.channel == name)
    assert record.bridged is None and record.ended is not None


async def test_agent_answers_is_bridged_and_the_call_ends(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    caller = await sim.inbound_call(patience_s=600, talk_s=2.0)
    announced = await ami.wait_event("UserEvent", _user_event("SwitchboardInbound"))
    call_id = announced.get("CallID") or ""
    origin = await ring_agent(ami, "PJSIP/1001", call_id, "agent-7")
    assert origin.get("Reason") == "4" and origin.get("Context") == "switchboard-agent"
    answered = await ami.wait_event("UserEvent", _user_event("SwitchboardAgentAnswered"))
    agent = answered.get("Channel") or ""
    assert agent.startswith("PJSIP/1001-") and agent == origin.get("Channel")
    assert (answered.get("CallID"), answered.get("AgentID")) == (call_id, "agent-7")

    start = len(ami.events)
    assert (await ami.request("Bridge", [("Channel1", caller), ("Channel2", agent)])).ok
    await ami.wait_event("BridgeDestroy", timeout=10, since=start)
    await sim.wait_for_channel_count(0)
    await ami.wait_event("Hangup", lambda e: e.get("Channel") == agent, since=start)
    sequence = [
        (e.name, e.get("Channel")) for e in ami.events[start:] if e.name not in ("Newexten", "VarSet")
    ]
    assert sequence[:4] == [  # as recorded (tests/fixtures/ami/transfers/blind-transfer.txt's setup)
        ("BridgeCreate", None),
        ("MusicOnHoldStop", caller),
        ("BridgeEnter", caller),
        ("BridgeEnter", agent),
    ]
    assert sequence[4:] == [
        ("HangupRequest", caller),
        ("BridgeLeave", caller),
        ("BridgeLeave", agent),
        ("BridgeDestroy", None),
        ("Hangup", caller),
        ("SoftHangupRequest", agent),
        ("Hangup", agent),
    ]
    record = next(r for r in sim.call_log if r.channel == caller)
    assert record.bridged is not None


async def test_an_agent_leg_not_bridged_in_time_is_hung_up_and_its_bridge_refused(
    sim: SimulatedPbx, ami: RawAmiClient
) -> None:
    """The agent hears nobody and hangs up the answered leg (the phone's BYE); a Bridge after that
    is refused as Asterisk 22.10.1 refused it ("Channel2 does not exist: <leg>"), the caller held."""
    caller = await sim.inbound_call(patience_s=600)
    announced = await ami.wait_event("UserEvent", _user_event("SwitchboardInbound"))
    origin = await ring_agent(ami, "PJSIP/1004", announced.get("CallID") or "", "a4")
    answered = await ami.wait_event("UserEvent", _user_event("SwitchboardAgentAnswered"))
    agent = answered.get("Channel") or ""
    assert agent == origin.get("Channel") and agent.startswith("PJSIP/1004-")
    start = len(ami.events)
    gone = await ami.wait_event("Hangup", lambda e: e.get("Channel") == agent, since=start)
    ended = [(e.name, e.get("Channel")) for e in ami.events[start:] if e.name not in ("Newexten", "VarSet")]
    assert ended == [("HangupRequest", agent), ("Hangup", agent)] and gone.get("Cause") == "16"
    record = next(r for r in sim.call_log if r.role == "agent")
    assert record.ended_by == "patience" and record.answered is not None and record.ended is not None
    assert record.ended - record.answered == pytest.approx(3.5, abs=0.5)

    response = await ami.request("Bridge", [("Channel1", caller), ("Channel2", agent)])
    assert (response.status, response.message) == ("Error", f"Channel2 does not exist: {agent}")
    assert caller in sim.channels  # the caller still holds


async def test_agent_who_never_answers_times_out(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    caller = await sim.inbound_call(patience_s=600)
    origin = await ring_agent(ami, "PJSIP/1002", "call-x", "agent-2", timeout_ms=3000)
    assert (origin.get("Response"), origin.get("Reason"), origin.get("Channel")) == (
        "Failure",
        "3",
        "PJSIP/1002",
    )
    assert caller in sim.channels  # the caller never noticed


async def test_local_agent_hangs_up_first_and_the_caller_is_released(
    sim: SimulatedPbx, ami: RawAmiClient
) -> None:
    caller = await sim.inbound_call(patience_s=600, talk_s=600)
    origin = await ring_agent(ami, "Local/1003@agents", "call-y", "agent-3")
    agent = origin.get("Channel") or ""
    assert agent.startswith("Local/1003@agents-") and agent.endswith(";1")
    await ami.wait_event("UserEvent", lambda e: e.get("UserEvent") == "SwitchboardAgentAnswered")
    assert (await ami.request("Bridge", [("Channel1", caller), ("Channel2", agent)])).ok
    hangup = await ami.wait_event("Hangup", lambda e: e.get("Channel") == caller, timeout=10)
    assert hangup.get("Cause") == "16"
    await sim.wait_for_channel_count(0)


async def test_an_agent_in_a_call_is_busy(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    first = await ring_agent(ami, "PJSIP/1001", "call-1", "a")
    assert first.get("Reason") == "4"
    second = await ring_agent(ami, "PJSIP/1001", "call-2", "a")
    assert second.get("Reason") == "5"


async def test_redirect_to_abandon_plays_and_hangs_up(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    caller = await sim.inbound_call(patience_s=600)
    await ami.wait_event("MusicOnHoldStart", lambda e: e.get("Channel") == caller)
    fields = [("Channel", caller), ("Context", "switchboard-abandon"), ("Exten", "s"), ("Priority", "1")]
    assert (await ami.request("Redirect", fields)).ok
    hangup = await ami.wait_event("Hangup", lambda e: e.get("Channel") == caller, timeout=10)
    assert hangup.get("Context") == "switchboard-abandon" and hangup.get("Cause") == "16"


async def test_traffic_generator_places_tiered_callers(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    traffic = TrafficConfig(
        arrivals_per_minute=600,
        tiers=(
            TierPool(tier="key", numbers=("+3620000001",)),
            TierPool(tier="standard", prefix="+3670", count=50),
        ),
        dialled={"+3612345678": 1.0},
        ivr_choices={"1": 1.0},
        max_calls=4,
    )
    generator = sim.start_traffic(traffic)
    announced = _user_event("SwitchboardInbound")
    while len(seen := [e for e in ami.events if announced(e)]) < 4:
        await ami.wait_event("UserEvent", announced, timeout=10, since=len(ami.events))
    assert generator.placed == 4 and not generator.running
    assert {e.get("IvrChoice") for e in seen} == {"1"}
    tiers = {r.tier for r in sim.call_log if r.role == "caller"}
    assert tiers <= {"key", "standard"} and tiers
    sim.stop_traffic()
