"""Caller classification: who is calling, how urgent, and what skills the call needs.

Rules it keeps:
- The caller number is read as E.164 with the rules' default region; a withheld
  or malformed number is an unknown caller (default tier), never an error.
- Evidence for a tier: the dialled number (a VIP line), the caller number (exact
  list, then E.164 prefixes, longest first), the CRM customer record (looked up
  by the shell and passed in as data). When several tiers match, the one with
  the highest priority in this queue wins; equal priority: the first evidence in
  that order. The matched rule's path is reported for `switchboard explain`.
- Needs: the IVR choice's skill and level if the menu played on the dialled line maps
  that digit (`menus`; `t`/`i`, no digit or a wrong one, count as the operator when the
  menu sends such callers there), else if the queue maps it (`queues[].ivr`), else the
  queue's; a tier's `min_level` raises the level (key clients get the most
  competent agents), its `max_level` caps it (seed 003: unpromising callers go to
  novices first; the tier's window then starts at the cap and widens only with the
  queue's escalation steps, routing/plan.py); the queue's `also_requires` are added.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from core.errors import NotFoundError
from core.phone_numbers import try_normalize
from routing.plan import MenuPlan, QueuePlan, RulesIndex, TierMatch
from routing.queue import Needs, WaitingCall
from routing.rules import MenuOption, Rules


@dataclass(frozen=True, slots=True)
class Classification:
    queue: str
    tier: str
    priority: int
    needs: Needs
    max_wait_seconds: float
    matched: str
    needs_from: str
    caller: str | None
    notes: tuple[str, ...] = ()


def classify(
    caller: str | None,
    queue: str,
    rules: Rules,
    *,
    dialled: str | None = None,
    ivr_choice: str | None = None,
    crm_record: Mapping[str, object] | None = None,
) -> Classification:
    """Classify one inbound call for `queue` (numbers raw or E.164)."""
    index = rules.index
    plan = index.queues.get(queue)
    if plan is None:
        raise NotFoundError(f"queue {queue!r} is not in the routing rules", queue=queue)
    notes: list[str] = []
    number = try_normalize(caller, index.region)
    if caller and number is None:
        notes.append(f"caller number {caller!r} is not a phone number; treated as unknown")
    matches = _evidence(number, try_normalize(dialled, index.region), crm_record, index)
    where = {"dialled": dialled, "ivr_choice": ivr_choice}
    return _classified(queue, plan, index, number, matches, notes=notes, **where)


def crm_outcomes(
    caller: str | None,
    queue: str,
    rules: Rules,
    *,
    dialled: str | None = None,
    ivr_choice: str | None = None,
) -> tuple[Classification, dict[str, Classification]]:
    """Every answer `classify` can give this caller, whatever their CRM record holds (a record can
    only add tier evidence): without a CRM match, and by tier, each tier a CRM rule gives that
    would win over it (its `matched` is that tier's first rule; the winning rule may be another)."""
    base = classify(caller, queue, rules, dialled=dialled, ivr_choice=ivr_choice)
    index, plan = rules.index, rules.index.queues[queue]
    number = try_normalize(caller, index.region)
    found: dict[str, Classification] = {}
    for rule in index.crm:
        if rule.tier in found or not crm_beats(base, plan.priorities[rule.tier]):
            continue
        matches = [*_evidence(number, try_normalize(dialled, index.region), None, index)]
        matches.append(TierMatch(rule.tier, rule.path))  # CRM evidence comes last, as in classify
        found[rule.tier] = _classified(
            queue, plan, index, number, matches, notes=[], dialled=dialled, ivr_choice=ivr_choice
        )
    return base, found


def crm_beats(base: Classification, priority: int) -> bool:
    """A CRM match of this priority wins over `base` (classified without one): no other evidence,
    or a strictly higher priority (at equal priority the earlier evidence wins)."""
    return base.matched == "default_tier" or priority > base.priority


def _classified(
    queue: str,
    plan: QueuePlan,
    index: RulesIndex,
    number: str | None,
    matches: list[TierMatch],
    *,
    notes: list[str],
    dialled: str | None,
    ivr_choice: str | None,
) -> Classification:
    best = max(matches, key=lambda m: plan.priorities[m.tier], default=None)
    tier, matched = (best.tier, best.path) if best else (index.default_tier, "default_tier")
    needs, needs_from = _needs(plan, tier, ivr_choice, notes, index.menu_on(dialled))
    return Classification(
        queue=queue,
        tier=tier,
        priority=plan.priorities[tier],
        needs=needs,
        max_wait_seconds=plan.max_wait_of(tier),
        matched=matched,
        needs_from=needs_from,
        caller=number,
        notes=tuple(notes),
    )


def _evidence(
    caller: str | None, dialled: str | None, crm_record: Mapping[str, object] | None, index: RulesIndex
) -> list[TierMatch]:
    found: list[TierMatch] = []
    if dialled:
        found += index.dialled.get(dialled, ())
    if caller:
        found += index.callers.get(caller, ())
        for length in index.prefix_lengths:
            found += index.prefixes.get(caller[:length], ())
    if crm_record:
        for rule in index.crm:
            value = crm_record.get(rule.field)
            if value is not None and str(value).casefold() in rule.values:
                found.append(TierMatch(rule.tier, rule.path))
    return found


def _needs(
    plan: QueuePlan, tier: str, ivr_choice: str | None, notes: list[str], menu: MenuPlan | None = None
) -> tuple[Needs, str]:
    skill, level, source = plan.skill, plan.level, f"{plan.path}.skill"
    choice = (ivr_choice or "").strip()
    picked = menu_option(menu, choice) if menu and choice else None
    if menu and picked:
        digit, chosen = picked
        if digit != choice:
            notes.append(
                f"{NO_CHOICE.get(choice, choice)}: the operator option ({menu.path}.options.{digit})"
            )
        if chosen.skill is not None and chosen.level is not None:
            skill, level, source = chosen.skill, chosen.level, f"{menu.path}.options.{digit}"
    elif choice:
        mapped = plan.spec.ivr.get(choice)
        if mapped is None:
            notes.append(f"IVR choice {choice!r} is not mapped in {plan.path}.ivr; using the queue's skill")
        else:
            skill, level, source = mapped.skill, mapped.level, f"{plan.path}.ivr.{choice}"
    floor = plan.min_levels.get(tier, 0)
    if floor > level:
        notes.append(f"tier {tier!r} raises the level from {level} to {floor}")
        level = floor
    cap = plan.max_levels.get(tier)
    if cap is not None:
        if cap < level:
            notes.append(f"tier {tier!r} caps the level from {level} to {cap}")
            level = cap
        notes.append(
            f"tier {tier!r} prefers agents at level {cap} or below: higher levels only as the "
            "queue's escalation steps widen the window"
        )
    extra = tuple((name, lvl) for name, lvl in plan.extra if name != skill)
    return ((skill, level), *extra), source


NO_CHOICE = {"t": "no digit pressed", "i": "no valid digit pressed"}
"""What the generated dialplan sends as the IVR choice when the caller chose nothing valid."""


def menu_option(menu: MenuPlan, choice: str) -> tuple[str, MenuOption] | None:
    """The option a choice stands for on `menu`: its digit, or the operator for `t` / `i` when the
    menu sends callers without a valid digit to the operator."""
    option = menu.spec.options.get(choice)
    if option is not None:
        return choice, option
    fallback = {"t": menu.spec.on_timeout, "i": menu.spec.on_invalid}.get(choice)
    if fallback is not None and fallback.action == "operator":
        digit = menu.spec.operator_digit
        return digit, menu.spec.options[digit]
    return None


def ivr_label(rules: Rules, dialled: str | None, choice: str | None) -> str:
    """What the caller chose, in words, for the agent: the menu's label, else the queue's `ivr`."""
    choice = (choice or "").strip()
    menu = rules.index.menu_on(dialled)
    picked = menu_option(menu, choice) if menu and choice else None
    if picked is not None:
        label = picked[1].label
        return label if picked[0] == choice else f"{label} ({NO_CHOICE[choice]})"
    return ""


def admit(call_id: str, classification: Classification, now: float) -> WaitingCall:
    """The waiting call for a freshly classified caller entering its queue at `now`."""
    c = classification
    return WaitingCall(call_id, c.queue, c.tier, c.priority, c.needs, entered_at=now, arrived_at=now)


def transfer(call: WaitingCall, classification: Classification, now: float) -> WaitingCall:
    """`call` moved to another queue (overflow): new queue, tier, needs; its wait there starts now."""
    c = classification
    return replace(call, queue=c.queue, tier=c.tier, priority=c.priority, needs=c.needs, entered_at=now)
