"""Callbacks over the simulated PBX: a call result opens the follow-up task; the DialerService's own
pacing round dials due callbacks at their own time, to their owner, ahead of fresh leads, through
the blacklist gate, and escalates to another advisor when the owner cannot make it before the
deadline. The whole stack of tests/support/dialer_harness.py (real AMI over TCP, private
Redis, the ACD owning the agents (AcdDesk) and the DialerService with a TaskStore); rounds are
driven by `run_once`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from dialer.tasks.rules import DEFAULT_TASK_RULES
from dialer.tasks.store import TaskStore
from pbx.codec import Action
from pbx.sim import CustomerScript
from routing.agent_events import AgentState
from tests.support.dialer_harness import (
    WEDNESDAY_NOON,
    Rig,
    RunningClock,
    campaign,
    campaigns,
    lead,
    number,
    originate_vars,
    rig,
    sim_config,
)

pytestmark = pytest.mark.integration


class JumpClock(RunningClock):
    """Real elapsed time plus jumps: the own time comes without waiting for it."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0

    def __call__(self) -> float:
        return super().__call__() + self.offset

    def jump(self, seconds: float) -> None:
        self.offset += seconds


def answering(*indexes: int) -> dict[str, CustomerScript]:
    return {number(i): CustomerScript(outcome="answer", ring_s=0.5, talk_s=30.0) for i in indexes}


def store(r: Rig) -> TaskStore:
    assert r.tasks is not None, "the rig was built with task_rules"
    return r.tasks


def to_customer(wanted: str) -> Callable[[Action], bool]:
    return lambda action: f"{wanted}@trunk" in (action.get("Channel") or "")


async def test_an_unreachable_customer_opens_a_two_day_task_for_the_advisor_of_the_call(
    redis_client: aioredis.Redis,
) -> None:
    plan = campaigns(campaign())
    sim = sim_config(customer_overrides={number(1): CustomerScript(outcome="noanswer")})
    async with rig(redis_client, plan, sim, task_rules=DEFAULT_TASK_RULES, engine_ticks=False) as r:
        await r.load_leads([lead(1)])
        await r.agent("1001")
        await r.start()
        await r.dialer.run_once()
        await r.until(lambda: not r.dialer.calls())  # ended; its settlement is written (and counted) next
        await r.dialer.settled()
        assert r.sample("switchboard_dial_attempts_total", campaign="c1", result="no_answer") == 1
        [task] = await store(r).open_for_lead("L1")
        assert (task.kind, task.owner, task.campaign_id, task.number) == (
            "not_reachable",
            "1001",
            "c1",
            number(1),
        )
        assert task.callback, "the dialer calls it back"
        # Wednesday 18 November in Budapest + 2 days: handled until Friday 23:59:59 local time.
        assert task.deadline_date.isoformat() == "2026-11-20"
        assert r.now().timestamp() - WEDNESDAY_NOON < 60


async def test_a_callback_is_dialed_at_its_own_time_to_its_owner_ahead_of_fresh_leads(
    redis_client: aioredis.Redis,
) -> None:
    plan = campaigns(campaign())
    clock = JumpClock()
    sim = sim_config(customer_overrides=answering(1, 2, 3))
    async with rig(
        redis_client, plan, sim, clock=clock, engine_ticks=False, task_rules=DEFAULT_TASK_RULES
    ) as r:
        await r.load_leads([lead(2), lead(3)])
        await r.agent("1001")
        await r.agent("1002")
        tasks = store(r)
        await r.load_leads([lead(1)], campaign_id="c1")
        task = await tasks.record_result(
            result="no_answer", lead_id="L1", campaign_id="c1", owner="1001", now=r.now()
        )
        assert task is not None and task.kind == "not_reachable"
        promised = r.now() + timedelta(minutes=10)
        await tasks.set_own_time(task.task_id, promised, now=r.now(), actor="1001")
        assert await tasks.due_callbacks("c1", r.now(), 10) == [], "not before its own time"

        clock.jump(600)
        assert r.now() >= promised
        await r.start()
        await r.dialer.run_once()  # one round: the callback, then fresh leads for the advisor left

        first = await r.sim.wait_for_action("Originate", to_customer(number(1)))
        second = await r.sim.wait_for_action(
            "Originate", lambda a: "@trunk" in (a.get("Channel") or "") and a is not first
        )
        assert r.dialed()[0] == number(1), "the callback goes first"
        variables = originate_vars(first)
        assert (variables["SWITCHBOARD_DIAL_KIND"], variables["SWITCHBOARD_AGENT_ID"]) == ("callback", "1001")
        assert originate_vars(second)["SWITCHBOARD_DIAL_KIND"] == "campaign"
        assert originate_vars(second)["SWITCHBOARD_AGENT_ID"] == "1002"
        bridge = await r.sim.wait_for_action(
            "Bridge", lambda a: "PJSIP/1001" in (a.get("Channel2") or ""), timeout=10
        )
        assert bridge.get("Channel1", "").startswith("PJSIP/trunk-")

        dialed = await tasks.get(task.task_id)
        assert dialed.dials == 1 and dialed.last_dialed_at is not None
        assert r.sample("switchboard_task_callbacks_dialed_total", campaign="c1", timing="on_time") == 1
        assert r.sample("switchboard_dial_originates_total", campaign="c1", kind="callback") == 1


async def test_a_callback_waits_for_its_busy_owner_while_fresh_leads_go_to_the_others(
    redis_client: aioredis.Redis,
) -> None:
    plan = campaigns(campaign())
    async with rig(
        redis_client, plan, sim_config(customer_overrides=answering(2)), engine_ticks=False,
        task_rules=DEFAULT_TASK_RULES,
    ) as r:  # fmt: skip
        await r.load_leads([lead(1), lead(2)])
        await r.agent("1002")
        await r.agent("1001")
        await r.acd.pause("1001", "break")  # logged in, not ready: the deadline is days away
        tasks = store(r)
        await tasks.create(
            lead_id="L1", kind="callback_requested", now=r.now(), actor="1001", own_time=r.now()
        )
        await r.start()
        await r.dialer.run_once()
        dial = await r.sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
        assert originate_vars(dial)["SWITCHBOARD_DIAL_KIND"] == "campaign"
        [due] = await tasks.due_callbacks("c1", r.now(), 10)
        assert (due.owner, due.escalate) == ("1001", False), "still due, still the owner's"


async def test_a_blacklisted_callback_is_refused_by_the_gate_and_not_dialed_again(
    redis_client: aioredis.Redis,
) -> None:
    plan = campaigns(campaign())
    async with rig(redis_client, plan, engine_ticks=False, task_rules=DEFAULT_TASK_RULES) as r:
        await r.load_leads([lead(1)])
        await r.agent("1001")
        tasks = store(r)
        task = await tasks.create(
            lead_id="L1", kind="callback_requested", now=r.now(), actor="1001", own_time=r.now()
        )
        await r.stores.internal.add(number(1), reason="asked by letter", actor="sue", now=r.now())
        await r.start()
        await r.dialer.run_once()

        assert r.customer_originates() == [], "neither the callback nor the fresh lead of the number"
        assert r.sample("switchboard_dial_blocked_total", source="internal") >= 1
        assert await tasks.due_callbacks("c1", r.now() + timedelta(days=1), 10) == []
        assert r.state("1001") is AgentState.READY, "the owner is given back"
        assert (await tasks.get(task.task_id)).state == "open", "still the advisor's to handle"


async def test_a_callback_whose_owner_cannot_make_it_goes_to_another_advisor(
    redis_client: aioredis.Redis,
) -> None:
    plan = campaigns(campaign())
    rules = DEFAULT_TASK_RULES.model_copy(update={"at_risk_margin": timedelta(hours=13)})
    async with rig(
        redis_client, plan, sim_config(customer_overrides=answering(1)), engine_ticks=False, task_rules=rules
    ) as r:
        await r.agent("1002")  # the owner, 1001, is not logged in
        await r.load_leads([lead(1)])
        tasks = store(r)
        two_days_ago = r.now() - timedelta(days=2)
        task = await tasks.create(lead_id="L1", kind="not_reachable", now=two_days_ago, actor="1001")
        assert task.expires_at - r.now() < timedelta(hours=13)
        await r.start()
        await r.dialer.run_once()

        dial = await r.sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
        variables = originate_vars(dial)
        assert (variables["SWITCHBOARD_DIAL_KIND"], variables["SWITCHBOARD_AGENT_ID"]) == ("callback", "1002")
        assert (await tasks.get(task.task_id)).dials == 1


async def test_a_callback_answered_on_time_is_handled_on_time_before_its_disposition(
    redis_client: aioredis.Redis,
) -> None:
    """Seed 002: a callback dialed and answered at its own time must not turn overdue, be redialed
    or expire just because nobody has recorded the disposition yet."""
    plan = campaigns(campaign())
    clock = JumpClock()
    sim = sim_config(customer_overrides={number(1): CustomerScript(outcome="answer", ring_s=0.2, talk_s=0.5)})
    async with rig(
        redis_client, plan, sim, clock=clock, engine_ticks=False, task_rules=DEFAULT_TASK_RULES
    ) as r:
        await r.agent("1001")
        tasks = store(r)
        await r.load_leads([lead(1)], campaign_id="c1")
        task = await tasks.record_result(
            result="no_answer", lead_id="L1", campaign_id="c1", owner="1001", now=r.now()
        )
        assert task is not None
        promised = r.now() + timedelta(minutes=10)
        await tasks.set_own_time(task.task_id, promised, now=r.now(), actor="1001")
        clock.jump(600)
        await r.start()
        await r.dialer.run_once()
        attempts = "switchboard_dial_attempts_total"
        await r.until(lambda: not r.dialer.calls())
        await r.dialer.settled()
        assert r.sample(attempts, campaign="c1", result="answered") == 1

        answered = await tasks.get(task.task_id)
        assert answered.answered_at is not None and answered.answered_at >= promised
        clock.jump(3600)  # an hour later, no disposition yet
        status = answered.status(r.now(), tasks.rules)
        assert (status.overdue, status.at_risk) == (False, False)
        assert await tasks.due_callbacks("c1", r.now(), 10) == [], "answered: not dialed again"
        assert await tasks.expire_due(now=answered.expires_at + timedelta(hours=1)) == []

        late = answered.expires_at + timedelta(days=1)  # the disposition comes after the deadline
        closed = await tasks.close(task.task_id, code="sale", now=late, actor="1001")
        assert closed.state == "done" and closed.status(late, tasks.rules).status.value == "done"
