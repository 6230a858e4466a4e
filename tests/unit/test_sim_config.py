"""Simulator settings, dial-string parsing, endpoint plans and clocks."""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from pathlib import Path

import pytest
from pydantic import ValidationError

from pbx.sim.clock import ManualClock, ScaledClock
from pbx.sim.config import AgentPhone, CustomerProfile, CustomerScript, SimConfig, TierPool, TrafficConfig
from pbx.sim.endpoints import Endpoints, dialled_number, parse_dial_string


def test_defaults_work_and_are_frozen() -> None:
    config = SimConfig()
    assert config.users == {"switchboard": "switchboard-secret"}
    assert config.channelvars[:2] == ("SWITCHBOARD_CALL_ID", "SWITCHBOARD_CASE_ID")
    with pytest.raises(ValidationError):
        config.time_scale = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    "bad",
    [
        {"time_scale": 0},
        {"users": {}},
        {"amd_s": (3.0, 1.0)},
        {"customers": {"ring_s": (5.0, 1.0)}},
        {"customers": {"answer": 0, "busy": 0, "noanswer": 0, "congestion": 0, "machine": 0, "reject": 0}},
        {"traffic": {"tiers": ()}},
        {"traffic": {"dialled": {}}},
        {"unknown_option": 1},
        {"customer_overrides": {"+361": "maybe"}},
    ],
)
def test_bad_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SimConfig.model_validate(bad)


def test_overrides_and_agents() -> None:
    config = SimConfig(
        customer_overrides={"+361": "busy", "+362": CustomerScript(outcome="answer", talk_s=3)},
        agents={"1001": AgentPhone(answer_after_s=None)},
    )
    assert config.customer_script("+361") == CustomerScript(outcome="busy")
    assert config.customer_script("+362") is not None and config.customer_script("+362").talk_s == 3  # type: ignore[union-attr]
    assert config.customer_script("+369") is None
    assert config.agent_phone("1001").answer_after_s is None
    assert config.agent_phone("2002") == config.default_agent


@pytest.mark.parametrize(
    ("dial", "role", "number", "forced"),
    [
        ("PJSIP/+36301234567@trunk", "customer", "+36301234567", None),
        ("PJSIP/+36301234567@elsewhere", None, "+36301234567", None),
        ("PJSIP/1001", "agent", "1001", None),
        ("Local/1001@agents", "agent", "1001", None),
        ("Local/1001@agents/n", "agent", "1001", None),
        ("Local/555@customers", "customer", "555", None),
        ("Local/101@sim-customer-busy", "customer", "101", "busy"),
        ("Local/agent3@sim-agent-noanswer", "agent", "agent3", "noanswer"),
        ("Local/101@nosuchcontext", None, "101", None),
        ("SIP/peer", None, "peer", None),
    ],
)
def test_parse_dial_string(dial: str, role: str | None, number: str, forced: str | None) -> None:
    target = parse_dial_string(dial, SimConfig())
    assert (target.role, target.number, target.forced) == (role, number, forced)
    assert dialled_number(dial) == number


def test_plans_follow_overrides_and_weights() -> None:
    config = SimConfig(
        customers=CustomerProfile(answer=1, busy=1, noanswer=0, congestion=0, machine=0, reject=0),
        customer_overrides={"+361": "noanswer"},
    )
    endpoints = Endpoints(config, random.Random(4))
    forced = endpoints.plan_customer("+361", None, {})
    assert forced.outcome == "noanswer" and math.isinf(forced.ring_s)
    drawn = Counter(endpoints.plan_customer("+369", None, {}).outcome for _ in range(400))
    assert set(drawn) == {"answer", "busy"} and 150 < drawn["answer"] < 250
    by_variables = endpoints.plan_customer(
        "+369", None, {"SIM_RESULT": "congestion", "SIM_RING": "0", "SIM_TALK": "7"}
    )
    assert (by_variables.outcome, by_variables.ring_s, by_variables.talk_s, by_variables.patience_s) == (
        "congestion",
        0.0,
        7.0,
        7.0,
    )
    recorded_context = endpoints.plan_customer("101", "busy", {})
    assert (recorded_context.outcome, recorded_context.ring_s) == ("busy", 0.0)
    machine = endpoints.plan_customer("+369", "machine", {})
    assert machine.amd_status == "MACHINE" and machine.answers


def test_same_seed_same_plans() -> None:
    first = [Endpoints(SimConfig(), random.Random(9)).plan_customer(str(n), None, {}) for n in range(20)]
    second = [Endpoints(SimConfig(), random.Random(9)).plan_customer(str(n), None, {}) for n in range(20)]
    assert first == second


def test_tier_pools() -> None:
    pool = TierPool(tier="active", prefix="+3670", count=10000)
    assert pool.number(42) == "+36700000042" and pool.size == 10000
    listed = TierPool(tier="key", numbers=("+3620001", "+3620002"))
    assert listed.number(3) == "+3620002" and listed.size == 2
    assert TrafficConfig().tiers[0].tier == "key"


def test_manual_clock_runs_due_timers_in_order() -> None:
    clock = ManualClock(start=100.0)
    fired: list[tuple[str, float]] = []
    clock.call_later(2, lambda: fired.append(("b", clock.now())))
    clock.call_later(1, lambda: fired.append(("a", clock.now())))
    cancelled = clock.call_later(1.5, lambda: fired.append(("x", clock.now())))
    cancelled.cancel()

    def schedule_nested() -> None:
        clock.call_later(0.5, lambda: fired.append(("nested", clock.now())))

    clock.call_later(0, schedule_nested)
    assert clock.pending == 3
    clock.advance(1.9)
    assert fired == [("nested", 100.5), ("a", 101.0)]
    clock.advance(0.2)
    assert fired[-1] == ("b", 102.0) and clock.now() == pytest.approx(102.1)


async def test_scaled_clock_compresses_time() -> None:
    ticks = iter([10.0, 10.5])
    clock = ScaledClock(time_scale=60, start=1000.0, monotonic=lambda: next(ticks))
    assert clock.now() == pytest.approx(1030.0)
    assert clock.real_seconds(60) == 1.0
    done = asyncio.get_running_loop().create_future()
    clock.call_later(0, lambda: done.set_result("soon"))
    assert await asyncio.wait_for(done, 1) == "soon"
    with pytest.raises(ValueError, match="time_scale"):
        ScaledClock(time_scale=0)


def test_channelvars_are_the_shipped_manager_conf_list() -> None:
    """The simulator shows what an Asterisk configured with the shipped snippet shows."""
    conf = Path(__file__).parents[2] / "config" / "asterisk" / "manager_switchboard.conf"
    line = next(x for x in conf.read_text().splitlines() if x.startswith("channelvars"))
    assert SimConfig().channelvars == tuple(line.partition("=")[2].strip().split(","))
