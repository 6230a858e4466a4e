"""Outbound campaigns (config/campaigns.yaml): one frozen pydantic model per section, and the loader.

Owned here: what a supervisor can say about a campaign and the limits of each field. The
sections reuse the pure cores' models: `calling_hours` is dialer.compliance.calling_hours.CallingWindow
(holidays included), `caps` is dialer.compliance.caps.CapsPolicy, `pacing` is
dialer.pacing.decision.PacingParams.
Rules it keeps:
- The whole file is validated before anything changes (core.config.loader.load_rules): every
  mistake is reported with file:line:col and a path such as `campaigns[1].dial_string`, and a
  bad edit never half-applies; the running dialer swaps the new model in one assignment.
- A campaign belongs to one ACD shard (`shard`, default the default shard): only that shard's
  engines pace it (`of_shard`), its answered calls go to that shard's agents.
- Cross-checks with paths: campaign ids are unique; a progressive or predictive campaign names
  the queue its answered calls go to; `pacing.mode` may not contradict the campaign's `mode`.
- A dial string is a template with exactly one `{number}` (the E.164 number) and nothing that
  could inject a second channel or an AMI header; only dialer/calls/dialing.py renders it.
Regenerate the committed JSON Schema with
`python -m dialer.campaigns.rules config/schema/campaigns.schema.json`.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Collection, Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, Field

from core.config.loader import (
    CheckedModel,
    ConfigModel,
    Problem,
    load_rules,
    load_text,
    schema_pattern,
    text_check,
)
from core.config.vocabulary import Seconds, spelled
from dialer.compliance.calling_hours import CallingWindow
from dialer.compliance.caps import CapsPolicy
from dialer.consent.validity import PURPOSE_PATTERN
from dialer.pacing.decision import DialMode, PacingParams

CAMPAIGN_ID = r"^[A-Za-z0-9._-]{1,64}$"  # the lead store's campaign id (dialer.leads.model)
QUEUE_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"  # a routing.yaml queue / skill name
CONTEXT_NAME = r"^[A-Za-z0-9_.-]{1,80}$"
DIAL_STRING = r"^[A-Za-z][A-Za-z0-9]*/[^\s,&|(){}]*\{number\}[^\s,&|(){}]*$"
TIME_RANGE_TEXT = r"^\s*\d{1,2}:\d\d(:\d\d)?\s*-\s*\d{1,2}:\d\d(:\d\d)?\s*$"
PRIORITY_MAX = 99
_CALLER_ID = re.compile(r"^[^\r\n\x00]{1,80}$")


def _dial_string(value: str) -> str:
    if value.count("{number}") != 1 or not re.match(DIAL_STRING, value):
        raise ValueError(
            "must be a dial string template with one {number}, like PJSIP/{number}@trunk "
            f"or Local/{{number}}@outbound, got {value!r}"
        )
    return value


def _caller_id(value: str) -> str:
    if not _CALLER_ID.match(value):
        raise ValueError('must be one line of at most 80 characters, like "Acme" <+3612345678>')
    return value


CampaignId = Annotated[
    str, text_check(CAMPAIGN_ID, "letters, digits, '.', '-' or '_' (1-64)"), schema_pattern(CAMPAIGN_ID)
]
QueueName = Annotated[
    str, text_check(QUEUE_NAME, "a queue or skill name of routing.yaml"), schema_pattern(QUEUE_NAME)
]
ContextName = Annotated[
    str, text_check(CONTEXT_NAME, "an Asterisk context or extension name"), schema_pattern(CONTEXT_NAME)
]
ConsentPurpose = Annotated[
    str,
    text_check(PURPOSE_PATTERN, "a lowercase word like marketing or service (a-z, 0-9, '_', '-', 1-32)"),
    schema_pattern(PURPOSE_PATTERN),
]
DialString = Annotated[str, AfterValidator(_dial_string), schema_pattern(DIAL_STRING)]
CallerId = Annotated[str, AfterValidator(_caller_id), Field(max_length=80)]
Level = Annotated[int, Field(ge=1, le=5, description="skill level: 1 novice ... 5 expert")]


class DialplanTarget(ConfigModel):
    """Where Asterisk sends a channel the dialer redirects (context, extension, priority 1)."""

    context: ContextName
    exten: ContextName = "s"


class MachineRule(ConfigModel):
    """What happens when the dialplan's AMD() says an answering machine picked up."""

    action: Literal["hangup", "connect", "message"] = Field(
        "hangup", description="hangup: end the call; connect: treat it as a person; message: play `message`"
    )
    message: DialplanTarget = DialplanTarget(context="switchboard-machine-message")


class PriorityRule(ConfigModel):
    """Leads whose CRM fields all match get `priority` (0-99, higher is dialed first)."""

    crm: dict[str, tuple[str, ...]] = Field(
        min_length=1, description="CRM field -> accepted values (case-insensitive); all fields must match"
    )
    priority: int = Field(ge=0, le=PRIORITY_MAX)

    def matches(self, crm: Mapping[str, Any]) -> bool:
        for name, accepted in self.crm.items():
            value = str(crm.get(name, "")).strip().lower()
            if value not in {item.strip().lower() for item in accepted}:
                return False
        return True


class Campaign(ConfigModel):
    """One outbound campaign: how to dial, whom to connect answered calls to, and its compliance rules."""

    id: CampaignId
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    mode: DialMode = Field(DialMode.PROGRESSIVE, description="preview | progressive | predictive")
    dial_string: DialString = "PJSIP/{number}@trunk"
    caller_id: CallerId | None = Field(None, description='shown to the callee, e.g. "Acme" <+3612345678>')
    ring_timeout_s: Seconds = Field(
        30.0, gt=0, le=120, description="how long the callee's phone rings",
        validation_alias=spelled("ring_timeout", "ring_timeout_s"),
    )  # fmt: skip
    queue: QueueName | None = Field(None, description="routing.yaml queue whose agents take answered calls")
    shard: str = Field(
        "", pattern=r"^([a-z0-9][a-z0-9_-]{0,39})?$",
        description="the ACD shard whose engines pace it and whose agents take its calls (settings "
        "acd.shard); none: the default shard",
    )  # fmt: skip
    skills: dict[QueueName, Level] = Field(
        default_factory=dict, description="skills an agent needs (default: the queue's own)"
    )
    calling_hours: CallingWindow = CallingWindow()
    caps: CapsPolicy = CapsPolicy()
    pacing: PacingParams = PacingParams()
    answering_machine: MachineRule = MachineRule()
    abandon: DialplanTarget = Field(
        DialplanTarget(context="switchboard-abandon"),
        description="where an answered call no agent took within the grace goes (plays a message, hangs up)",
    )
    lead_priority: tuple[PriorityRule, ...] = Field(
        (), description="first matching rule sets a lead's priority; none: the CRM's priority"
    )
    consent_purpose: ConsentPurpose | None = Field(
        None,
        description="the consent every number needs to be dialed (e.g. marketing): the gate refuses a "
        "number without a valid consent for it in the register (source no-consent); none: no consent check",
    )
    preview_offer_s: Seconds = Field(
        120.0, gt=0, le=3600, description="preview: how long an offer stands",
        validation_alias=spelled("preview_offer", "preview_offer_s"),
    )  # fmt: skip

    @property
    def params(self) -> PacingParams:
        """The pacing parameters with the campaign's mode (the pure pacing function's input)."""
        if self.pacing.mode is self.mode:
            return self.pacing
        return self.pacing.model_copy(update={"mode": self.mode})

    @property
    def needs(self) -> tuple[tuple[str, int], ...]:
        return tuple(sorted(self.skills.items()))

    def priority_for(self, crm: Mapping[str, Any], given: int) -> int:
        """A lead's priority under `lead_priority`: the first matching rule's, else `given`."""
        for rule in self.lead_priority:
            if rule.matches(crm):
                return rule.priority
        return given


class Campaigns(CheckedModel):
    """The whole campaigns.yaml."""

    version: Literal[1] = 1
    campaigns: tuple[Campaign, ...] = ()

    def cross_check(self) -> list[Problem]:
        problems: list[Problem] = []
        seen: dict[str, int] = {}
        for index, campaign in enumerate(self.campaigns):
            where = ("campaigns", index)
            if campaign.id in seen:
                message = f"repeats the id {campaign.id!r} of campaigns[{seen[campaign.id]}]"
                problems.append(Problem((*where, "id"), message))
            seen.setdefault(campaign.id, index)
            problems += _campaign_problems(where, campaign)
        return problems

    @cached_property
    def by_id(self) -> dict[str, Campaign]:
        return {campaign.id: campaign for campaign in self.campaigns}

    def get(self, campaign_id: str) -> Campaign | None:
        return self.by_id.get(campaign_id)

    def priority_for(self, campaign_id: str | None, crm: Mapping[str, Any], given: int) -> int:
        """A lead's priority under its campaign's `lead_priority` rules (for the lead import paths)."""
        campaign = self.get(campaign_id) if campaign_id else None
        return campaign.priority_for(crm, given) if campaign is not None else given

    def of_shard(self, shard: str) -> Self:
        """The campaigns an engine of `shard` paces (a center split into shards: docs/redis.md)."""
        if all(campaign.shard == shard for campaign in self.campaigns):
            return self
        return self.model_copy(update={"campaigns": tuple(c for c in self.campaigns if c.shard == shard)})

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("by_id", None)
        return copied


def _campaign_problems(where: tuple[str, int], campaign: Campaign) -> list[Problem]:
    problems: list[Problem] = []
    if campaign.mode is not DialMode.PREVIEW and campaign.queue is None:
        message = f"is needed: a {campaign.mode} campaign hands answered calls to a queue's agents"
        problems.append(Problem((*where, "queue"), message))
    if "mode" in campaign.pacing.model_fields_set and campaign.pacing.mode is not campaign.mode:
        message = f"is {campaign.pacing.mode} but the campaign's mode is {campaign.mode}; set only `mode`"
        problems.append(Problem((*where, "pacing", "mode"), message))
    return problems


def load_campaigns(path: str | Path) -> Campaigns:
    """Read and validate campaigns.yaml; ConfigError lists every issue with file:line:col."""
    return load_rules(path, Campaigns)


def parse_campaigns(text: str, file: str = "<text>") -> Campaigns:
    return load_text(text, Campaigns, file)


# --- JSON Schema ----------------------------------------------------------------------------


def _accept_range_text(schema: dict[str, Any]) -> None:
    """Calling-hours ranges are written "08:00-21:00" in YAML; the model reads them from text."""
    definition = schema.get("$defs", {}).get("TimeRange")
    if definition is not None:
        text = {"type": "string", "pattern": TIME_RANGE_TEXT, "description": "a range like 08:00-21:00"}
        schema["$defs"]["TimeRange"] = {"anyOf": [text, definition]}


def campaigns_schema() -> dict[str, Any]:
    schema = Campaigns.model_json_schema()
    _accept_range_text(schema)
    return schema


def schema_text() -> str:
    """The JSON Schema committed at config/schema/campaigns.schema.json (editors autocomplete)."""
    return json.dumps(campaigns_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_campaigns_schema(path: str | Path) -> None:
    Path(path).write_text(schema_text(), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    write_campaigns_schema(sys.argv[1] if len(sys.argv) > 1 else "config/schema/campaigns.schema.json")


class CampaignsInForce:
    """The campaigns of the last valid campaigns.yaml, shared by what reads them (the dialer, the
    lead imports): a reload swaps them here once, and every reader sees the new ones."""

    def __init__(self, campaigns: Campaigns) -> None:
        self.current = campaigns
        self._view: tuple[Campaigns, str, Campaigns] | None = None

    def replace(self, campaigns: Campaigns) -> None:
        self.current = campaigns

    def of_shard(self, shard: str) -> Campaigns:
        """The campaigns in force that `shard`'s engines pace (filtered once per reload)."""
        current, view = self.current, self._view
        if view is None or view[0] is not current or view[1] != shard:
            self._view = view = (current, shard, current.of_shard(shard))
        return view[2]

    def takes_over(self, shard: str, campaign_id: str) -> bool:
        """Whether `shard`'s pacing leader takes over a dead engine's call of this campaign: one of
        its campaigns, or one campaigns.yaml no longer has (the default shard's, as before shards)."""
        campaign = self.current.get(campaign_id)
        return campaign.shard == shard if campaign is not None else shard == ""

    def priority_for(self, campaign_id: str | None, crm: Mapping[str, Any], given: int) -> int:
        return self.current.priority_for(campaign_id, crm, given)

    def ids(self) -> Collection[str]:
        return self.current.by_id.keys()
