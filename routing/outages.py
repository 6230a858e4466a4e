"""Outage notices: who hears which declared outage on arrival. Pure.

Seed 004: tell only the callers an outage concerns. A supervisor declares an outage with the
segment it affects, a message and a window; an affected caller hears the message before they
queue and may hang up (served by the notice); everyone else hears nothing. Rules kept here:
- A segment names at least one criterion. Criteria of different kinds must all hold (callers
  from the +3652 area *and* CRM `service: internet`); the values of one kind are alternatives
  (any of these prefixes). `crm` entries each must hold, a field matching one of its values,
  case-insensitive, as a tier's `crm` does.
- Numbers are compared in E.164 with the rules' default region (callers, dialled lines); a
  dialled line also matches as written (a DID as Asterisk shows it).
- An outage is in force from `starts_at` (included) to `ends_at` (excluded), by the injected
  clock's `now`. When several in force affect a caller, the one that started last is played
  (the newest news); one notice per call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.errors import ValidationFailedError
from core.phone_numbers import normalize, try_normalize

_SOUND = r"^[A-Za-z0-9_][A-Za-z0-9_/.-]{0,127}$"
_PREFIX = r"^\+[1-9][0-9]{0,14}$"
_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CrmCriterion(_Frozen):
    field: str = Field(min_length=1, description="a field of the CRM customer record, e.g. region or service")
    values: tuple[str, ...] = Field(min_length=1, description="any of these (case-insensitive)")


class Segment(_Frozen):
    """Who an outage concerns; see the module docstring for how criteria combine."""

    callers: tuple[str, ...] = Field((), description="caller numbers, any format (read in default_region)")
    prefixes: tuple[Annotated[str, Field(pattern=_PREFIX)], ...] = Field(
        (), description="E.164 prefixes of caller numbers, e.g. +3652 (Debrecen)"
    )
    dialled: tuple[str, ...] = Field((), description="dialled lines (DIDs)")
    tiers: tuple[str, ...] = Field((), description="caller tiers of routing.yaml, e.g. key")
    crm: tuple[CrmCriterion, ...] = Field(
        (), description="CRM record fields, e.g. {field: region, values: [north]}"
    )

    @model_validator(mode="after")
    def _targeted(self) -> Self:
        if not (self.callers or self.prefixes or self.dialled or self.tiers or self.crm):
            raise ValueError(
                "names no callers: give at least one of callers, prefixes, dialled, tiers or crm "
                "(a notice is for the callers an outage concerns, not for everyone)"
            )
        return self


class OutageSpec(_Frozen):
    """What a supervisor declares."""

    id: str = Field(pattern=_ID, description="short name, e.g. debrecen-fibre-0612")
    title: str = Field(min_length=1, max_length=200, description="for supervisors and agents")
    segment: Segment
    recording: str | None = Field(
        None, pattern=_SOUND, description="the Asterisk sound file of the message (played as is)"
    )
    text: str | None = Field(
        None, min_length=1, max_length=2000, description="the message as text (read by the dialplan's TTS)"
    )
    starts_at: float = Field(description="epoch seconds; the notice is played from then")
    ends_at: float = Field(description="epoch seconds; no longer played from then")
    leave_window_s: float = Field(
        5.0, ge=0, le=60, description="after the message, how long the caller may hang up as served by it"
    )

    @model_validator(mode="after")
    def _message_and_window(self) -> Self:
        if self.recording is None and self.text is None:
            raise ValueError("needs a message: a recording (Asterisk sound file) or a text")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def in_force(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at


@dataclass(frozen=True, slots=True)
class Caller:
    """What is known of a caller on arrival (numbers raw or E.164; the tier after classification)."""

    number: str | None
    dialled: str | None
    tier: str
    crm: Mapping[str, object] | None = None


def check_numbers(spec: OutageSpec, region: str) -> list[str]:
    """Problems with the segment's numbers in `region`, each naming the value ('' list: fine)."""
    problems = []
    for kind, numbers in (("callers", spec.segment.callers), ("dialled", spec.segment.dialled)):
        for index, raw in enumerate(numbers):
            if kind == "dialled" and raw.lstrip("+").isdigit():
                continue  # a DID as Asterisk shows it is fine as written
            try:
                normalize(raw, region)
            except ValidationFailedError as exc:
                problems.append(f"segment.{kind}[{index}] is {exc.message} (default_region {region})")
    return problems


def affects(spec: OutageSpec, caller: Caller, region: str) -> bool:
    """Whether the outage's segment covers `caller` (the window is not looked at)."""
    segment = spec.segment
    number = try_normalize(caller.number, region)
    if segment.callers and (
        number is None or number not in {try_normalize(n, region) for n in segment.callers}
    ):
        return False
    if segment.prefixes and (number is None or not any(number.startswith(p) for p in segment.prefixes)):
        return False
    if segment.dialled and not _dialled(segment.dialled, caller.dialled, region):
        return False
    if segment.tiers and caller.tier not in segment.tiers:
        return False
    return all(_crm(criterion, caller.crm) for criterion in segment.crm)


def _dialled(lines: Iterable[str], dialled: str | None, region: str) -> bool:
    if not dialled:
        return False
    number = try_normalize(dialled, region)
    return any(
        line == dialled or (number is not None and try_normalize(line, region) == number) for line in lines
    )


def _crm(criterion: CrmCriterion, record: Mapping[str, object] | None) -> bool:
    value = record.get(criterion.field) if record else None
    return value is not None and str(value).casefold() in {v.casefold() for v in criterion.values}


def notice_for(outages: Iterable[OutageSpec], caller: Caller, now: float, region: str) -> OutageSpec | None:
    """The outage `caller` hears at `now`: of those in force that affect them, the latest started."""
    hits = [o for o in outages if o.in_force(now) and affects(o, caller, region)]
    return max(hits, key=lambda o: (o.starts_at, o.id), default=None)
