"""References between the rule files, checked together: a name one file uses must exist in another.

Each rule file checks its own references (routing.rules, ...); this module checks
the ones that cross files, which no single file can:
- campaigns.yaml `queue` and `skills` -> routing.yaml queues and skills;
- campaigns.yaml `caps.retry_after_disposition` codes -> dispositions.yaml codes;
- tasks.yaml `on_dispositions` codes -> dispositions.yaml codes;
- campaigns.yaml `consent_purpose` -> a dispositions.yaml rule that withdraws that consent
  (`withdraw_consent` of that purpose or of every purpose), so an advisor can record a
  customer's "I withdraw my consent" for every campaign that relies on it (docs/consent.md).
A check runs only when both files are configured. Pure: models and texts in,
located problems out (the text gives each problem its line and column). Used at
start and on every reload (switchboard/reload.py) and by `check-config`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.config.error_messages import render_loc
from core.config.yaml_file import ConfigProblem
from core.config.yaml_marks import Loc, parse_yaml
from dialer.campaigns.rules import Campaigns
from dialer.dispositions.rules import DispositionRules, WithdrawConsentAction
from dialer.tasks.rules import TaskRules
from routing.rules import Rules


@dataclass(frozen=True)
class RuleFile:
    """One loaded rule file: where it is, its text (for positions) and its validated model."""

    file: str
    text: str
    model: Any


Found = list[tuple[str, Loc, str]]  # (kind of the file, where in it, what is wrong)
DEFINED_IN = {"queue": "routing.yaml", "skill": "routing.yaml", "disposition code": "dispositions.yaml"}


def link_problems(files: Mapping[str, RuleFile], *, shard: str = "") -> list[ConfigProblem]:
    """Every broken cross-file reference, located in the file that makes it. An engine of ACD shard
    `shard` checks only its shard's campaigns against its routing.yaml (the others' queues are in
    their shards' routing.yaml)."""
    found: Found = []
    routing = _model(files, "routing", Rules)
    campaigns = _model(files, "campaigns", Campaigns)
    dispositions = _model(files, "dispositions", DispositionRules)
    tasks = _model(files, "tasks", TaskRules)
    if campaigns is not None and routing is not None:
        found += _campaign_targets(campaigns, routing, shard)
    if dispositions is not None:
        codes = set(dispositions.codes)
        for i, campaign in enumerate(campaigns.campaigns if campaigns is not None else ()):
            for code in campaign.caps.retry_after_disposition:
                where: Loc = ("campaigns", i, "caps", "retry_after_disposition", code)
                found += _unknown("campaigns", where, "disposition code", code, codes)
        found += _consent_withdrawals(campaigns, dispositions)
        for i, rule in enumerate(tasks.tasks if tasks is not None else ()):
            for j, code in enumerate(rule.on_dispositions):
                where = ("tasks", i, "on_dispositions", j)
                found += _unknown("tasks", where, "disposition code", code, codes)
    return [_locate(files[kind], loc, message) for kind, loc, message in found]


def _campaign_targets(campaigns: Campaigns, routing: Rules, shard: str) -> Found:
    queues = {queue.name for queue in routing.queues}
    skills = {skill.name for skill in routing.skills}
    found: Found = []
    for i, campaign in enumerate(campaigns.campaigns):
        if campaign.shard != shard:
            continue
        if campaign.queue is not None:
            found += _unknown("campaigns", ("campaigns", i, "queue"), "queue", campaign.queue, queues)
        for skill in campaign.skills:
            found += _unknown("campaigns", ("campaigns", i, "skills", skill), "skill", skill, skills)
    return found


def _consent_withdrawals(campaigns: Campaigns | None, dispositions: DispositionRules) -> Found:
    withdrawn = {
        action.purpose
        for rule in dispositions.dispositions
        for action in rule.actions
        if isinstance(action, WithdrawConsentAction)
    }
    found: Found = []
    for i, campaign in enumerate(campaigns.campaigns if campaigns is not None else ()):
        purpose = campaign.consent_purpose
        if purpose is not None and None not in withdrawn and purpose not in withdrawn:
            message = (
                f"is {purpose!r}, but no disposition of dispositions.yaml withdraws it: add "
                f"`- action: withdraw_consent` (for {purpose!r} or every purpose) to one, "
                "e.g. consent_withdrawn"
            )
            found.append(("campaigns", ("campaigns", i, "consent_purpose"), message))
    return found


def _unknown(kind: str, loc: Loc, what: str, name: str, known: Iterable[str]) -> Found:
    names = sorted(known)
    if name in names:
        return []
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f" (it has: {', '.join(names)})"
    return [(kind, loc, f"names {what} {name!r}, which {DEFINED_IN[what]} does not define{hint}")]


def _model(files: Mapping[str, RuleFile], kind: str, model: type[Any]) -> Any:
    found = files.get(kind)
    return found.model if found is not None and isinstance(found.model, model) else None


def _locate(rule_file: RuleFile, loc: Loc, message: str) -> ConfigProblem:
    mark = parse_yaml(rule_file.text).mark_for(loc)
    return ConfigProblem(rule_file.file, message, render_loc(loc), mark.line, mark.column)
