"""Who answers: dial strings mapped to simulated customers and agent phones.

A dial string names what the far end is:
- `PJSIP/{number}@{trunk}` (trunk listed in SimConfig.trunks): a customer;
- `PJSIP/{ext}`: agent phone {ext};
- `Local/{ext}@{agent_context}`: agent phone {ext} (`sim-agent*` contexts too);
- `Local/{number}@{context}` with a context in SimConfig.customer_contexts: a
  customer; `sim-customer-<outcome>` (the recorded test dialplan) forces the outcome;
- any other Local context does not exist (Asterisk: Newchannel, then Hangup, Reason 0);
- any other technology or endpoint cannot be reached (OriginateResponse Reason 0).

A customer's outcome comes, in this order, from the Originate's `SIM_RESULT`
variable (as in the recorded dialplan), the `sim-customer-*` context, the
per-number override table, or a seeded draw over the profile's weights.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

from pbx.sim.config import CUSTOMER_OUTCOMES, CustomerOutcome, CustomerScript, Range, SimConfig

Role = Literal["customer", "agent", "caller"]
NEVER = math.inf


@dataclass
class Endpoint:
    """The person or device behind a channel, and its plan for this call."""

    role: Role
    number: str
    outcome: CustomerOutcome
    ring_s: float
    """Seconds until the outcome happens (answer, busy...); inf: rings for ever."""
    talk_s: float | None
    """Seconds of conversation once bridged; None: until the far side hangs up."""
    patience_s: float | None
    """Seconds on hold (answered, not bridged) before hanging up; None: for ever."""
    cause: int = 0
    tier: str = ""

    @property
    def amd_status(self) -> str:
        return "MACHINE" if self.outcome == "machine" else "HUMAN"

    @property
    def answers(self) -> bool:
        return self.outcome in ("answer", "machine")


@dataclass(frozen=True)
class DialTarget:
    """A parsed Originate `Channel` dial string."""

    dial_string: str
    tech: str
    resource: str
    number: str
    local_context: str = ""
    endpoint: str = ""
    role: Role | None = None
    forced: CustomerOutcome | None = None

    @property
    def is_local(self) -> bool:
        return self.tech.lower() == "local"


def dialled_number(dial_string: str) -> str:
    """`PJSIP/+3630...@trunk` -> `+3630...`, `Local/1001@agents/n` -> `1001`, `PJSIP/1001` -> `1001`."""
    _, _, resource = dial_string.partition("/")
    return resource.partition("@")[0]


def _forced_outcome(context: str) -> CustomerOutcome | None:
    suffix = context.removeprefix("sim-customer-").removeprefix("sim-agent-")
    return next((outcome for outcome in CUSTOMER_OUTCOMES if outcome == suffix), None)


def _local_role(context: str, config: SimConfig) -> Role | None:
    if context == config.agent_context or context.startswith("sim-agent"):
        return "agent"
    if context in config.customer_contexts or context.startswith("sim-customer"):
        return "customer"
    return None


def parse_dial_string(dial_string: str, config: SimConfig) -> DialTarget:
    tech, _, resource = dial_string.partition("/")
    number, _, where = resource.partition("@")
    if tech.lower() == "local":
        context = where.partition("/")[0] or "default"
        role = _local_role(context, config)
        forced = _forced_outcome(context) if role else None
        return DialTarget(dial_string, "Local", resource, number, context, role=role, forced=forced)
    if tech.upper() != "PJSIP" or not number:
        return DialTarget(dial_string, tech, resource, number)
    if where:
        trunk_role: Role | None = "customer" if where in config.trunks else None
        return DialTarget(dial_string, "PJSIP", resource, number, endpoint=where, role=trunk_role)
    return DialTarget(dial_string, "PJSIP", resource, number, endpoint=number, role="agent")


class Endpoints:
    """Draws each far end's plan from the config with the simulator's seeded RNG."""

    def __init__(self, config: SimConfig, rng: random.Random) -> None:
        self.config = config
        self.rng = rng

    def draw(self, span: Range) -> float:
        low, high = span
        return low if low == high else self.rng.uniform(low, high)

    def plan(self, target: DialTarget, variables: dict[str, str], *, agent_busy: bool = False) -> Endpoint:
        if target.role == "agent":
            return self.plan_agent(target.number, target.forced, busy=agent_busy)
        return self.plan_customer(target.number, target.forced, variables)

    def _customer_outcome(
        self, number: str, forced: CustomerOutcome | None, sim_result: str
    ) -> CustomerOutcome:
        chosen = next((outcome for outcome in CUSTOMER_OUTCOMES if outcome == sim_result), None)
        if chosen is not None:
            return chosen
        if forced is not None:
            return forced
        script = self.config.customer_script(number)
        if script is not None:
            return script.outcome
        weights = self.config.customers.weights()
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def _or_draw(self, value: float | None, span: Range) -> float:
        return value if value is not None else self.draw(span)

    def plan_customer(
        self, number: str, forced: CustomerOutcome | None, variables: dict[str, str]
    ) -> Endpoint:
        outcome = self._customer_outcome(number, forced, variables.get("SIM_RESULT", ""))
        profile = self.config.customers
        script = self.config.customer_script(number) or CustomerScript(outcome=outcome)
        failing = outcome in ("busy", "congestion", "reject")
        machine = outcome == "machine"
        # The recorded sim-customer-* dialplan signals at once unless SIM_RING is set.
        ring = self._or_draw(
            _first(_number(variables.get("SIM_RING")), script.ring_s, 0.0 if forced else None),
            profile.signal_s if failing else profile.ring_s,
        )
        talk = self._or_draw(
            _first(_number(variables.get("SIM_TALK")), script.talk_s),
            profile.machine_s if machine else profile.talk_s,
        )
        # SIM_TALK (recorded dialplan): the customer stays that long after answering, bridged or not.
        patience = self._or_draw(
            _first(_number(variables.get("SIM_TALK")), script.patience_s),
            profile.machine_s if machine else profile.patience_s,
        )
        cause = script.cause if script.cause is not None else profile.reject_cause
        if outcome == "noanswer":
            ring = NEVER
        return Endpoint("customer", number, outcome, ring, talk, patience, cause)

    def plan_agent(self, extension: str, forced: CustomerOutcome | None, *, busy: bool) -> Endpoint:
        phone = self.config.agent_phone(extension)
        if forced == "busy" or (busy and phone.busy_when_in_call):
            return Endpoint("agent", extension, "busy", 0.5, None, None, 17)
        if forced == "noanswer" or phone.answer_after_s is None:
            return Endpoint("agent", extension, "noanswer", NEVER, None, None)
        patience = phone.hangup_unbridged_after_s
        return Endpoint("agent", extension, "answer", phone.answer_after_s, phone.talk_s, patience)

    def plan_caller(self, number: str, tier: str, patience_s: float | None, talk_s: float | None) -> Endpoint:
        traffic = self.config.traffic
        patience = patience_s if patience_s is not None else self.draw(traffic.patience_s)
        talk = talk_s if talk_s is not None else self.draw(traffic.talk_s)
        return Endpoint("caller", number, "answer", 0.0, talk, patience, tier=tier)


def _first(*values: float | None) -> float | None:
    return next((value for value in values if value is not None), None)


def _number(text: str | None) -> float | None:
    try:
        value = float(text or "")
    except ValueError:
        return None
    return value if value >= 0 else None
