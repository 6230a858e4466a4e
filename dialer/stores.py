"""The dialer's stores, built once per engine over one Redis client and shared by the dialing loop,
the HTTP API and the CLI: the blacklist (internal list, packed lists, gate), leads, Robinson-list
requests and dispositions with their automation, and the consent register.

Why one bundle: the internal list, the lead store and the Robinson store must use the same keys
and the same client, and the gate's metrics can be registered only once per registry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from dialer.consent.store import ConsentStore
from dialer.dialer_keys import DialerKeys
from dialer.dispositions.rules import DEFAULT_RULES, DispositionRules
from dialer.dispositions.service import DispositionService, Follower
from dialer.leads.robinson import RobinsonStore
from dialer.leads.store import LeadStore
from dialer.lists.gate import Gate, GateMetrics
from dialer.lists.store import InternalList, PackedStore


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class DialerStores:
    redis: Redis
    keys: DialerKeys
    default_region: str
    internal: InternalList
    packed: PackedStore
    gate: Gate
    leads: LeadStore
    robinson: RobinsonStore
    dispositions: DispositionService
    consent: ConsentStore
    clock: Callable[[], datetime] = utc_now

    @classmethod
    def build(
        cls,
        redis: Redis,
        *,
        default_region: str,
        registry: CollectorRegistry | None = None,
        gate: Gate | None = None,
        keys: DialerKeys | None = None,
        rules: DispositionRules = DEFAULT_RULES,
        clock: Callable[[], datetime] = utc_now,
        audit_maxlen: int | None = None,
        internal: InternalList | None = None,
        leads: LeadStore | None = None,
        followers: Sequence[Follower] = (),
    ) -> DialerStores:
        """Everything over `redis` (decode_responses=False). Give the engine's `gate`, or a `registry`
        to build one on (its metrics register there). The engine (dialer/build.py) gives the internal
        list and the lead store it built first, and `followers`: what runs after each disposition
        (the campaign's retry rule, the follow-up tasks), which need the lead store themselves."""
        keys = keys or DialerKeys()
        if gate is None:
            metrics = GateMetrics(registry if registry is not None else CollectorRegistry())
            gate = Gate(redis, metrics, default_region=default_region, keys=keys, audit_maxlen=audit_maxlen)
        internal = internal or InternalList(redis, keys, audit_maxlen=audit_maxlen)
        leads = leads or LeadStore(
            redis, default_region=default_region, keys=keys, internal=internal, audit_maxlen=audit_maxlen
        )
        robinson = RobinsonStore(
            redis, default_region=default_region, keys=keys, internal=internal, audit_maxlen=audit_maxlen
        )
        consent = ConsentStore(redis, default_region=default_region, keys=keys, audit_maxlen=audit_maxlen)
        dispositions = DispositionService(
            redis,
            leads=leads,
            robinson=robinson,
            internal=internal,
            consent=consent,
            keys=keys,
            rules=rules,
            audit_maxlen=audit_maxlen,
            followers=followers,
        )
        packed = PackedStore(redis, keys, audit_maxlen=audit_maxlen)
        return cls(
            redis, keys, default_region.upper(), internal, packed, gate, leads, robinson, dispositions,
            consent, clock,
        )  # fmt: skip
