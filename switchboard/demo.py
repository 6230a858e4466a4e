"""`switchboard demo`: the whole engine against the simulated Asterisk, with a live view.

The simulator is started on a free loopback port with agent phones for the
agents in the routing rules (one of them never answers, to show the ACD
skipping her without the caller noticing) and an inbound traffic generator
with the rules' tiers: key clients, the VIP line, important and ordinary
callers. Simulated time runs `time_scale` times faster than real time, and the
engine runs on the same clock, so wrap-up, escalation and ring timeouts keep
their proportions. The view shows what the callers experience (from the
simulator's call log) next to what the engine saw (AMI events, actions, its
metrics); the exit code says whether calls were answered.

Outbound runs beside inbound, as in a blended contact center: a progressive
campaign (`demo-sales`, the sales queue) with a few hundred leads is started;
the ACD holds a sales advisor for each dial, and a few of the leads' numbers are
on the internal blacklist, so the gate's blocks show too. The campaign's calling
hours cover the whole week, so the demo dials at any hour.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from core.config.loader import load_rules
from dialer.loop.campaign_control import CampaignState
from pbx.sim import AgentPhone, SimConfig, SimulatedPbx, TierPool, TrafficConfig
from routing.rules import Rules
from switchboard.api.tokens import TokenStore, new_token
from switchboard.example_rules import example_rules
from switchboard.runtime import Parts, Runtime, routing_rules_path
from switchboard.settings import Settings

DEMO_USER, DEMO_SECRET = "switchboard", "demo-secret"
REFRESH_S = 0.5
DEMO_CAMPAIGN, DEMO_LEADS, DEMO_BLOCKED = "demo-sales", 300, 10
DEMO_CAMPAIGNS = """\
version: 1
campaigns:
  - id: demo-sales
    name: Demo sales (progressive)
    mode: progressive
    dial_string: PJSIP/{number}@trunk
    queue: sales
    ring_timeout: 25s
    calling_hours:
      {days}
      closed_on_holidays: false
"""


@dataclass(frozen=True)
class CallerView:
    """What callers experienced so far, from the simulator's call log."""

    arrived: int
    answered: int
    abandoned: int
    waiting: int
    answered_within_20s: int
    by_tier: dict[str, tuple[int, int]]  # tier -> (arrived, answered)


def caller_view(sim: SimulatedPbx) -> CallerView:
    callers = [record for record in sim.call_log if record.role == "caller"]
    answered = [r for r in callers if r.bridged is not None]
    abandoned = [r for r in callers if r.bridged is None and r.ended is not None]
    quick = [r for r in answered if r.bridged is not None and r.bridged - r.created <= 20]
    by_tier: dict[str, tuple[int, int]] = {}
    for record in callers:
        seen, taken = by_tier.get(record.tier, (0, 0))
        by_tier[record.tier] = (seen + 1, taken + (record.bridged is not None))
    waiting = len(callers) - len(answered) - len(abandoned)
    return CallerView(len(callers), len(answered), len(abandoned), waiting, len(quick), by_tier)


def demo_sim_config(rules: Rules, time_scale: float) -> SimConfig:
    """Phones for the rules' agents, and callers for the rules' tiers."""
    phones: dict[str, AgentPhone] = {}
    for index, agent in enumerate(rules.agents):
        extension = agent.interface.split("/", 1)[1].split("@", 1)[0]
        never_answers = index == len(rules.agents) - 2
        # Headsets on auto-answer, as on outbound floors: an answered customer must hear an advisor
        # within the campaign's 2 s grace.
        phones[extension] = AgentPhone(answer_after_s=None if never_answers else 0.4 + 0.2 * (index % 3))
    key_callers = tuple(number for tier in rules.tiers if tier.name == "key" for number in tier.callers)
    # About 70% of what the answering agents can take, spread over the IVR's skills.
    traffic = TrafficConfig(
        arrivals_per_minute=2.5,
        tiers=(
            TierPool(tier="key", weight=0.1, numbers=key_callers or ("+36301234567",)),
            TierPool(tier="important", weight=0.2, prefix="+36171", count=1000),
            TierPool(tier="active", weight=0.7, prefix="+36701", count=10000),
        ),
        dialled={"+3612345678": 0.9, "+3615550100": 0.1},
        ivr_choices={"1": 0.3, "2": 0.3, "3": 0.3, "9": 0.1},
        patience_s=(60.0, 300.0),
        talk_s=(60.0, 180.0),
    )
    return SimConfig(
        users={DEMO_USER: DEMO_SECRET}, time_scale=time_scale, agents=phones, traffic=traffic
    )


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


async def start_campaign(parts: Parts, now: float) -> None:
    """Leads from the 'CRM', a few of their numbers on the internal list, the campaign started."""
    at = datetime.fromtimestamp(now, UTC)
    leads = [
        {"lead_id": f"D{i}", "customer_id": f"DC{i}", "name": f"Customer {i}", "phones": [demo_number(i)],
         "crm": {"do_not_call": False}}
        for i in range(DEMO_LEADS)
    ]  # fmt: skip
    await parts.stores.leads.upsert_many(leads, now=at, actor="demo-crm", campaign_id=DEMO_CAMPAIGN)
    for i in range(0, DEMO_LEADS, DEMO_LEADS // DEMO_BLOCKED):
        reason = "demo: asked not to be called"
        await parts.stores.internal.add(demo_number(i), reason=reason, actor="demo", now=at)
    await parts.dialer.set_state(DEMO_CAMPAIGN, CampaignState.RUNNING, "demo")


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


def render(view: CallerView, parts: Parts, sim: SimulatedPbx, elapsed: float, metrics_url: str) -> Group:
    calls = Table(title="Callers (as the simulated PBX saw them)", expand=True)
    for column in ("arrived", "answered", "abandoned", "waiting now", "answered ≤ 20 s"):
        calls.add_column(column, justify="right")
    calls.add_row(str(view.arrived), str(view.answered), str(view.abandoned), str(view.waiting),
                  str(view.answered_within_20s))  # fmt: skip
    tiers = Table(title="By tier", expand=True)
    tiers.add_column("tier")
    tiers.add_column("arrived", justify="right")
    tiers.add_column("answered", justify="right")
    for tier, (seen, taken) in sorted(view.by_tier.items()):
        tiers.add_row(tier, str(seen), str(taken))
    outbound = Table(title=f"Outbound campaign {DEMO_CAMPAIGN} (the dialer's counters)", expand=True)
    counts = outbound_counts(parts)
    columns = ("dialed", "answered", "busy", "no_answer", "answering_machine", "abandoned", "blocked")
    for column in columns:
        outbound.add_column(column.replace("_", " "), justify="right")
    outbound.add_row(*(str(counts.get(column, 0)) for column in columns))
    agents = Table(title="Agents (the engine's view)", expand=True)
    states = Counter(agent.state for agent in parts.acd.agents())
    for state in sorted(states):
        agents.add_column(state, justify="right")
    agents.add_row(*(str(states[state]) for state in sorted(states)))
    engine = parts.engine
    stats = Table(title="Engine", expand=True)
    for column in ("AMI events", "AMI actions received by PBX", "live channels", "service errors"):
        stats.add_column(column, justify="right")
    stats.add_row(str(engine.stats.events), str(len(sim.actions)), str(len(sim.channels)),
                  str(engine.stats.service_errors))  # fmt: skip
    simulated_min = elapsed * sim.config.time_scale / 60
    footer = f"{elapsed:5.1f} s real, {simulated_min:5.1f} simulated minutes · {metrics_url}"
    return Group(calls, tiers, outbound, agents, stats, Panel(footer))


async def log_in_every_agent(parts: Parts) -> None:
    """What advisors do at the start of a shift: log in and become ready (those not in already)."""
    for agent in parts.acd.agents():
        if agent.state != "logged_out":
            continue
        info = await parts.acd.login(agent.id)
        if info.state != "ready":
            await parts.acd.ready(agent.id)


async def run_demo(settings: Settings, duration_s: float, *, time_scale: float = 10.0, seed: int = 7) -> int:
    console = Console(stderr=False)
    logger = logging.getLogger("switchboard")
    level = logger.level
    if settings.log.level == "INFO":  # the default: keep the live view readable
        logger.setLevel(logging.WARNING)
    try:
        return await _run(settings, duration_s, time_scale, seed, console)
    finally:
        logger.setLevel(level)


def with_example_routing(settings: Settings) -> Settings:
    """The demo runs on the shipped example routing rules unless the settings name a file."""
    if settings.rules.routing is not None:
        return settings
    rules_section = settings.rules.model_copy(update={"routing": example_rules("routing")})
    return settings.model_copy(update={"rules": rules_section})


async def _run(settings: Settings, duration_s: float, time_scale: float, seed: int, console: Console) -> int:
    settings = with_example_routing(settings)
    rules = load_rules(routing_rules_path(settings), Rules)
    sim = SimulatedPbx(demo_sim_config(rules, time_scale), seed=seed)
    port = await sim.start()
    token = new_token()
    tokens = None if settings.http.tokens_file else TokenStore.from_tokens([(token, "demo", "supervisor")])
    scratch = tempfile.TemporaryDirectory(prefix="switchboard-demo-")
    if settings.rules.campaigns is None:
        rules_section = settings.rules.model_copy(update={"campaigns": demo_campaigns(Path(scratch.name))})
        settings = settings.model_copy(update={"rules": rules_section})
    runtime = Runtime(_with_sim_ami(settings, port), clock=sim.clock.now, tokens=tokens)
    try:
        parts = await runtime.start()
        metrics_url = f"http://{settings.http.host}:{runtime.http_port}/metrics"
        console.print(f"Simulated Asterisk on 127.0.0.1:{port}; metrics at {metrics_url}", soft_wrap=True)
        if tokens is not None:
            queues_url = metrics_url.removesuffix("/metrics") + "/api/v1/acd/queues"
            curl = f"curl -H 'Authorization: Bearer {token}' {queues_url}"
            console.print(f"Try the API: {curl}", soft_wrap=True)
        await log_in_every_agent(parts)
        if parts.dialer.campaigns.get(DEMO_CAMPAIGN) is not None:
            await start_campaign(parts, sim.clock.now())
        sim.start_traffic()
        started = time.monotonic()
        with Live(console=console, refresh_per_second=4, transient=False) as live:
            while (elapsed := time.monotonic() - started) < duration_s:
                live.update(render(caller_view(sim), parts, sim, elapsed, metrics_url))
                await asyncio.sleep(REFRESH_S)
        sim.stop_traffic()
        view, counts = caller_view(sim), outbound_counts(parts)
    finally:
        await runtime.stop()
        await sim.stop()
        scratch.cleanup()
    console.print(
        f"Demo finished: {view.arrived} callers, {view.answered} answered "
        f"({view.answered_within_20s} within 20 s), {view.abandoned} abandoned. Outbound: "
        f"{counts.get('dialed', 0)} dialed, {counts.get('answered', 0)} answered and connected, "
        f"{counts.get('abandoned', 0)} abandoned, {counts.get('blocked', 0)} blocked by the gate."
    )
    if view.answered == 0:
        console.print("[red]No call was answered: the engine did not route any call.[/red]")
        return 1
    return 0
