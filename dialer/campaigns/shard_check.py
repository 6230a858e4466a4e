"""Campaigns no engine here paces, named so that a mistyped `shard:` is seen (pure).

A campaign is paced only by the engines of its ACD shard (`Campaign.shard`, settings `acd.shard`).
One whose shard is not this engine's is another shard's business (`foreign`); one whose shard no
running engine has announced (a typo, `nort` for `north`) is paced by nobody (`without_engine`).
Which shards run is read from Redis by the shell (switchboard/campaign_checks.py), at a load or a
reload of campaigns.yaml only.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from dialer.campaigns.rules import Campaigns


def shard_name(shard: str) -> str:
    """How a shard is named to people: `'north'`, or the default shard."""
    return f"shard {shard!r}" if shard else "the default shard"


@dataclass(frozen=True, slots=True)
class ShardProblem:
    """A campaign whose shard has no running engine: nobody paces it."""

    campaign_id: str
    shard: str

    def __str__(self) -> str:
        return f"campaign {self.campaign_id}: {shard_name(self.shard)} has no running engine"


def foreign(campaigns: Campaigns, shard: str) -> list[tuple[str, str]]:
    """(campaign id, shard) of the campaigns an engine of `shard` does not pace."""
    return [(c.id, c.shard) for c in campaigns.campaigns if c.shard != shard]


def without_engine(campaigns: Campaigns, running: Collection[str]) -> list[ShardProblem]:
    """The campaigns whose shard is none of the `running` shards' (an engine's own shard runs)."""
    return [ShardProblem(c.id, c.shard) for c in campaigns.campaigns if c.shard not in running]
