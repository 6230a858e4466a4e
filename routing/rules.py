"""The routing rules supervisors edit (config/routing.yaml): one frozen pydantic model per section.

Owned here: what can be said in routing.yaml and the per-field limits. The
cross-references between sections (a queue names a skill that exists, an
overflow target exists, ...) are checked in routing/rule_checks.py, and the derived
lookup tables the hot path uses are built once per load in routing/plan.py and
reached through `Rules.index`. Regenerate the committed JSON Schema with
`python -m routing.rules config/schema/routing.schema.json`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from datetime import date
from functools import cached_property
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from core.config.loader import CheckedModel, ConfigModel, Problem, schema_pattern, text_check, write_schema
from core.config.vocabulary import Minutes, Seconds, short_weekdays, spelled
from core.phone_numbers import is_region
from routing import plan, rule_checks

_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_AGENT_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_INTERFACE = r"^[A-Za-z][A-Za-z0-9]*/[^\s,&|()]+$"
_PREFIX = r"^\+[1-9][0-9]{0,14}$"
_EXTEN = r"^[A-Za-z0-9_+*#-]{1,64}$"
_DID = r"^\+?[0-9]{2,20}$"
_SOUND = r"^[A-Za-z0-9_][A-Za-z0-9_/.-]{0,127}$"
MAX_MENU_OPTIONS = 4  # seed 004: one level of three or four options, one of them the operator
_RANGE = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"must be an IANA time zone like Europe/Budapest, got {value!r}") from None
    return value


def _region(value: str) -> str:
    if not is_region(value):
        raise ValueError(f"must be a region code like HU, PL, US or GB, got {value!r}")
    return value.upper()


def _country(value: str) -> str:
    if value.upper() not in holidays.list_supported_countries():
        raise ValueError(f"must be a country code the holidays calendar knows (HU, PL, ...), got {value!r}")
    return value.upper()


def _time_range(value: str) -> str:
    found = _RANGE.match(value)
    if not found:
        raise ValueError(
            f"must be a time range like 08:00-17:00 (22:00-06:00 runs past midnight), got {value!r}"
        )
    sh, sm, eh, em = (int(g) for g in found.groups())
    if sh > 23 or sm > 59 or em > 59 or eh > 24 or (eh == 24 and em):
        raise ValueError(f"has an impossible time: {value!r}")
    if (sh, sm) == (eh, em):
        raise ValueError(f"starts and ends at the same time: {value!r} (use 00:00-24:00 for all day)")
    return value


Name = Annotated[str, text_check(_NAME, "lower-case letters, digits, '-' or '_'"), schema_pattern(_NAME)]
AgentId = Annotated[str, text_check(_AGENT_ID, "letters, digits, '.', '-' or '_'"), schema_pattern(_AGENT_ID)]
Interface = Annotated[
    str,
    text_check(_INTERFACE, "a dial string like PJSIP/1001 or Local/1001@agents"),
    schema_pattern(_INTERFACE),
]
Prefix = Annotated[str, text_check(_PREFIX, "an E.164 prefix like +3620"), schema_pattern(_PREFIX)]
Extension = Annotated[
    str, text_check(_EXTEN, "a dialplan extension name like voicemail"), schema_pattern(_EXTEN)
]
Did = Annotated[
    str,
    text_check(_DID, "a dialled number as Asterisk's ${EXTEN} shows it, digits with an optional +"),
    schema_pattern(_DID),
]
Sound = Annotated[
    str, text_check(_SOUND, "an Asterisk sound file name like switchboard-menu-main"), schema_pattern(_SOUND)
]
Level = Annotated[int, Field(ge=1, le=5, description="skill level: 1 novice ... 5 expert")]
TimeRange = Annotated[
    str, AfterValidator(_time_range), Field(json_schema_extra={"pattern": r"^\d\d:\d\d-\d\d:\d\d$"})
]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


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


class MenuOption(ConfigModel):
    """One digit of an IVR menu: the queue it leads to, and optionally the skill and level it needs."""

    label: str = Field(min_length=1, description="what the caller chose, shown to the agent")
    queue: Name
    skill: Name | None = Field(None, description="the call needs this skill instead of the queue's")
    level: Level | None = Field(None, description="at this level (with skill)")
    operator: bool = Field(False, description="the 'operator' option: a person, no further questions")

    @model_validator(mode="before")
    @classmethod
    def _one_level(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            nested = [key for key in ("options", "menu", "submenu") if key in data]
            if nested:
                raise ValueError(
                    f"opens another menu ({nested[0]}): an IVR has one level only; "
                    "route the digit to a queue (and a skill) instead"
                )
        return data

    @model_validator(mode="after")
    def _skill_with_level(self) -> Self:
        if (self.skill is None) != (self.level is None):
            raise ValueError("needs both skill and level, or neither (then the queue's skill and level)")
        return self


class MenuFallback(ConfigModel):
    """What happens to a caller who chose nothing valid: the operator option, or a dialplan exit."""

    action: Literal["operator", "exit"] = "operator"
    exit_to: Extension = Field("voicemail", description="extension in switchboard-exit, for action: exit")


Digit = Annotated[str, text_check(r"^[0-9]$", "one digit 0-9"), schema_pattern(r"^[0-9]$")]


class Menu(ConfigModel):
    """A one-level IVR played on the lines listed: 2-4 digits, exactly one of them the operator."""

    name: Name
    description: str = ""
    lines: tuple[Did, ...] = Field(
        min_length=1, description="the dialled numbers (DIDs, as Asterisk's ${EXTEN}) that play this menu"
    )
    prompt: Sound = Field(description="the recording that reads the options out")
    invalid_prompt: Sound = Field("switchboard-invalid", description="played after a digit with no option")
    timeout: Seconds = Field(5, gt=0, le=30, description="how long to wait for a digit after the prompt")
    attempts: int = Field(2, ge=1, le=3, description="the prompt is played at most this many times")
    on_timeout: MenuFallback = Field(MenuFallback(), description="no digit after the last attempt")
    on_invalid: MenuFallback = Field(MenuFallback(), description="a wrong digit on the last attempt")
    options: dict[Digit, MenuOption] = Field(description="digit -> option (2-4, one operator)")

    @field_validator("options")
    @classmethod
    def _few_options_and_an_operator(cls, options: dict[str, MenuOption]) -> dict[str, MenuOption]:
        if len(options) > MAX_MENU_OPTIONS:
            raise ValueError(
                f"has {len(options)} options; a menu has at most {MAX_MENU_OPTIONS} "
                "(one level of three or four, one of them the operator)"
            )
        if len(options) < 2:
            raise ValueError("needs at least 2 options: the operator and one choice (else skip the menu)")
        operators = [digit for digit, option in options.items() if option.operator]
        if not operators:
            raise ValueError("has no operator option: mark one option `operator: true` (a person to talk to)")
        if len(operators) > 1:
            raise ValueError(f"has {len(operators)} operator options ({', '.join(operators)}); keep one")
        return options

    @property
    def operator_digit(self) -> str:
        return next(digit for digit, option in self.options.items() if option.operator)


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


class Hours(ConfigModel):
    """Opening hours in the queue's own time zone; a day not listed is closed."""

    zone: Annotated[str, AfterValidator(_zone)] = "Europe/Budapest"
    weekly: Annotated[dict[Weekday, tuple[TimeRange, ...]], BeforeValidator(short_weekdays)] = Field(
        min_length=1, description="monday ... sunday -> time ranges"
    )
    holidays: tuple[date, ...] = Field(
        (), description="closed all day (ranges starting that day)",
        validation_alias=spelled("extra_closed_dates", "holidays"),
    )  # fmt: skip
    holiday_country: Annotated[str, AfterValidator(_country)] | None = Field(
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
    default_region: Annotated[str, AfterValidator(_region)] = "HU"
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
