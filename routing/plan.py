"""Lookup tables derived once from validated rules, so the hot path does dict lookups only.

Owned here: the compiled form of the rules (`RulesIndex`, one `QueuePlan` per
queue): normalised numbers -> tiers, per-queue tier priorities and max waits,
escalation stages as a sorted time table (`stage_at` is a bisect), hours in
seconds. Built by `Rules.index` after the checks in routing/rule_checks.py passed, so
every reference here resolves.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.holiday_calendars import country_calendar
from core.phone_numbers import normalize, try_normalize
from routing.opening_hours import HoursPlan, build_hours

if TYPE_CHECKING:
    from routing.rules import AgentSpec, Fallback, Hours, Menu, Queue, Rules

MAX_WIDEN = 4  # levels are 1..5, so 4 levels away reaches every level


@dataclass(frozen=True, slots=True)
class Stage:
    """What a call accepts after `steps` escalation steps: the level window and any overflow."""

    steps: int
    below: int
    above: int
    overflow_to: str | None = None


@dataclass(frozen=True, slots=True)
class TierMatch:
    tier: str
    path: str


@dataclass(frozen=True, slots=True)
class CrmRule:
    tier: str
    path: str
    field: str
    values: frozenset[str]


@dataclass(frozen=True, slots=True)
class QueuePlan:
    name: str
    path: str
    spec: Queue
    skill: str
    level: int
    extra: tuple[tuple[str, int], ...]
    priorities: Mapping[str, int]
    min_levels: Mapping[str, int]
    max_waits: Mapping[str, float]
    step_times: tuple[float, ...]
    stages: tuple[Stage, ...]
    fairness: str
    fairness_window: float
    reserve_count: int
    reserve_tiers: frozenset[str]
    reserve_always: bool
    reserve_level: int  # the reserve tiers' lowest min_level (0: none set)
    hours: HoursPlan | None
    max_levels: Mapping[str, int] = field(default_factory=dict)
    """Tiers whose callers need at most this level (unpromising callers to novices first)."""
    capped_stages: Mapping[str, tuple[Stage, ...]] = field(default_factory=dict)
    """The escalation table of a capped tier: no level above its cap at first, then the queue's
    own escalation steps widen it the same way."""

    def stages_for(self, tier: str | None) -> tuple[Stage, ...]:
        return self.capped_stages.get(tier, self.stages) if tier is not None else self.stages

    def stage_at(self, waited: float, tier: str | None = None) -> Stage:
        """The escalation stage in force after `waited` seconds, for a caller of `tier`."""
        return self.stages_for(tier)[bisect_right(self.step_times, waited)]

    def next_step_at(self, waited: float) -> float | None:
        """Seconds-in-queue of the next escalation step after `waited`, if any."""
        position = bisect_right(self.step_times, waited)
        return self.step_times[position] if position < len(self.step_times) else None

    def max_wait_of(self, tier: str) -> float:
        return self.max_waits.get(tier, self.spec.max_wait.seconds)

    @property
    def max_wait_action(self) -> Fallback:
        return self.spec.max_wait

    @property
    def when_closed(self) -> Fallback:
        return self.spec.when_closed


@dataclass(frozen=True, slots=True)
class MenuPlan:
    """A menu and where it is written (`menus[0]`), found by the line it is played on."""

    path: str
    spec: Menu


@dataclass(frozen=True, slots=True)
class RulesIndex:
    region: str
    default_tier: str
    top_priority: float
    queues: Mapping[str, QueuePlan]
    tier_priority: Mapping[str, int]
    tier_min_level: Mapping[str, int]
    callers: Mapping[str, tuple[TierMatch, ...]]
    dialled: Mapping[str, tuple[TierMatch, ...]]
    prefixes: Mapping[str, tuple[TierMatch, ...]]
    prefix_lengths: tuple[int, ...]
    crm: tuple[CrmRule, ...]
    agents: Mapping[str, AgentSpec]
    menus: Mapping[str, MenuPlan] = field(default_factory=dict)  # by line, as written and as E.164

    def menu_on(self, dialled: str | None) -> MenuPlan | None:
        """The menu played on the dialled line, if any."""
        if not dialled:
            return None
        found = self.menus.get(dialled)
        if found is None:
            number = try_normalize(dialled, self.region)
            found = self.menus.get(number) if number else None
        return found


def compile_rules(rules: Rules) -> RulesIndex:
    callers: dict[str, list[TierMatch]] = {}
    dialled: dict[str, list[TierMatch]] = {}
    prefixes: dict[str, list[TierMatch]] = {}
    crm: list[CrmRule] = []
    region = rules.default_region
    for i, tier in enumerate(rules.tiers):
        for j, raw in enumerate(tier.callers):
            callers.setdefault(normalize(raw, region), []).append(
                TierMatch(tier.name, f"tiers[{i}].callers[{j}]")
            )
        for j, raw in enumerate(tier.dialled):
            dialled.setdefault(normalize(raw, region), []).append(
                TierMatch(tier.name, f"tiers[{i}].dialled[{j}]")
            )
        for j, prefix in enumerate(tier.prefixes):
            prefixes.setdefault(prefix, []).append(TierMatch(tier.name, f"tiers[{i}].prefixes[{j}]"))
        for j, match in enumerate(tier.crm):
            values = frozenset(v.casefold() for v in match.values)
            crm.append(CrmRule(tier.name, f"tiers[{i}].crm[{j}]", match.field, values))
    queues = {q.name: _queue_plan(i, q, rules) for i, q in enumerate(rules.queues)}
    every = [t.priority for t in rules.tiers] + [p for q in queues.values() for p in q.priorities.values()]
    return RulesIndex(
        region=rules.default_region,
        default_tier=rules.default_tier,
        top_priority=float(max(every) + 1),
        queues=queues,
        tier_priority={t.name: t.priority for t in rules.tiers},
        tier_min_level={t.name: t.min_level for t in rules.tiers if t.min_level is not None},
        callers=_frozen(callers),
        dialled=_frozen(dialled),
        prefixes=_frozen(prefixes),
        prefix_lengths=tuple(sorted({len(p) for p in prefixes}, reverse=True)),
        crm=tuple(crm),
        agents={a.id: a for a in rules.agents},
        menus=_menus(rules),
    )


def _menus(rules: Rules) -> dict[str, MenuPlan]:
    table: dict[str, MenuPlan] = {}
    for index, menu in enumerate(rules.menus):
        plan = MenuPlan(f"menus[{index}]", menu)
        for line in menu.lines:
            table.setdefault(line, plan)
            number = try_normalize(line, rules.default_region)
            if number:
                table.setdefault(number, plan)
    return table


def _frozen(table: dict[str, list[TierMatch]]) -> dict[str, tuple[TierMatch, ...]]:
    return {key: tuple(value) for key, value in table.items()}


def _queue_plan(index: int, queue: Queue, rules: Rules) -> QueuePlan:
    priorities = {t.name: t.priority for t in rules.tiers}
    min_levels = {t.name: t.min_level for t in rules.tiers if t.min_level is not None}
    max_levels = {t.name: t.max_level for t in rules.tiers if t.max_level is not None}
    max_waits: dict[str, float] = {}
    for name, override in queue.tiers.items():
        if override.priority is not None:
            priorities[name] = override.priority
        if override.min_level is not None:
            min_levels[name] = override.min_level
        if override.max_level is not None:
            max_levels[name] = override.max_level
        if override.max_wait_seconds is not None:
            max_waits[name] = override.max_wait_seconds
    fairness = queue.fairness or rules.fairness
    reserve = queue.reserve_top_agents
    return QueuePlan(
        name=queue.name,
        path=f"queues[{index}]",
        spec=queue,
        skill=queue.skill,
        level=queue.level,
        extra=tuple(sorted(queue.also_requires.items())),
        priorities=priorities,
        min_levels=min_levels,
        max_waits=max_waits,
        step_times=tuple(step.after_seconds for step in queue.escalation),
        stages=_stages(queue),
        fairness=fairness.policy,
        fairness_window=fairness.window_minutes * 60.0,
        reserve_count=reserve.count if reserve else 0,
        reserve_tiers=frozenset(reserve.for_tiers) if reserve else frozenset(),
        reserve_always=reserve is not None and reserve.mode == "always",
        reserve_level=min((min_levels[t] for t in reserve.for_tiers if t in min_levels), default=0)
        if reserve
        else 0,
        hours=_hours(queue.hours),
        max_levels=max_levels,
        capped_stages={tier: _stages(queue, above=0) for tier in max_levels},
    )


def _stages(queue: Queue, *, above: int | None = None) -> tuple[Stage, ...]:
    """The escalation table; `above` replaces the queue's starting `match.above` (a capped tier)."""
    current = Stage(0, queue.match.below, queue.match.above if above is None else above)
    stages = [current]
    for number, step in enumerate(queue.escalation, start=1):
        below, above, overflow = current.below, current.above, current.overflow_to
        if step.widen is not None:
            below, above = min(MAX_WIDEN, below + step.widen), min(MAX_WIDEN, above + step.widen)
        if step.any_level:
            below, above = MAX_WIDEN, MAX_WIDEN
        if step.overflow_to is not None and overflow is None:
            overflow = step.overflow_to
        current = Stage(number, below, above, overflow)
        stages.append(current)
    return tuple(stages)


def _hours(hours: Hours | None) -> HoursPlan | None:
    if hours is None:
        return None
    country = country_calendar(hours.holiday_country) if hours.holiday_country else None
    return build_hours(hours.zone, {str(k): v for k, v in hours.weekly.items()}, hours.holidays, country)
