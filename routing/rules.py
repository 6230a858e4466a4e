"""The routing rules supervisors edit (config/routing.yaml): one frozen pydantic model per section.

Owned here: what can be said in routing.yaml and the per-field limits. The
cross-references between sections (a queue names a skill that exists, an
overflow target exists, ...) are checked in routing/rule_checks.py, and the derived
lookup tables the hot path uses are built once per load in routing/plan.py and
reached through `Rules.index`. Regenerate the committed JSON Schema with
`python -m routing.rules config/schema/routing.schema.json`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import date
from functools import cached_property
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from core.config.loader import CheckedModel, ConfigModel, Problem, write_schema
from core.config.vocabulary import Minutes, Seconds, short_weekdays, spelled
from routing import plan, rule_checks
from routing.menu_rules import MAX_MENU_OPTIONS, Digit, Menu, MenuFallback, MenuOption
from routing.rule_fields import (
    AgentId,
    Did,
    Extension,
    Interface,
    Level,
    Name,
    Prefix,
    Sound,
    TimeRange,
    Weekday,
    holiday_country_code,
    iana_zone,
    region_code,
)

__all__ = [  # the field types live in routing.rule_fields, the menus in routing.menu_rules
    "MAX_MENU_OPTIONS", "AgentId", "AgentSpec", "CrmMatch", "Did", "Digit", "EscalationStep", "Extension",
    "Fairness", "Fallback", "Hours", "Interface", "IvrChoice", "Level", "LevelWindow", "MaxWait", "Menu",
    "MenuFallback", "MenuOption", "Name", "Prefix", "Queue", "ReserveTop", "Rules", "ServiceLevel", "Skill",
    "Sound", "Tier", "TierInQueue", "TimeRange", "Weekday",
]  # fmt: skip


class CrmMatch(ConfigModel):
    """Matches when the caller's CRM record has `field` equal to one of `values` (case-insensitive)."""

    field: str = Field(min_length=1, description="attribute of the CRM customer record, e.g. segment")
    values: tuple[str, ...] = Field(min_length=1)


class Tier(ConfigModel):
    """A class of callers. A caller matching several tiers gets the one with the highest priority."""

    name: Name
    description: str = ""
    priority: int = Field(ge=0, le=1000, description="base priority; higher is answered first")
    min_level: Level | None = Field(None, description="callers of this tier need at least this skill level")
    max_level: Level | None = Field(
        None,
        description="callers of this tier need at most this skill level: novices first (unpromising "
        "callers, simple matters); higher levels only as the queue's escalation steps widen",
    )
    callers: tuple[str, ...] = Field((), description="caller numbers, any format; read with default_region")
    prefixes: tuple[Prefix, ...] = Field((), description="E.164 prefixes, e.g. +3620")
    crm: tuple[CrmMatch, ...] = Field((), description="CRM record attributes that put a caller in this tier")
    dialled: tuple[str, ...] = Field(
        (), description="dialled numbers (VIP lines) that put a caller in this tier"
    )


class Skill(ConfigModel):
    name: Name
    description: str = ""


class AgentSpec(ConfigModel):
    """An advisor: who they are, how to ring them, what they can do (levels 1-5)."""

    id: AgentId
    name: str = Field(min_length=1)
    interface: Interface
    skills: dict[Name, Level] = Field(min_length=1)
    email: str | None = Field(
        None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="where task reminders and the morning digest go (docs/tasks.md)",
    )  # fmt: skip
    language: Literal["hu", "pl", "en"] | None = Field(None, description="of those e-mails (default: mail)")


class IvrChoice(ConfigModel):
    """What an IVR digit means for the call's needs (replaces the queue's skill and level)."""

    label: str = ""
    skill: Name
    level: Level


class TierInQueue(ConfigModel):
    """Per-queue overrides for one tier."""

    priority: int | None = Field(None, ge=0, le=1000)
    min_level: Level | None = None
    max_level: Level | None = None
    max_wait_seconds: Seconds | None = Field(
        None, gt=0, validation_alias=spelled("max_wait", "max_wait_seconds")
    )


class LevelWindow(ConfigModel):
    """Which agent levels a call accepts before any escalation, relative to the level it needs."""

    above: int = Field(4, ge=0, le=4, description="accept agents up to this many levels above the need")
    below: int = Field(0, ge=0, le=4, description="accept agents up to this many levels below the need")


class EscalationStep(ConfigModel):
    """After `after_seconds` in the queue: widen the level window, accept any level, or overflow."""

    after_seconds: Seconds = Field(gt=0, validation_alias=spelled("after", "after_seconds"))
    widen: int | None = Field(None, ge=1, le=4, description="accept agents this many more levels away")
    any_level: bool = Field(False, description="accept any agent who has the skill at all")
    overflow_to: Name | None = Field(None, description="move the call to this queue")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        chosen = [self.widen is not None, self.any_level, self.overflow_to is not None]
        if sum(chosen) != 1:
            raise ValueError("must set exactly one of widen, any_level or overflow_to")
        return self


class Fallback(ConfigModel):
    """What happens to a caller: keep waiting, overflow to another queue, or leave to a dialplan exit."""

    action: Literal["wait", "overflow", "exit"]
    queue: Name | None = Field(None, description="target queue of action: overflow")
    exit_to: Extension = Field("voicemail", description="extension in the exit context, for action: exit")

    @model_validator(mode="after")
    def _queue_with_overflow(self) -> Self:
        if self.action == "overflow" and self.queue is None:
            raise ValueError("needs a queue for action: overflow")
        if self.action != "overflow" and self.queue is not None:
            raise ValueError("has a queue, which is only used with action: overflow")
        return self


class MaxWait(Fallback):
    """The longest a caller waits; `wait` keeps them waiting at the very top priority."""

    action: Literal["wait", "overflow", "exit"] = "wait"
    seconds: Seconds = Field(gt=0, validation_alias=spelled("after", "seconds"))


class ServiceLevel(ConfigModel):
    """The queue's target: `target_percent` of callers answered within `within_seconds`."""

    within_seconds: Seconds = Field(20, gt=0, validation_alias=spelled("within", "within_seconds"))
    target_percent: float = Field(80, gt=0, le=100)
    widen_early: bool = Field(
        False,
        description="widen a call's level window before its escalation step when waiting for the "
        "agents it accepts would answer it later than within_seconds (false: the steps' times only)",
    )
    headroom_seconds: float = Field(
        5,
        ge=0,
        description="a call is widened when its forecast answer is later than within_seconds minus this",
    )
    min_level_wait_seconds: float = Field(
        1.5,
        ge=0,
        description="past its last moment (within_seconds - headroom_seconds), a caller of a tier with "
        "min_level waits up to this long (at most headroom_seconds) for an agent at that level whose "
        "wrap-up ends by then, before taking a lower level (0: takes the next best agent at once)",
    )


class Hours(ConfigModel):
    """Opening hours in the queue's own time zone; a day not listed is closed."""

    zone: Annotated[str, AfterValidator(iana_zone)] = "Europe/Budapest"
    weekly: Annotated[dict[Weekday, tuple[TimeRange, ...]], BeforeValidator(short_weekdays)] = Field(
        min_length=1, description="monday ... sunday -> time ranges"
    )
    holidays: tuple[date, ...] = Field(
        (), description="closed all day (ranges starting that day)",
        validation_alias=spelled("extra_closed_dates", "holidays"),
    )  # fmt: skip
    holiday_country: Annotated[str, AfterValidator(holiday_country_code)] | None = Field(
        None, description="also closed on this country's public holidays, e.g. HU"
    )


class Fairness(ConfigModel):
    """How to choose among equally fitting agents."""

    policy: Literal["longest_idle", "least_occupancy"] = "longest_idle"
    window_minutes: Minutes = Field(
        60, gt=0, le=1440, description="occupancy is measured over this window (e.g. 60m)",
        validation_alias=spelled("window", "window_minutes"),
    )  # fmt: skip


class ReserveTop(ConfigModel):
    """Keep the `count` best ready agents free for callers of `for_tiers`."""

    count: int = Field(ge=1, le=50)
    for_tiers: tuple[Name, ...] = Field(min_length=1)
    mode: Literal["always", "when_waiting"] = Field(
        "always", description="always: expect key callers at any time; when_waiting: only while one waits"
    )


class Queue(ConfigModel):
    """A waiting line: what its calls need, how they are ordered, escalated and ended."""

    name: Name
    description: str = ""
    skill: Name
    level: Level
    also_requires: dict[Name, Level] = Field(
        default_factory=dict, description="further skills, e.g. a language"
    )
    ivr: dict[str, IvrChoice] = Field(default_factory=dict, description="IVR digit -> skill and level")
    tiers: dict[Name, TierInQueue] = Field(default_factory=dict)
    match: LevelWindow = LevelWindow()
    escalation: tuple[EscalationStep, ...] = ()
    max_wait: MaxWait = MaxWait(seconds=600)
    service_level: ServiceLevel = ServiceLevel()
    wrap_up_seconds: Seconds = Field(
        15, ge=0, le=3600, validation_alias=spelled("wrap_up", "wrap_up_seconds")
    )
    ring_timeout_seconds: Seconds = Field(
        15, gt=0, le=300, validation_alias=spelled("ring_timeout", "ring_timeout_seconds")
    )
    missed_rings_before_pause: int = Field(3, ge=1, le=100)
    fairness: Fairness | None = Field(None, description="overrides the global fairness for this queue")
    reserve_top_agents: ReserveTop | None = None
    hours: Hours | None = Field(None, description="no hours: always open")
    when_closed: Fallback = Fallback(action="exit", exit_to="closed")


class Rules(CheckedModel):
    """The whole routing.yaml."""

    version: Literal[1] = 1
    default_region: Annotated[str, AfterValidator(region_code)] = "HU"
    default_tier: Name
    fairness: Fairness = Fairness()
    tiers: tuple[Tier, ...] = Field(min_length=1)
    skills: tuple[Skill, ...] = Field(min_length=1)
    agents: tuple[AgentSpec, ...] = ()
    queues: tuple[Queue, ...] = Field(min_length=1)
    menus: tuple[Menu, ...] = Field(
        (), description="one-level IVR menus, each played on its lines (switchboard asterisk-dialplan)"
    )

    def cross_check(self) -> list[Problem]:
        problems = rule_checks.problems(self)
        if not problems:
            _ = self.index  # build the lookup tables now, not on the first call
        return problems

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("index", None)  # the tables of the original may not fit the copy
        return copied

    @cached_property
    def index(self) -> plan.RulesIndex:
        """Lookup tables derived from these rules (built once; a plain attribute read afterwards)."""
        return plan.compile_rules(self)


if __name__ == "__main__":  # pragma: no cover
    write_schema(Rules, sys.argv[1] if len(sys.argv) > 1 else "config/schema/routing.schema.json")
