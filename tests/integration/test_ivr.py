"""The IVR end to end: the dialplan `switchboard asterisk-dialplan` writes, played by the simulated
Asterisk (Read, DTMF, GotoIf) over real AMI, a caller's key routed by the engine on a private Redis.

A digit leads to its option's queue and skill; the operator digit to the operator's queue; no
digit or a wrong one, after the menu's attempts, to the operator (marked `t` / `i` for the agent)
or to a dialplan exit, as the menu says.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from pbx.sim import AgentPhone, SimConfig
from routing.agent_events import AgentState
from routing.ivr_dialplan import IVR_CONTEXT, render
from routing.rules import Rules
from tests.support.acd_harness import EXIT_DIALPLAN, acd_stack, agent, base_rules, make_rules
from tests.support.acd_harness import originate_vars as variables

pytestmark = pytest.mark.integration
LINE = "+3615550200"
PLAIN_LINE = "+3612345678"


def menu_rules(**menu: Any) -> Rules:
    queues = [
        {**base_rules()["queues"][0], "match": {"above": 0}},
        {"name": "billing", "skill": "billing", "level": 1, "ring_timeout_seconds": 0.6},
        {"name": "general", "skill": "tech", "level": 1, "match": {"above": 4}, "ring_timeout_seconds": 0.6},
    ]
    agents = [
        agent("tech3", "PJSIP/2003", tech=3),
        agent("bill", "PJSIP/2007", billing=2),
        agent("oper", "PJSIP/2001", tech=1),
    ]
    spec: dict[str, Any] = {
        "name": "main",
        "lines": [LINE],
        "prompt": "switchboard-menu-main",
        "timeout": 0.2,
        "attempts": 2,
        "options": {
            "1": {"label": "internet fault", "queue": "support", "skill": "tech", "level": 3},
            "2": {"label": "billing question", "queue": "billing"},
            "0": {"label": "operator", "queue": "general", "operator": True},
        },
    }
    spec.update(menu)
    return make_rules(base_rules(agents=agents, queues=queues, menus=[spec]))


def ivr_sim(rules: Rules) -> SimConfig:
    return SimConfig(
        default_agent=AgentPhone(answer_after_s=0.05),
        extra_dialplan=EXIT_DIALPLAN,
        dialplan_conf=render(rules),
        playback_s=0.05,
        dtmf_s=0.05,
    )


async def _routed(redis: aioredis.Redis, rules: Rules, keys: tuple[str, ...], rung: str) -> dict[str, str]:
    """The caller presses `keys` on LINE; returns the agent leg's variables once `rung` talks."""
    async with acd_stack(redis, rules, ivr_sim(rules)) as s:
        for agent_id in ("tech3", "bill", "oper"):
            await s.acd.login(agent_id)
        caller = await s.sim.inbound_call("+36301234567", LINE, patience_s=60, context=IVR_CONTEXT, keys=keys)
        await s.until_state(rung, AgentState.BUSY)
        leg = variables(s.actions("Originate")[0])
        case = await s.acd.case(leg["SWITCHBOARD_CALL_ID"])
        assert case.dialled == LINE and case.ivr == leg["SWITCHBOARD_IVR"]
        assert s.sim.channels[caller].variables["SWITCHBOARD_IVR"] == leg["SWITCHBOARD_IVR"]
        return {**leg, "label": case.ivr_label}


ROUTES = [
    # (keys pressed at each prompt, agent who answers, queue, IVR choice, label for the agent)
    (("1",), "tech3", "support", "1", "internet fault"),  # needs tech 3: not the level-1 operator
    (("2",), "bill", "billing", "2", "billing question"),
    (("0",), "oper", "general", "0", "operator"),
    (("7", "2"), "bill", "billing", "2", "billing question"),  # a wrong key: the menu again
    (("7", "8"), "oper", "general", "i", "operator (no valid digit pressed)"),
    ((), "oper", "general", "t", "operator (no digit pressed)"),
]


@pytest.mark.parametrize(("keys", "rung", "queue", "choice", "label"), ROUTES)
async def test_a_key_routes_to_its_option_and_no_valid_key_to_the_operator(  # noqa: PLR0917
    redis_client: aioredis.Redis, keys: tuple[str, ...], rung: str, queue: str, choice: str, label: str
) -> None:
    leg = await _routed(redis_client, menu_rules(), keys, rung)
    assert (leg["SWITCHBOARD_AGENT_ID"], leg["SWITCHBOARD_QUEUE"]) == (rung, queue)
    assert (leg["SWITCHBOARD_IVR"], leg["label"]) == (choice, label)


async def test_no_key_can_leave_to_an_exit_instead(redis_client: aioredis.Redis) -> None:
    rules = menu_rules(on_timeout={"action": "exit", "exit_to": "voicemail"}, attempts=1)
    async with acd_stack(redis_client, rules, ivr_sim(rules)) as s:
        await s.acd.login("oper")
        caller = await s.sim.inbound_call("+36301234567", LINE, patience_s=60, context=IVR_CONTEXT)
        await s.until(lambda: caller not in s.sim.channels)
        contexts = [e.get("Context") for e in s.sim.events if e.get("Channel") == caller]
        assert "switchboard-exit" in contexts and "switchboard-inbound" not in contexts
        reads = [e for e in s.sim.events if e.name == "Newexten" and e.get("Application") == "Read"]
        assert len(reads) == 1  # attempts: 1
        assert not s.actions("Originate") and not s.waiting_ids()


async def test_a_line_without_a_menu_goes_straight_to_the_queue(redis_client: aioredis.Redis) -> None:
    rules = menu_rules()
    async with acd_stack(redis_client, rules, ivr_sim(rules)) as s:
        await s.acd.login("oper")
        await s.sim.inbound_call(
            "+36301234567", PLAIN_LINE, patience_s=60, context=IVR_CONTEXT, queue="general"
        )
        await s.until_state("oper", AgentState.BUSY)
        assert not [e for e in s.sim.events if e.name == "Newexten" and e.get("Application") == "Read"]
        assert variables(s.actions("Originate")[0])["SWITCHBOARD_IVR"] == ""


async def test_the_pressed_key_is_reported_as_dtmf(redis_client: aioredis.Redis) -> None:
    rules = menu_rules()
    async with acd_stack(redis_client, rules, ivr_sim(rules)) as s:
        await s.acd.login("bill")
        caller = await s.sim.inbound_call(
            "+36301234567", LINE, patience_s=60, context=IVR_CONTEXT, keys=("2",)
        )
        await s.until_state("bill", AgentState.BUSY)
        ends = [e for e in s.sim.events if e.name == "DTMFEnd" and e.get("Channel") == caller]
        assert [(e.get("Digit"), e.get("Direction")) for e in ends] == [("2", "Received")]
