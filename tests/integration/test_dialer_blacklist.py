"""The blacklist gate inside the dialing loop, asserted on what the simulated PBX actually received."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from dialer.calls.dial_records import DialKind, DialRequest, DialStatus
from dialer.dialer_keys import DialerKeys
from pbx.sim import CustomerProfile
from routing.agent_events import AgentState
from tests.support.dialer_harness import campaign, campaigns, lead, number, rig, sim_config

pytestmark = pytest.mark.integration

ALL_BUSY = CustomerProfile(
    answer=0, busy=1, noanswer=0, congestion=0, machine=0, reject=0, signal_s=(0.2, 0.5)
)
AGENTS = ("1001", "1002", "1003", "1004", "1005")


async def test_seed_001_a_crm_sync_wiping_do_not_call_flags_gets_none_of_them_dialed(
    redis_client: aioredis.Redis,
) -> None:
    blocked = list(range(100))
    allowed = list(range(100, 120))
    async with rig(redis_client, campaigns(campaign()), sim_config(customers=ALL_BUSY)) as r:
        # Nightly sync 1: 120 contacts, all "allowed" by the CRM.
        await r.load_leads(lead(i) for i in blocked + allowed)
        # 100 of them told an advisor "do not call" ("nie dzwonić"): the disposition's automation puts
        # the number on the engine's own list.
        for i in blocked:
            await r.stores.dispositions.record(
                lead_id=f"L{i}", code="do_not_call", advisor="anna", now=r.now()
            )
        # Nightly sync 2: the CRM lost the flags and re-sends the same contacts for calling.
        report = await r.stores.leads.upsert_many(
            [lead(i, crm={"do_not_call": False, "synced": 2}) for i in blocked + allowed],
            now=r.now(), actor="crm", campaign_id="c1", reopen=True,
        )  # fmt: skip
        assert report.errors == [] and report.numbers_blocked == 0
        for agent_id in AGENTS:
            await r.agent(agent_id)
        await r.start()

        await r.until(lambda: set(r.dialed()) >= {number(i) for i in allowed}, timeout=30)
        await r.until(
            lambda: r.sample("switchboard_dial_blocked_total", source="internal") >= 100, timeout=30
        )

        dialed = r.sim.originated_numbers()
        assert not {number(i) for i in blocked} & set(dialed), "a blacklisted contact was dialed"
        assert sorted(n for n in dialed if n.startswith("+")) == sorted(number(i) for i in allowed)
        assert await r.redis.xlen(DialerKeys().audit_dial_blocked) == 100  # one audit record per block
        stopped = await r.stores.leads.get("L0")
        assert stopped.status == "closed"


async def test_a_number_blacklisted_after_its_lead_was_queued_is_not_dialed(
    redis_client: aioredis.Redis,
) -> None:
    async with rig(redis_client, campaigns(campaign()), sim_config(customers=ALL_BUSY)) as r:
        await r.load_leads(lead(i) for i in (1, 2, 3))
        await r.stores.internal.add(
            number(2), reason="customer asked by e-mail", actor="supervisor", now=r.now()
        )
        await r.agent("1001")
        await r.start()

        await r.until(lambda: {number(1), number(3)} <= set(r.dialed()), timeout=20)
        await r.until(lambda: r.sample("switchboard_dial_blocked_total", source="internal") >= 1)
        assert number(2) not in r.sim.originated_numbers()


async def test_a_number_blacklisted_while_its_lead_is_claimed_is_not_dialed(
    redis_client: aioredis.Redis,
) -> None:
    config = campaigns(campaign())
    async with rig(redis_client, config, sim_config(), engine_ticks=False) as r:
        await r.load_leads([lead(1)])
        claimed = await r.stores.leads.claim("c1", "engine-1", now=r.now())
        assert claimed is not None and claimed.status == "claimed"
        # One second before its dial, the number goes on the list.
        await r.stores.internal.add(number(1), reason="do not call", actor="anna", now=r.now())

        outcome = await r.dialer.dialer.place_call(
            DialRequest(config.campaigns[0], DialKind.CAMPAIGN, claimed), now=r.now()
        )

        assert outcome.status is DialStatus.BLOCKED and outcome.sources == ("internal",)
        assert r.sim.originated_numbers() == []
        assert (await r.stores.leads.get("L1")).status == "closed"


async def test_the_campaigns_own_list_and_manual_dials_go_through_the_gate(
    redis_client: aioredis.Redis,
) -> None:
    config = campaigns(campaign())
    async with rig(redis_client, config, sim_config(customers=ALL_BUSY), engine_ticks=False) as r:
        await r.stores.packed.add("campaign:c1", [number(7)])
        await r.agent("1001")

        refused = await r.dialer.manual_dial("1001", "c1", number(7))
        assert refused.status is DialStatus.BLOCKED and refused.sources == ("campaign:c1",)
        assert r.sim.originated_numbers() == []
        assert r.state("1001") is AgentState.READY, "the refused dial gave the advisor back"

        placed = await r.dialer.manual_dial("1001", "c1", number(8))
        assert placed.placed and r.dialed() == [number(8)]
