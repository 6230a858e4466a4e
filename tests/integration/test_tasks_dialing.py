"""Callbacks over the simulated PBX: dialed at their own time, to their owner, ahead of fresh leads, through
the blacklist gate, and escalated to another advisor when the owner cannot make it before the deadline.

The whole stack of tests/integration/test_dialer_support.py (real AMI over TCP, private Redis, the
LocalDesk and DialerService). DialerService does not read due callbacks itself yet, so
`callback_round` below does, exactly as docs/tasks.md ("For the dialing loop") asks the pacing round
to: due callbacks first, each through `Dialer.place_call` (the gate), reserved to the owner when
not escalated; then the campaign's round for fresh leads (`DialerService.run_once`). When the
service does it, replace `callback_round(...)` + `run_once()` with `run_once()` alone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from dialer.campaigns import Campaign
from dialer.dialing import DialKind, DialOutcome, DialRequest, DialStatus, new_call_id
from dialer.pacer import target_of, utc
from dialer.task_metrics import TaskMetrics
from dialer.task_store import TaskStore
from dialer.tasks import DEFAULT_TASK_RULES, TaskRules
from pbx.codec import Action
from pbx.sim import CustomerScript
from tests.integration.test_dialer_support import (
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

_NOT_NOW = (DialStatus.NOT_HELD, DialStatus.AGENT_NOT_READY)


class JumpClock(RunningClock):
    """Real elapsed time plus jumps: the own time comes without waiting for it."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0

    def __call__(self) -> float:
        return super().__call__() + self.offset

    def jump(self, seconds: float) -> None:
        self.offset += seconds


def task_store(r: Rig, rules: TaskRules = DEFAULT_TASK_RULES) -> TaskStore:
    metrics = TaskMetrics(r.registry)
    return TaskStore(r.redis, leads=r.stores.leads, rules=rules, cc_zone="Europe/Budapest", metrics=metrics)


async def callback_round(r: Rig, tasks: TaskStore, plan: Campaign) -> list[DialOutcome]:
    """The dialing loop's callback step (docs/tasks.md): due callbacks before any fresh lead."""
    now_s = r.clock()
    now = utc(now_s)
    target = target_of(plan)
    available = {agent.agent_id for agent in await r.desk.agents(target, now_s)}
    outcomes = []
    for due in await tasks.due_callbacks(plan.id, now, 10, available=available):
        request = DialRequest(plan, DialKind.CALLBACK, numbers=(due.number,), zone=due.zone)
        if due.owner is not None and not due.escalate:
            agent: str | None = due.owner
            outcome = await r.dialer.pacer.dial_for_agent(request, due.owner, now_s)
        else:
            call_id = new_call_id()
            agent = await r.desk.reserve(target, call_id, now_s)
            if agent is None:
                continue
            escalated = DialRequest(
                plan, DialKind.CALLBACK, numbers=(due.number,), agent_id=agent, call_id=call_id
            )
            outcome = await r.dialer.dialer.place_call(escalated, now=now)
            if not outcome.placed:
                await r.desk.release(agent, call_id, now_s)
        outcomes.append(outcome)
        if outcome.placed and outcome.call is not None:
            await tasks.mark_dialed(due.task_id, now, call_id=outcome.call.call_id, agent=agent or "")
        elif outcome.status not in _NOT_NOW:  # the owner is not ready: it stays due
            await tasks.defer_callback(due.task_id, outcome.not_before, now=now, reason=outcome.detail)
    return outcomes


def answering(*indexes: int) -> dict[str, CustomerScript]:
    return {number(i): CustomerScript(outcome="answer", ring_s=0.5, talk_s=30.0) for i in indexes}


async def test_a_callback_is_dialed_at_its_own_time_to_its_owner_ahead_of_fresh_leads(
    redis_client: aioredis.Redis,
) -> None:
    plan = campaigns(campaign())
    clock = JumpClock()
    sim = sim_config(customer_overrides=answering(1, 2, 3))
    async with rig(redis_client, plan, sim, clock=clock, engine_ticks=False) as r:
        await r.load_leads([lead(1), lead(2), lead(3)])
        await r.agent("1001")
        await r.agent("1002")
        await r.start()
        tasks = task_store(r)
        task = await tasks.record_result(
            result="no_answer", lead_id="L1", campaign_id="c1", owner="1001", now=r.now()
        )
        assert task is not None and task.kind == "not_reachable"
        promised = r.now() + timedelta(minutes=10)
        await tasks.set_own_time(task.task_id, promised, now=r.now(), actor="1001")

        assert await callback_round(r, tasks, plan.campaigns[0]) == [], "not before its own time"
        clock.jump(600)
        assert r.now() >= promised
        outcomes = await callback_round(r, tasks, plan.campaigns[0])
        assert [o.status for o in outcomes] == [DialStatus.PLACED]
        await r.dialer.run_once()  # the campaign's fresh leads, with the agent left

        def to_customer(wanted: str) -> Callable[[Action], bool]:
            return lambda action: f"{wanted}@trunk" in (action.get("Channel") or "")

        first = await r.sim.wait_for_action("Originate", to_customer(number(1)))
        second = await r.sim.wait_for_action("Originate", to_customer(number(2)))
        assert r.dialed()[:2] == [number(1), number(2)], "the callback goes first"
        variables = originate_vars(first)
        assert (variables["SWITCHBOARD_DIAL_KIND"], variables["SWITCHBOARD_AGENT_ID"]) == ("callback", "1001")
        assert originate_vars(second)["SWITCHBOARD_AGENT_ID"] == "1002"
        bridge = await r.sim.wait_for_action(
            "Bridge", lambda a: "PJSIP/1001" in (a.get("Channel2") or ""), timeout=10
        )
        assert bridge.get("Channel1", "").startswith("PJSIP/trunk-")

        dialed = await tasks.get(task.task_id)
        assert dialed.dials == 1 and dialed.last_dialed_at is not None
        assert r.sample("switchboard_task_callbacks_dialed_total", campaign="c1", timing="on_time") == 1
        assert r.sample("switchboard_dial_originates_total", campaign="c1", kind="callback") == 1


async def test_a_blacklisted_callback_is_refused_by_the_gate_and_not_dialed_again(
    redis_client: aioredis.Redis,
) -> None:
    plan = campaigns(campaign())
    async with rig(redis_client, plan, engine_ticks=False) as r:
        await r.load_leads([lead(1)])
        await r.agent("1001")
        await r.start()
        tasks = task_store(r)
        task = await tasks.create(
            lead_id="L1", kind="callback_requested", now=r.now(), actor="1001", own_time=r.now()
        )
        await r.stores.internal.add(number(1), reason="asked by letter", actor="sue", now=r.now())

        outcomes = await callback_round(r, tasks, plan.campaigns[0])
        assert [o.status for o in outcomes] == [DialStatus.BLOCKED]
        assert r.customer_originates() == []
        assert r.sample("switchboard_dial_blocked_total", source="internal") == 1
        assert await tasks.due_callbacks("c1", r.now() + timedelta(days=1), 10) == []
        assert (await r.desk.agent("1001"))["state"] == "ready", "the owner is given back"
        assert (await tasks.get(task.task_id)).state == "open", "still the advisor's to handle"


async def test_a_callback_whose_owner_cannot_make_it_goes_to_another_advisor(
    redis_client: aioredis.Redis,
) -> None:
    plan = campaigns(campaign())
    rules = DEFAULT_TASK_RULES.model_copy(update={"at_risk_margin": timedelta(hours=13)})
    async with rig(redis_client, plan, sim_config(customer_overrides=answering(1)), engine_ticks=False) as r:
        await r.load_leads([lead(1)])
        await r.agent("1002")  # the owner, 1001, is not logged in
        await r.start()
        tasks = task_store(r, rules)
        two_days_ago = r.now() - timedelta(days=2)
        task = await tasks.create(lead_id="L1", kind="not_reachable", now=two_days_ago, actor="1001")
        assert task.expires_at - r.now() < timedelta(hours=13)

        outcomes = await callback_round(r, tasks, plan.campaigns[0])
        assert [(o.status, o.call.agent_id if o.call else None) for o in outcomes] == [
            (DialStatus.PLACED, "1002")
        ]
        dial = await r.sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
        assert originate_vars(dial)["SWITCHBOARD_AGENT_ID"] == "1002"
        assert (await tasks.get(task.task_id)).dials == 1
