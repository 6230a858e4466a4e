"""A stalled AMI link is an AMI problem, never a Redis one (the real-Asterisk row
`stall20-at-customer-originate`): simulated Asterisk over TCP behind the fault proxy, real Redis.

A pacing round whose Originate waits on a stalled link used to hit the round's timeout, which was
reported as "Redis failed while running a pacing round", counted as an unavailable gate check (the
critical alert SwitchboardGateUnavailable, whose runbook says Redis) and dropped the pacing
leadership while Redis was healthy. The Originate's wait now ends before the round's timeout with
the AMI client's own timeout (counted in switchboard_ami_actions_total{result="timeout"}); the
withdraw's Hangup of the agent's leg likewise (`stall20-after-customer-answer`). The unavailable
gate count is kept for a store that could not be read (the last test).
"""

from __future__ import annotations

import logging
from collections import Counter

import pytest
import redis.asyncio as aioredis

from dialer.loop.background import DialerSettings
from pbx.sim import AgentPhone, CustomerProfile, CustomerScript
from routing.acd.context import AcdOptions
from switchboard.private_redis import PrivateRedis
from tests.support.blended_harness import blended, blended_rules
from tests.support.dialer_harness import campaign, campaigns, lead, number
from tests.support.dialer_harness import sim_config as dialer_sim_config
from tests.support.proxy_harness import behind_proxy, ended_customers

pytestmark = pytest.mark.integration

STALL_S = 3.0  # longer than the round's timeout (2 s), shorter than the keepalive's (0.5 s + 5 s)
QUICK_BUSY = CustomerProfile(
    answer=0, busy=1, noanswer=0, congestion=0, machine=0, reject=0, signal_s=(0.2, 0.3)
)

QUICK_ROUNDS = DialerSettings(round_interval_s=0.05, round_timeout_s=0.6, store_timeout_s=0.3)


def redis_blamed(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "Redis failed" in r.getMessage()]


async def test_a_stall_during_a_rounds_originate_is_counted_as_ami_not_as_redis(
    redis_client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    script = CustomerScript(outcome="answer", ring_s=0.5, talk_s=1.0, patience_s=2000.0)
    config = dialer_sim_config(time_scale=1.0, customer_overrides={number(1): script})
    async with (
        behind_proxy(config, ping_timeout=5.0) as (sim, proxy, ami),
        blended(redis_client, blended_rules("1001"), campaigns(campaign()), pbx=sim, ami=ami) as b,
    ):
        await b.acd.login("1001")
        await b.load_leads([lead(1), lead(2)])
        proxy.stall_at("Originate", STALL_S)  # the customer's Originate: the first one of the round
        await b.start()
        await b.until(lambda: proxy.stats.stalls == 1, timeout=10)
        await b.until(lambda: bool(ended_customers(sim)), timeout=30)
        await b.until(lambda: not b.acd.ctx.state.calls and not b.dialer.calls(), timeout=10)

        assert proxy.stats.connections == 1, "the link stayed up: the keepalive never gave up"
        assert redis_blamed(caplog) == [], "Redis is healthy: a stalled AMI link is not its failure"
        assert b.sample("switchboard_gate_checks_total", result="unavailable") == 0
        assert b.sample("switchboard_ami_actions_total", action="Originate", result="timeout") >= 1
        assert b.dialer.round_failures == 0
        assert b.sample("switchboard_dialer_leader") == 1, "the pacing was not given up"
        dialed = Counter(b.dialed())
        assert dialed[number(1)] == 1, "the unanswered Originate was followed, never sent again"
        assert all(count == 1 for count in dialed.values()), dialed
        record = ended_customers(sim)[0]
        assert record.bridged is not None, "the customer the late Originate reached got the agent"


async def test_a_stall_during_a_hand_over_is_not_reported_as_redis(
    redis_client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """The customer answered; the link stalls on the agent's ring (the hand-over's Originate) and
    stays stalled past the abandon grace (the withdraw): neither is Redis's failure."""
    caplog.set_level(logging.WARNING)
    script = CustomerScript(outcome="answer", ring_s=1.0, talk_s=1.0, patience_s=2000.0)
    config = dialer_sim_config(time_scale=1.0, customer_overrides={number(1): script})
    async with (
        behind_proxy(config, ping_timeout=5.0) as (sim, proxy, ami),
        blended(redis_client, blended_rules("1001"), campaigns(campaign()), pbx=sim, ami=ami) as b,
    ):
        await b.acd.login("1001")
        await b.load_leads([lead(1)])
        await b.start()
        await b.until(lambda: bool(b.dialed()), timeout=10)
        proxy.stall_at("Originate", STALL_S)  # the next Originate: the agent's ring of the hand-over
        await b.until(lambda: proxy.stats.stalls == 1, timeout=10)
        await b.until(lambda: bool(ended_customers(sim)), timeout=30)
        await b.until(lambda: not b.acd.ctx.state.calls and not b.dialer.calls(), timeout=10)

        assert redis_blamed(caplog) == [], "Redis is healthy: a stalled AMI link is not its failure"
        assert b.sample("switchboard_gate_checks_total", result="unavailable") == 0
        assert b.sample("switchboard_ami_actions_total", action="Originate", result="timeout") >= 1
        assert b.dialer.round_failures == 0
        assert b.sample("switchboard_dialer_leader") == 1
        assert b.dialed() == [number(1)], "dialed once"


async def test_a_withdraw_whose_hangup_waits_on_a_stalled_link_is_not_reported_as_redis(
    redis_client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """The real row `stall20-after-customer-answer`: the agent's ring goes out, the link stalls, the
    abandon grace ends and the dialer withdraws the call from the ACD, whose Hangup of the agent's
    leg waits on the stalled link (the ACD's action timeout, 3 s, outlasts the withdraw's bound,
    1 s). The Hangup times out as AMI's; the withdraw is not a Redis failure."""
    caplog.set_level(logging.WARNING)
    script = CustomerScript(outcome="answer", ring_s=1.0, talk_s=1.0, patience_s=2000.0)
    config = dialer_sim_config(
        time_scale=1.0, customer_overrides={number(1): script}, default_agent=AgentPhone(answer_after_s=60)
    )
    async with (
        behind_proxy(config, ping_timeout=5.0) as (sim, proxy, ami),
        blended(redis_client, blended_rules("1001"), campaigns(campaign()), pbx=sim, ami=ami,
                options=AcdOptions(action_timeout_s=3.0)) as b,
    ):  # fmt: skip
        await b.acd.login("1001")
        await b.load_leads([lead(1)])
        await b.start()
        await b.until(lambda: bool(b.dialed()), timeout=10)
        # Handed over, and the engine has seen the agent's leg ring (the simulator having it is not
        # enough: an event still on its way would be stalled too, and the withdraw had no leg to end).
        await b.until(lambda: any(b.acd.flow.legs(a) for a in b.acd.ctx.state.calls.values()), timeout=10)
        await proxy.stall(4.5)  # past the grace (2 s) and the Hangup's 1 s bound, short of the keepalive
        await b.until(lambda: bool(ended_customers(sim)), timeout=30)
        await b.until(lambda: not b.acd.ctx.state.calls and not b.dialer.calls(), timeout=10)

        assert redis_blamed(caplog) == [], "Redis is healthy: a stalled AMI link is not its failure"
        assert b.sample("switchboard_gate_checks_total", result="unavailable") == 0
        assert b.sample("switchboard_ami_actions_total", action="Hangup", result="timeout") >= 1
        assert b.sample("switchboard_dialer_leader") == 1
        assert b.dialed() == [number(1)], "dialed once"


async def test_a_frozen_redis_behind_a_healthy_link_is_still_counted_as_unavailable(
    own_redis: PrivateRedis, own_client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """The other way round: Redis frozen (SIGSTOP), the AMI link healthy. The rounds fail as Redis's
    (logged, counted as unavailable gate checks: the alert fires), nothing is dialed, AMI is not blamed."""
    caplog.set_level(logging.WARNING)
    config = dialer_sim_config(customers=QUICK_BUSY, time_scale=1.0)
    async with (
        behind_proxy(config) as (sim, _proxy, ami),
        blended(own_client, blended_rules("1001"), campaigns(campaign()), pbx=sim, ami=ami,
                settings=QUICK_ROUNDS) as b,
    ):  # fmt: skip
        await b.acd.login("1001")
        await b.load_leads([lead(i) for i in range(1, 30)])
        await b.start()
        await b.until(lambda: len(b.dialed()) >= 2, timeout=20)
        own_redis.pause()
        try:
            failed = b.dialer.round_failures
            await b.until(lambda: b.dialer.round_failures >= failed + 2, timeout=20)
            frozen = len(b.dialed())
            await b.until(lambda: b.dialer.round_failures >= failed + 4, timeout=20)
            assert len(b.dialed()) == frozen, "nothing is dialed while Redis cannot be read"
            assert b.sample("switchboard_gate_checks_total", result="unavailable") >= 2
            assert redis_blamed(caplog), "logged as Redis's failure"
            assert b.sample("switchboard_ami_actions_total", action="Originate", result="timeout") == 0
        finally:
            own_redis.resume()
        await b.until(lambda: len(b.dialed()) > frozen, timeout=30)
