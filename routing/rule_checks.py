"""Cross-reference checks of the routing rules, each problem with the path of the offending value.

Owned here: everything that one section can get wrong about another, found
after each section validated on its own: unique names, skills/tiers/queues that
exist, phone numbers that parse in the default region, escalation steps in time
order and before a max wait that ends the wait, and no overflow loop (A -> B -> A would bounce a
caller forever).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from core.config.loader import Problem
from core.errors import ValidationFailedError
from core.phone_numbers import normalize

if TYPE_CHECKING:
    from routing.rules import Queue, Rules, Tier


def problems(rules: Rules) -> list[Problem]:
    found: list[Problem] = []
    found += _unique("tiers", [t.name for t in rules.tiers], "name")
    found += _unique("skills", [s.name for s in rules.skills], "name")
    found += _unique("agents", [a.id for a in rules.agents], "id")
    found += _unique("queues", [q.name for q in rules.queues], "name")
    tiers = {t.name for t in rules.tiers}
    if rules.default_tier not in tiers:
        found.append(Problem(("default_tier",), f"names tier {rules.default_tier!r}, which is not in tiers"))
    for index, tier in enumerate(rules.tiers):
        found += _tier_numbers(index, tier, rules.default_region)
        found += _level_bounds(("tiers", index), tier.min_level, tier.max_level)
    skills = {s.name for s in rules.skills}
    for index, agent in enumerate(rules.agents):
        found += _unknown(("agents", index, "skills"), agent.skills, skills, "skill")
    queues = {q.name for q in rules.queues}
    for index, queue in enumerate(rules.queues):
        found += _queue(index, queue, skills, tiers, queues, by_name={t.name: t for t in rules.tiers})
    found += _overflow_loops(rules)
    found += _menus(rules, skills, queues)
    return found


def _menus(rules: Rules, skills: set[str], queues: set[str]) -> list[Problem]:
    """Menu names unique, a line plays one menu, every option names a queue and skill that exist."""
    found = _unique("menus", [m.name for m in rules.menus], "name")
    first: dict[str, str] = {}
    for index, menu in enumerate(rules.menus):
        for position, line in enumerate(menu.lines):
            if line in first:
                found.append(
                    Problem(
                        ("menus", index, "lines", position), f"{line!r} already plays menu {first[line]!r}"
                    )
                )
            first.setdefault(line, menu.name)
        for digit, option in menu.options.items():
            here = ("menus", index, "options", digit)
            if option.queue not in queues:
                found.append(
                    Problem((*here, "queue"), f"names queue {option.queue!r}, which is not defined in queues")
                )
            if option.skill is not None and option.skill not in skills:
                found.append(
                    Problem((*here, "skill"), f"names skill {option.skill!r}, which is not defined in skills")
                )
    return found


def _unique(section: str, names: list[str], field: str) -> list[Problem]:
    first: dict[str, int] = {}
    found: list[Problem] = []
    for index, name in enumerate(names):
        if name in first:
            found.append(
                Problem((section, index, field), f"{name!r} is already used by {section}[{first[name]}]")
            )
        else:
            first[name] = index
    return found


def _unknown(loc: tuple[str | int, ...], names: Iterable[str], known: set[str], what: str) -> list[Problem]:
    return [
        Problem((*loc, name), f"names {what} {name!r}, which is not defined in {what}s")
        for name in names
        if name not in known
    ]


def _tier_numbers(index: int, tier: Tier, region: str) -> list[Problem]:
    found: list[Problem] = []
    for field, numbers in (("callers", tier.callers), ("dialled", tier.dialled)):
        for position, raw in enumerate(numbers):
            try:
                normalize(raw, region)
            except ValidationFailedError as exc:
                found.append(
                    Problem(("tiers", index, field, position), f"is {exc.message} (default_region {region})")
                )
    return found


def _level_bounds(
    here: tuple[str | int, ...], low: int | None, high: int | None, *, in_queue: bool = False
) -> list[Problem]:
    """A tier cannot need at least a level above the one it needs at most."""
    if low is None or high is None or low <= high:
        return []
    where = " in this queue" if in_queue else ""
    message = (
        f"is {high}, below min_level {low}{where}: callers of a tier cannot need at least {low} "
        f"and at most {high}"
    )
    return [Problem((*here, "max_level"), message)]


def _queue(
    index: int, queue: Queue, skills: set[str], tiers: set[str], queues: set[str], *, by_name: dict[str, Tier]
) -> list[Problem]:
    here: tuple[str | int, ...] = ("queues", index)
    found: list[Problem] = []
    if queue.skill not in skills:
        found.append(
            Problem((*here, "skill"), f"names skill {queue.skill!r}, which is not defined in skills")
        )
    found += _unknown((*here, "also_requires"), queue.also_requires, skills, "skill")
    for choice, option in queue.ivr.items():
        if option.skill not in skills:
            found.append(
                Problem(
                    (*here, "ivr", choice, "skill"),
                    f"names skill {option.skill!r}, which is not defined in skills",
                )
            )
    found += _unknown((*here, "tiers"), queue.tiers, tiers, "tier")
    for name, override in queue.tiers.items():
        tier = by_name.get(name)
        low = override.min_level if override.min_level is not None else (tier.min_level if tier else None)
        high = override.max_level if override.max_level is not None else (tier.max_level if tier else None)
        if override.min_level is not None or override.max_level is not None:
            found += _level_bounds((*here, "tiers", name), low, high, in_queue=True)
    if queue.reserve_top_agents is not None:
        found += [
            Problem(
                (*here, "reserve_top_agents", "for_tiers", i),
                f"names tier {name!r}, which is not defined in tiers",
            )
            for i, name in enumerate(queue.reserve_top_agents.for_tiers)
            if name not in tiers
        ]
    found += _targets(here, queue, queues)
    found += _escalation_order(here, queue)
    return found


def _targets(here: tuple[str | int, ...], queue: Queue, queues: set[str]) -> list[Problem]:
    targets: list[tuple[tuple[str | int, ...], str | None]] = [
        ((*here, "escalation", i, "overflow_to"), step.overflow_to) for i, step in enumerate(queue.escalation)
    ]
    targets += [
        ((*here, "max_wait", "queue"), queue.max_wait.queue),
        ((*here, "when_closed", "queue"), queue.when_closed.queue),
    ]
    found: list[Problem] = []
    for loc, target in targets:
        if target is None:
            continue
        if target == queue.name:
            found.append(Problem(loc, f"overflows queue {target!r} into itself"))
        elif target not in queues:
            found.append(Problem(loc, f"names queue {target!r}, which is not defined in queues"))
    return found


def _escalation_order(here: tuple[str | int, ...], queue: Queue) -> list[Problem]:
    found: list[Problem] = []
    previous = 0.0
    for i, step in enumerate(queue.escalation):
        loc = (*here, "escalation", i, "after_seconds")
        if step.after_seconds <= previous:
            found.append(Problem(loc, f"must be later than the step before it ({previous:g} s)"))
        limit = queue.max_wait.seconds
        if step.after_seconds >= limit and queue.max_wait.action != "wait":
            found.append(Problem(loc, f"is not before max_wait.seconds ({limit:g} s), so it would never run"))
        previous = max(previous, step.after_seconds)
    return found


def _overflow_loops(rules: Rules) -> list[Problem]:
    edges: dict[str, set[str]] = {}
    for queue in rules.queues:
        targets = {s.overflow_to for s in queue.escalation} | {queue.max_wait.queue, queue.when_closed.queue}
        edges[queue.name] = {t for t in targets if t is not None and t != queue.name}
    found: list[Problem] = []
    reported: set[frozenset[str]] = set()
    for index, queue in enumerate(rules.queues):
        path = _cycle_from(queue.name, edges)
        if path and frozenset(path) not in reported:
            reported.add(frozenset(path))
            found.append(
                Problem(("queues", index, "name"), "is part of an overflow loop: " + " -> ".join(path))
            )
    return found


def _cycle_from(start: str, edges: dict[str, set[str]]) -> list[str]:
    """A path start -> ... -> start through overflow targets, or [] when none."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        name, path = stack.pop()
        for target in sorted(edges.get(name, ())):
            if target == start:
                return [*path, start]
            if target not in seen:
                seen.add(target)
                stack.append((target, [*path, target]))
    return []
