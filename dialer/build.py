"""Building the dialer for an engine: its stores, the task service and the dialing loop, each given
what it needs when it is built (nothing is set on them afterwards).

The order follows what needs what: the campaigns in force and the metrics first (the lead imports
ask them), the lead store, the tasks (over the leads), the dialing loop (over the leads and the
tasks), then the remaining stores, whose disposition automation calls the loop (the campaign's retry
rule) and the tasks (follow-up tasks). The composition root (switchboard/runtime.py) loads the rule
files, watches their reloads and registers the services this returns.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from core.clock import Clock, utc
from core.lease import Lease
from dialer.calls.dial_metrics import DialerMetrics
from dialer.campaigns.rules import Campaigns, CampaignsInForce
from dialer.desk.protocol import AgentDesk
from dialer.dialer_keys import DialerKeys
from dialer.dispositions.rules import DEFAULT_RULES, DispositionRules
from dialer.dispositions.service import Disposition
from dialer.leads.store import LeadHooks, LeadStore, UpsertReport
from dialer.lists.gate import Gate, GateMetrics
from dialer.lists.store import InternalList
from dialer.loop.service import DialerService
from dialer.stores import DialerStores
from dialer.tasks.rules import DEFAULT_TASK_RULES, TaskRules
from dialer.tasks.service import MailSetup, TaskService
from pbx.service import ActionSender


@dataclass(frozen=True)
class DialerRules:
    """The dialer's rule files as loaded at start (campaigns.yaml, dispositions.yaml, tasks.yaml)."""

    campaigns: Campaigns
    dispositions: DispositionRules = DEFAULT_RULES
    tasks: TaskRules = DEFAULT_TASK_RULES


@dataclass(frozen=True)
class DialerFeature:
    """What the engine runs and the API serves of the dialer."""

    stores: DialerStores
    dialer: DialerService
    tasks: TaskService


@dataclass(frozen=True)
class DialerSetup:
    """Where and as whom the dialer runs (from the engine's settings)."""

    default_region: str
    cc_zone: str
    instance_id: str
    clock: Clock
    mail: MailSetup | None = None
    shard: str = ""
    """The ACD shard (settings acd.shard): the dialer paces the campaigns with this `shard`."""


def build_dialer(
    redis: Redis,
    sender: ActionSender,
    rules: DialerRules,
    setup: DialerSetup,
    *,
    desk: AgentDesk,
    registry: CollectorRegistry,
    lease: Lease,
) -> DialerFeature:
    """The dialer over `redis` and the engine's AMI client; the agents are the `desk`'s."""
    keys, clock, region = DialerKeys(), setup.clock, setup.default_region
    metrics = DialerMetrics(registry)
    in_force = CampaignsInForce(rules.campaigns)
    mail = setup.mail and replace(setup.mail, shard=setup.shard)

    def imported(source: str, report: UpsertReport) -> None:
        metrics.record_import(source, report.counts())

    # Leads take the priority of the campaigns in force, and count as imports.
    hooks = LeadHooks(priority=in_force.priority_for, campaigns=in_force.ids, imported=imported)
    internal = InternalList(redis, keys)
    leads = LeadStore(redis, default_region=region, keys=keys, internal=internal, hooks=hooks)
    tasks = TaskService.build(
        redis, leads=leads, registry=registry, rules=rules.tasks, cc_zone=setup.cc_zone, keys=keys,
        clock=clock, mail=mail,
    )  # fmt: skip
    gate = Gate(redis, GateMetrics(registry), default_region=region, keys=keys)
    dialer = DialerService(
        redis, sender, in_force, gate=gate, leads=leads, desk=desk, metrics=metrics,
        instance_id=setup.instance_id, clock=clock, tasks=tasks.store, lease=lease, shard=setup.shard,
    )  # fmt: skip

    # After each disposition: the campaign's retry rule for its code, then the follow-up tasks.
    async def campaign_retry(record: Disposition, now: datetime) -> None:
        await dialer.apply_disposition(record.lead_id, record.code)

    async def follow_up(record: Disposition, now: datetime) -> None:
        await tasks.store.record_disposition(record, now=now)

    def api_now() -> datetime:  # the API's "now" is the engine's injected clock, as the tick's is
        return utc(clock())

    stores = DialerStores.build(
        redis, default_region=region, gate=gate, keys=keys, rules=rules.dispositions, clock=api_now,
        internal=internal, leads=leads, followers=(campaign_retry, follow_up),
    )  # fmt: skip
    return DialerFeature(stores, dialer, tasks)
