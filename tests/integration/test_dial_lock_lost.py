"""A number is dialled once even when one dialer's lock on it ran out before its dial (issue 10).

Two dialers pace different campaigns (two ACD shards' engines) and a customer's number is in both.
Dialer A locks the number and reads its caps, then stalls past its lock's 15 s; dialer B locks the
number, reads the caps (A's attempt is not written yet) and dials. When A resumes, its write-ahead
intent must refuse: the lock is no longer A's, so nothing is written and nothing is dialled. Real
Redis, the simulated Asterisk over TCP; the stall is injected in A's gate step, between its lock
and its intent, where the lock is made to run out (PEXPIRE 0) and B dials.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from dialer.audit import text
from dialer.calls.attempts import AttemptStore
from dialer.calls.dial_metrics import DialerMetrics
from dialer.calls.dial_records import DialKind, DialRequest, DialStatus
from dialer.calls.dialing import Dialer
from dialer.calls.intents import IntentStore
from dialer.dialer_keys import DialKeys
from dialer.lists.gate import Gate, GateMetrics, Verdict
from tests.support.dialer_harness import campaign, campaigns, lead, number, rig, sim_config

pytestmark = pytest.mark.integration


class StallingGate(Gate):
    """The real gate, run after `stall` on its first verdict: the pause of a dialer between its lock
    and its intent (a GC pause, a slow gate, a stalled event loop)."""

    stall: Callable[[], Awaitable[None]] | None = None

    async def verdict(self, number_e164: str, *args: object, **kwargs: object) -> Verdict:
        stall, self.stall = self.stall, None
        if stall is not None:
            await stall()
        return await super().verdict(number_e164, *args, **kwargs)  # type: ignore[arg-type]


async def test_a_number_whose_lock_ran_out_before_the_dial_is_dialled_once(
    redis_client: aioredis.Redis,
) -> None:
    config = campaigns(campaign("c1"), campaign("c2"))
    shared = number(1)
    async with rig(redis_client, config, sim_config(), engine_ticks=False) as r:
        await r.load_leads([lead(1, phone=shared)], campaign_id="c1")
        await r.load_leads([lead(2, phone=shared)], campaign_id="c2")
        a_lead = await r.stores.leads.claim("c1", "engine-1", now=r.now())
        b_lead = await r.stores.leads.claim("c2", "engine-2", now=r.now())
        assert a_lead is not None and b_lead is not None
        b = Dialer(
            gate=r.stores.gate, sender=r.engine.client, attempts=AttemptStore(redis_client),
            intents=IntentStore(redis_client), leads=r.stores.leads, registry=r.dialer,
            metrics=DialerMetrics(CollectorRegistry()), owner="engine-2", clock=r.clock,
        )  # fmt: skip
        a = r.dialer.dialer
        lock = DialKeys().dial_lock(shared)
        b_outcomes = []

        async def stall() -> None:
            a_token = text(await redis_client.get(lock))
            assert await redis_client.pexpire(lock, 0), "A's lock runs out"
            b_outcomes.append(await b.place_call(DialRequest(config.campaigns[1], lead=b_lead), now=r.now()))
            assert text(await redis_client.get(lock)) not in ("", a_token), "B holds the number now"

        a.gate = gate = StallingGate(redis_client, GateMetrics(CollectorRegistry()), default_region="HU")
        gate.stall = stall
        at = r.now()
        a_outcome = await a.place_call(DialRequest(config.campaigns[0], DialKind.CAMPAIGN, a_lead), now=at)

        assert [o.status for o in b_outcomes] == [DialStatus.PLACED]
        assert a_outcome.status is DialStatus.NUMBER_BUSY, a_outcome
        assert r.dialed() == [shared], "the number is dialled once, by B"
        b_call = b_outcomes[0].call
        assert b_call is not None
        assert text(await redis_client.get(lock)) == b_call.lock_token, "B's lock is left as it was"
        assert await redis_client.pttl(lock) > 0, "and still expires"
        history = await AttemptStore(redis_client).number_attempts(shared)
        assert [record.call_id for record in history] == [b_call.call_id], "A counted no attempt"
        assert [i.call_id for i in await IntentStore(redis_client).open_intents()] == [b_call.call_id]
        given_back = await r.stores.leads.get("L1")
        assert given_back.status == "queued" and given_back.attempts == 0 and not given_back.claimed_by
        assert given_back.next_attempt_at is not None and given_back.next_attempt_at > at
