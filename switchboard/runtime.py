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
import functools
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from core.cancellation import stop_task
from core.config.yaml_file import ConfigProblem, config_error
from core.engine_run import EngineRun
from core.lease import Lease, LeaseMetrics
from dialer.build import DialerFeature, DialerRules, DialerSetup, build_dialer
from dialer.campaigns.rules import Campaigns
from dialer.desk.acd import AcdDesk
from dialer.dispositions.rules import DEFAULT_RULES, DispositionRules
from dialer.loop.service import DialerService
from dialer.stores import DialerStores
from dialer.tasks.advisor_mail import AdvisorContact, AdvisorDirectory
from dialer.tasks.mail import MailRetry, SmtpConfig
from dialer.tasks.rules import DEFAULT_TASK_RULES, TaskRules
from dialer.tasks.service import MailSetup, TaskService
from routing.acd.acd_keys import AcdKeys
from routing.acd.build import build_acd
from routing.acd.service import AcdService
from routing.rules import Rules
from switchboard.api import (
    acd_api,
    audit_api,
    blacklist_api,
    campaigns_api,
    consent_api,
    dialer_access,
    dispositions_api,
    leads_api,
    outages_api,
    robinson_api,
    tasks_api,
)
from switchboard.api.app import create_app
from switchboard.api.server import HttpServer, serve_http, stop_http
from switchboard.api.state import AppState
from switchboard.api.tokens import TokenStore
from switchboard.audit_retention import AuditMetrics, AuditRetention
from switchboard.audit_retention import stop as stop_retention
from switchboard.campaign_checks import CampaignShards, queues_known
from switchboard.console import routes as console
from switchboard.engine import Engine
from switchboard.example_rules import RULE_KINDS, example_rules
from switchboard.key_layout import refuse_old_layout
from switchboard.metrics import EngineMetrics, create_metrics
from switchboard.redis_conn import check_no_eviction, check_redis_version, open_redis
from switchboard.reload import Apply, ReloadMetrics, RulesReloader
from switchboard.rule_links import link_problems
from switchboard.rules_store import LastAppliedStore
from switchboard.settings import MailSection, Settings

if TYPE_CHECKING:
    from switchboard.webhooks.service import WebhookService

log = logging.getLogger("switchboard.runtime")

DIALER_RULE_KINDS = ("campaigns", "dispositions", "tasks")
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
        self.shard = settings.acd.shard  # the ACD it runs: its keys, callers, agents and campaigns
        self.keys = AcdKeys.of_shard(self.shard)
        self._run: EngineRun | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._parts: Parts | None = None
        self._shards: CampaignShards | None = None
        self._http: tuple[HttpServer, object] | None = None
        self._retention: asyncio.Task[None] | None = None

    @property
    def parts(self) -> Parts:
        if self._parts is None:
            raise RuntimeError("the runtime is not started")
        return self._parts

    @property
    def campaign_shards(self) -> CampaignShards | None:
        return self._shards

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
            await refuse_old_layout(redis)
            for warning in (await check_redis_version(redis), await check_no_eviction(redis)):
                if warning:
                    log.warning(warning)
            self._parts = parts = await self._build(redis, metrics, tokens)
            parts.dialer.background.spawn(parts.dialer.attempts.mark_in_background())  # old lead ZSETs
            parts.acd.events.start_feed()  # one reader of the event stream for every screen and poll
            await self._start_http(parts.state)
            parts.lease.start()
            await parts.engine.start()
            parts.reloader.start()
            self._start_background(redis, metrics, parts.webhooks)
        except BaseException:
            started = self._parts is not None
            await self.stop()
            if not started:
                with contextlib.suppress(Exception):
                    await redis.aclose()
            raise
        return parts

    async def _build(self, redis: aioredis.Redis, metrics: EngineMetrics, tokens: TokenStore) -> Parts:
        """Every part, each built by its feature's builder with what it needs (Redis and the rule files
        first: a mistake stops the process before it touches Asterisk)."""
        # An invalid rule file starts on its last applied version, kept in Redis (rules_store.py).
        store = LastAppliedStore(redis, shard=self.shard)
        links = functools.partial(link_problems, shard=self.shard)
        reloader = RulesReloader(ReloadMetrics(metrics.registry), store=store, links=links)
        await reloader.fetch_last_applied(RULE_KINDS)
        rules: Rules = reloader.load_initial("routing", routing_rules_path(self.settings), Rules)
        lease = self._lease(redis, metrics)
        # Only while it owns the calls does this engine ring, bridge, move or hang up a call:
        # an engine frozen or cut off past its lease, or superseded, sends none of them.
        ami = self.settings.ami_client_settings()
        engine = Engine(ami, metrics, clock=self._clock, fence=lambda: lease.owned)
        run = await self._claim_run(redis)  # DuplicateEngineError: another live process has this id
        # A standby serves nothing until the owner's lease runs out; a restart of this engine
        # whose previous run is provably gone takes that run's lease back at once.
        await (lease.take_back() if run.takeover else lease.acquire())
        acd = await self._acd(redis, engine, reloader, rules, lease)
        dialer = self._dialer(redis, engine, reloader, acd, lease)
        if problems := reloader.link_problems():
            raise config_error(problems, "the rule files refer to each other wrongly")
        await reloader.save_applied()
        webhooks = self._webhooks(redis, metrics, acd, dialer.stores)
        # The ACD first (the dialer's desk); webhooks after it: call.offered reads the admitted call.
        engine.add(acd, dialer.dialer, dialer.tasks, *([webhooks] if webhooks is not None else []))
        engine.watch_link(dialer.dialer.takeover.event_seen)  # its cut counts skipped events too
        state = AppState(
            self.settings, tokens, metrics, redis=redis, ami_ready=lambda: engine.ready,
            ami_down_for=engine.down_for, rules_invalid=reloader.invalid_files,
        )  # fmt: skip
        return Parts(
            redis, metrics, reloader, engine, lease, acd, dialer.stores, dialer.dialer, dialer.tasks, state,
            webhooks,
        )  # fmt: skip

    async def _acd(
        self, redis: aioredis.Redis, engine: Engine, reloader: RulesReloader, rules: Rules, lease: Lease
    ) -> AcdService:
        """The inbound ACD on routing.yaml (reloaded on each valid edit); it owns the agents."""
        acd = await build_acd(
            redis, engine.client, rules, engine.metrics.registry, clock=self._clock,
            instance_id=self.instance_id, lease=lease, ended_call_ttl_s=self.settings.acd.ended_call_ttl,
            on_owned=engine.resync,  # a takeover adopts what Asterisk holds, as after a reconnect
            shard=self.shard,
        )  # fmt: skip
        reloader.watch("routing", acd.replace_rules)
        return acd

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
        """One lease for the shard's ACD (all its queues) and its pacing: the dialer's desk is the ACD.
        Its role (metrics, logs, `not-owner` errors) is the shard's tag: `acd`, `acd-east`."""
        engine = self.settings.engine
        return Lease(
            redis, self.keys.owner, engine_id=self.instance_id, role=self.keys.tag, ttl_s=engine.lease_ttl,
            renew_s=engine.lease_renew, metrics=LeaseMetrics(metrics.registry),
        )  # fmt: skip

    def _dialer(
        self, redis: aioredis.Redis, engine: Engine, reloader: RulesReloader, acd: AcdService, lease: Lease
    ) -> DialerFeature:
        """The outbound dialer, its stores and tasks on their rule files (each reloaded on a valid
        edit); the ACD owns the agents (one state for inbound and outbound calls)."""
        settings = self.settings
        rules = self._dialer_rules(reloader)
        setup = DialerSetup(
            settings.default_region, settings.timezone, self.instance_id, self._clock,
            mail_setup(settings.mail, acd), self.shard,
        )  # fmt: skip
        registry = engine.metrics.registry
        desk = AcdDesk(acd)
        built = build_dialer(redis, engine.client, rules, setup, desk=desk, registry=registry, lease=lease)
        queues_known(rules.campaigns.of_shard(self.shard), acd)
        shards = self._shards = CampaignShards(redis, self.shard, rule_file(settings, "campaigns"), registry)
        shards.schedule(rules.campaigns, after_s=2 * settings.engine.lease_ttl)  # a shard nobody runs: warned

        def campaigns(new: Campaigns) -> None:
            queues_known(new.of_shard(self.shard), acd)
            built.dialer.replace_campaigns(new)
            shards.schedule(new)

        watched: dict[str, Apply] = {
            "campaigns": campaigns,
            "dispositions": built.stores.dispositions.replace_rules,
            "tasks": built.tasks.replace_rules,
        }
        for kind, apply in watched.items():
            if rule_file(settings, kind) is not None:  # no file: the defaults, nothing to reload
                reloader.watch(kind, apply)
        return built

    def _dialer_rules(self, reloader: RulesReloader) -> DialerRules:
        """campaigns.yaml, dispositions.yaml and tasks.yaml as loaded at start (defaults: no file)."""
        campaigns, dispositions, tasks = (rule_file(self.settings, kind) for kind in DIALER_RULE_KINDS)
        load = reloader.load_initial
        return DialerRules(
            load("campaigns", campaigns, Campaigns) if campaigns else Campaigns(),
            load("dispositions", dispositions, DispositionRules) if dispositions else DEFAULT_RULES,
            load("tasks", tasks, TaskRules) if tasks else DEFAULT_TASK_RULES,
        )

    def _webhooks(
        self, redis: aioredis.Redis, metrics: EngineMetrics, acd: AcdService, stores: DialerStores
    ) -> WebhookService | None:
        hooks = self.settings.webhooks
        if not hooks:
            return None
        from switchboard.webhooks.wiring import build_webhooks  # noqa: PLC0415 - httpx only with webhooks

        return build_webhooks(
            redis, hooks, acd=acd, keys=stores.keys, registry=metrics.registry, clock=self._clock,
            shard=self.shard,
        )  # fmt: skip

    async def _start_http(self, state: AppState) -> None:
        overrides = {
            **dialer_access.STATUS_OVERRIDES,
            **acd_api.STATUS_OVERRIDES,
            **tasks_api.STATUS_OVERRIDES,
            **outages_api.STATUS_OVERRIDES,
        }
        app = create_app(state, status_overrides=overrides)
        acd_api.install(app, self.parts.acd)
        app.include_router(outages_api.router)
        dialer_access.attach_dialer(app, self.parts.stores)
        for area in (leads_api, dispositions_api, blacklist_api, robinson_api):
            app.include_router(area.router)
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
            if self._shards is not None:
                await self._shards.close()
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
        await stop_task(task)  # bounded: a renewal may swallow the cancel
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
