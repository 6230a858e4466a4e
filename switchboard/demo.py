"""`switchboard demo`: the whole engine against the simulated Asterisk, with a live view.

The simulator is started on a free loopback port with agent phones for the
agents in the routing rules (one of them never answers, to show the ACD
skipping him without the caller noticing, then pausing him) and an inbound
traffic generator with the rules' tiers: key clients, the VIP line, important
and ordinary callers, sized for a healthy service level. Simulated time runs
`time_scale` (10) times faster than real time, and the engine runs on the same
clock, so wrap-up, escalation and ring timeouts keep their proportions. The
view (switchboard/demo_view.py, fits 80x24) shows what callers experience (from
the simulator's call log: service level, wait by tier) and a story of what the
engine did: a VIP served first by the closest-level agent, the silent agent
skipped and paused, a blacklisted number blocked, and a broken routing.yaml
edit (saved by the demo into its own copy at 40% of the run) refused while
calls go on. The closing summary repeats the last frame; the exit code says
whether calls were answered.

Outbound runs beside inbound, as in a blended contact center: a progressive
campaign (`demo-sales`, worked by the top seller) with a few hundred leads is
started; a few of the leads' numbers are on the internal blacklist, so the
gate's blocks show too. The campaign's calling hours cover the whole week.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from pydantic import SecretStr
from rich.console import Console
from rich.live import Live

from core.config.loader import load_rules
from dialer.loop.campaign_control import CampaignState
from pbx.sim import AgentPhone, SimConfig, SimulatedPbx, TierPool, TrafficConfig
from routing.rules import Rules
from switchboard.api.tokens import TokenStore, new_token
from switchboard.demo_view import (
    STORY_MAX,
    AgentSeen,
    Frame,
    Story,
    agent_changes,
    blocked_text,
    caller_view,
    engine_tiers,
    handover_text,
    refused_text,
    render,
    summary,
)
from switchboard.example_rules import example_rules
from switchboard.runtime import Parts, Runtime, routing_rules_path
from switchboard.settings import Settings

DEMO_USER, DEMO_SECRET = "switchboard", "demo-secret"
REFRESH_S = 0.5
# Sized for a healthy floor: about half of what the answering inbound agents can take (talk plus
# wrap-up), while the sellers also work the outbound campaign. The IVR's "9 operator" (any
# Hungarian speaker at level 1-2) is left out: the shipped rules have nobody at that level, so
# those callers would wait for the 90 s escalation, which is a rules lesson, not this demo's.
ARRIVALS_PER_MINUTE = 1.2
# Rung first for "TV picture" calls (tech 2, the closest level), so his misses and pause show early.
NEVER_ANSWERS = "1006"
TALK_S = (20.0, 60.0)
IVR_CHOICES = {"1": 0.4, "2": 0.35, "3": 0.25}
DEMO_CAMPAIGN, DEMO_LEADS, DEMO_BLOCKED = "demo-sales", 300, 10
DEMO_CAMPAIGNS = """\
version: 1
campaigns:
  - id: demo-sales
    name: Demo sales (progressive)
    mode: progressive
    dial_string: PJSIP/{number}@trunk
    queue: sales
    skills: {sales: 5}   # the top seller works it; the others stay on the inbound lines
    ring_timeout: 25s
    calling_hours:
      {days}
      closed_on_holidays: false
"""


def demo_sim_config(rules: Rules, time_scale: float) -> SimConfig:
    """Phones for the rules' agents, and callers for the rules' tiers."""
    phones: dict[str, AgentPhone] = {}
    for index, agent in enumerate(rules.agents):
        extension = agent.interface.split("/", 1)[1].split("@", 1)[0]
        never_answers = agent.id == NEVER_ANSWERS
        # Headsets on auto-answer, as on outbound floors: an answered customer must hear an advisor
        # within the campaign's 2 s grace.
        phones[extension] = AgentPhone(answer_after_s=None if never_answers else 0.4 + 0.2 * (index % 3))
    key_callers = tuple(number for tier in rules.tiers if tier.name == "key" for number in tier.callers)
    traffic = TrafficConfig(
        arrivals_per_minute=ARRIVALS_PER_MINUTE,
        tiers=(
            TierPool(tier="key", weight=0.06, numbers=key_callers or ("+36301234567",)),
            TierPool(tier="important", weight=0.2, prefix="+36171", count=1000),
            TierPool(tier="active", weight=0.74, prefix="+36701", count=10000),
        ),
        dialled={"+3612345678": 0.96, "+3615550100": 0.04},  # the VIP line: key clients too
        ivr_choices=IVR_CHOICES,
        patience_s=(60.0, 300.0),
        talk_s=TALK_S,
    )
    return SimConfig(users={DEMO_USER: DEMO_SECRET}, time_scale=time_scale, agents=phones, traffic=traffic)


def _with_sim_ami(settings: Settings, port: int) -> Settings:
    ami = settings.ami.model_copy(
        update={"host": "127.0.0.1", "port": port, "username": DEMO_USER, "secret": SecretStr(DEMO_SECRET)}
    )
    http = settings.http
    if "port" not in http.model_fields_set:  # not chosen by the user: any free port
        http = http.model_copy(update={"port": 0})
    return settings.model_copy(update={"ami": ami, "http": http})


def demo_campaigns(directory: Path) -> Path:
    """campaigns.yaml of the demo: one progressive campaign that may dial at any hour."""
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    path = directory / "campaigns.yaml"
    path.write_text(DEMO_CAMPAIGNS.replace("{days}", "\n      ".join(f'{d}: ["00:00-23:59"]' for d in days)))
    return path


def demo_number(index: int) -> str:
    return f"+3620{5000000 + index:07d}"


async def start_campaign(parts: Parts, now: float) -> dict[str, str]:
    """Leads from the 'CRM', a few of their numbers on the internal list, the campaign started;
    returns the blocked numbers and why."""
    at = datetime.fromtimestamp(now, UTC)
    leads = [
        {"lead_id": f"D{i}", "customer_id": f"DC{i}", "name": f"Customer {i}", "phones": [demo_number(i)],
         "crm": {"do_not_call": False}}
        for i in range(DEMO_LEADS)
    ]  # fmt: skip
    await parts.stores.leads.upsert_many(leads, now=at, actor="demo-crm", campaign_id=DEMO_CAMPAIGN)
    reasons = {}
    for i in range(0, DEMO_LEADS, DEMO_LEADS // DEMO_BLOCKED):
        reasons[demo_number(i)] = "asked not to be called"
        await parts.stores.internal.add(demo_number(i), reason=reasons[demo_number(i)], actor="demo", now=at)
    await parts.dialer.set_state(DEMO_CAMPAIGN, CampaignState.RUNNING, "demo")
    return reasons


def outbound_counts(parts: Parts) -> dict[str, int]:
    """The dialer's own counters: Originates, results, gate blocks."""
    found: Counter[str] = Counter()
    for metric in parts.metrics.registry.collect():
        for sample in metric.samples:
            if sample.labels.get("campaign") not in (DEMO_CAMPAIGN, None):
                continue
            if sample.name == "switchboard_dial_originates_total":
                found["dialed"] += int(sample.value)
            elif sample.name == "switchboard_dial_attempts_total":
                found[sample.labels["result"]] += int(sample.value)
            elif sample.name == "switchboard_dial_blocked_total":
                found["blocked"] += int(sample.value)
    return dict(found)


async def log_in_every_agent(parts: Parts) -> None:
    """What advisors do at the start of a shift: log in and become ready (those not in already)."""
    for agent in parts.acd.agents():
        if agent.state != "logged_out":
            continue
        info = await parts.acd.login(agent.id)
        if info.state != "ready":
            await parts.acd.ready(agent.id)


RELOAD_LOG = "switchboard.reload"
BROKEN_EDIT = ("    level: 2\n", "    level: 9\n")  # support's level: routing.yaml allows 1-5


class ReloadLog(logging.Handler):
    """Keeps what the reloader says while the demo runs (it would scribble over the live view)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.refused: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        issues = getattr(record, "issues", None)
        if record.levelno >= logging.ERROR:
            self.refused.append("; ".join(issues) if isinstance(issues, list) else record.getMessage())


class Watcher:
    """Each refresh: the ACD's new events, agents who missed a ring or were paused, the gate's new
    blocks, and the reloader's refusals, as story lines (switchboard/demo_view.py)."""

    def __init__(self, parts: Parts, rules: Rules, story: Story, reasons: dict[str, str]) -> None:
        self.parts, self.rules, self.story, self.reasons = parts, rules, story, reasons
        self.events_since, self.blocks_since = "0", "0"
        self.agents: dict[str, AgentSeen] = {}
        self.blocked: list[str] = []

    async def poll(self, now: float, reload_log: ReloadLog) -> None:
        for event in await self.parts.acd.events.read(self.events_since, count=500):
            self.events_since = event.id
            found = handover_text(event.data, self.rules) if event.type == "handover" else None
            if found is not None:
                self.story.add(now, found[0], once=found[1])
        seen = {
            a.id: AgentSeen(a.state, a.missed_rings, a.name, a.pause_reason) for a in self.parts.acd.agents()
        }
        for text, key in agent_changes(self.agents, seen):
            self.story.add(now, text, once=key)
        self.agents = seen
        await self._blocks(now)
        while reload_log.refused:
            message = reload_log.refused.pop(0)
            self.story.add(now, f"edit refused, rules kept: {refused_text(message)}", once="refused")

    async def _blocks(self, now: float) -> None:
        stream = self.parts.stores.keys.audit_dial_blocked
        entries = await self.parts.redis.xread({stream: self.blocks_since}, count=100)
        for _name, items in cast(list[tuple[Any, list[tuple[Any, dict[Any, Any]]]]], entries or []):
            for entry_id, fields in items:
                self.blocks_since = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                entry = {_text(k): _text(v) for k, v in fields.items()}
                self.blocked.append(entry.get("number", "?"))
                once = f"blocked:{min(len(self.blocked), 3)}"  # the first three, then the count shows it
                self.story.add(now, blocked_text(entry, self.reasons), once=once)


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _demo_rules(settings: Settings, scratch: Path) -> tuple[Settings, Path | None]:
    """A copy of the shipped routing.yaml to run on, which the demo edits (never the user's file)."""
    if settings.rules.routing is not None:
        return settings, None
    copy = scratch / "routing.yaml"
    shutil.copy(example_rules("routing"), copy)
    return settings.model_copy(update={"rules": settings.rules.model_copy(update={"routing": copy})}), copy


def _break_and_restore(path: Path) -> Callable[[], None]:
    """Save a broken edit (the engine refuses it and keeps running); returns how to undo it."""
    good = path.read_text(encoding="utf-8")
    path.write_text(good.replace(*BROKEN_EDIT, 1), encoding="utf-8")

    def restore() -> None:
        path.write_text(good, encoding="utf-8")

    return restore


async def run_demo(settings: Settings, duration_s: float, *, time_scale: float = 10.0, seed: int = 7) -> int:
    console = Console(stderr=False)
    logger, reload_logger, reload_log = (
        logging.getLogger("switchboard"),
        logging.getLogger(RELOAD_LOG),
        ReloadLog(),
    )
    level, propagate = logger.level, reload_logger.propagate
    if settings.log.level == "INFO":  # the default: keep the live view readable
        logger.setLevel(logging.WARNING)
    reload_logger.addHandler(reload_log)
    reload_logger.propagate = False
    try:
        return await _run(settings, duration_s, Show(console, reload_log, time_scale), seed)
    finally:
        logger.setLevel(level)
        reload_logger.removeHandler(reload_log)
        reload_logger.propagate = propagate


@dataclass
class Show:
    """The live view's side of one demo run: where it prints, what it gathered, the last frame."""

    console: Console
    reload_log: ReloadLog
    time_scale: float
    metrics_url: str = ""
    blocked: list[str] = field(default_factory=list)
    refused: bool = False

    def announce(self, port: int, token: str | None) -> None:
        self.console.print(
            f"Simulated Asterisk on 127.0.0.1:{port}; metrics at {self.metrics_url}", soft_wrap=True
        )
        if token is not None:
            queues_url = self.metrics_url.removesuffix("/metrics") + "/api/v1/acd/queues"
            self.console.print(
                f"Try the API: curl -H 'Authorization: Bearer {token}' {queues_url}", soft_wrap=True
            )

    async def play(
        self, parts: Parts, sim: SimulatedPbx, rules: Rules, editable: Path | None, duration_s: float
    ) -> Frame:
        """Calls flow for `duration_s` real seconds; a broken rules edit is saved at 40% of it
        (and undone at the end). Returns the last frame, the one the summary repeats."""
        story, reasons = Story(sim.clock.now()), {}
        if parts.dialer.campaigns.get(DEMO_CAMPAIGN) is not None:
            reasons = await start_campaign(parts, sim.clock.now())
        watcher = Watcher(parts, rules, story, reasons)
        target = min((q.service_level.target_percent / 100 for q in rules.queues), default=0.8)
        tier_of, started, restore = engine_tiers(rules), time.monotonic(), None

        def frame() -> Frame:
            agents = Counter(a.state for a in parts.acd.agents())
            sim_elapsed, real_elapsed = sim.clock.now() - story.started_at, time.monotonic() - started
            return Frame(
                caller_view(sim.call_log, tier_of), sim_elapsed, real_elapsed, self.time_scale,
                self.metrics_url, agents, outbound_counts(parts), story.last(STORY_MAX), target,
            )  # fmt: skip

        sim.start_traffic()
        with Live(console=self.console, refresh_per_second=4, transient=False) as live:
            while (elapsed := time.monotonic() - started) < duration_s:
                if editable is not None and restore is None and elapsed >= duration_s * 0.4:
                    restore = _break_and_restore(editable)
                await watcher.poll(sim.clock.now(), self.reload_log)
                live.update(render(frame(), self.console.size.height))
                await asyncio.sleep(REFRESH_S)
            sim.stop_traffic()
            await watcher.poll(sim.clock.now(), self.reload_log)
            last = frame()
            live.update(render(last, self.console.size.height))  # the summary below says the same
        if restore is not None:
            restore()
        self.blocked, self.refused = watcher.blocked, "refused" in story.seen
        return last


async def _run(settings: Settings, duration_s: float, show: Show, seed: int) -> int:
    scratch = tempfile.TemporaryDirectory(prefix="switchboard-demo-")
    settings, editable = _demo_rules(settings, Path(scratch.name))
    rules = load_rules(routing_rules_path(settings), Rules)
    sim = SimulatedPbx(demo_sim_config(rules, show.time_scale), seed=seed)
    port = await sim.start()
    token = new_token()
    tokens = None if settings.http.tokens_file else TokenStore.from_tokens([(token, "demo", "supervisor")])
    if settings.rules.campaigns is None:
        rules_section = settings.rules.model_copy(update={"campaigns": demo_campaigns(Path(scratch.name))})
        settings = settings.model_copy(update={"rules": rules_section})
    runtime = Runtime(_with_sim_ami(settings, port), clock=sim.clock.now, tokens=tokens)
    try:
        parts = await runtime.start()
        show.metrics_url = f"http://{settings.http.host}:{runtime.http_port}/metrics"
        show.announce(port, token if tokens is not None else None)
        await log_in_every_agent(parts)
        last = await show.play(parts, sim, rules, editable, duration_s)
    finally:
        await runtime.stop()
        await sim.stop()
        scratch.cleanup()
    if not show.console.is_terminal:
        show.console.print()  # rich's live view leaves its last line open when written to a pipe or file
    show.console.print(summary(last.view, last.outbound, show.blocked, show.refused), soft_wrap=True)
    if last.view.answered == 0:
        show.console.print("[red]No call was answered: the engine did not route any call.[/red]")
        return 1
    return 0
