"""The simulator's other event orders (SimConfig.order, pbx/sim/ordering.py): each is one a real
Asterisk 22 produces, the same events are sent, and a PBX without reordering is unchanged."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from pbx.sim.channels import Channel
from pbx.sim.clock import ManualClock
from pbx.sim.config import AgentPhone, CustomerScript, EventOrder, SimConfig
from pbx.sim.core import PbxCore
from pbx.sim.endpoints import parse_dial_string
from pbx.sim.events import Headers
from pbx.sim.originate import OriginateRequest, Originator

NUMBER = "+3611"


class Rig:
    def __init__(self, order: EventOrder, *, seed: int = 2, ring_s: float = 2.0) -> None:
        self.clock = ManualClock()
        self.sent: list[Headers] = []
        self.config = SimConfig(
            customer_overrides={NUMBER: CustomerScript(outcome="answer", ring_s=ring_s, patience_s=5.0)},
            agents={"1001": AgentPhone(answer_after_s=0.5)},
            amd_s=(1.0, 1.0),
            order=order,
        )
        self.core = PbxCore(self.config, self.clock, random.Random(seed), self.sent.append)
        self.originator = Originator(self.core)

    def originate(self, dial: str, action_id: str, **fields: object) -> None:
        target = parse_dial_string(dial, self.config)
        self.originator.start(OriginateRequest(target=target, action_id=action_id, **fields))  # type: ignore[arg-type]

    def customer_call(self, dial: str = f"PJSIP/{NUMBER}@trunk") -> None:
        variables = (("SWITCHBOARD_CALL_ID", "c1"),)
        self.originate(dial, "a-1", context="switchboard-outbound", exten="s", variables=variables)

    def names(self) -> list[str]:
        return [dict(h)["Event"] for h in self.sent]

    def index(self, name: str, **match: str) -> int:
        for at, headers in enumerate(self.sent):
            fields = dict(headers)
            if fields["Event"] == name and all(fields.get(k) == v for k, v in match.items()):
                return at
        raise AssertionError(f"no {name} {match} in {self.names()}")

    def channel(self, prefix: str) -> Channel:
        return next(c for c in self.core.channels if c.name.startswith(prefix))


def shape(sent: list[Headers]) -> Counter[tuple[str, str]]:
    """Which events were sent, about which channel (Timestamp and order left out)."""
    return Counter((dict(h)["Event"], dict(h).get("Uniqueid", "")) for h in sent)


@pytest.mark.parametrize("dial", [f"PJSIP/{NUMBER}@trunk", f"Local/{NUMBER}@customers"])
def test_the_originate_response_can_overtake_the_channels_newchannel(dial: str) -> None:
    usual, early = Rig(EventOrder()), Rig(EventOrder(originate_response_first=1.0))
    for rig in (usual, early):
        rig.customer_call(dial)
        rig.clock.advance(10.0)
    assert usual.index("OriginateResponse") > usual.index("Newchannel")
    assert early.names()[0] == "OriginateResponse", "before every event of its channel(s)"
    assert early.index("OriginateResponse", Reason="4") == 0
    assert shape(early.sent) == shape(usual.sent), "the same events, in another order"
    uniqueid = dict(early.sent[0])["Uniqueid"]
    assert dict(early.sent[early.index("Newchannel")])["Uniqueid"] == uniqueid


def test_a_failed_originate_response_can_overtake_too() -> None:
    rig = Rig(EventOrder(originate_response_first=1.0))
    rig.config = SimConfig(customer_overrides={NUMBER: "busy"}, order=rig.config.order)
    rig.core = PbxCore(rig.config, rig.clock, random.Random(2), rig.sent.append)
    rig.originator = Originator(rig.core)
    rig.customer_call()
    rig.clock.advance(10.0)
    assert rig.names()[0] == "OriginateResponse"
    assert rig.names()[-1] == "Hangup"
    assert len(rig.core.channels) == 0


def bridged_pair(rig: Rig) -> tuple[Channel, Channel]:
    rig.customer_call()
    rig.clock.advance(3.5)  # answered at 2 s, AMD 1 s, on hold
    rig.originate("PJSIP/1001", "a-2", application="Wait", data="60")
    rig.clock.advance(1.0)
    customer, agent = rig.channel("PJSIP/trunk-"), rig.channel("PJSIP/1001-")
    rig.core.bridges.bridge(customer, agent)
    return customer, agent


def test_a_hangup_can_come_before_the_bridge_leave() -> None:
    usual, early = Rig(EventOrder()), Rig(EventOrder(hangup_before_bridge_leave=1.0))
    for rig in (usual, early):
        customer, _agent = bridged_pair(rig)
        rig.core.hangup(customer, 16, "remote")
        rig.clock.advance(1.0)
    for rig, hangup_first in ((usual, False), (early, True)):
        customer = dict(rig.sent[rig.index("UserEvent")])["Uniqueid"]
        hangup = rig.index("Hangup", Uniqueid=customer)
        assert (hangup < rig.index("BridgeLeave", Uniqueid=customer)) is hangup_first
        assert (hangup < rig.index("BridgeDestroy")) is hangup_first
    assert shape(early.sent) == shape(usual.sent)


def test_probabilities_are_drawn_per_call_and_seeded() -> None:
    def firsts(seed: int) -> list[bool]:
        rig = Rig(EventOrder(originate_response_first=0.5), seed=seed)
        for n in range(20):
            rig.originate(f"PJSIP/{NUMBER}@trunk", f"a-{n}", application="Wait", data="1")
            rig.clock.advance(5.0)
        found, seen = [], set()
        for headers in rig.sent:
            fields = dict(headers)
            uid = fields.get("Uniqueid", "")
            if uid and uid not in seen and fields["Event"] in ("Newchannel", "OriginateResponse"):
                seen.add(uid)
                found.append(fields["Event"] == "OriginateResponse")
        return found

    assert firsts(7) == firsts(7)
    assert 0 < sum(firsts(7)) < 20, "both orders happen"


def test_without_reordering_nothing_is_drawn() -> None:
    plain, zero = Rig(EventOrder()), Rig(EventOrder(originate_response_first=0.0))
    for rig in (plain, zero):
        bridged_pair(rig)
    assert plain.core.rng.random() == zero.core.rng.random()
    assert [dict(h)["Event"] for h in plain.sent] == [dict(h)["Event"] for h in zero.sent]


def test_one_number_can_have_its_own_order() -> None:
    early = CustomerScript(outcome="answer", ring_s=1.0, order=EventOrder(originate_response_first=1.0))
    config = SimConfig(
        customer_overrides={NUMBER: early, "+3622": CustomerScript(outcome="answer", ring_s=1.0)}
    )
    clock, sent = ManualClock(), []
    core = PbxCore(config, clock, random.Random(2), sent.append)
    for n, number in enumerate((NUMBER, "+3622")):
        target = parse_dial_string(f"PJSIP/{number}@trunk", config)
        Originator(core).start(
            OriginateRequest(target=target, action_id=f"a-{n}", application="Wait", data="1")
        )
    clock.advance(5.0)
    firsts = {}
    for headers in sent:
        fields = dict(headers)
        if fields["Event"] in ("Newchannel", "OriginateResponse"):
            firsts.setdefault(fields["Uniqueid"], fields["Event"])
    assert sorted(firsts.values()) == ["Newchannel", "OriginateResponse"], "only the scripted number's"
    assert config.order_for("+3699") == config.order == EventOrder()
