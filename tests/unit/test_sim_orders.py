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


def test_orders_never_shift_the_seeded_outcomes() -> None:
    plain, every = Rig(EventOrder()), Rig(EventOrder.every_order(1.0))
    for rig in (plain, every):
        bridged_pair(rig)
    assert plain.core.rng.random() == every.core.rng.random(), "the orders draw from their own RNG"
    assert shape(plain.sent) == shape(every.sent)


def answered_local(order: EventOrder) -> Rig:
    rig = Rig(order)
    rig.customer_call(f"Local/{NUMBER}@customers")
    rig.clock.advance(2.5)
    return rig


def test_the_originate_response_can_come_after_the_answer() -> None:
    usual = answered_local(EventOrder())
    late = answered_local(EventOrder(originate_response_after_answer=1.0))
    one = dict(usual.sent[usual.index("Newchannel")])["Uniqueid"]
    assert usual.index("OriginateResponse") < usual.index("Newstate", Uniqueid=one, ChannelStateDesc="Up")
    one = dict(late.sent[late.index("Newchannel")])["Uniqueid"]
    assert late.index("OriginateResponse", Reason="4") > late.index("DialEnd", DialStatus="ANSWER")
    assert late.index("OriginateResponse") > late.index("Newstate", Uniqueid=one, ChannelStateDesc="Up")
    assert shape(late.sent) == shape(usual.sent)


def test_the_far_half_can_go_up_first() -> None:
    usual, far = answered_local(EventOrder()), answered_local(EventOrder(far_half_up_first=1.0))
    for rig, two_first in ((usual, False), (far, True)):
        one, two = (dict(h)["Uniqueid"] for h in rig.sent if dict(h)["Event"] == "Newchannel")
        up_one = rig.index("Newstate", Uniqueid=one, ChannelStateDesc="Up")
        assert (rig.index("Newstate", Uniqueid=two, ChannelStateDesc="Up") < up_one) is two_first
    assert shape(far.sent) == shape(usual.sent)


def test_the_other_half_can_hang_up_first() -> None:
    usual, partner = answered_local(EventOrder()), answered_local(EventOrder(partner_hangup_first=1.0))
    for rig, partner_first in ((usual, False), (partner, True)):
        one = rig.channel(f"Local/{NUMBER}@customers-")
        two = one.partner
        assert two is not None
        rig.core.hangup(two, 16, "soft")  # the customer (;2) hangs up
        first = rig.index("Hangup", Uniqueid=one.uniqueid) < rig.index("Hangup", Uniqueid=two.uniqueid)
        assert first is partner_first
    assert shape(partner.sent) == shape(usual.sent)


def test_the_default_orders_are_the_measured_frequencies() -> None:
    """SimConfig() reorders by default, at the frequencies seen on Asterisk 22.10.1, and each is seen
    in a few hundred calls at about its rate (seeded: the same every run)."""
    assert SimConfig().order == EventOrder.realistic() != EventOrder()
    rig = Rig(EventOrder.realistic(), seed=5)
    calls = 400
    for n in range(calls):
        rig.originate(f"Local/{NUMBER}@customers", f"a-{n}", application="Wait", data="1",
                      variables=(("SWITCHBOARD_CALL_ID", f"c{n}"),))  # fmt: skip
        rig.clock.advance(4.0)
    rig_call_ids: dict[str, str] = {}
    by_call: dict[str, list[dict[str, str]]] = {}
    for headers in rig.sent:
        fields = dict(headers)
        call_id = rig_call_ids.get(fields.get("Uniqueid", ""))
        if fields["Event"] == "Newchannel":
            call_id = rig_call_ids.setdefault(fields["Uniqueid"], fields["Channel"].rsplit(";", 1)[0])
        if fields["Event"] == "OriginateResponse":
            call_id = fields["Channel"].rsplit(";", 1)[0]
        if call_id:
            by_call.setdefault(call_id, []).append(fields)
    first = late = far_first = 0
    for events in by_call.values():
        names = [(f["Event"], f["Channel"][-1], f.get("ChannelStateDesc", "")) for f in events]
        response = names.index(("OriginateResponse", "1", ""))
        up_one, up_two = names.index(("Newstate", "1", "Up")), names.index(("Newstate", "2", "Up"))
        first += response < names.index(("Newchannel", "1", "Down"))
        late += response > up_one
        far_first += up_two < up_one
    assert len(by_call) == calls
    assert 2 <= first <= 20  # 2.1 %: 8 expected
    assert 0.35 * calls <= late <= 0.53 * calls  # 44 %
    assert 0.5 * calls <= far_first <= 0.7 * calls  # 60 %


def test_one_number_can_have_its_own_order() -> None:
    early = CustomerScript(outcome="answer", ring_s=1.0, order=EventOrder(originate_response_first=1.0))
    config = SimConfig(
        customer_overrides={NUMBER: early, "+3622": CustomerScript(outcome="answer", ring_s=1.0)},
        order=EventOrder(),
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
