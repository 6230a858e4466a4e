"""Consent before dialing (seed 001, DESIGN.md 2.8): the register in Redis, the gate's refusal, and the
evidence, asserted on what the simulated PBX actually received."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from dialer.calls.dial_records import DialKind, DialRequest, DialStatus
from dialer.consent.store import ConsentStore
from dialer.consent.validity import ConsentState, decide
from dialer.dialer_keys import ConsentKeys, DialerKeys
from dialer.leads.store import LeadStore
from dialer.lists.gate import Gate, GateMetrics
from pbx.sim import CustomerProfile
from switchboard.private_redis import PrivateRedis
from tests.support.dialer_harness import campaign, campaigns, lead, number, rig, sim_config

pytestmark = pytest.mark.integration

ALL_BUSY = CustomerProfile(
    answer=0, busy=1, noanswer=0, congestion=0, machine=0, reject=0, signal_s=(0.2, 0.5)
)
NOW = datetime(2026, 11, 18, 11, 0, tzinfo=UTC)


def consent(index: int, at: datetime, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "customer_id": f"C{index}",
        "number": number(index),
        "purpose": "marketing",
        "source": "web-form",
        "given_at": (at - timedelta(days=30)).isoformat(),
        "reference": f"form-{index}",
    }
    data.update(changes)
    return data


async def test_the_gate_applies_the_same_rules_as_the_pure_core(redis_client: aioredis.Redis) -> None:
    """One table through both: the gate's Lua and dialer.consent.validity.decide agree."""
    store = ConsentStore(redis_client, default_region="HU")
    leads = LeadStore(redis_client, default_region="HU")
    gate = Gate(redis_client, GateMetrics(CollectorRegistry()), default_region="HU")
    day = timedelta(days=1)
    report = await store.give_many(
        [
            consent(1, NOW),  # valid
            consent(2, NOW, expires_at=(NOW - day).isoformat()),  # expired
            consent(3, NOW, purpose="service"),  # wrong purpose
            consent(4, NOW),  # withdrawn below
            consent(5, NOW, given_at=(NOW + timedelta(minutes=3)).isoformat()),  # not yet
            consent(6, NOW, customer_id="C60"),  # another customer's
            consent(7, NOW, expires_at=(NOW + timedelta(seconds=1)).isoformat()),  # valid to the last ms
        ],
        actor="crm",
        now=NOW,
    )
    assert report.errors == [] and report.given == 7
    assert await store.withdraw(number(4), actor="crm", source="e-mail", now=NOW) == ["marketing"]
    await leads.upsert_many([lead(i) for i in range(1, 9)], now=NOW, actor="crm", campaign_id="c1")

    expected = {
        1: ConsentState.VALID, 2: ConsentState.EXPIRED, 3: ConsentState.MISSING, 4: ConsentState.WITHDRAWN,
        5: ConsentState.NOT_YET, 6: ConsentState.MISSING, 7: ConsentState.VALID, 8: ConsentState.MISSING,
    }  # fmt: skip
    for index, state in expected.items():
        pure = decide(await store.records(number(index)), "marketing", f"C{index}", NOW)
        verdict = await gate.check(number(index), "c1", f"L{index}", now=NOW, consent_purpose="marketing")
        assert pure.state is state, index
        assert verdict.consent == state.value, index
        assert verdict.allowed is (state is ConsentState.VALID), index
        if not verdict.allowed:
            assert verdict.sources == ("no-consent",)
    # Without a lead (a bare manual dial) anyone's consent for the number counts.
    assert (await gate.check(number(6), "c1", None, now=NOW, consent_purpose="marketing")).allowed
    # A campaign that needs no consent is not asked about it.
    assert (await gate.check(number(8), "c1", "L8", now=NOW)).consent == ""


async def test_a_campaign_requiring_consent_dials_only_consented_numbers(
    redis_client: aioredis.Redis,
) -> None:
    config = campaigns(campaign(consent_purpose="marketing"))
    async with rig(redis_client, config, sim_config(customers=ALL_BUSY)) as r:
        now = r.now()
        await r.stores.consent.give_many(
            [
                consent(1, now),
                consent(2, now, expires_at=(now - timedelta(days=1)).isoformat()),
                consent(3, now),
                consent(4, now, purpose="service"),
                consent(6, now),
            ],
            actor="crm",
            now=now,
        )
        await r.stores.consent.withdraw(number(3), actor="crm", source="letter", now=now)
        await r.load_leads(lead(i) for i in range(1, 7))
        for agent_id in ("1001", "1002"):
            await r.agent(agent_id)
        await r.start()

        await r.until(lambda: {number(1), number(6)} <= set(r.dialed()), timeout=20)
        await r.until(
            lambda: r.sample("switchboard_dial_blocked_total", source="no-consent") >= 4, timeout=20
        )

        assert sorted(set(r.dialed())) == [number(1), number(6)]
        blocks = await r.redis.xrange(DialerKeys().audit_dial_blocked)
        why = {f[b"number"].decode(): f[b"consent"].decode() for _, f in blocks}
        assert why == {
            number(2): "expired",
            number(3): "withdrawn",
            number(4): "missing",
            number(5): "missing",
        }
        assert all(f[b"sources"] == b"no-consent" and f[b"purpose"] == b"marketing" for _, f in blocks)
        assert (await r.stores.leads.get("L2")).status == "closed"


async def test_a_consent_withdrawn_disposition_takes_effect_at_once(redis_client: aioredis.Redis) -> None:
    config = campaigns(campaign(consent_purpose="marketing"))
    async with rig(redis_client, config, sim_config(customers=ALL_BUSY), engine_ticks=False) as r:
        now = r.now()
        await r.stores.consent.give(consent(1, now), actor="crm", now=now)
        # Two leads of one customer and number: the advisor talks to the customer on the first.
        await r.load_leads([lead(1), lead(1, lead_id="L1b")])
        record = await r.stores.dispositions.record(
            lead_id="L1", code="consent_withdrawn", advisor="anna", now=r.now(), number=number(1)
        )
        assert [(a.action, a.status) for a in record.actions] == [
            ("withdraw_consent", "done"),
            ("close_lead", "done"),
        ]
        claimed = await r.stores.leads.claim("c1", "engine-1", now=r.now())
        assert claimed is not None and claimed.lead_id == "L1b"

        outcome = await r.dialer.dialer.place_call(
            DialRequest(config.campaigns[0], DialKind.CAMPAIGN, claimed), now=r.now()
        )

        assert outcome.status is DialStatus.BLOCKED and outcome.sources == ("no-consent",)
        assert "withdrawn" in outcome.detail
        assert r.sim.originated_numbers() == []
        evidence = await r.stores.consent.evidence(number(1))
        assert [e["action"] for e in evidence.history] == ["given", "withdrawn"]
        assert evidence.history[1]["actor"] == "anna"
        assert "consent_withdrawn" in evidence.history[1]["source"]


async def test_the_evidence_names_every_dial_made_under_the_consent(redis_client: aioredis.Redis) -> None:
    config = campaigns(campaign(consent_purpose="marketing"))
    async with rig(redis_client, config, sim_config(customers=ALL_BUSY), engine_ticks=False) as r:
        now = r.now()
        await r.stores.consent.give(consent(1, now), actor="crm", now=now)
        await r.agent("1001")

        placed = await r.dialer.manual_dial("1001", "c1", number(1))

        assert placed.placed and placed.call is not None
        evidence = await r.stores.consent.evidence(number(1))
        assert [(d.call_id, d.campaign_id, d.purpose, d.customer_id) for d in evidence.dials] == [
            (placed.call.call_id, "c1", "marketing", "C1")
        ]
        assert [(c.purpose, c.source, c.reference) for c in evidence.records] == [
            ("marketing", "web-form", "form-1")
        ]


async def test_no_dial_while_the_consent_store_is_down(
    redis_client: aioredis.Redis, own_redis: PrivateRedis, own_client: aioredis.Redis
) -> None:
    """Leads and attempts readable, the gate's store (blacklist and consent register) not: nothing dials."""
    config = campaigns(campaign(consent_purpose="marketing"))
    async with rig(redis_client, config, sim_config(customers=ALL_BUSY), gate_redis=own_client) as r:
        await ConsentStore(own_client, default_region="HU").give(
            consent(1, r.now()), actor="crm", now=r.now()
        )
        await r.load_leads([lead(1)])
        await r.agent("1001")
        own_redis.pause()
        await r.start()

        await r.until(
            lambda: r.sample("switchboard_dial_blocked_total", source="store-unavailable") >= 2, timeout=20
        )
        assert r.dialed() == []

        own_redis.resume()
        await r.until(lambda: r.dialed() == [number(1)], timeout=20)


async def test_a_crm_resync_of_the_old_grant_does_not_revive_a_withdrawn_consent(
    redis_client: aioredis.Redis,
) -> None:
    store = ConsentStore(redis_client, default_region="HU")
    await store.give(consent(1, NOW), actor="crm", now=NOW)
    await store.withdraw(number(1), actor="anna", source="disposition", now=NOW)

    report = await store.give_many(
        [consent(1, NOW), consent(2, NOW)], actor="crm", now=NOW + timedelta(hours=1)
    )

    assert report.given == 1 and [p.index for p in report.errors] == [0]
    assert "withdrawn at 2026-11-18T11:00:00+00:00" in report.errors[0].message
    (kept,) = await store.records(number(1))
    assert kept.withdrawn_at == NOW and kept.withdrawn_by == "anna"
    # A consent given after the withdrawal counts again.
    renewed = consent(1, NOW, given_at=(NOW + timedelta(minutes=30)).isoformat())
    _, status = await store.give(renewed, actor="crm", now=NOW + timedelta(hours=1))
    assert status == "updated"
    (now_valid,) = await store.records(number(1))
    assert decide([now_valid], "marketing", "C1", NOW + timedelta(hours=1)).allowed
    # Re-sending the same grant changes nothing and audits nothing.
    before = await redis_client.xlen(ConsentKeys().audit)
    _, status = await store.give(renewed, actor="crm", now=NOW + timedelta(hours=2))
    assert status == "unchanged"
    assert await redis_client.xlen(ConsentKeys().audit) == before
