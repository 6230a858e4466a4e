"""What the demo shows: the callers' numbers, a short story of what the engine did, and the
frame that fits them in an 80x24 terminal. Pure: the demo (switchboard/demo.py) gathers the
facts each refresh and hands them in; nothing here does I/O.

The numbers come from the simulator's call log, so the live view and the closing summary are
the same function of the same log. The service level is the engine's definition (answered
within the queue's time / answered + abandoned after it). Story times are simulated time since
the demo started: the demo's clock runs `time_scale` times faster than the wall clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rich.console import Group
from rich.table import Table
from rich.text import Text

from pbx.sim.core import CallRecord
from routing.classify import classify
from routing.rules import Rules

SL_WITHIN_S = 20.0
TIER_ORDER = ("key", "important", "active", "inactive")
FIXED_LINES = 13  # everything but the story: header, metrics URL, tables, rule lines
STORY_MAX = 8


@dataclass(frozen=True)
class CallerView:
    """What callers experienced so far, from the simulator's call log."""

    arrived: int
    answered: int
    abandoned: int
    waiting: int
    answered_within: int
    abandoned_after: int
    waits: dict[str, list[float]]  # tier -> waits of its answered callers

    @property
    def service_level(self) -> float | None:
        counted = self.answered + self.abandoned_after
        return self.answered_within / counted if counted else None

    def mean_wait(self, tier: str) -> float | None:
        waits = self.waits.get(tier)
        return sum(waits) / len(waits) if waits else None


def caller_view(
    log: Iterable[CallRecord],
    tier_of: Callable[[CallRecord], str] | None = None,
    within_s: float = SL_WITHIN_S,
) -> CallerView:
    """`tier_of`: the tier the engine gives a caller (the simulator's own label is its number pool,
    which does not know that the VIP line makes a caller key)."""
    callers = [record for record in log if record.role == "caller"]
    answered = [r for r in callers if r.bridged is not None]
    abandoned = [r for r in callers if r.bridged is None and r.ended is not None]
    waits: dict[str, list[float]] = {}
    for record in answered:
        assert record.bridged is not None
        tier = tier_of(record) if tier_of is not None else record.tier
        waits.setdefault(tier, []).append(record.bridged - record.created)
    within = sum(1 for tier in waits.values() for wait in tier if wait <= within_s)
    late = sum(1 for r in abandoned if r.ended is not None and r.ended - r.created > within_s)
    waiting = len(callers) - len(answered) - len(abandoned)
    return CallerView(len(callers), len(answered), len(abandoned), waiting, within, late, waits)


def engine_tiers(rules: Rules, queue: str = "support") -> Callable[[CallRecord], str]:
    """The engine's classification of a simulated caller (number and dialled line; no CRM here)."""
    cache: dict[tuple[str, str], str] = {}

    def tier_of(record: CallRecord) -> str:
        key = (record.number, record.dialled)
        if key not in cache:
            cache[key] = classify(record.number or None, queue, rules, dialled=record.dialled or None).tier
        return cache[key]

    return tier_of


def refused_text(issues: str) -> str:
    """A reloader issue without the scratch file's path: `routing.yaml:150:5 queues[0].level must be <= 5`."""
    if "routing.yaml:" not in issues:
        return issues
    where, _, what = issues.split("routing.yaml:", 1)[1].partition(": ")
    return f"routing.yaml:{where} {what}"


def clock_text(seconds: float) -> str:
    minutes, secs = divmod(int(max(0.0, seconds)), 60)
    return f"{minutes:02d}:{secs:02d}"


@dataclass
class Story:
    """Lines of what the engine did, each with its simulated time since the start; the first of a
    kind is kept (a VIP served, the paused agent, ...) and ordinary ones roll."""

    started_at: float
    lines: list[tuple[float, str]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def add(self, at: float, text: str, *, once: str | None = None) -> None:
        if once is not None:
            if once in self.seen:
                return
            self.seen.add(once)
        self.lines.append((at - self.started_at, text))

    def last(self, count: int) -> list[str]:
        shown = self.lines[-count:] if count > 0 else []
        return [f"{clock_text(at)}  {text}" for at, text in shown]


def handover_text(data: Mapping[str, object], rules: Rules) -> tuple[str, str] | None:
    """(story line, once-key) for an inbound call handed to an agent: the caller's tier, what the
    call needed and the level of the agent routing chose. None for outbound calls."""
    if "campaign" in data:
        return None
    queue, agent_id = str(data.get("queue", "")), str(data.get("agent_id", ""))
    try:
        found = classify(
            str(data.get("caller") or "") or None, queue, rules,
            dialled=str(data.get("dialled") or "") or None, ivr_choice=str(data.get("ivr") or "") or None,
        )  # fmt: skip
    except Exception:  # a queue gone after a rules change: no line, the demo goes on
        return None
    skill, level = found.needs[0]
    agent = next((a for a in rules.agents if a.id == agent_id), None)
    if agent is None:
        return None
    has = agent.skills.get(skill, 0)
    waited = float(str(data.get("waited", 0)))
    text = f"{found.tier} caller, needs {skill} {level}: {agent.name} ({skill} {has}), waited {waited:.0f} s"
    return text, f"handover:{found.tier}"


@dataclass(frozen=True)
class AgentSeen:
    state: str
    missed_rings: int
    name: str
    pause_reason: str = ""


def agent_changes(before: Mapping[str, AgentSeen], now: Mapping[str, AgentSeen]) -> list[tuple[str, str]]:
    """(story line, once-key) for agents who missed a ring or were paused since `before`."""
    lines: list[tuple[str, str]] = []
    for agent_id, seen in now.items():
        old = before.get(agent_id)
        if old is None:
            continue
        if seen.missed_rings > old.missed_rings:
            text = f"{seen.name} did not answer: next agent rung, caller still on hold"
            lines.append((text, f"missed:{agent_id}"))
        if seen.state == "paused" and old.state != "paused":
            reason = f" after {seen.pause_reason}" if seen.pause_reason else ""
            lines.append((f"{seen.name} paused{reason}: offered no more calls", f"paused:{agent_id}"))
    return lines


def blocked_text(entry: Mapping[str, str], reasons: Mapping[str, str]) -> str:
    """A dial the gate blocked: which number, which list(s), and the internal list's reason."""
    number, sources = entry.get("number", "?"), entry.get("sources", "")
    lists = "+".join(s for s in sources.split(",") if s) or "a"
    why = f": {reasons[number]}" if number in reasons else ""
    return f"gate blocked {number} ({lists} list{why})"


@dataclass(frozen=True)
class Frame:
    """Everything one refresh shows."""

    view: CallerView
    sim_elapsed: float
    real_elapsed: float
    time_scale: float
    metrics_url: str
    agents: Counter[str]
    outbound: Mapping[str, int]
    story: Sequence[str]
    target: float = 0.8


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _calls_table(frame: Frame) -> Table:
    """The inbound callers' counters and the service level against its target."""
    view = frame.view
    calls = Table.grid(padding=(0, 2))
    for _ in range(6):
        calls.add_column(justify="right")
    calls.add_row("callers", "answered", "abandoned", "waiting", f"≤ {SL_WITHIN_S:.0f} s", "service level")
    level = view.service_level
    style = "green" if level is None or level >= frame.target else "red"
    calls.add_row(
        str(view.arrived), str(view.answered), str(view.abandoned), str(view.waiting),
        str(view.answered_within), Text(f"{_percent(level)} (target {frame.target:.0%})", style=style),
    )  # fmt: skip
    return calls


def render(frame: Frame, height: int = 24) -> Group:
    """The live view; at most `height` lines (the story gives way first), 80 columns wide."""
    view = frame.view
    header = Text.assemble(
        ("Switchboard demo", "bold"),
        f"  simulated {clock_text(frame.sim_elapsed)} = {frame.real_elapsed:.0f} s real "
        f"(clock runs {frame.time_scale:g}x)",
    )
    calls = _calls_table(frame)
    tiers = [t for t in TIER_ORDER if t in view.waits] + sorted(set(view.waits) - set(TIER_ORDER))
    waits = " · ".join(f"{t} {view.mean_wait(t):.0f} s" for t in tiers) or "nobody answered yet"
    agents = " ".join(f"{state} {count}" for state, count in sorted(frame.agents.items()))
    out = frame.outbound
    outbound = (
        f"dialed {out.get('dialed', 0)}, answered {out.get('answered', 0)}, "
        f"abandoned {out.get('abandoned', 0)}, blocked by the gate {out.get('blocked', 0)}"
    )
    room = max(0, min(STORY_MAX, height - FIXED_LINES))
    story = list(frame.story)[-room:] if room else []
    lines: list[Text | Table] = [
        header,
        Text(f"Metrics: {frame.metrics_url}", style="cyan"),
        Text(""),
        calls,
        Text(f"Average wait by tier: {waits}"),
        Text(f"Agents: {agents}"),
        Text(f"Outbound: {outbound}"),
        Text(""),
        Text("What the engine did (simulated time):", style="bold"),
        *(Text(line, overflow="ellipsis", no_wrap=True) for line in story),
    ]
    return Group(*lines)


def summary(view: CallerView, outbound: Mapping[str, int], blocked: Sequence[str], refused: bool) -> str:
    level = view.service_level
    lines = [
        f"Demo finished: {view.arrived} callers, {view.answered} answered "
        f"({view.answered_within} within {SL_WITHIN_S:.0f} s), {view.abandoned} abandoned, "
        f"{view.waiting} still waiting; service level {_percent(level)}.",
        "Average wait by tier: "
        + (" · ".join(f"{t} {view.mean_wait(t):.0f} s" for t in TIER_ORDER if t in view.waits) or "-"),
        f"Outbound: {outbound.get('dialed', 0)} dialed, "
        f"{outbound.get('answered', 0)} answered and connected, "
        f"{outbound.get('abandoned', 0)} abandoned, {outbound.get('blocked', 0)} blocked by the gate"
        + (f" (e.g. {blocked[0]})" if blocked else "")
        + ".",
    ]
    if refused:
        lines.append("A broken routing.yaml edit was refused while running; the rules in force stayed.")
    return "\n".join(lines)
