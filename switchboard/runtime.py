"""Composition of one engine process: Redis, metrics, rules, services, HTTP API, AMI.

`Runtime` is what `switchboard run` and `switchboard demo` share: it builds
every part from the settings, starts them in dependency order (Redis and rules
first, so a mistake stops the process before it touches Asterisk; AMI last, so
the services are listening when the first event arrives) and stops them in
reverse. Nothing here decides anything about calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from core.config.yaml_file import ConfigProblem, config_error
from core.engine_run import EngineRun
from core.lease import Lease, LeaseMetrics
from dialer.calls.dial_metrics import DialerMetrics
from dialer.campaigns.rules import Campaigns
from dialer.desk.acd import AcdDesk
from dialer.dispositions.rules import DispositionRules
from dialer.dispositions.service import Disposition
from dialer.leads.store import UpsertReport
from dialer.loop.service import DialerService
from dialer.stores import DialerStores
from dialer.tasks.advisor_mail import AdvisorContact, AdvisorDirectory
from dialer.tasks.mail import MailRetry, SmtpConfig
from dialer.tasks.rules import DEFAULT_TASK_RULES, TaskRules
from dialer.tasks.service import MailSetup, TaskService
from routing.acd.acd_keys import AcdKeys
from routing.acd.acd_metrics import AcdMetrics
from routing.acd.context import AcdOptions
from routing.acd.service import AcdService
from routing.rules import Rules
from switchboard.api import (
    acd_api,
    audit_api,
    campaigns_api,
    consent_api,
    dialer_api,
    outages_api,
    tasks_api,
)
from switchboard.api.app import create_app
from switchboard.api.server import HttpServer, serve_http, stop_http
from switchboard.api.state import AppState
from switchboard.api.tokens import TokenStore
from switchboard.audit_retention import AuditMetrics, AuditRetention
from switchboard.audit_retention import stop as stop_retention
from switchboard.console import routes as console
from switchboard.engine import Engine
from switchboard.example_rules import RULE_KINDS, example_rules
from switchboard.metrics import EngineMetrics, create_metrics
from switchboard.redis_conn import check_no_eviction, open_redis
from switchboard.reload import ReloadMetrics, RulesReloader
from switchboard.rule_links import link_problems
from switchboard.rules_store import LastAppliedStore
from switchboard.settings import MailSection, Settings
from switchboard.webhooks.service import WebhookService
from switchboard.webhooks.wiring import build_webhooks

log = logging.getLogger("switchboard.runtime")

EXAMPLE_CONFIG = example_rules("routing").parent  # the shipped examples (demo and tests only)


def routing_rules_path(settings: Settings) -> Path:
    """The routing rules to run: always the configured file (`run` never falls back to an example)."""
    if settings.rules.routing is None:
        hint = "the routing rules file, e.g. /etc/switchboard/routing.yaml, or SWITCHBOARD_RULES_ROUTING"
        problem = ConfigProblem("(settings)", f"required ({hint})", "rules.routing")
        raise config_error([problem], "settings incomplete")
    return settings.rules.routing


def rule_file(settings: Settings, kind: str) -> Path | None:
    """The configured path of a rule file; a clear error naming the setting when the file is missing."""
    path: Path | None = getattr(settings.rules, kind)
    if path is not None and not path.is_file():
        source = f"rules.{kind} in the settings, or SWITCHBOARD_RULES_{kind.upper()}"
        problem = ConfigProblem(str(path), f"no such file (named by {source})")
        raise config_error([problem], f"{kind} rules missing")
    return path


@dataclass
class Parts:
    redis: aioredis.Redis
    metrics: EngineMetrics
    reloader: RulesReloader
    engine: Engine
    lease: Lease
    acd: AcdService
    stores: DialerStores
    dialer: DialerService
    tasks: TaskService
    state: AppState
    webhooks: WebhookService | None = None


class Runtime:
    """Builds, starts and stops the parts of one engine process."""

    def __init__(
        self, settings: Settings, *, clock: Callable[[], float] = time.time, tokens: TokenStore | None = None
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._tokens = tokens
        # Marks this process's agent legs, ActionIDs and leases (several engines may share one
        # Asterisk and one Redis); the same across restarts, so a restart knows its own calls.
        self.instance_id = settings.engine.id or default_engine_id(settings)
        self._run: EngineRun | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._parts: Parts | None = None
        self._http: tuple[HttpServer, object] | None = None
        self._retention: asyncio.Task[None] | None = None

    @property
    def parts(self) -> Parts:
        if self._parts is None:
            raise RuntimeError("the runtime is not started")
        return self._parts

    @property
    def http_port(self) -> int | None:
        return self._http[0].port if self._http else None

    async def start(self) -> Parts:
        settings = self.settings
        if settings.redis.url is None and not settings.sentinel.enabled:
            raise RuntimeError("Runtime needs redis.url or sentinel.addresses (the demo runs its own Redis)")
        tokens = self._tokens or TokenStore.load(settings.http.tokens_file)  # published examples refused here
        metrics = create_metrics()
        rule_file(settings, "routing")
        redis = await open_redis(settings)
        try:
            warning = await check_no_eviction(redis)
            if warning:
                log.warning(warning)
            # An invalid rule file starts on its last applied version, kept in Redis (rules_store.py).
            reloader = RulesReloader(
                ReloadMetrics(metrics.registry), store=LastAppliedStore(redis), links=link_problems
            )
            await reloader.fetch_last_applied(RULE_KINDS)
            rules: Rules = reloader.load_initial("routing", routing_rules_path(settings), Rules)
            engine = Engine(settings.ami_client_settings(), metrics, clock=self._clock)
            lease = self._lease(redis, metrics)
            # Only while it owns the calls does this engine ring, bridge, move or hang up a call:
            # an engine frozen or cut off past its lease, or superseded, sends none of them.
            engine.client.fence = lambda: lease.owned
            run = await self._claim_run(redis)  # DuplicateEngineError: another live process has this id
            # A standby serves nothing until the owner's lease runs out; a restart of this engine
            # whose previous run is provably gone takes that run's lease back at once.
            await (lease.take_back() if run.takeover else lease.acquire())
            thresholds = [q.service_level.within_seconds for q in rules.queues]  # wait buckets
            acd = AcdService(
                redis, engine.client, rules, AcdMetrics(metrics.registry, service_level_seconds=thresholds),
                clock=self._clock, instance_id=self.instance_id, lease=lease,
                options=AcdOptions(ended_call_ttl_s=settings.acd.ended_call_ttl),
            )  # fmt: skip
            await acd.load()
            acd.on_owned = engine.resync  # a takeover adopts what Asterisk holds, as after a reconnect
            engine.services.append(acd)
            reloader.watch("routing", acd.replace_rules)
            stores = self._dialer_stores(redis, metrics, reloader)
            tasks = self._task_service(redis, metrics, reloader, stores, acd)
            dialer = self._dialer(engine, reloader, stores=stores, acd=acd, tasks=tasks, lease=lease)
            engine.services.extend([dialer, tasks])
            _connect_dialer(stores, dialer, tasks)
            if problems := reloader.link_problems():
                raise config_error(problems, "the rule files refer to each other wrongly")
            await reloader.save_applied()
            webhooks = self._webhooks(redis, metrics, acd, stores)
            if webhooks is not None:
                engine.services.append(webhooks)  # after the ACD: call.offered reads the admitted call
            state = AppState(
                settings, tokens, metrics, redis=redis,
                ami_ready=lambda: engine.ready, ami_down_for=engine.down_for,
                rules_invalid=reloader.invalid_files,
            )  # fmt: skip
            self._parts = Parts(
                redis, metrics, reloader, engine, lease, acd, stores, dialer, tasks, state, webhooks
            )
            await self._start_http(state)
            lease.start()
            await engine.start()
            reloader.start()
            self._start_background(redis, metrics, webhooks)
        except BaseException:
            started = self._parts is not None
            await self.stop()
            if not started:
                with contextlib.suppress(Exception):
                    await redis.aclose()
            raise
        return self._parts

    async def _claim_run(self, redis: aioredis.Redis) -> EngineRun:
        """This process's run of the engine id (core/engine_run.py), renewed beside the lease."""
        engine = self.settings.engine
        key = AcdKeys().engine_run(self.instance_id)
        run = EngineRun(redis, key, engine_id=self.instance_id, ttl_s=engine.lease_ttl)
        await run.claim()
        self._run = run
        self._run_task = asyncio.create_task(run.run(engine.lease_renew), name="engine-run")
        return run

    def _start_background(
        self, redis: aioredis.Redis, metrics: EngineMetrics, webhooks: WebhookService | None
    ) -> None:
        """The loops beside the engine: CRM webhooks and the audit streams' retention."""
        if webhooks is not None:
            webhooks.start()
        audit = self.settings.audit
        retention = AuditRetention(redis, audit.streams, AuditMetrics(metrics.registry))
        self._retention = asyncio.create_task(retention.run(audit.trim_interval), name="audit-retention")

    def _lease(self, redis: aioredis.Redis, metrics: EngineMetrics) -> Lease:
        """One lease for the ACD (all queues) and the pacing: the dialer's desk is the ACD."""
        engine = self.settings.engine
        return Lease(
            redis, AcdKeys().owner, engine_id=self.instance_id, role="acd", ttl_s=engine.lease_ttl,
            renew_s=engine.lease_renew, metrics=LeaseMetrics(metrics.registry),
        )  # fmt: skip

    def _dialer_stores(
        self, redis: aioredis.Redis, metrics: EngineMetrics, reloader: RulesReloader
    ) -> DialerStores:
        region = self.settings.default_region
        def now() -> datetime:  # the API's "now" is the engine's injected clock, as the tick's is
            return datetime.fromtimestamp(self._clock(), UTC)

        stores = DialerStores.build(redis, default_region=region, registry=metrics.registry, clock=now)
        path = rule_file(self.settings, "dispositions")
        if path is not None:
            stores.dispositions.rules = reloader.load_initial("dispositions", path, DispositionRules)
            reloader.watch("dispositions", lambda rules: setattr(stores.dispositions, "rules", rules))
        return stores

    def _dialer(
        self,
        engine: Engine,
        reloader: RulesReloader,
        *,
        stores: DialerStores,
        acd: AcdService,
        tasks: TaskService,
        lease: Lease,
    ) -> DialerService:
        """The outbound dialer; the ACD owns the agents (one state for inbound and outbound calls)."""
        path = rule_file(self.settings, "campaigns")
        campaigns = reloader.load_initial("campaigns", path, Campaigns) if path is not None else Campaigns()
        dialer = DialerService(
            stores.redis, engine.client, campaigns, gate=stores.gate, leads=stores.leads, desk=AcdDesk(acd),
            metrics=DialerMetrics(engine.metrics.registry), instance_id=self.instance_id, clock=self._clock,
            tasks=tasks.store, lease=lease,
        )  # fmt: skip
        _queues_known(campaigns, acd)
        if path is not None:

            def apply(new: Campaigns) -> None:
                _queues_known(new, acd)
                dialer.replace_campaigns(new)

            reloader.watch("campaigns", apply)
        return dialer

    def _task_service(
        self, redis: aioredis.Redis, metrics: EngineMetrics, reloader: RulesReloader, stores: DialerStores,
        acd: AcdService,
    ) -> TaskService:  # fmt: skip
        path = rule_file(self.settings, "tasks")
        rules = reloader.load_initial("tasks", path, TaskRules) if path is not None else DEFAULT_TASK_RULES
        tasks = TaskService.build(
            redis, leads=stores.leads, registry=metrics.registry, rules=rules, cc_zone=self.settings.timezone,
            keys=stores.keys, clock=self._clock, mail=mail_setup(self.settings.mail, acd),
        )  # fmt: skip
        if path is not None:
            reloader.watch("tasks", tasks.replace_rules)
        return tasks

    def _webhooks(
        self, redis: aioredis.Redis, metrics: EngineMetrics, acd: AcdService, stores: DialerStores
    ) -> WebhookService | None:
        hooks = self.settings.webhooks
        if not hooks:
            return None
        return build_webhooks(
            redis, hooks, acd=acd, keys=stores.keys, registry=metrics.registry, clock=self._clock
        )

    async def _start_http(self, state: AppState) -> None:
        overrides = {
            **dialer_api.STATUS_OVERRIDES,
            **acd_api.STATUS_OVERRIDES,
            **tasks_api.STATUS_OVERRIDES,
            **outages_api.STATUS_OVERRIDES,
        }
        app = create_app(state, status_overrides=overrides)
        acd_api.install(app, self.parts.acd)
        app.include_router(outages_api.router)
        dialer_api.attach_dialer(app, self.parts.stores)
        app.include_router(dialer_api.router)
        app.include_router(consent_api.router)
        app.include_router(audit_api.router)
        campaigns_api.attach_campaigns(app, self.parts.dialer)
        app.include_router(campaigns_api.router)
        tasks_api.attach_tasks(app, self.parts.tasks.store)
        app.include_router(tasks_api.router)
        console.install(app, reloader=self.parts.reloader, clock=self._clock)
        http = self.settings.http
        self._http = await serve_http(app, http.host, http.port, access_log=http.access_log)

    async def stop(self) -> None:
        retention, self._retention = self._retention, None
        await stop_retention(retention)
        parts, self._parts = self._parts, None
        if parts is not None:
            await parts.reloader.stop()
            await parts.dialer.close()  # no new dials; placed calls are left to Asterisk
            await parts.engine.stop()
            await parts.acd.aclose()
            await parts.lease.stop(release=True)  # a standby takes over at once
            await parts.tasks.close()
            if parts.webhooks is not None:
                await parts.webhooks.close()
        if self._http is not None:
            server, task = self._http
            self._http = None
            await stop_http(server, task)  # type: ignore[arg-type]
        await self._stop_run()
        if parts is not None:
            with contextlib.suppress(Exception):
                await parts.redis.aclose()

    async def _stop_run(self) -> None:
        """Our run record goes with a clean stop (a failed start keeps a duplicate's record alone)."""
        task, self._run_task = self._run_task, None
        if task is None or self._run is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self._run.release()


def default_engine_id(settings: Settings) -> str:
    """The host and the HTTP port (two engines on one host cannot share a port): the same across
    restarts of one deployment. An ephemeral port (0, tests) names nothing stable: the PID then."""
    port = settings.http.port
    return f"{socket.gethostname()}-{port}" if port else f"{socket.gethostname()}-pid{os.getpid()}"


def mail_setup(mail: MailSection, acd: AcdService) -> MailSetup | None:
    """E-mail of the tasks from the `mail` settings; advisors' addresses from routing.yaml's agents
    (read at each pass: a reload that adds an address applies at once)."""
    if mail.host is None:
        return None

    def contacts() -> list[AdvisorContact]:
        agents = acd.rules.agents
        return [AdvisorContact(a.id, a.name, a.email, a.language) for a in agents]

    smtp = SmtpConfig(
        host=mail.host, port=mail.port, security=mail.security, username=mail.username,
        password=mail.secret(), sender=mail.sender, sender_name=mail.sender_name, timeout_s=mail.timeout,
    )  # fmt: skip
    retry = MailRetry(mail.retries, timedelta(seconds=mail.backoff), timedelta(seconds=mail.max_backoff))
    return MailSetup(smtp, AdvisorDirectory(contacts), retry, mail.default_language)


def _connect_dialer(stores: DialerStores, dialer: DialerService, tasks: TaskService) -> None:
    """Leads take the priority of the campaigns in force and count as imports; after each
    disposition come the campaign's retry rule for its code, then the follow-up tasks."""

    def priority(campaign: str | None, crm: Mapping[str, Any], given: int) -> int:
        return dialer.campaigns.priority_for(campaign, crm, given)  # the campaigns of the last reload

    def imported(source: str, report: UpsertReport) -> None:
        dialer.metrics.record_import(source, report.counts())

    def campaigns() -> Collection[str]:
        return dialer.campaigns.by_id.keys()  # the campaigns of the last reload

    stores.leads.priority, stores.leads.imported, stores.leads.campaigns = priority, imported, campaigns

    async def campaign_retry(record: Disposition, now: datetime) -> None:
        await dialer.apply_disposition(record.lead_id, record.code)

    async def follow_up(record: Disposition, now: datetime) -> None:
        await tasks.store.record_disposition(record, now=now)

    stores.dispositions.followers.extend([campaign_retry, follow_up])


def _queues_known(campaigns: Campaigns, acd: AcdService) -> None:
    """Two files, one mistake to catch: a campaign's queue must be a routing.yaml queue."""
    for campaign in campaigns.campaigns:
        if campaign.queue is not None and campaign.queue not in acd.rules.index.queues:
            log.error(
                "campaign %s hands its calls to queue %r, which routing.yaml does not have; its calls go to"
                " the first queue's agents until it does", campaign.id, campaign.queue,
            )  # fmt: skip
