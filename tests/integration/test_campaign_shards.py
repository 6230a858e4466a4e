"""A campaign whose `shard:` no engine runs is warned about (real Redis): in the engine's log and
metric when it loads or reloads campaigns.yaml, and by `switchboard check-config`. The engines'
check on a single Redis and on a real cluster (the shards' leases live in different slots)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from core.lease import Lease
from dialer.campaigns.shard_check import ShardProblem
from pbx.sim import SimConfig, SimulatedPbx
from routing.acd.acd_keys import AcdKeys
from switchboard.campaign_checks import CampaignShards
from switchboard.cli import EXIT_OK, main
from switchboard.private_cluster import PrivateCluster
from switchboard.private_redis import PrivateRedis
from switchboard.runtime import Runtime
from switchboard.settings import Settings
from tests.support.acd_harness import agent, base_rules
from tests.support.dialer_harness import RunningClock, campaign, campaigns

SECRET = "runtime-secret"

pytestmark = pytest.mark.integration
TYPO = campaigns(campaign("c1", shard="nort"), campaign("c2", shard="north"), campaign("c3", shard="south"))


async def test_a_campaign_of_a_shard_no_engine_runs_is_warned_once_naming_campaign_file_and_shard(
    redis_client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    south = Lease(redis_client, AcdKeys.of_shard("south").owner, engine_id="engine-s", role="acd-south")
    assert await south.acquire(), "an engine of shard south runs"
    registry, file = CollectorRegistry(), Path("/etc/switchboard/campaigns.yaml")
    check = CampaignShards(redis_client, "north", file, registry)
    caplog.set_level(logging.INFO, logger="switchboard.campaigns")

    found = await check.check(TYPO)
    assert [str(p) for p in found] == ["campaign c1: shard 'nort' has no running engine"]
    said = [r for r in caplog.records if r.name == "switchboard.campaigns"]
    warnings = [r.getMessage() for r in said if r.levelno == logging.WARNING]
    assert warnings == [f"campaign c1: shard 'nort' has no running engine ({file}): nobody paces it; "
                        "is the shard mistyped?"]  # fmt: skip
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("c1" in m and "'nort'" in m for m in infos) and any(
        "c3" in m and "'south'" in m for m in infos
    )
    assert not any("c2" in m for m in infos), "this engine's own campaign is not another shard's"
    gauge = "switchboard_campaign_without_engine"
    assert registry.get_sample_value(gauge, {"campaign": "c1", "shard": "nort"}) == 1

    caplog.clear()
    await check.check(TYPO)  # a reload with nothing changed: nothing said again
    assert [r for r in caplog.records if r.name == "switchboard.campaigns"] == []

    fixed = campaigns(campaign("c1", shard="north"), campaign("c3", shard="south"))
    check.schedule(fixed)  # as the reload hook calls it
    assert check._task is not None
    await asyncio.wait_for(check._task, 5)
    assert registry.get_sample_value(gauge, {"campaign": "c1", "shard": "nort"}) is None, "fixed: cleared"
    await south.release()


def test_check_config_says_which_campaign_has_no_running_engine(
    tmp_path: Path, redis_server: PrivateRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "campaigns.yaml"
    path.write_text(
        "campaigns:\n"
        "  - {id: c1, name: One, mode: progressive, queue: sales, shard: nort}\n"
        "  - {id: c2, name: Two, mode: progressive, queue: sales}\n"
    )
    code = main(["check-config", str(path), "--redis", redis_server.url])
    out = capsys.readouterr().out
    assert code == EXIT_OK, "the shard's engines may only be down: reported, not a failure"
    assert f"{path}: campaign c1: shard 'nort' has no running engine" in out
    assert f"{path}: campaign c2: the default shard has no running engine" in out


@pytest.fixture(params=["redis", "cluster"])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The settings' `redis` section of an emptied single Redis, or of the real cluster."""
    if request.param == "redis":
        server: PrivateRedis = request.getfixturevalue("redis_server")
        with sync_redis.Redis.from_url(server.url) as client:
            client.flushall()
        yield {"url": server.url}
    else:
        cluster: PrivateCluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        yield {"url": cluster.url, "cluster": True}


def shard_engine(backend: dict[str, Any], port: int, tmp_path: Path, shard: str, campaigns: Path) -> Runtime:
    routing = tmp_path / f"routing-{shard or 'default'}.yaml"
    routing.write_text(json.dumps({"version": 1, **base_rules(agents=[agent("1001", "PJSIP/1001", tech=3)])}))
    settings = Settings(
        ami={"port": port, "secret": SECRET}, redis=backend, http={"port": 0},
        rules={"routing": routing, "campaigns": campaigns},
        engine={"id": f"engine-{shard or 'west'}", "lease_ttl": 1.0, "lease_renew": 0.25},
        acd={"shard": shard},
    )  # fmt: skip
    return Runtime(settings, clock=RunningClock())


def campaigns_file(path: Path, east_shard: str) -> Path:
    listed = [
        {"id": "west-renewals", "name": "West", "mode": "progressive", "queue": "support"},
        {
            "id": "east-renewals",
            "name": "East",
            "mode": "progressive",
            "queue": "support",
            "shard": east_shard,
        },
    ]
    path.write_text(json.dumps({"version": 1, "campaigns": listed}))
    return path


async def test_engines_started_together_warn_only_about_the_mistyped_shard_until_it_is_fixed(
    backend: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two shards' engines (the default one and `east`) start together on one campaigns.yaml whose
    east campaign says `shard: eats`: each warns about it (no engine runs `eats`), and not about the
    other's shard, whose engine took its lease meanwhile. The fixed file, hot-reloaded, clears it."""
    caplog.set_level(logging.INFO, logger="switchboard.campaigns")
    sim = SimulatedPbx(SimConfig(users={"switchboard": SECRET}))
    port = await sim.start()
    campaigns = campaigns_file(tmp_path / "campaigns.yaml", "eats")
    west = shard_engine(backend, port, tmp_path, "", campaigns)
    east = shard_engine(backend, port, tmp_path, "east", campaigns)
    try:
        w, _ = await west.start(), await east.start()
        assert west.campaign_shards is not None and east.campaign_shards is not None
        typo = [ShardProblem("east-renewals", "eats")]
        assert await west.campaign_shards.checked() == typo
        assert await east.campaign_shards.checked() == typo
        said = [r for r in caplog.records if r.name == "switchboard.campaigns"]
        warned = [r.getMessage() for r in said if r.levelno == logging.WARNING]
        expected = f"campaign east-renewals: shard 'eats' has no running engine ({campaigns}): "
        assert len(warned) == 2 and all(m.startswith(expected) for m in warned), warned
        infos = [r.getMessage() for r in said if r.levelno == logging.INFO]
        assert any(m.startswith("campaign east-renewals belongs to shard 'eats'") for m in infos)
        assert any(m.startswith("campaign west-renewals belongs to the default shard") for m in infos)
        gauge = {"campaign": "east-renewals", "shard": "eats"}

        def unpaced() -> float | None:
            return w.engine.metrics.registry.get_sample_value("switchboard_campaign_without_engine", gauge)

        assert unpaced() == 1

        campaigns_file(campaigns, "east")
        assert await w.reloader.check_all() == {"campaigns": True}
        assert await west.campaign_shards.checked() == [], "east runs: nothing to say"
        assert (
            w.engine.metrics.registry.get_sample_value("switchboard_campaign_without_engine", gauge) is None
        )
        assert [c.id for c in w.dialer.campaigns.campaigns] == ["west-renewals"]
    finally:
        await west.stop()
        await east.stop()
        await sim.stop()
