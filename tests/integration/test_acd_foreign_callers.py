"""Callers announced for another ACD shard (docs/redis.md, "Splitting a center into ACD shards"):
every engine hears them and leaves them to their shard's engines. A SWITCHBOARD_SHARD that no engine
serves (a typo in a DID's dialplan, a shard whose engines are all down) would leave its callers on
hold unheard of: the engines of the other shards count them by the role that should take them and
warn, at most every few minutes per role, when no engine owns it. Real Redis, simulated PBX over TCP.
"""

from __future__ import annotations

import logging
import time

import pytest
import redis.asyncio as aioredis

from routing.acd.acd_keys import AcdKeys
from routing.acd.foreign import WARN_EVERY_S
from tests.support.acd_harness import base_rules, make_rules, running_engine, running_sim, sim_config

pytestmark = pytest.mark.integration
LINE = "+3612345678"


async def test_callers_of_a_shard_nobody_serves_are_counted_and_warned_about(
    redis_client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    now = [time.time()]
    await redis_client.set(AcdKeys.of_shard("east").owner, "7:engine-east", px=60_000)  # east is served
    async with (
        running_sim(sim_config()) as sim,
        running_engine(sim, redis_client, make_rules(base_rules()), clock=lambda: now[0]) as s,
    ):
        caplog.set_level(logging.WARNING, "switchboard.acd")

        async def call(shard: str, role: str, count: float) -> None:
            await sim.inbound_call("+36301234567", LINE, patience_s=600, shard=shard)
            await s.until(lambda: s.sample("switchboard_acd_foreign_callers_total", role=role) == count)

        def warnings() -> list[str]:
            return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]

        await call("east", "acd-east", 1)
        await call("north", "acd-north", 1)
        await call("north", "acd-north", 2)
        await call("East 1", "invalid", 1)
        assert not s.acd.ctx.state.calls  # none of them is the default shard's
        assert len(warnings()) == 2
        assert "no engine owns ACD shard 'north' (role acd-north)" in warnings()[0]
        assert "SWITCHBOARD_SHARD 'East 1' is no ACD shard's name" in warnings()[1]

        now[0] += WARN_EVERY_S
        await call("north", "acd-north", 3)
        await call("east", "acd-east", 2)
        assert len(warnings()) == 3 and "'north'" in warnings()[2]
