"""Every Redis key the dialer uses, in one place: build keys only through `DialerKeys`.

All keys live under one prefix (default `sb:dialer:`), so an operator can list what belongs to the
dialer with `redis-cli --scan --pattern 'sb:dialer:*'`, and tests or side-by-side engines can use
their own prefix. Add new dialer keys to the key module of the feature that owns them, with a line
in its table: leads, Robinson requests and dispositions in dialer/leads/lead_keys.py, follow-up
tasks in dialer/tasks/task_keys.py, the consent register in dialer/consent/consent_keys.py; the
blacklist and the dialing loop here. All of them are importable from here.

Blacklist (dialer/lists/store.py, dialer/lists/gate.py, dialer/lists/importer.py). Every key the
dial gate reads or writes in its one script carries the hash tag `{gate}` (`sb:dialer:{gate}:bl:...`),
the consent register's too (dialer/consent/consent_keys.py), so on a Redis Cluster they live in one
slot and the check stays one atomic script (docs/redis.md#redis-cluster says why not sharded):
- `bl:internal`               HASH E.164 -> JSON {reason, actor, at}: the engine's own list
- `bl:lists`                  SET of packed list names (national lists, `campaign:<id>` lists)
- `bl:list:{name}`            HASH bucket id -> packed sorted uint32 remainders (dialer/lists/packed.py);
                              the live data of one packed list, swapped in whole by `--replace`
- `bl:meta:{name}`            HASH count, generation, updated_at, mode, source, region of a list
- `bl:build:{name}:{token}`   HASH being built by a `--replace` import (TTL'd until swapped in)
- `bl:retired:{name}:{token}` the previous live HASH between the swap and its UNLINK
- `bl:lock:{name}`            STRING token: one import at a time per list (SET NX PX)
- `audit:blacklist`           STREAM of list changes: add, remove, import, drop (who, why, when)
- `audit:dial-blocked`        STREAM of dials the gate refused: number, sources, campaign, lead, at
"""

from __future__ import annotations

from dataclasses import dataclass

from dialer.consent.consent_keys import ConsentKeys
from dialer.key_prefix import DEFAULT_PREFIX, DIAL_PREFIX, DIAL_TAG, GATE_TAG
from dialer.leads.lead_keys import LeadKeys
from dialer.tasks.task_keys import TaskKeys

__all__ = ["DEFAULT_PREFIX", "GATE_TAG", "ConsentKeys", "DialKeys", "DialerKeys", "LeadKeys", "TaskKeys"]


@dataclass(frozen=True, slots=True)
class DialerKeys:
    """Key names under one prefix."""

    prefix: str = DEFAULT_PREFIX

    @property
    def gate(self) -> str:
        """The prefix and hash tag every blacklist key starts with."""
        return f"{self.prefix}{GATE_TAG}"

    @property
    def blacklist_internal(self) -> str:
        return f"{self.gate}bl:internal"

    @property
    def blacklist_registry(self) -> str:
        return f"{self.gate}bl:lists"

    def blacklist_list(self, name: str) -> str:
        return f"{self.gate}bl:list:{name}"

    def blacklist_meta(self, name: str) -> str:
        return f"{self.gate}bl:meta:{name}"

    def blacklist_build(self, name: str, token: str) -> str:
        return f"{self.gate}bl:build:{name}:{token}"

    def blacklist_retired(self, name: str, token: str) -> str:
        return f"{self.gate}bl:retired:{name}:{token}"

    def blacklist_lock(self, name: str) -> str:
        return f"{self.gate}bl:lock:{name}"

    @property
    def audit_blacklist(self) -> str:
        return f"{self.gate}audit:blacklist"

    @property
    def audit_dial_blocked(self) -> str:
        return f"{self.gate}audit:dial-blocked"

    def pattern(self) -> str:
        """SCAN pattern matching every dialer key."""
        return f"{self.prefix}*"


# =================================================================================================
# Campaigns and the dialing loop (dialer/calls/attempts.py, dialer/loop/campaign_control.py).
# Same prefix as DialerKeys and the `{dial}` hash tag of the leads (`sb:dialer:{dial}:dial:...`: the
# dial intent's script writes the lead, its attempts and the number's lock in one step); build with
# `DialKeys.of(dialer_keys)`.
# - `dial:num:{e164}`            ZSET "call_id|result|campaign" -> epoch ms: attempts on one number,
#                                every campaign, manual dials and callbacks (call caps, quarantine)
# - `dial:lead:{lead}`           ZSET same members: the attempts of one lead (retry delays, limits)
#                                made without holding it (callbacks) or by versions before the lead's
#                                hash kept them (`dial_attempts`, leads/lead_keys.py); read with that field
#                                when the lead's hash has `dial_zset` (every writer sets it; older
#                                versions' ZSETs marked at start-up: AttemptStore.mark_lead_zsets)
# - `dial:lock:{e164}`           STRING token: one dial at a time per number (SET NX PX, all engines)
# - `dial:call:{call_id}`        HASH one placed call's intent (number, campaign, lead, holder, agent,
#                                kind, owner, at, attempt_ms: its attempts' score), written before its
#                                Originate leaves; once settled it is marked `settled` = the result
#                                (and `state` settled) and expires 1 h later: a call settles once
# - `dial:intents`               ZSET call id -> placed at (epoch ms): intents without an outcome yet
# - `dial:engine:{instance}`     STRING heartbeat of a running dialer (renewed every lease/3, TTL'd):
#                                recovery settles a dead engine's open intents at once
# - `dial:stats:{campaign}`      HASH "{hour}:{d|a|x|m}" -> count: dials, live answers, abandons,
#                                answering machines per UTC hour (abandon rate 24 h / 30 d, pacing)
# - `dial:campaigns`             HASH campaign id -> JSON {state, actor, at, reason}: running/paused/stopped
# - `dial:leader`                STRING engine instance id: the one instance that paces (SET NX PX lease);
#                                `dial:leader@<shard>` that of an ACD shard's campaigns
# - `audit:dial-attempts`        STREAM every dial attempt and its outcome (number, campaign, lead, call)
# - `audit:campaigns`            STREAM campaign start / pause / stop (who, when)
# =================================================================================================


@dataclass(frozen=True, slots=True)
class DialKeys:
    """Keys of the dialing loop: attempts, dial locks, campaign statistics and states, leadership."""

    prefix: str = DIAL_PREFIX

    @classmethod
    def of(cls, keys: DialerKeys | None) -> DialKeys:
        return cls((keys or DialerKeys()).prefix + DIAL_TAG)

    def number_attempts(self, number: str) -> str:
        return f"{self.prefix}dial:num:{number}"

    def lead_attempts(self, lead_id: str) -> str:
        return f"{self.prefix}dial:lead:{lead_id}"

    def dial_lock(self, number: str) -> str:
        return f"{self.prefix}dial:lock:{number}"

    def stats(self, campaign_id: str) -> str:
        return f"{self.prefix}dial:stats:{campaign_id}"

    def call(self, call_id: str) -> str:
        return f"{self.prefix}dial:call:{call_id}"

    @property
    def intents(self) -> str:
        return f"{self.prefix}dial:intents"

    def engine(self, instance_id: str) -> str:
        return f"{self.prefix}dial:engine:{instance_id}"

    @property
    def campaign_states(self) -> str:
        return f"{self.prefix}dial:campaigns"

    @property
    def leader(self) -> str:
        return f"{self.prefix}dial:leader"

    def leader_of(self, shard: str) -> str:
        """The own pacing lease of one ACD shard's campaigns ('' the default shard: `dial:leader`;
        `@`, never in a shard's name, keeps `dial:leader:meta` the default lease's)."""
        return f"{self.prefix}dial:leader@{shard}" if shard else self.leader

    @property
    def audit_attempts(self) -> str:
        return f"{self.prefix}audit:dial-attempts"

    @property
    def audit_campaigns(self) -> str:
        return f"{self.prefix}audit:campaigns"
