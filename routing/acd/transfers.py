"""Where a transfer goes, and the waiting call it makes. Pure: no I/O.

Seed 004: the case travels with the call; DESIGN.md 2.4: a transferred caller is routed by the
same rules and keeps their tier. A target is a queue of routing.yaml (`queue:billing`), a skill at
a level (`skill:tech`, level 1 unless given), or a named agent (`agent:1002`). Over the phone the
target is the extension dialled into [switchboard-transfer]: `queue-billing`, `skill-tech`,
`agent-1002`, or the digits of an agent id (`1002`).

The moved call keeps its id, tier and first arrival (its wait for the service level); its new
queue's priority for that tier applies, and its wait in that queue (aging) starts at the transfer.
A skill target keeps the queue and needs that skill; a named agent keeps queue and needs (the
agent is offered the call by name, or the rules route it if they are not free).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from core.errors import SwitchboardError, ValidationFailedError
from routing.plan import QueuePlan
from routing.queue import Needs, WaitingCall
from routing.rules import Rules

KINDS = ("queue", "skill", "agent")
TARGET_PATTERN = r"^\s*(queue|skill|agent):\s*\S"
"""What `parse_target` reads, for the API's schema: a kind, a colon, a name."""


class TransferError(SwitchboardError):
    """A transfer that the call's state does not allow (not talking, no consult under way...)."""

    error_id = "transfer-not-possible"


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # queue, skill or agent
    name: str
    level: int = 1

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"


def parse_target(text: str, level: int = 1) -> Target:
    """`queue:billing`, `skill:tech`, `agent:1002` -> Target; ValidationFailedError naming the form."""
    kind, sep, name = text.strip().partition(":")
    if not sep or kind not in KINDS or not name.strip():
        raise ValidationFailedError(
            f"transfer target {text!r} is not queue:<name>, skill:<name> or agent:<id>", to=text
        )
    return Target(kind, name.strip(), level)


def target_from_exten(exten: str, agent_ids: set[str] | frozenset[str]) -> Target | None:
    """The target a phone dialled into the transfer context; None if it names nothing known."""
    kind, sep, name = exten.partition("-")
    if sep and kind in KINDS and name:
        return Target(kind, name)
    return Target("agent", exten) if exten in agent_ids else None


def check_target(
    target: Target, rules: Rules, agent_ids: set[str] | frozenset[str], current_agent: str
) -> None:
    """ValidationFailedError if the target does not exist (or is the agent who has the call)."""
    known = {
        "queue": set(rules.index.queues),
        "skill": {s.name for s in rules.skills},
        "agent": set(agent_ids),
    }[target.kind]
    if target.name not in known:
        raise ValidationFailedError(
            f"no {target.kind} {target.name!r} to transfer to; known: {', '.join(sorted(known))}",
            to=target.label,
        )
    if target.kind == "agent" and target.name == current_agent:
        raise ValidationFailedError("an agent cannot transfer a call to themselves", to=target.label)
    if not 1 <= target.level <= 5:
        raise ValidationFailedError(f"skill level {target.level} is not between 1 and 5", level=target.level)


def requeued(
    call: WaitingCall, target: Target, plan: QueuePlan | None, needs: Needs, now: float
) -> WaitingCall:
    """The waiting call a transfer makes. `plan` is the target queue's (queue targets), `needs` that
    queue's needs for this caller as classified there; for other targets both are ignored."""
    since = call.since
    if target.kind == "queue" and plan is not None:
        priority = plan.priorities.get(call.tier, call.priority)
        return replace(
            call, queue=target.name, priority=priority, needs=needs, entered_at=now, arrived_at=since,
            declined_by=frozenset(),
        )  # fmt: skip
    if target.kind == "skill":
        return replace(call, needs=((target.name, target.level),), entered_at=now, arrived_at=since,
                       declined_by=frozenset())  # fmt: skip
    return replace(call, entered_at=now, arrived_at=since, declined_by=frozenset())
