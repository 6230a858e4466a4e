"""A center split into ACD shards, the pure parts: the setting, each shard's keys, which campaigns
a shard's engines pace and take over, and the per-shard copies of the applied rule files."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from dialer.campaigns.rules import Campaigns, CampaignsInForce
from dialer.dialer_keys import DialKeys
from routing.acd.acd_keys import AcdKeys
from routing.acd.routing_keys import shard_tag
from switchboard.config_check import link_check
from switchboard.rules_store import key
from switchboard.runtime import EXAMPLE_CONFIG
from switchboard.settings import load_settings

CAMPAIGNS = Campaigns.model_validate(
    {
        "campaigns": [
            {"id": "renewals", "name": "Renewals", "queue": "support"},
            {"id": "east-sales", "name": "East", "queue": "sales", "shard": "east"},
        ]
    }
)


def test_the_default_shard_keeps_every_key_it_had_and_a_shard_has_its_own_hash_tag() -> None:
    assert AcdKeys.of_shard("") == AcdKeys() and AcdKeys().owner == "sb:routing:{acd}:owner"
    east = AcdKeys.of_shard("east")
    assert (east.owner, east.agents, east.crm_customer("+3611")) == (
        "sb:routing:{acd-east}:owner",
        "sb:routing:{acd-east}:agents",
        "sb:routing:{acd-east}:crm:customer:+3611",
    )
    assert (AcdKeys().shard, east.shard) == ("", "east")  # east's case numbers: 20250616-east-000042
    assert east.engine_run("e1") == AcdKeys().engine_run("e1"), "an engine's run record is the engine's"
    assert (DialKeys().leader_of(""), DialKeys().leader_of("east")) == (
        "sb:dialer:{dial}:dial:leader",
        "sb:dialer:{dial}:dial:leader@east",
    )
    assert (key("routing"), key("routing", "east")) == ("sb:rules:last:routing", "sb:rules:last:routing@east")


@pytest.mark.parametrize("name", ["East", "-east", "east:1", "{east}", "e" * 41])
def test_a_shard_name_that_could_break_a_key_or_a_channel_variable_is_refused(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="shard"):
        shard_tag(name)
    monkeypatch.setenv("SWITCHBOARD_ACD_SHARD", name)
    with pytest.raises(ConfigError, match="SWITCHBOARD_ACD_SHARD"):
        load_settings(None)


def test_the_shard_is_set_in_the_environment_and_defaults_to_the_default_shard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings(None).acd.shard == ""
    monkeypatch.setenv("SWITCHBOARD_ACD_SHARD", "east")
    assert load_settings(None).acd.shard == "east"


def test_a_shards_engines_pace_and_take_over_only_their_shards_campaigns() -> None:
    in_force = CampaignsInForce(CAMPAIGNS)
    assert [c.id for c in in_force.of_shard("").campaigns] == ["renewals"]
    assert [c.id for c in in_force.of_shard("east").campaigns] == ["east-sales"]
    assert in_force.of_shard("east") is in_force.of_shard("east"), "filtered once per reload"
    assert in_force.takes_over("east", "east-sales") and not in_force.takes_over("east", "renewals")
    assert in_force.takes_over("", "renewals") and not in_force.takes_over("", "east-sales")
    # a campaign removed from campaigns.yaml: its dead engine's calls are settled by the default shard
    assert in_force.takes_over("", "gone") and not in_force.takes_over("east", "gone")


def test_a_shards_campaigns_are_checked_against_that_shards_routing_yaml(tmp_path: Path) -> None:
    campaigns = tmp_path / "campaigns.yaml"
    campaigns.write_text(
        "version: 1\ncampaigns:\n"
        "  - {id: renewals, name: Renewals, queue: sales}\n"
        "  - {id: east-sales, name: East, queue: east-only, shard: east}\n"
    )
    files = {"routing": EXAMPLE_CONFIG / "routing.yaml", "campaigns": campaigns}
    assert link_check(files) == [], "the default shard's engines never check east's campaign"
    (problem,) = link_check(files, "east")
    assert "campaigns[1].queue" in str(problem) and "east-only" in str(problem)
