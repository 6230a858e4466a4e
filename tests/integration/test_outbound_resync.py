"""Order independence and the outbound resync, end to end (issue 10): the engine of `switchboard run`
(the ACD as the dialer's desk) against the simulated Asterisk over TCP, on a private Redis.

- A progressive campaign with the simulator delivering events in every order a real Asterisk 22
  uses (EventOrder): no customer is abandoned wrongly, every answered one is connected.
- The AMI link cut right after a customer answers: the customer is connected, not left on hold.
- The engine restarted while a customer is on hold: the new engine finds them in Asterisk and
  connects them (within the grace) or plays the abandon message and counts it once (past it).
- An engine starting beside a live one leaves that engine's customers to it (the dial intent
  names the engine, its heartbeat says it lives).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from dialer.calls.dial_metrics import DialerMetrics
from dialer.calls.lifecycle import Phase
from dialer.campaigns.rules import Campaigns
from dialer.desk.acd import AcdDesk
from dialer.lists.gate import Gate, GateMetrics
from dialer.loop.service import DialerService, DialerSettings
from dialer.stores import DialerStores
from pbx.client import AmiSettings
from pbx.codec import Event
from pbx.sim import AgentPhone, CustomerScript, EventOrder, SimConfig, SimulatedPbx
from routing.acd import AcdMetrics, AcdOptions, AcdService
from routing.agent_events import AgentState
from routing.rules import Rules
from switchboard.engine import Engine
from switchboard.metrics import create_metrics
from tests.support.blended_harness import INBOUND_LINE, Blended, blended_rules
from tests.support.dialer_harness import (
    SECRET,
    Observer,
    RunningClock,
    campaign,
    campaigns,
    lead,
    number,
    originate_vars,
    sim_config,
)

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def engine_on(
    sim: SimulatedPbx, redis: aioredis.Redis, rules: Rules, config: Campaigns, clock: Callable[[], float],
    *, instance_id: str = "engine-1",
) -> AsyncIterator[Blended]:  # fmt: skip
    """One engine of `switchboard run` on an existing simulated PBX (so a test can restart it)."""
    registry = CollectorRegistry()
    gate = Gate(redis, GateMetrics(registry), default_region="HU", timeout=0.3)
    stores = DialerStores.build(
        redis, default_region="HU", gate=gate, clock=lambda: datetime.fromtimestamp(clock(), UTC)
    )
    ami = AmiSettings("127.0.0.1", sim.port, "switchboard", SECRET, reconnect_min=0.01, ping_interval=0)
    engine = Engine(ami, create_metrics(registry, process=False), clock=clock, tick_s=0.02)
    acd = AcdService(
        redis, engine.client, rules, AcdMetrics(registry), clock=clock, instance_id=instance_id,
        options=AcdOptions(),
    )  # fmt: skip
    await acd.load("test")
    settings = DialerSettings(  # a killed engine's heartbeat runs out 3 s after its last round
        round_interval_s=0.05, round_timeout_s=2.0, store_timeout_s=0.5, lease_ms=1000, lease_renew_s=0.25
    )
    dialer = DialerService(
        redis, engine.client, config, gate=stores.gate, leads=stores.leads, desk=AcdDesk(acd),
        metrics=DialerMetrics(registry), instance_id=instance_id, clock=clock, settings=settings,
    )  # fmt: skip
    observer = Observer()
    engine.services.extend([acd, dialer, observer])
    await engine.start()
    try:
        yield Blended(sim, redis, engine, acd, stores, dialer, registry, observer, clock)
    finally:
        await dialer.close()
        await engine.stop()
        await acd.aclose()


@contextlib.asynccontextmanager
async def simulator(config: SimConfig, seed: int = 13) -> AsyncIterator[SimulatedPbx]:
    sim = SimulatedPbx(config, seed=seed)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def customers_bridged(sim: SimulatedPbx) -> int:
    return sum(1 for r in sim.call_log if r.role == "customer" and r.bridged is not None)


def abandon_redirects(sim: SimulatedPbx) -> list[str]:
    return [
        a.get("Channel") or ""
        for a in sim.actions
        if a.name == "Redirect" and a.get("Context") == "switchboard-abandon"
    ]


def response_first(events: list[Event]) -> int:
    """Calls whose OriginateResponse came before their channel's Newchannel."""
    seen: set[str] = set()
    early = 0
    for event in events:
        uid = event.get("Uniqueid") or ""
        if event.name == "Newchannel":
            seen.add(uid)
        elif event.name == "OriginateResponse" and event.get("Response") == "Success" and uid not in seen:
            early += 1
    return early


async def test_a_progressive_campaign_with_every_event_order_abandons_nobody_wrongly(
    redis_client: aioredis.Redis,
) -> None:
    leads = 16
    answering = {number(i): CustomerScript(outcome="answer", ring_s=1.0, talk_s=8.0) for i in range(leads)}
    config = sim_config(
        customer_overrides=answering, order=EventOrder.every_order(0.5), event_history=100_000,
        default_agent=AgentPhone(answer_after_s=0.2),
    )  # fmt: skip
    clock = RunningClock()
    async with (
        simulator(config) as sim,
        engine_on(sim, redis_client, blended_rules("1001", "1002"), campaigns(campaign()), clock) as b,
    ):
        for agent in ("1001", "1002"):
            await b.acd.login(agent)
        await b.load_leads([lead(i) for i in range(leads)])
        for n in range(3):  # inbound callers in the same shuffled stream, for the ACD's lifecycle
            await sim.inbound_call(f"+3620987654{n}", INBOUND_LINE, patience_s=2000, talk_s=8.0)
        await b.start()
        answered = "switchboard_dial_attempts_total"
        await b.until(lambda: b.sample(answered, campaign="c1", result="answered") == leads, timeout=90)
        await b.until(lambda: sum(1 for r in sim.call_log if r.role == "caller" and r.ended) == 3, timeout=30)

        assert b.sample("switchboard_dial_abandoned_total", campaign="c1") == 0
        assert abandon_redirects(sim) == []
        assert customers_bridged(sim) == leads, "every answered customer was connected"
        assert all(r.bridged is not None for r in sim.call_log if r.role == "caller"), "inbound callers too"
        assert response_first(sim.events) >= 3, "the OriginateResponse overtook Newchannel on some calls"
        assert not b.dialer.calls()


@pytest.mark.parametrize("order", sorted(EventOrder.model_fields))
async def test_each_event_order_forced_on_local_channels_connects_every_call(
    redis_client: aioredis.Redis, order: str
) -> None:
    """Each of Asterisk 22's other orders forced on every call (SimConfig.order), agents and
    customers as Local channels as on the real-Asterisk runs: inbound callers and answered customers
    are all connected, nobody is abandoned, every agent is free again and no call is left open."""
    leads = 4
    answering = {number(i): CustomerScript(outcome="answer", ring_s=0.5, talk_s=3.0) for i in range(leads)}
    config = sim_config(
        customer_overrides=answering, order=EventOrder(**{order: 1.0}), event_history=100_000,
        default_agent=AgentPhone(answer_after_s=0.2),
    )  # fmt: skip
    rules = blended_rules("1001", "1002", interface="Local/{id}@agents")
    plan = campaigns(campaign(dial_string="Local/{number}@customers"))
    async with simulator(config) as sim, engine_on(sim, redis_client, rules, plan, RunningClock()) as b:
        for agent in ("1001", "1002"):
            await b.acd.login(agent)
        await b.load_leads([lead(i) for i in range(leads)])
        for n in range(3):
            await sim.inbound_call(f"+3620987655{n}", INBOUND_LINE, patience_s=2000, talk_s=3.0)
        await b.start()
        answered = "switchboard_dial_attempts_total"
        await b.until(lambda: b.sample(answered, campaign="c1", result="answered") == leads, timeout=60)
        await b.until(lambda: sum(1 for r in sim.call_log if r.role == "caller" and r.ended) == 3, timeout=30)
        await sim.wait_for_channel_count(0, timeout=30)
        await b.until(lambda: all(b.state(a) is AgentState.READY for a in ("1001", "1002")), timeout=10)

        assert b.sample("switchboard_dial_abandoned_total", campaign="c1") == 0
        assert abandon_redirects(sim) == []
        assert customers_bridged(sim) == leads, "every answered customer was connected"
        assert all(r.bridged is not None for r in sim.call_log if r.role == "caller"), "inbound callers too"
        assert not b.dialer.calls() and not b.acd.ctx.state.calls, "no call left open"
        dialled = [a.get("Channel") or "" for a in sim.actions if a.name == "Originate"]
        assert len(dialled) >= leads + 3 and all(d.startswith("Local/") for d in dialled)


def answers_at_once(ring_s: float = 0.0) -> dict[str, CustomerScript]:
    return {number(1): CustomerScript(outcome="answer", ring_s=ring_s, talk_s=10.0, patience_s=2000.0)}


@pytest.mark.parametrize("cut", ["with-the-originate", "right-after-the-answer"])
async def test_a_customer_answering_while_the_link_is_down_is_connected(
    redis_client: aioredis.Redis, cut: str
) -> None:
    """The measured case: the answer and the AMD verdict come while the link is down."""
    config = sim_config(customer_overrides=answers_at_once(0.0 if cut == "with-the-originate" else 2.0))
    async with (
        simulator(config) as sim,
        engine_on(sim, redis_client, blended_rules("1001"), campaigns(campaign()), RunningClock()) as b,
    ):
        await b.acd.login("1001")
        await b.load_leads([lead(1)])
        sim.refuse_logins()
        if cut == "with-the-originate":  # the call is placed; the link goes with the Originate's reply
            sim.fail_next("Originate", "close", execute=True)
        await b.start()
        if cut == "right-after-the-answer":
            await sim.wait_for_event(
                "Newstate", lambda e: e.get("ChannelState") == "6" and "trunk" in (e.get("Channel") or "")
            )
            await sim.drop_connections()
        await sim.wait_for_event("UserEvent", lambda e: e.get("UserEvent") == "SwitchboardOutboundAnswered")
        assert not b.engine.ready, "the verdict came while the link was down"
        sim.refuse_logins(False)
        await b.until(lambda: b.engine.stats.resyncs >= 2)
        await b.until(
            lambda: b.sample("switchboard_dial_attempts_total", campaign="c1", result="answered") == 1
        )

        assert customers_bridged(sim) == 1
        assert b.sample("switchboard_dial_abandoned_total", campaign="c1") == 0
        assert abandon_redirects(sim) == []
        assert len(b.customer_originates()) == 1, "never dialed twice"


@pytest.mark.parametrize(("grace_s", "connected"), [(30.0, True), (2.0, False)])
async def test_a_customer_on_hold_across_an_engine_restart_is_connected_or_abandoned_once(
    redis_client: aioredis.Redis, grace_s: float, connected: bool
) -> None:
    """The first engine dies (kill -9: nothing handed over) while the customer rings; they answer
    with no engine running; the next engine finds them on hold in Asterisk."""
    config = sim_config(customer_overrides=answers_at_once(50.0))  # 2.5 s of real ringing (x20)
    plan = campaigns(campaign(ring_timeout_s=60, pacing={"abandon_grace_s": grace_s}))
    rules, clock = blended_rules("1001"), RunningClock()
    async with simulator(config) as sim:
        async with engine_on(sim, redis_client, rules, plan, clock) as first:
            await first.acd.login("1001")
            await first.load_leads([lead(1)])
            await first.start()
            dial = await sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
            await first.until(lambda: bool(first.dialer.calls()))
            killed(first.dialer)
        call_id = originate_vars(dial)["SWITCHBOARD_CALL_ID"]
        announced = await sim.wait_for_event(
            "UserEvent", lambda e: e.get("UserEvent") == "SwitchboardOutboundAnswered", timeout=10
        )
        assert announced.get("CallID") == call_id, "answered with no engine running: on hold"

        async with engine_on(
            sim, redis_client, rules, plan, clock, instance_id="engine-2"
        ) as second:  # a new pid
            attempts = "switchboard_dial_attempts_total"
            if connected:
                await second.until(lambda: customers_bridged(sim) == 1)
                await second.until(lambda: second.sample(attempts, campaign="c1", result="answered") == 1, 10)
                assert abandon_redirects(sim) == []
            else:
                await second.until(lambda: second.sample(attempts, campaign="c1", result="abandoned") == 1)
                assert len(abandon_redirects(sim)) == 1
                assert second.sample("switchboard_dial_abandoned_total", campaign="c1") == 1
                await second.until(lambda: second.state("1001") is AgentState.READY)
                assert customers_bridged(sim) == 0
            await second.dialer.settled()
            assert not second.dialer.calls()
            found = await second.stores.leads.find("L1")
            assert found is not None and found.claimed_by is None, "the dead engine's claim is settled"
            assert found.status == ("done" if connected else "queued"), found.status
            assert len(second.customer_originates()) == 1, "never dialed again"
        assert len(abandon_redirects(sim)) == (0 if connected else 1), "abandoned once"


def killed(dialer: DialerService) -> None:
    """kill -9 when the engine stops: the dialer does nothing on its way out and its pacing lease is
    not given up (it runs out). Its tasks still end, as the process's would: stopping only the
    lease's renewals let the engine's next tick start them again (`tick` does while the service
    is open), and the dead engine led on, so the next engine never took its calls over."""
    stop = dialer.close

    async def close() -> None:
        await stop(release=False)

    dialer.close = close  # type: ignore[method-assign]


async def test_customers_on_hold_when_the_engine_is_killed_under_traffic_are_each_handled_once(
    redis_client: aioredis.Redis,
) -> None:
    """The measured case (kill -9 under traffic left 2-13 answered customers on hold): the next
    engine plays the abandon message to each customer past the grace and counts it once; the
    campaign then goes on."""
    leads, agents = 8, ("1001", "1002")
    scripts = {
        number(i): CustomerScript(outcome="answer", ring_s=50.0, talk_s=10.0, patience_s=2000.0)
        for i in range(leads)
    }
    config = sim_config(customer_overrides=scripts, event_history=100_000)
    plan = campaigns(campaign(ring_timeout_s=60))
    rules, clock = blended_rules(*agents), RunningClock()
    async with simulator(config) as sim:
        async with engine_on(sim, redis_client, rules, plan, clock) as first:
            for agent in agents:
                await first.acd.login(agent)
            await first.load_leads([lead(i) for i in range(leads)])
            await first.start()
            await first.until(lambda: len(first.customer_originates()) == len(agents))
            killed(first.dialer)
            await first.until(lambda: len(first.dialer.calls()) == len(agents))
        held = {originate_vars(a)["SWITCHBOARD_CALL_ID"] for a in first.customer_originates()}
        for _ in held:  # each answers while no engine runs: on hold
            await sim.wait_for_event(
                "UserEvent",
                lambda e: e.get("UserEvent") == "SwitchboardOutboundAnswered" and e.get("CallID") in held,
                timeout=10,
            )
        await sim.wait_for_channels(
            lambda channels: (
                sum(
                    c.context == "switchboard-outbound" and c.moh_class is not None for c in channels.values()
                )
                == len(held)
            ),
            timeout=10,
        )

        async with engine_on(sim, redis_client, rules, plan, clock, instance_id="engine-2") as second:
            attempts = "switchboard_dial_attempts_total"
            await second.until(
                lambda: second.sample(attempts, campaign="c1", result="abandoned") == len(held), 10
            )
            await second.until(
                lambda: second.sample(attempts, campaign="c1", result="answered") == leads - len(held),
                timeout=60,
            )
            await sim.wait_for_channel_count(0, timeout=20)
            await second.dialer.settled()

            redirected = abandon_redirects(sim)
            assert len(redirected) == len(set(redirected)) == len(held), "each abandoned once"
            assert second.sample("switchboard_dial_abandoned_total", campaign="c1") == len(held)
            assert customers_bridged(sim) == leads - len(held)
            assert len(second.customer_originates()) == leads, "nobody dialed twice"


async def test_inbound_calls_in_every_event_order_are_connected_and_free_their_agents(
    redis_client: aioredis.Redis,
) -> None:
    """The ACD's call lifecycle under the same orders: every reordering on every call, agents that
    hang up first (Hangup before BridgeLeave on their side) and callers who do."""
    agents = {"1001": AgentPhone(answer_after_s=0.2, talk_s=6.0), "1002": AgentPhone(answer_after_s=0.2)}
    config = sim_config(agents=agents, order=EventOrder.every_order(1.0))
    async with (
        simulator(config) as sim,
        engine_on(sim, redis_client, blended_rules(*agents), campaigns(campaign()), RunningClock()) as b,
    ):
        for agent in agents:
            await b.acd.login(agent)
        for n in range(6):
            await sim.inbound_call(f"+3620987650{n}", INBOUND_LINE, patience_s=2000, talk_s=10.0)
        await b.until(lambda: sum(1 for r in sim.call_log if r.role == "caller" and r.ended) == 6, timeout=60)
        await b.until(lambda: all(b.state(a) is AgentState.READY for a in agents), timeout=10)

        assert all(r.bridged is not None for r in sim.call_log if r.role == "caller")
        assert not b.acd.ctx.state.calls, "no call left behind"


async def test_an_engine_starting_beside_a_live_one_leaves_its_customers_to_it(
    redis_client: aioredis.Redis,
) -> None:
    """Engine 1 has an answered customer (on hold or talking to advisor 1001) when engine 2 starts on
    the same Asterisk and Redis (a second engine, not a restart): engine 2 finds the customer at its
    login, but the dial intent says engine 1 placed it and engine 1's heartbeat runs, so engine 2
    leaves it alone; engine 1 follows it to its end and it is counted once, by engine 1."""
    script = CustomerScript(outcome="answer", ring_s=2.0, talk_s=160.0)
    config = sim_config(customer_overrides={number(1): script})
    plan, rules, clock = campaigns(campaign(ring_timeout_s=60)), blended_rules("1001"), RunningClock()
    attempts, recovered = "switchboard_dial_attempts_total", "switchboard_dial_intents_recovered_total"
    answered = (Phase.WAITING, Phase.CONNECTED)
    async with simulator(config) as sim, engine_on(sim, redis_client, rules, plan, clock) as first:
        await first.acd.login("1001")
        await first.load_leads([lead(1)])
        await first.start()
        await first.until(lambda: any(c.phase in answered for c in first.dialer.calls()), timeout=30)
        async with engine_on(sim, redis_client, rules, plan, clock, instance_id="engine-2") as second:
            await second.until(lambda: second.engine.ready and second.engine.stats.resyncs >= 1, timeout=30)
            assert not second.dialer.calls(), "engine 2 follows none of engine 1's calls"
            await first.until(lambda: not first.dialer.calls(), timeout=60)
            await first.dialer.settled()
            assert not second.dialer.calls()
            assert second.sample(recovered, campaign="c1", how="adopted") == 0
            assert second.sample(recovered, campaign="c1", how="settled") == 0
            for result in ("answered", "abandoned", "no_answer", "unknown"):
                assert second.sample(attempts, campaign="c1", result=result) == 0, "counted by engine 1 only"
        records = await first.dialer.attempts.number_attempts(number(1))
        assert len(records) == 1 and records[0].result is not None, "one attempt, settled once"
