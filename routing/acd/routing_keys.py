"""Every Redis key routing uses, in one place (the shell reads and writes them; the core never does).

Layout (values are JSON from routing/acd/store_records.py unless noted):
- `agents`                      SET of agent ids known to routing
- `agent:{id}:profile`          the agent's profile (AgentSpec: name, interface, skills), API-editable
- `agent:{id}:status`           AgentStatus: state, since, idle_since, missed rings (no history)
- `agent:{id}:history`          LIST of the agent's state changes (`<time> <state>`) inside the
                                occupancy window: appended to and trimmed on each change
- `call:{id}`                   one waiting call (WaitingCall) plus the caller facts for re-classification
- `queue:{name}`                ZSET call id -> entered_at: the calls waiting in a queue (their
                                order is computed from the records, so a restart resumes it exactly)
- `rules:active`                HASH: hash, applied_at, source of the rules in force
A snapshot is rebuilt from `agents` + profiles + statuses and the `queue:*` members' `call:*` records.

Every key of one ACD carries its hash tag (`sb:routing:{acd}:agents`): on a Redis Cluster the whole
ACD lives in one slot. It cannot be split by queue: an agent serves several queues, and one script
moves a caller out of a queue and onto an agent, fenced by the owner lease, atomically. Centers that
outgrow one slot split into shards: side-by-side ACDs that own disjoint queues and agents, each
under its own tag (`shard_tag`: the default shard keeps `acd`, shard `east` is `acd-east`), each run
by its own engines (settings `acd.shard`, docs/redis.md#splitting-a-center-into-acd-shards).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Self

DEFAULT_SHARD = ""
"""The shard of an engine without `acd.shard` and of a call without SWITCHBOARD_SHARD: tag `acd`."""
SHARD_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
"""A shard's name: it goes into a hash tag, a channel variable and a webhook source."""


def shard_tag(shard: str) -> str:
    """The hash tag of a shard's ACD: `acd` for the default shard, `acd-<shard>` for the others."""
    if shard == DEFAULT_SHARD:
        return "acd"
    if not SHARD_NAME.match(shard):
        raise ValueError(f"a shard's name is 1-40 of a-z 0-9 - _ (not starting with - or _): {shard!r}")
    return f"acd-{shard}"


@dataclass(frozen=True, slots=True)
class RoutingKeys:
    """Key names under one prefix and hash tag (tests use their own prefix, side-by-side ACDs their
    own tag)."""

    prefix: str = "sb:routing:"
    tag: str = "acd"

    @classmethod
    def of_shard(cls, shard: str, prefix: str = "sb:routing:") -> Self:
        """The keys of one shard's ACD (docs/redis.md, "Splitting a center into ACD shards")."""
        return cls(prefix, shard_tag(shard))

    @property
    def shard(self) -> str:
        """The ACD shard these keys are of ('' the default one, tag `acd`): `acd-east` -> `east`."""
        return self.tag.removeprefix("acd-") if self.tag.startswith("acd-") else ""

    @property
    def base(self) -> str:
        """The prefix and hash tag every key of this ACD starts with."""
        return f"{self.prefix}{{{self.tag}}}:"

    @property
    def agents(self) -> str:
        return f"{self.base}agents"

    def agent_profile(self, agent_id: str) -> str:
        return f"{self.base}agent:{agent_id}:profile"

    def agent_status(self, agent_id: str) -> str:
        return f"{self.base}agent:{agent_id}:status"

    def agent_history(self, agent_id: str) -> str:
        return f"{self.base}agent:{agent_id}:history"

    def call(self, call_id: str) -> str:
        return f"{self.base}call:{call_id}"

    def queue(self, name: str) -> str:
        return f"{self.base}queue:{name}"

    @property
    def queue_pattern(self) -> str:
        """For SCAN over every queue's ZSET."""
        return f"{self.base}queue:*"

    @property
    def rules_active(self) -> str:
        return f"{self.base}rules:active"
