"""Redis half of an arriving caller offered at once: one script (store_scripts.ARRIVE_OFFER) reads
the caller's CRM record, numbers the case, evaluates the CRM rules and stores the call with the
reservation of the agent routing chose for the tier that record gives.

Rules it keeps:
- The shell works out every offer the record could lead to beforehand (routing/acd/early_offer.py):
  one per tier a CRM rule could raise the caller to, and one without a CRM match. The script
  writes at most one of them, with the compare-and-set and the fence of `AcdStore.reserve`.
- The call record is the offer's JSON with three holes the script fills: the case id, the matched
  rule and the CRM record (JSON-encoded by Lua's cjson; Python's json reads it back the same).
- Every key comes through KEYS (Redis Cluster: one hash slot, the ACD's hash tag).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from core.errors import NotOwnerError
from core.store_errors import store_available
from routing.acd import store_scripts
from routing.acd.calls import ActiveCall
from routing.acd.prepared_offer import Prepared
from routing.acd.store import AcdStore
from routing.acd.store_records import case_prefix, dump_call, dump_status

HOLES = {"case": "\x01case\x01", "matched": "\x01matched\x01", "crm": "\x01crm\x01"}
"""Stand-ins for what only the script knows, in the offer's call record."""
_MARKS = {name: json.dumps(hole) for name, hole in HOLES.items()}  # as the record has them


@dataclass(frozen=True, slots=True)
class CrmChoice:
    """One CRM rule, for the script: the caller's record `field` equal (casefolded) to one of
    `values` gives a tier of this `priority`, whose offer is alternative `alternative` (1-based;
    0: that tier is not offered at once)."""

    field: str
    values: frozenset[str]
    priority: int
    alternative: int
    matched: str


@dataclass(frozen=True, slots=True)
class Speculation:
    call_id: str
    number: str | None
    base: int  # the alternative without a CRM match (0: none)
    base_matched: str
    base_priority: int | None  # None: no other evidence, any CRM match wins
    rules: Sequence[CrmChoice]
    offers: Sequence[Prepared]  # the alternatives, facts with HOLES


@dataclass(frozen=True, slots=True)
class Answer:
    crm: dict[str, str] | None
    case_id: str
    chosen: int  # the alternative written (1-based), 0: none
    matched: str
    outcome: str  # offered, waits, unicode, taken, refused (store_scripts.ARRIVE_OFFER)
    utf8: bool  # the record is valid UTF-8 (else the stored call needs writing again)


class ArrivalScript:
    def __init__(self, store: AcdStore) -> None:
        self.store = store
        self._script = store.redis.register_script(store_scripts.ARRIVE_OFFER)

    async def __call__(self, spec: Speculation, now: float) -> Answer:
        store, keys = self.store, self.store.keys
        fence = self._fence()
        cut = [self._block(offer) for offer in spec.offers]
        blocks = [block for block in cut if block is not None]
        if (store.lease is not None and fence is None) or len(blocks) < len(cut):
            # Read only: not owning (the usual offer is refused), or a hole's text is in a caller's
            # field (the usual way stores the call).
            spec, blocks = replace(spec, base=0, rules=(), offers=()), []
        fenced = fence is not None
        args: list[Any] = [
            "1" if spec.number else "0", "1" if fenced else "0", case_prefix(now, keys.shard), spec.call_id,
            str(spec.base), spec.base_matched, "" if spec.base_priority is None else str(spec.base_priority),
            str(len(spec.rules)),
        ]  # fmt: skip
        for rule in spec.rules:
            values = sorted(rule.values)
            args += [rule.field, str(rule.priority), str(rule.alternative), rule.matched, str(len(values))]
            args += values
        args.append(str(len(blocks)))
        start = len(args) + len(blocks) + 1  # ARGV is 1-based
        for block in blocks:
            args.append(str(start))
            start += len(block)
        for block in blocks:
            args += block
        call_keys = [keys.crm_customer(spec.number) if spec.number else keys.case_seq, keys.case_seq]
        call_keys += [keys.call(spec.call_id), keys.calls, keys.timers]
        for offer in spec.offers:
            agent_id = offer.status.agent_id
            call_keys += [keys.agent_status(agent_id), keys.agent_history(agent_id)]
        if store.lease is not None and fence is not None:
            call_keys.append(store.lease.key)
            args.append(fence)
        with store_available("reading a CRM record and offering the call"):
            record, counter, chosen, matched, outcome = await self._script(keys=call_keys, args=args)
        case_id = f"{case_prefix(now, keys.shard)}{int(counter):06d}"
        answer = _answer(record, case_id, chosen, matched, outcome)
        if answer.chosen:
            store.history.written(spec.offers[answer.chosen - 1].status)
        return answer

    def _fence(self) -> str | None:
        """The value fenced writes carry (None: no lease, or this engine does not own the ACD)."""
        try:
            return None if self.store.lease is None else self.store.lease.fence_value()
        except NotOwnerError:
            return None

    def _block(self, offer: Prepared) -> list[str] | None:
        template = call_template(offer.offered)
        if template is None:
            return None
        names, parts = template
        plan = self.store.history.plan(offer.status)
        return [
            dump_status(offer.status, with_history=False), offer.timer.key, offer.timer.dump(),
            *names, *parts, *plan.args(),
        ]  # fmt: skip


def call_template(offered: ActiveCall) -> tuple[list[str], list[str]] | None:
    """The call record of `offered` cut around HOLES: the holes' names in order, and the four parts.
    None when a hole's text occurs more than once (a caller's field holding it, say a CallerIDNum
    sent as one): which occurrence is the hole is then unknown."""
    facts = offered.facts.to_dict()
    facts.update(case_id=HOLES["case"], matched=HOLES["matched"], crm=HOLES["crm"])
    text = dump_call(offered.call, facts)
    if any(text.count(mark) != 1 for mark in _MARKS.values()):
        return None
    marks = sorted((text.index(mark), name, mark) for name, mark in _MARKS.items())
    names, parts, at = [], [], 0
    for position, name, mark in marks:
        names.append(name)
        parts.append(text[at:position])
        at = position + len(mark)
    parts.append(text[at:])
    return names, parts


def _answer(record: Sequence[bytes], case_id: str, chosen: Any, matched: Any, outcome: Any) -> Answer:
    utf8, pairs = True, []
    for item in record:
        try:
            pairs.append(item.decode() if isinstance(item, bytes) else str(item))
        except UnicodeDecodeError:
            utf8 = False
            pairs.append(item.decode("utf-8", "replace"))
    crm: Mapping[str, str] = dict(zip(pairs[::2], pairs[1::2], strict=True))
    return Answer(dict(crm) or None, case_id, int(chosen), _str(matched), _str(outcome), utf8)


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
