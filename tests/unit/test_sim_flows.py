"""Call flows of the simulator on a manual clock: no sockets, no sleeping, exact sequences."""

from __future__ import annotations

import random

import pytest

from pbx.sim.channels import Channel
from pbx.sim.clock import ManualClock
from pbx.sim.config import AgentPhone, CustomerScript, SimConfig
from pbx.sim.core import PbxCore
from pbx.sim.endpoints import parse_dial_string
from pbx.sim.events import Headers
from pbx.sim.inbound import place_inbound
from pbx.sim.originate import OriginateRequest, Originator

NOISE = {"VarSet", "Newexten"}


class Rig:
    """A core, an originator and the events they emit, on a clock moved by hand."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.clock = ManualClock()
        self.sent: list[Headers] = []
        self.config = config or SimConfig()
        self.core = PbxCore(self.config, self.clock, random.Random(2), self.sent.append)
        self.originator = Originator(self.core)

    def originate(self, dial: str, **fields: object) -> OriginateRequest:
        request = OriginateRequest(target=parse_dial_string(dial, self.config), action_id="a-1", **fields)  # type: ignore[arg-type]
        self.originator.start(request)
        return request

    def names(self, since: int = 0) -> list[str]:
        return [dict(h)["Event"] for h in self.sent[since:] if dict(h)["Event"] not in NOISE]

    def find(self, name: str, **match: str) -> dict[str, str]:
        for headers in self.sent:
            fields = dict(headers)
            if fields["Event"] == name and all(fields.get(k) == v for k, v in match.items()):
                return fields
        raise AssertionError(f"no {name} {match} in {self.names()}")


def outbound(outcome: str, **script: float) -> SimConfig:
    return SimConfig(customer_overrides={"+3611": CustomerScript(outcome=outcome, **script)})


@pytest.mark.parametrize(
    ("outcome", "reason", "tail", "cause"),
    [
        ("busy", "5", ["DialEnd", "OriginateResponse", "Hangup"], "17"),
        ("congestion", "8", ["DialEnd", "OriginateResponse", "Hangup"], "34"),
        ("reject", "0", ["HangupRequest", "DialEnd", "OriginateResponse", "Hangup"], "21"),
        ("noanswer", "3", ["Newstate", "DialState", "OriginateResponse", "Hangup"], "19"),
    ],
)
def test_pjsip_failures(outcome: str, reason: str, tail: list[str], cause: str) -> None:
    rig = Rig(outbound(outcome, ring_s=1.0))
    rig.originate("PJSIP/+3611@trunk", application="Wait", data="5", timeout_s=30.0)
    rig.clock.advance(31)
    assert rig.names() == ["Newchannel", "DialBegin", *tail]
    response = rig.find("OriginateResponse")
    assert (response["Reason"], response["Channel"], response["Uniqueid"]) == (
        reason,
        "PJSIP/+3611@trunk",
        "<unknown>",
    )
    assert rig.find("Hangup")["Cause"] == cause
    assert len(rig.core.channels) == 0


def test_pjsip_answer_runs_the_outbound_context_with_amd() -> None:
    rig = Rig(outbound("machine", ring_s=2.0, patience_s=10.0))
    rig.originate(
        "PJSIP/+3611@trunk",
        context="switchboard-outbound",
        exten="s",
        variables=(("SWITCHBOARD_CALL_ID", "c1"),),
    )
    rig.clock.advance(1.9)
    assert rig.names() == ["Newchannel", "DialBegin", "Newstate", "DialState"]
    rig.clock.advance(0.2)
    assert rig.find("OriginateResponse")["Reason"] == "4"
    rig.clock.advance(4.0)
    announced = rig.find("UserEvent", UserEvent="SwitchboardOutboundAnswered")
    assert (announced["CallID"], announced["AMDStatus"]) == ("c1", "MACHINE")
    assert rig.find("VarSet", Variable="AMDSTATUS")["Value"] == "MACHINE"
    start = len(rig.sent)
    rig.clock.advance(10.0)  # the machine hangs up on the hold music
    assert rig.names(start) == ["HangupRequest", "MusicOnHoldStop", "Hangup"]
    assert rig.core.call_log[0].answered is not None


def test_unreachable_endpoint_only_gets_an_originate_response() -> None:
    rig = Rig()
    rig.originate("PJSIP/+3611@nosuchtrunk", application="Wait", data="1")
    rig.originate("IAX2/peer/123", application="Wait", data="1")
    rig.clock.advance(0)
    assert rig.names() == ["OriginateResponse", "OriginateResponse"]
    assert rig.find("OriginateResponse")["Reason"] == "0"


def test_hanging_up_a_ringing_channel_fails_the_originate() -> None:
    rig = Rig(outbound("answer", ring_s=5.0))
    rig.originate("PJSIP/+3611@trunk", application="Wait", data="1")
    channel = next(iter(rig.core.channels))
    rig.core.hangup(channel, 16, "soft")
    rig.clock.advance(10)
    assert rig.find("OriginateResponse")["Reason"] == "1"
    assert rig.names()[-2:] == ["Hangup", "OriginateResponse"]


def test_assigned_channel_ids_and_sync_result() -> None:
    rig = Rig(outbound("answer", ring_s=0.0))
    results: list[tuple[bool, int]] = []
    request = OriginateRequest(
        target=parse_dial_string("Local/+3611@customers", rig.config),
        application="Wait",
        data="1",
        channel_id="mine-1",
        is_async=False,
    )
    rig.originator.start(request, lambda ok, reason: results.append((ok, reason)))
    assert results == [(True, 4)]
    assert [c.uniqueid for c in rig.core.channels] == ["mine-1", "mine-1;2"]
    assert "OriginateResponse" not in rig.names()


def test_sim_result_variable_forces_the_outcome() -> None:
    rig = Rig()
    rig.originate("Local/77@customers", application="Wait", data="1", variables=(("SIM_RESULT", "busy"),))
    rig.clock.advance(5)
    assert rig.find("OriginateResponse")["Reason"] == "5"


def test_inbound_caller_bridged_with_an_agent_talks_then_hangs_up() -> None:
    config = SimConfig(agents={"1001": AgentPhone(answer_after_s=1.0)})
    rig = Rig(config)
    caller = place_inbound(rig.core, "+3620", "+3612345678", tier_hint="key", patience_s=100, talk_s=30)
    rig.originate(
        "PJSIP/1001",
        context="switchboard-agent",
        exten="s",
        variables=(("SWITCHBOARD_CALL_ID", caller.uniqueid), ("SWITCHBOARD_AGENT_ID", "7")),
    )
    rig.clock.advance(1.0)
    answered = rig.find("UserEvent", UserEvent="SwitchboardAgentAnswered")
    agent = rig.core.channels.get(answered["Channel"])
    assert agent is not None and answered["CallID"] == caller.uniqueid
    rig.core.bridges.bridge(caller, agent)
    assert caller.linkedid == agent.linkedid == caller.uniqueid
    rig.clock.advance(29.9)
    assert len(rig.core.channels) == 2
    rig.clock.advance(0.2)
    assert len(rig.core.channels) == 0
    record = next(r for r in rig.core.call_log if r.role == "caller")
    assert (record.tier, record.dialled, record.bridged is not None) == ("key", "+3612345678", True)
    assert record.ended is not None and record.ended - (record.bridged or 0) == pytest.approx(30, abs=0.2)


def test_agent_leg_waits_thirty_seconds_for_a_bridge() -> None:
    rig = Rig(SimConfig(agents={"1001": AgentPhone(answer_after_s=0)}))
    rig.originate("PJSIP/1001", context="switchboard-agent", exten="s")
    rig.clock.advance(29.0)
    assert len(rig.core.channels) == 1
    rig.clock.advance(1.5)
    assert len(rig.core.channels) == 0
    assert rig.names()[-2:] == ["SoftHangupRequest", "Hangup"]


def _agent_answered(rig: Rig, dial: str) -> tuple[Channel, str]:
    """An inbound caller and `dial` (agent 1001) rung for it, answered at 1.0 s: (caller, agent leg)."""
    caller = place_inbound(rig.core, "+3620", "+3612345678", patience_s=100, talk_s=100)
    variables = (("SWITCHBOARD_CALL_ID", caller.uniqueid), ("SWITCHBOARD_AGENT_ID", "7"))
    rig.originate(dial, context="switchboard-agent", exten="s", variables=variables)
    rig.clock.advance(1.0)
    return caller, rig.find("UserEvent", UserEvent="SwitchboardAgentAnswered")["Channel"]


@pytest.mark.parametrize(
    ("dial", "ending"),
    [
        ("PJSIP/1001", ["HangupRequest", "Hangup"]),  # the phone's BYE
        # a Local leg's phone side ends: as recorded (tests/fixtures/ami/asterisk-22.10.1-full.txt)
        ("Local/1001@agents", ["SoftHangupRequest", "HangupRequest", "Hangup", "Hangup"]),
    ],
)
def test_an_answered_agent_leg_not_bridged_in_time_is_hung_up_by_the_agent(
    dial: str, ending: list[str]
) -> None:
    phone = AgentPhone(answer_after_s=1.0, hangup_unbridged_after_s=3.5)
    rig = Rig(SimConfig(agents={"1001": phone}))
    caller, leg = _agent_answered(rig, dial)
    mark = len(rig.sent)
    rig.clock.advance(3.4)
    assert rig.core.channels.get(leg) is not None and rig.names(mark) == []
    rig.clock.advance(0.2)
    assert rig.names(mark) == ending and rig.find("Hangup", Channel=leg)["Cause"] == "16"
    assert rig.core.channels.get(leg) is None and not caller.hungup  # the caller still holds
    record = next(r for r in rig.core.call_log if r.role == "agent")
    assert record.ended_by == "patience"


def test_a_bridged_agent_leg_is_not_hung_up_by_the_unbridged_limit() -> None:
    rig = Rig(SimConfig(agents={"1001": AgentPhone(answer_after_s=1.0, hangup_unbridged_after_s=3.5)}))
    caller, leg = _agent_answered(rig, "PJSIP/1001")
    rig.clock.advance(1.0)
    agent = rig.core.channels.get(leg)
    assert agent is not None
    rig.core.bridges.bridge(caller, agent)
    rig.clock.advance(60)
    assert not agent.hungup and not caller.hungup  # they talk on; the caller ends it at 100 s


def test_busy_agent_answers_busy_until_free() -> None:
    rig = Rig(SimConfig(agents={"1001": AgentPhone(answer_after_s=0)}))
    rig.originate("Local/1001@agents", context="switchboard-agent", exten="s")
    rig.originate("PJSIP/1001", context="switchboard-agent", exten="s")
    rig.clock.advance(1)
    reasons = [dict(h)["Reason"] for h in rig.sent if dict(h)["Event"] == "OriginateResponse"]
    assert reasons == ["4", "5"]
    assert rig.core.agent_in_call("1001")
    rig.clock.advance(40)
    assert not rig.core.agent_in_call("1001")


def test_unknown_application_and_missing_context_hang_up() -> None:
    rig = Rig(SimConfig(extra_dialplan={"odd": ("Frobnicate()",), "loop": ("Goto(loop,s,1)",)}))
    caller = place_inbound(rig.core, "+3620", "+3612345678", patience_s=100)
    rig.core.dialplan.goto(caller, "odd", "s", 1)
    assert caller.hungup
    other = place_inbound(rig.core, "+3621", "+3612345678", patience_s=100)
    rig.core.dialplan.goto(other, "nowhere", "s", 1)
    assert other.hungup
    third = place_inbound(rig.core, "+3622", "+3612345678", patience_s=100)
    rig.core.dialplan.goto(third, "loop", "s", 1)  # an endless Goto loop is cut, not hung
    assert third.hungup


def test_stopped_core_ignores_due_timers() -> None:
    rig = Rig(outbound("answer", ring_s=1.0))
    rig.originate("PJSIP/+3611@trunk", application="Wait", data="1")
    count = len(rig.sent)
    rig.core.shutdown()
    rig.clock.advance(10)
    assert len(rig.sent) == count
