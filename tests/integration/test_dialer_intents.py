"""No dial in doubt is repeated, and a call settles once (issue 10).

Each fault injected for real: an Originate Asterisk executes but never answers, the AMI link cut
right after an Originate, an engine dropped with a call in flight and a new one started on the
same Redis (another instance, or the same instance restarted, with the ACD holding an advisor),
a settlement run twice or interrupted by a frozen Redis, Redis stopped under a running campaign.
Real Redis, the simulated Asterisk over TCP; waits on conditions, never sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from dialer.audit import AuditTrail, text
from dialer.calls import intent_scripts
from dialer.calls.attempts import AttemptRecord, AttemptStore
from dialer.calls.dial_metrics import DialerMetrics
from dialer.calls.dial_records import DialKind, PlacedCall
from dialer.calls.intents import Intent, IntentStore, Settlement
from dialer.calls.lifecycle import Settle
from dialer.calls.settlement import Outcomes, counters
from dialer.campaigns.rules import Campaign
from dialer.compliance.caps import CallResult
from dialer.dialer_keys import DialKeys, LeadKeys
from dialer.leads.store import LeadStore
from dialer.loop.campaign_control import CampaignState
from dialer.loop.service import DialerSettings
from dialer.tasks.rules import DEFAULT_TASK_RULES
from dialer.tasks.store import TaskStore
from dialer.tasks.task_metrics import TaskMetrics
from pbx.sim import CustomerProfile, CustomerScript, SimulatedPbx
from routing.agent_events import AgentState
from switchboard.private_redis import PrivateRedis
from tests.support.blended_harness import blended, blended_rules
from tests.support.dialer_harness import (
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

RINGING = CustomerProfile(answer=0, busy=0, noanswer=1, congestion=0, machine=0, reject=0)
QUICK_BUSY = CustomerProfile(
    answer=0, busy=1, noanswer=0, congestion=0, machine=0, reject=0, signal_s=(0.2, 0.3)
)
RETRIES = {"failed": "1m", "busy": "1m", "congestion": "1m", "no_answer": "2h", "answering_machine": "4h"}
QUICK = DialerSettings(
    round_interval_s=0.05, round_timeout_s=2.0, store_timeout_s=0.5, answer_margin_s=1.0, housekeeping_s=0.2
)
T0 = datetime(2026, 11, 18, 11, 0, tzinfo=UTC)


async def lead_fields(redis: aioredis.Redis, lead_id: str) -> dict[str, str]:
    raw = await redis.hgetall(LeadKeys().lead(lead_id))
    return {text(k): text(v) for k, v in raw.items()}


async def attempts_on(redis: aioredis.Redis, phone: str) -> list[AttemptRecord]:
    return await AttemptStore(redis).number_attempts(phone)


async def audit_of(redis: aioredis.Redis, call_id: str, action: str) -> list[dict[str, str]]:
    entries = await AuditTrail(redis, DialKeys().audit_attempts).read(call=call_id, action=action)
    return [entry.fields for entry in entries]


async def stats(redis: aioredis.Redis, campaign_id: str = "c1") -> dict[str, int]:
    """The campaign's hourly counters summed over the hours: d(ials), a(nswers), x (abandons), m."""
    totals: dict[str, int] = {}
    for field, value in (await redis.hgetall(DialKeys().stats(campaign_id))).items():
        name = text(field).partition(":")[2]
        totals[name] = totals.get(name, 0) + int(text(value))
    return totals


async def open_ids(redis: aioredis.Redis) -> list[str]:
    return [intent.call_id for intent in await IntentStore(redis).open_intents()]


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# ---- 1. the write-ahead intent -------------------------------------------------------------------


async def test_the_intent_is_committed_before_the_originate_leaves(redis_client: aioredis.Redis) -> None:
    """Asterisk executes the Originate and never answers it: by the time it has the action, the call
    id, the pending attempt, the dial count and the lead `dialing` are already in Redis."""
    async with rig(redis_client, campaigns(campaign()), sim_config(customers=RINGING)) as r:
        await r.load_leads([lead(1)])
        await r.agent("1001")
        r.sim.fail_next("Originate", mode="silence", execute=True)
        await r.start()
        dial = await r.sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
        call_id = originate_vars(dial)["SWITCHBOARD_CALL_ID"]

        assert await open_ids(redis_client) == [call_id]
        assert [(a.call_id, a.result) for a in await attempts_on(redis_client, number(1))] == [
            (call_id, None)
        ]
        fields = await lead_fields(redis_client, "L1")
        assert (fields["status"], fields["attempts"]) == ("dialing", "1")
        assert (await stats(redis_client))["d"] == 1
        assert [e["number"] for e in await audit_of(redis_client, call_id, "dial")] == [number(1)]


async def test_an_intent_whose_originate_never_left_is_undone(redis_client: aioredis.Redis) -> None:
    """Not sent, or refused by Asterisk: nothing rang, so no attempt, no dial counted, and the lead is
    `claimed` again for its holder to give back."""
    leads = LeadStore(redis_client, default_region="HU")
    await placed_call(redis_client, leads)
    intent = Intent("sbo-1", "a-1", number(1), "c1", "campaign", ms(T0), "e1", "L1", "e1", "1001")
    intents = IntentStore(redis_client)
    assert await intents.cancel(intent, at=T0, detail="not logged in")
    assert not await intents.cancel(intent, at=T0, detail="again"), "undone once"
    assert await open_ids(redis_client) == []
    assert await attempts_on(redis_client, number(1)) == []
    assert (await stats(redis_client)).get("d") == 0
    fields = await lead_fields(redis_client, "L1")
    assert (fields["status"], fields["attempts"], fields["claimed_by"]) == ("claimed", "0", "e1")
    assert [e["detail"] for e in await audit_of(redis_client, "sbo-1", "dial-cancelled")] == ["not logged in"]


# ---- 2. recovery ---------------------------------------------------------------------------------


async def test_after_a_crash_the_call_in_doubt_is_settled_once_as_unknown_and_not_redialed(
    redis_client: aioredis.Redis,
) -> None:
    """Engine 1 dials and is gone, its Asterisk with it (no channel carries the call any more).
    Engine 2 on the same Redis settles the intent as an unknown attempt as soon as engine 1's
    heartbeat has run out (long before the 60 s ring timeout), puts the lead back for the
    campaign's retry delay, and never redials the number."""
    config = campaigns(campaign(ring_timeout_s=60, caps={"retry_after": RETRIES}))
    clock = RunningClock()
    beat = DialerSettings(
        round_interval_s=0.05, round_timeout_s=2.0, store_timeout_s=0.5, lease_ms=1000, lease_renew_s=0.25
    )
    sim = sim_config(customers=RINGING, time_scale=1.0)
    async with rig(redis_client, config, sim, clock=clock, settings=beat) as first:
        await first.load_leads([lead(1)])
        await first.agent("1001")
        await first.start()
        await first.until(lambda: len(first.dialed()) == 1)
        call_id = originate_vars(first.customer_originates()[0])["SWITCHBOARD_CALL_ID"]
        placed = await IntentStore(redis_client).open_intents()
        assert [i.call_id for i in placed] == [call_id]
    assert (await lead_fields(redis_client, "L1"))["status"] == "dialing", "engine 1 died mid-call"

    async with rig(redis_client, config, sim, clock=clock, instance_id="engine-2", settings=QUICK) as second:
        await second.agent("1001")
        assert await second.dialer.intents.alive(["engine-1"]) == {"engine-1"}, "not yet known dead"
        await second.until(
            lambda: (
                second.sample("switchboard_dial_intents_recovered_total", campaign="c1", how="settled") == 1
            ),
            timeout=15,
        )
        assert clock() - placed[0].placed_ms / 1000 < 30, "settled long before the ring timeout"
        assert await open_ids(redis_client) == []
        attempts = await attempts_on(redis_client, number(1))
        assert [(a.call_id, a.result) for a in attempts] == [(call_id, CallResult.UNKNOWN)]
        fields = await lead_fields(redis_client, "L1")
        assert fields["status"] == "queued", "not left dialing"
        retry_at = placed[0].placed_ms + 2 * 3600 * 1000  # unknown waits as long as no_answer (2h)
        assert int(fields["next_attempt_ms"]) >= retry_at
        assert await second.redis.zscore(LeadKeys().retry("c1"), "L1") is not None
        assert await second.redis.get(DialKeys().dial_lock(number(1))) is None, "the number's lock is freed"

        rounds = second.dialer.rounds
        await second.until(lambda: second.dialer.rounds >= rounds + 20, timeout=15)
        await second.dialer.recover()  # once more: nothing left to settle
        assert second.dialed() == [], "a dial in doubt is never repeated before its retry delay"
        assert len(await audit_of(redis_client, call_id, "outcome")) == 1
        assert (await stats(redis_client))["d"] == 1
        assert second.sample("switchboard_dial_attempts_total", campaign="c1", result="unknown") == 1


async def test_a_restarted_engine_follows_a_call_still_alive_in_asterisk_to_its_real_outcome(
    redis_client: aioredis.Redis,
) -> None:
    """The engine dies while the customer's phone rings; Asterisk goes on. Restarted (same instance),
    it finds the call's channel by its SWITCHBOARD_CALL_ID at the resync and follows it again: the
    call settles with its real result (no answer at the ring timeout), never as unknown."""
    config = campaigns(campaign(ring_timeout_s=4, caps={"retry_after": RETRIES}))
    pbx = SimulatedPbx(sim_config(customers=RINGING, time_scale=1.0), seed=11)
    await pbx.start()
    try:
        async with rig(redis_client, config, pbx=pbx) as first:
            await first.load_leads([lead(1)])
            await first.agent("1001")
            await first.start()
            await first.until(lambda: len(first.dialed()) == 1)
            call_id = originate_vars(first.customer_originates()[0])["SWITCHBOARD_CALL_ID"]
            await first.dialer.set_state("c1", CampaignState.PAUSED, "supervisor")
        assert [c for c in pbx.channels.values() if c.var("SWITCHBOARD_CALL_ID") == call_id], "still ringing"

        async with rig(redis_client, config, pbx=pbx, settings=QUICK) as second:
            adopted = {"campaign": "c1", "how": "adopted"}
            recovered = "switchboard_dial_intents_recovered_total"
            await second.until(lambda: second.sample(recovered, **adopted) == 1)
            assert [c.call_id for c in second.dialer.calls()] == [call_id]
            no_answer = {"campaign": "c1", "result": "no_answer"}
            await second.until(lambda: second.sample("switchboard_dial_attempts_total", **no_answer) == 1)
            await second.dialer.settled()
            assert [(a.call_id, a.result) for a in await attempts_on(redis_client, number(1))] == [
                (call_id, CallResult.NO_ANSWER)
            ]
            assert await open_ids(redis_client) == []
            assert (await lead_fields(redis_client, "L1"))["status"] == "queued"
            assert pbx.originated_numbers() == [number(1)], "dialed once"
    finally:
        await pbx.stop()


async def test_a_call_bridged_to_an_advisor_when_its_engine_died_is_followed_to_its_answer(
    redis_client: aioredis.Redis,
) -> None:
    """The customer talks to advisor 1001 when the engine dies; Asterisk keeps the bridge. The
    restarted engine follows the bridged call: when the customer hangs up the attempt is
    `answered` and the lead done, as if nothing had happened."""
    rules, config = blended_rules("1001"), campaigns(campaign(ring_timeout_s=30))
    talk = CustomerScript(outcome="answer", ring_s=0.5, talk_s=6.0)
    pbx = SimulatedPbx(sim_config(customer_overrides={number(1): talk}, time_scale=1.0), seed=13)
    await pbx.start()
    try:
        async with blended(redis_client, rules, config, pbx=pbx) as first:
            await first.acd.login("1001")
            await first.load_leads([lead(1)])
            await first.start()
            await first.until(lambda: first.state("1001") is AgentState.BUSY, timeout=10)
            await first.dialer.set_state("c1", CampaignState.PAUSED, "supervisor")
        async with blended(redis_client, rules, config, pbx=pbx) as second:
            adopted = {"campaign": "c1", "how": "adopted"}
            recovered = "switchboard_dial_intents_recovered_total"
            await second.until(lambda: second.sample(recovered, **adopted) == 1)
            answered = {"campaign": "c1", "result": "answered"}
            await second.until(
                lambda: second.sample("switchboard_dial_attempts_total", **answered) == 1, timeout=15
            )
            await second.dialer.settled()
            assert [a.result for a in await attempts_on(redis_client, number(1))] == [CallResult.ANSWERED]
            assert (await lead_fields(redis_client, "L1"))["status"] == "done"
            assert await open_ids(redis_client) == []
    finally:
        await pbx.stop()


async def test_a_call_whose_talk_ended_while_its_engine_was_down_is_answered_not_redialed(
    redis_client: aioredis.Redis,
) -> None:
    """The customer talks to advisor 1001 when the engine dies, and hangs up before it is back
    (seen on a real Asterisk 22.10.1: kill -9 during a 3-6 s talk). Asterisk has no channel left,
    but the dial record says the call was connected: the restarted engine settles it as
    `answered` and the lead is done, not an `unknown` attempt whose lead is dialed again."""
    rules, config = blended_rules("1001"), campaigns(campaign(ring_timeout_s=30))
    talk = CustomerScript(outcome="answer", ring_s=0.5, talk_s=2.0)
    pbx = SimulatedPbx(sim_config(customer_overrides={number(1): talk}, time_scale=1.0), seed=13)
    await pbx.start()
    try:
        async with blended(redis_client, rules, config, pbx=pbx) as first:
            await first.acd.login("1001")
            await first.load_leads([lead(1)])
            await first.start()
            await first.until(lambda: first.state("1001") is AgentState.BUSY, timeout=10)
            await first.dialer.set_state("c1", CampaignState.PAUSED, "supervisor")
            await first.dialer.settled()  # the background writes started so far, the mark included
            [intent] = await IntentStore(redis_client).open_intents()
            assert intent.connected_ms > 0, "the dial record says the customer was connected"
        await pbx.wait_for_channel_count(0, timeout=10)  # the talk ends while no engine runs
        assert await open_ids(redis_client) != [], "nobody settled the call yet"

        async with blended(redis_client, rules, config, pbx=pbx) as second:
            settled = {"campaign": "c1", "how": "settled"}
            await second.until(
                lambda: second.sample("switchboard_dial_intents_recovered_total", **settled) == 1, timeout=15
            )
            assert [a.result for a in await attempts_on(redis_client, number(1))] == [CallResult.ANSWERED]
            assert (await lead_fields(redis_client, "L1"))["status"] == "done", "not queued for a redial"
            assert await open_ids(redis_client) == []
            assert (await stats(redis_client))["a"] == 1, "counted once as a live answer"
            assert pbx.originated_numbers().count(number(1)) == 1
    finally:
        await pbx.stop()


async def test_a_restarted_engine_releases_the_advisor_held_for_a_call_in_doubt_at_once(
    redis_client: aioredis.Redis,
) -> None:
    """The ACD holds advisor 1001 for a progressive dial, the engine dies while it rings. The same
    instance restarted finds the intent at its first resync: settled as unknown, advisor free at
    once (not after the 3-minute hold timer), lead back on its retry schedule."""
    rules, config = blended_rules("1001"), campaigns(campaign(ring_timeout_s=60))
    slow = CustomerScript(outcome="noanswer")
    sim = sim_config(customer_overrides={number(1): slow}, time_scale=1.0)
    async with blended(redis_client, rules, config, sim) as first:
        await first.acd.login("1001")
        await first.load_leads([lead(1), lead(2)])
        await first.start()
        dial = await first.sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
        call_id = originate_vars(dial)["SWITCHBOARD_CALL_ID"]
        await first.until(lambda: first.state("1001") is AgentState.RESERVED)
        await first.dialer.set_state("c1", CampaignState.PAUSED, "supervisor")
    assert await open_ids(redis_client) == [call_id]

    async with blended(redis_client, rules, config, sim) as second:
        await second.until(lambda: second.engine.ready)
        await second.until(lambda: second.state("1001") is AgentState.READY, timeout=5)
        await second.until(
            lambda: (
                second.sample("switchboard_dial_intents_recovered_total", campaign="c1", how="settled") == 1
            )
        )
        assert await open_ids(redis_client) == []
        fields = await lead_fields(redis_client, "L1")
        assert fields["status"] == "queued"
        assert [a.result for a in await attempts_on(redis_client, number(1))] == [CallResult.UNKNOWN]
        assert second.dialed() == []


async def test_a_crash_under_traffic_leaves_no_lead_dialing_and_no_number_dialed_twice(
    redis_client: aioredis.Redis,
) -> None:
    """Four advisors held for four ringing calls when engine 1 dies; engine 2 (another instance)
    takes over the running campaign: the four calls in doubt are settled as unknown within
    seconds of engine 1's heartbeat running out, their leads wait for their retry, their
    advisors take new calls, and none of the four numbers is dialed again."""
    agents = ("1001", "1002", "1003", "1004")
    rules, config = blended_rules(*agents), campaigns(campaign(ring_timeout_s=60))
    sim = sim_config(customers=RINGING, time_scale=1.0)
    beat = DialerSettings(
        round_interval_s=0.05, round_timeout_s=2.0, store_timeout_s=0.5, lease_ms=1000, lease_renew_s=0.25
    )
    async with blended(redis_client, rules, config, sim, settings=beat) as first:
        for agent in agents:
            await first.acd.login(agent)
        await first.load_leads(lead(i) for i in range(1, 21))
        await first.start()
        await first.until(lambda: len(first.dialed()) == 4 and first.dialer.rounds > 5)
        in_doubt = first.dialed()
    dialing = [i for i in range(1, 21) if (await lead_fields(redis_client, f"L{i}"))["status"] == "dialing"]
    assert len(dialing) == 4

    async with blended(redis_client, rules, config, sim, instance_id="engine-2", settings=QUICK) as second:
        settled = {"campaign": "c1", "how": "settled"}
        recovered = "switchboard_dial_intents_recovered_total"
        await second.until(lambda: second.sample(recovered, **settled) == 4, timeout=15)
        await second.until(lambda: len(second.dialed()) >= 4, timeout=15)
        assert not set(second.dialed()) & set(in_doubt), "a number in doubt was dialed again"
        for i in dialing:
            fields = await lead_fields(redis_client, f"L{i}")
            assert fields["status"] == "queued" and int(fields["next_attempt_ms"]) > ms(second.now())
        assert sorted(i.call_id for i in await IntentStore(redis_client).open_intents()) == sorted(
            call.call_id for call in second.dialer.calls()
        ), "every open intent is a call engine 2 follows"


async def test_an_ami_cut_right_after_the_originate_settles_unknown_not_failed(
    redis_client: aioredis.Redis,
) -> None:
    """The link drops as the Originate arrives (Asterisk runs it), the call ends while the engine is
    disconnected, its OriginateResponse is lost: the call is settled as `unknown`, which waits the
    campaign's longer delay (no answer, 2 h), not `failed` (1 min): the number is not dialed twice."""
    config = campaigns(campaign(ring_timeout_s=3, caps={"retry_after": RETRIES}))
    async with rig(redis_client, config, sim_config(customers=QUICK_BUSY), settings=QUICK) as r:
        await r.load_leads([lead(1)])
        await r.agent("1001")
        r.sim.fail_next("Originate", mode="close", execute=True)
        r.sim.fail_next("Login", mode="silence")  # the next login hangs: the call ends meanwhile
        await r.start()
        dial = await r.sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
        call_id = originate_vars(dial)["SWITCHBOARD_CALL_ID"]
        unknown = {"campaign": "c1", "result": "unknown"}
        await r.until(lambda: r.sample("switchboard_dial_attempts_total", **unknown) == 1, timeout=30)
        await r.dialer.settled()
        attempts = await attempts_on(redis_client, number(1))
        assert [(a.call_id, a.result) for a in attempts] == [(call_id, CallResult.UNKNOWN)]
        fields = await lead_fields(redis_client, "L1")
        assert fields["status"] == "queued"
        assert int(fields["next_attempt_ms"]) >= ms(attempts[0].at + timedelta(hours=2))
        await r.until(lambda: r.engine.ready, timeout=30)
        rounds = r.dialer.rounds
        await r.until(lambda: r.dialer.rounds >= rounds + 20, timeout=15)
        assert r.dialed() == [number(1)], "dialed once"


# ---- 3. settlement once --------------------------------------------------------------------------


@pytest.fixture
async def own_client(own_redis: PrivateRedis) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(own_redis.url, decode_responses=False, socket_timeout=5)
    try:
        yield client
    finally:
        await client.aclose()


async def placed_call(redis: aioredis.Redis, leads: LeadStore, call_id: str = "sbo-1") -> PlacedCall:
    """Lead L1 claimed by engine e1 and its call's intent written, as Dialer.place_call does."""
    await leads.upsert_many([lead(1)], now=T0, actor="crm", campaign_id="c1")
    claimed = await leads.claim("c1", "e1", now=T0)
    assert claimed is not None
    call = PlacedCall(call_id, "a-1", "c1", number(1), DialKind.CAMPAIGN, T0.timestamp(), "L1", "e1", "1001")
    intent = Intent(call_id, "a-1", number(1), "c1", "campaign", ms(T0), "e1", "L1", "e1", "1001")
    assert await IntentStore(redis).open(intent, at=T0, hold=timedelta(hours=2)) is None
    return call


def outcomes_on(redis: aioredis.Redis, leads: LeadStore, tasks: TaskStore | None = None) -> Outcomes:
    metrics = DialerMetrics(CollectorRegistry())
    return Outcomes(AttemptStore(redis), IntentStore(redis), leads, metrics, "e1", tasks=tasks)


def abandons_counted(outcomes: Outcomes) -> float:
    """What the engine's `switchboard_dial_attempts_total{result="abandoned"}` says."""
    samples = [s for m in outcomes.metrics.attempts.collect() for s in m.samples]
    return sum(
        s.value for s in samples if s.name.endswith("_total") and s.labels.get("result") == "abandoned"
    )


def task_store(redis: aioredis.Redis, leads: LeadStore) -> TaskStore:
    metrics = TaskMetrics(CollectorRegistry())
    return TaskStore(redis, leads=leads, rules=DEFAULT_TASK_RULES, cc_zone="Europe/Budapest", metrics=metrics)


async def test_a_settlement_run_twice_counts_once(redis_client: aioredis.Redis) -> None:
    leads = LeadStore(redis_client, default_region="HU")
    call = await placed_call(redis_client, leads)
    outcomes = outcomes_on(redis_client, leads)
    abandoned = Settle(CallResult.ABANDONED, live=True, abandoned=True)
    camp = Campaign.model_validate(campaign())

    assert await outcomes.write(call, abandoned, camp, T0 + timedelta(seconds=30)) is Settlement.NOW
    again = await outcomes.write(call, abandoned, camp, T0 + timedelta(seconds=31))
    assert again is Settlement.MINE, "settled before, by this process"
    for engine in ("e2", "e1"):  # another engine (woken after a takeover); this id in another process
        other = Outcomes(
            AttemptStore(redis_client), IntentStore(redis_client), leads, outcomes.metrics, engine
        )
        late = await other.write(call, abandoned, camp, T0 + timedelta(seconds=32))
        assert late is Settlement.OTHERS, engine
    assert abandons_counted(outcomes) == 1, "counted once"

    assert await stats(redis_client) == {"d": 1, "a": 1, "x": 1}, "the abandon rate never doubles"
    assert [a.result for a in await attempts_on(redis_client, number(1))] == [CallResult.ABANDONED]
    assert len(await audit_of(redis_client, "sbo-1", "outcome")) == 1
    fields = await lead_fields(redis_client, "L1")
    assert fields["status"] == "queued" and not fields.get("claimed_by"), "released: held by nobody"
    assert await IntentStore(redis_client).settled("sbo-1") == "abandoned"


async def test_a_no_answer_settled_twice_opens_one_follow_up_task(redis_client: aioredis.Redis) -> None:
    leads = LeadStore(redis_client, default_region="HU")
    call = await placed_call(redis_client, leads)
    outcomes = outcomes_on(redis_client, leads, task_store(redis_client, leads))
    gone = Settle(CallResult.NO_ANSWER, live=True)
    camp = Campaign.model_validate(campaign())
    for second in (30, 31):
        await outcomes.write(call, gone, camp, T0 + timedelta(seconds=second))
    assert await stats(redis_client) == {"d": 1, "a": 1}
    assert await redis_client.zcard(f"{DialKeys().prefix}tasks:lead:L1") == 1


@pytest.mark.parametrize(
    ("caps", "result", "status", "reason"),
    [
        ({}, CallResult.ANSWERED, "done", "answered"),
        ({"retry_after": {"busy": None}}, CallResult.BUSY, "closed", "result 'busy' is not retried"),
        ({"max_attempts_per_lead": 1}, CallResult.BUSY, "done", "exhausted: 1 of 1 attempts used"),
    ],
)
async def test_the_settlement_finishes_or_closes_the_lead_in_the_same_step(
    redis_client: aioredis.Redis, caps: dict[str, object], result: CallResult, status: str, reason: str
) -> None:
    leads = LeadStore(redis_client, default_region="HU")
    call = await placed_call(redis_client, leads)
    camp = Campaign.model_validate(campaign(caps=caps))
    settled = await outcomes_on(redis_client, leads).write(
        call, Settle(result), camp, T0 + timedelta(seconds=9)
    )
    assert settled is Settlement.NOW
    fields = await lead_fields(redis_client, "L1")
    assert (fields["status"], fields["closed_reason"]) == (status, reason)
    [record] = await AuditTrail(redis_client, LeadKeys().audit_leads).read(lead="L1")
    assert (record.action, record.fields["previous"]) == (status, "dialing")
    assert await IntentStore(redis_client).settled("sbo-1") == result.value


async def test_a_settlement_interrupted_by_a_frozen_redis_and_retried_counts_once(
    own_redis: PrivateRedis, own_client: aioredis.Redis
) -> None:
    """Redis freezes while the settlement is in flight: the client gives up, the server runs it when
    it thaws (the reply is lost). The whole write is retried, twice, as the service does: the
    counters, the attempt, the audit record and the lead apply once."""
    leads = LeadStore(own_client, default_region="HU")
    call = await placed_call(own_client, leads)
    outcomes = outcomes_on(own_client, leads, task_store(own_client, leads))
    abandoned = Settle(CallResult.ABANDONED, live=True, abandoned=True)
    camp, at = Campaign.model_validate(campaign()), T0 + timedelta(seconds=30)
    intents = IntentStore(own_client)

    # Outcomes.write's own steps, with Redis frozen between its read and its settlement script.
    step = await outcomes.lead_step(call, abandoned.result, camp, at)
    intent = Intent("sbo-1", "a-1", number(1), "c1", "campaign", ms(T0), "e1", "L1", "e1", "1001")
    await own_client.script_load(intent_scripts.SETTLE)  # loaded: the frozen server has it to run
    own_redis.pause()
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await intents.settlement(
                    intent,
                    result="abandoned",
                    counts=counters(abandoned),
                    step=step,
                    at=at,
                    by=outcomes.settler,
                )
    finally:
        own_redis.resume()

    first = await outcomes.write(call, abandoned, camp, at, retry=True)  # the service's retry
    counted = abandons_counted(outcomes)
    assert first in (Settlement.NOW, Settlement.MINE) and counted == 1, (
        "the thawed server ran it, or the retry did: this process's settlement, counted once"
    )
    again = await outcomes.write(call, abandoned, camp, at + timedelta(seconds=1))  # e.g. a recovery pass
    assert again is Settlement.MINE
    assert abandons_counted(outcomes) == 1

    assert (await stats(own_client)) == {"d": 1, "a": 1, "x": 1}
    assert [a.result for a in await attempts_on(own_client, number(1))] == [CallResult.ABANDONED]
    assert len(await audit_of(own_client, "sbo-1", "outcome")) == 1
    fields = await lead_fields(own_client, "L1")
    assert fields["status"] == "queued" and fields["attempts"] == "1"


async def test_the_gate_unavailable_counter_is_fed_while_redis_is_down(
    own_redis: PrivateRedis, own_client: aioredis.Redis
) -> None:
    """The rounds fail before any dial reaches the gate: still counted as unavailable checks."""
    settings = DialerSettings(round_interval_s=0.05, round_timeout_s=0.4, store_timeout_s=0.2)
    async with rig(
        own_client, campaigns(campaign()), sim_config(customers=QUICK_BUSY), settings=settings
    ) as r:
        await r.load_leads(lead(i) for i in range(5))
        await r.agent("1001")
        await r.start()
        await r.until(lambda: len(r.dialed()) >= 1, timeout=20)
        before = r.sample("switchboard_gate_checks_total", result="unavailable")
        own_redis.pause()
        failed = r.dialer.round_failures
        try:
            await r.until(lambda: r.dialer.round_failures >= failed + 3, timeout=20)
        finally:
            own_redis.resume()
        assert r.sample("switchboard_gate_checks_total", result="unavailable") >= before + 3
