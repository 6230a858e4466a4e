"""Which campaigns an engine does not pace, and which nobody paces (a mistyped `shard:`)."""

from __future__ import annotations

from dialer.campaigns.shard_check import ShardProblem, foreign, without_engine
from tests.support.dialer_harness import campaign, campaigns

PLAN = campaigns(campaign("c1", shard="nort"), campaign("c2", shard="north"), campaign("c3"))


def test_the_campaigns_of_other_shards_are_named_with_their_shard() -> None:
    assert foreign(PLAN, "north") == [("c1", "nort"), ("c3", "")]
    assert foreign(PLAN, "") == [("c1", "nort"), ("c2", "north")]


def test_a_shard_no_engine_runs_is_a_problem_naming_campaign_and_shard() -> None:
    found = without_engine(PLAN, {"north", ""})
    assert found == [ShardProblem("c1", "nort")]
    assert str(found[0]) == "campaign c1: shard 'nort' has no running engine"


def test_every_campaign_is_fine_when_its_shard_runs_and_the_default_shard_is_named_so() -> None:
    assert without_engine(PLAN, {"nort", "north", ""}) == []
    (default,) = without_engine(PLAN, {"nort", "north"})
    assert str(default) == "campaign c3: the default shard has no running engine"
