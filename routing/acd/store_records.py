"""JSON records for what routing keeps in Redis: agent statuses and profiles, waiting and active calls.

Owned here: the stored shape (versioned by field names, tolerant of extra
fields) and its validation. The ACD stores an agent's status without its
history (`with_history=False`) and the history as a list of `dump_change`
entries beside it, appended to on each change rather than rewritten. A
malformed record raises ValidationFailedError naming the record, so the shell
can log and skip it instead of crashing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from core.compact_json import compact_json
from core.errors import ValidationFailedError
from routing.acd.calls import ActiveCall, CallFacts
from routing.acd.timers import Timer
from routing.agent_events import AgentState
from routing.agents import AgentStatus, History
from routing.queue import WaitingCall
from routing.rules import AgentSpec

SOURCE_RULES, SOURCE_API = "rules", "api"


def dump_status(status: AgentStatus, *, with_history: bool = True) -> str:
    record: dict[str, Any] = {
        "agent_id": status.agent_id,
        "state": str(status.state),
        "since": status.since,
        "idle_since": status.idle_since,
        "call_id": status.call_id,
        "missed_rings": status.missed_rings,
        "pause_reason": status.pause_reason,
        "pending_pause": status.pending_pause,
    }
    if with_history:
        record["history"] = [[at, str(state)] for at, state in status.history]
    return compact_json(record)


def dump_change(change: tuple[float, AgentState]) -> str:
    """One history entry: `1750000000.25 ready` (repr keeps the float exact)."""
    at, state = change
    return f"{at!r} {state}"


def load_history(entries: Iterable[str | bytes], agent_id: str) -> History:
    """The stored history entries; raises ValidationFailedError naming the agent on a bad one."""
    history = []
    for entry in entries:
        text = entry.decode("utf-8", "replace") if isinstance(entry, bytes) else entry
        at, _, state = text.partition(" ")
        try:
            history.append((float(at), AgentState(state)))
        except ValueError:
            raise ValidationFailedError(
                f"bad history entry of agent {agent_id}: {text[:80]!r}", agent_id=agent_id
            ) from None
    return tuple(history)


def load_status(raw: str | bytes) -> AgentStatus:
    data = _object(raw, "agent status")
    try:
        return AgentStatus(
            agent_id=str(data["agent_id"]),
            state=AgentState(data["state"]),
            since=float(data["since"]),
            idle_since=float(data["idle_since"]),
            call_id=str(data.get("call_id", "")),
            missed_rings=int(data.get("missed_rings", 0)),
            pause_reason=str(data.get("pause_reason", "")),
            pending_pause=str(data.get("pending_pause", "")),
            history=tuple((float(at), AgentState(state)) for at, state in data.get("history", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationFailedError(f"bad agent status record: {exc!r}", record=_preview(raw)) from None


def dump_call(call: WaitingCall, facts: dict[str, Any] | None = None) -> str:
    """`facts`: the caller's number, dialled number, IVR choice, case id... kept for re-classification."""
    return compact_json(
        {
            "id": call.id,
            "queue": call.queue,
            "tier": call.tier,
            "priority": call.priority,
            "needs": [[skill, level] for skill, level in call.needs],
            "entered_at": call.entered_at,
            "arrived_at": call.arrived_at,
            "declined_by": sorted(call.declined_by),
            "outbound": call.outbound,
            "facts": facts or {},
        }
    )


def load_call(raw: str | bytes) -> tuple[WaitingCall, dict[str, Any]]:
    """The call and its stored facts."""
    data = _object(raw, "waiting call")
    try:
        arrived = data.get("arrived_at")
        call = WaitingCall(
            id=str(data["id"]),
            queue=str(data["queue"]),
            tier=str(data["tier"]),
            priority=int(data["priority"]),
            needs=tuple((str(skill), int(level)) for skill, level in data["needs"]),
            entered_at=float(data["entered_at"]),
            arrived_at=None if arrived is None else float(arrived),
            declined_by=frozenset(str(a) for a in data.get("declined_by", ())),
            outbound=bool(data.get("outbound", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationFailedError(f"bad waiting call record: {exc!r}", record=_preview(raw)) from None
    if not call.needs:
        raise ValidationFailedError("bad waiting call record: no needs", record=_preview(raw))
    facts = data.get("facts")
    return call, facts if isinstance(facts, dict) else {}


def _object(raw: str | bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailedError(f"bad {what} record: not JSON ({exc})", record=_preview(raw)) from None
    if not isinstance(data, dict):
        raise ValidationFailedError(f"bad {what} record: not a JSON object", record=_preview(raw))
    return data


def _preview(raw: str | bytes) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return text[:200]


@dataclass
class Stored:
    """Everything `load` found."""

    profiles: dict[str, AgentSpec] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, AgentStatus] = field(default_factory=dict)
    calls: dict[str, ActiveCall] = field(default_factory=dict)
    timers: list[Timer] = field(default_factory=list)


def dump_profile(spec: AgentSpec, source: str) -> str:
    return compact_json({**spec.model_dump(mode="json"), "source": source})


def load_profile(raw: bytes | str) -> tuple[AgentSpec, str]:
    """Raises ValidationFailedError on a malformed profile."""
    try:
        data = json.loads(raw)
        source = str(data.pop("source", SOURCE_RULES))
        return AgentSpec.model_validate(data), source
    except (ValueError, TypeError, AttributeError, ValidationError) as exc:
        raise ValidationFailedError(f"bad agent profile record: {exc}", record=_preview(raw)) from None


def load_active(raw: bytes | str) -> ActiveCall:
    call, facts = load_call(raw)
    try:
        return ActiveCall(call, CallFacts.from_dict(facts))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationFailedError(f"bad call facts: {exc!r}", record=_preview(raw)) from None


def source_of(raw: bytes | str) -> str:
    try:
        return str(json.loads(raw).get("source", SOURCE_RULES))
    except (ValueError, AttributeError):
        return SOURCE_RULES


def case_prefix(now: float, shard: str) -> str:
    """A case id but its counter: `20250616-`, or `20250616-east-` for an ACD shard's cases."""
    return f"{datetime.fromtimestamp(now, UTC):%Y%m%d}-{f'{shard}-' if shard else ''}"
