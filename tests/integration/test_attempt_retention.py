"""Attempt histories age out after the retention (31 days, as the attempt ZSETs always expired): a
lead's attempts kept in its hash (which has no TTL) no longer count once older than that, so a lead
the CRM reopens after a long pause is dialed again; and an attempt ZSET keeps its TTL through the
settlement (it used to be emptied and made anew without one). Real Redis, injected clocks.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from dialer.calls.attempts import AttemptStore
from dialer.calls.intents import Intent, IntentStore, LeadStep
from dialer.compliance.caps import CallResult
from dialer.dialer_keys import DialKeys, LeadKeys
from dialer.leads.store import LeadStore
from pbx.sim import CustomerProfile
from tests.support.dialer_harness import campaign, campaigns, lead, number, originate_vars, rig, sim_config

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 18, 11, 0, tzinfo=ZoneInfo("Europe/Budapest"))  # a Wednesday, in hours
HOLD = timedelta(hours=2)
RETENTION_MS = 31 * 24 * 3600 * 1000
BUSY = CustomerProfile(answer=0, busy=1, noanswer=0, congestion=0, machine=0, reject=0, signal_s=(0.2, 0.5))


class SetClock:
    def __init__(self, at: datetime) -> None:
        self.at = at.timestamp()

    def __call__(self) -> float:
        return self.at


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def intent(call_id: str, at: datetime, lead_id: str | None = "L1", holder: str | None = "e-old") -> Intent:
    kind = "campaign" if holder else "callback"
    return Intent(call_id, "a-1", number(1), "c1", kind, ms(at), "e-old", lead_id, holder, None)


@pytest.mark.parametrize(("days_ago", "dialed"), [(40, True), (30, False)], ids=["past-retention", "within"])
async def test_a_lead_exhausted_before_the_retention_and_reopened_is_dialed_again(
    redis_client: aioredis.Redis, days_ago: int, dialed: bool
) -> None:
    """One attempt allowed; the lead used it `days_ago` days ago (kept in its hash, which has no TTL)
    and the CRM reopens it now: 40 days on, that attempt no longer counts (the lead is dialed, and
    the dial drops it from the hash); 30 days on it still does (the lead is closed, exhausted)."""
    config = campaigns(campaign(caps={"max_attempts_per_lead": 1}))
    async with rig(
        redis_client, config, sim_config(customers=BUSY), clock=SetClock(NOW), engine_ticks=False
    ) as r:
        then = NOW - timedelta(days=days_ago)
        leads = r.stores.leads
        await leads.upsert_many([lead(1)], now=then, actor="crm", campaign_id="c1")
        assert await leads.claim("c1", "e-old", now=then) is not None
        old = intent("sbo-old", then)
        assert await IntentStore(redis_client).open(old, at=then, hold=HOLD) is None
        done = LeadStep("done", "e-old", reason="exhausted", actor="e-old")
        assert await IntentStore(redis_client).settle(old, result="no_answer", counts={}, step=done, at=then)
        assert await redis_client.pttl(LeadKeys().lead("L1")) == -1, "the lead's hash does not expire"

        report = await leads.upsert_many([lead(1)], now=NOW, actor="crm", campaign_id="c1", reopen=True)
        assert not report.errors
        await r.agent("1001")
        await r.start()
        assert await r.dialer.run_once()

        if dialed:
            await r.sim.wait_for_action("Originate", lambda a: "@trunk" in (a.get("Channel") or ""))
            assert r.dialed() == [number(1)]
            history = await r.dialer.attempts.lead_attempts("L1")
            placed = originate_vars(r.customer_originates()[0])["SWITCHBOARD_CALL_ID"]
            assert [a.call_id for a in history] == [placed], (
                "the old attempt trimmed from the hash by the dial"
            )
        else:
            assert r.dialed() == []
            closed = await leads.get("L1")
            assert closed.status == "closed" and "lead-exhausted" in (closed.closed_reason or ""), closed


async def test_a_settled_attempt_zset_keeps_its_retention_ttl(redis_client: aioredis.Redis) -> None:
    """The number's ZSET after a held lead's dial, a callback's two ZSETs, an older engine's intent
    (settled by call id) and the tools' `AttemptStore.settle`: each expires a retention after, never
    -1 (kept for ever: the ZREM of its only entry deleted it and the ZADD made it anew)."""
    intents, attempts = IntentStore(redis_client), AttemptStore(redis_client)
    keys = DialKeys()
    t0 = NOW.astimezone(ZoneInfo("UTC"))

    held = intent("sbo-1", t0)  # a held lead: its attempt goes into the lead's hash, no lead ZSET
    leads = LeadStore(redis_client, default_region="HU")
    await leads.upsert_many([lead(1)], now=t0, actor="crm", campaign_id="c1")
    assert await leads.claim("c1", "e-old", now=t0) is not None
    assert await intents.open(held, at=t0, hold=HOLD) is None
    assert await intents.settle(held, result="busy", counts={}, step=LeadStep("release", "e-old"), at=t0)
    assert 0 < await redis_client.pttl(keys.number_attempts(number(1))) <= RETENTION_MS

    await redis_client.delete(keys.number_attempts(number(1)))
    callback = intent("sbo-2", t0, lead_id="L7", holder=None)  # ZSETs for the number and the lead
    assert await intents.open(callback, at=t0, hold=HOLD) is None
    assert await intents.settle(callback, result="no_answer", counts={}, step=None, at=t0)
    for key in (keys.number_attempts(number(1)), keys.lead_attempts("L7")):
        assert 0 < await redis_client.pttl(key) <= RETENTION_MS, key
        assert [r.result for r in await attempts.lead_attempts("L7")] == [CallResult.NO_ANSWER]

    await redis_client.delete(keys.number_attempts(number(1)), keys.lead_attempts("L7"))
    older = intent("sbo-3", t0, lead_id="L7", holder=None)  # an older engine: no `attempt_ms`
    assert await intents.open(older, at=t0, hold=HOLD) is None
    await redis_client.hdel(keys.call("sbo-3"), "attempt_ms")
    assert await intents.settle(older, result="busy", counts={}, step=None, at=t0)
    for key in (keys.number_attempts(number(1)), keys.lead_attempts("L7")):
        assert 0 < await redis_client.pttl(key) <= RETENTION_MS, key
    assert [(r.call_id, r.at) for r in await attempts.lead_attempts("L7")] == [("sbo-3", t0)], "at the dial"

    await attempts.record(call_id="t-1", number=number(2), campaign="c1", lead_id="L8", at=t0, kind="manual")
    await attempts.settle(call_id="t-1", number=number(2), campaign="c1", lead_id="L8",
                          result=CallResult.BUSY, at=t0)  # fmt: skip
    for key in (keys.number_attempts(number(2)), keys.lead_attempts("L8")):
        assert 0 < await redis_client.pttl(key) <= RETENTION_MS, key
