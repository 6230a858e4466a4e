"""Webhook event types, and how a record of an existing stream becomes one event (pure, no I/O).

The events are not new records: they are read from the streams the engine already writes (the
ACD's event stream, the audit streams of dispositions, Robinson requests, tasks and consents), so no call
site publishes twice and nothing is lost when the CRM is down. The one exception is
`call.offered`, which the ACD does not stream; the service builds it from the admitted call.

An event's id is its source and the stream entry id (`acd-1718000000000-0`): the same record
always gives the same id, which is what makes delivery idempotent. `occurred_at` is the entry's
own time (Redis stamps it), so a retry carries the time the thing happened.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

EVENT_TYPES: tuple[str, ...] = (
    "call.offered",
    "call.answered",
    "call.abandoned",
    "call.ended",
    "call.routed_out",
    "call.transferred",
    "disposition.recorded",
    "robinson.filed",
    "robinson.approved",
    "robinson.rejected",
    "task.created",
    "task.own_time",
    "task.dialed",
    "task.deferred",
    "task.closed",
    "task.expired",
    "task.archived",
    "task.reactivated",
    "consent.given",
    "consent.updated",
    "consent.withdrawn",
)

_ACD_KINDS = {
    "handover": "call.answered",
    "abandoned": "call.abandoned",
    "ended": "call.ended",
    "routed_out": "call.routed_out",
    "transferred": "call.transferred",
}
_ROBINSON = {"filed": "robinson.filed", "approved": "robinson.approved", "rejected": "robinson.rejected"}
_TASKS = {kind.split(".")[1].replace("_", "-"): kind for kind in EVENT_TYPES if kind.startswith("task.")}
_CONSENT = {"given": "consent.given", "updated": "consent.updated", "withdrawn": "consent.withdrawn"}
SOURCES = ("acd", "dispositions", "robinson", "tasks", "consent")


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    id: str
    type: str
    occurred_at: str
    data: dict[str, Any]

    def envelope(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "occurred_at": self.occurred_at, "data": self.data}


def entry_time(entry_id: str) -> str:
    """`1718000000000-0` -> the ISO 8601 UTC time Redis stamped on the entry."""
    millis = int(entry_id.split("-", 1)[0])
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="milliseconds")


def from_record(source: str, entry_id: str, fields: Mapping[str, str]) -> WebhookEvent | None:
    """The event a stream record stands for, or None when it is not one a CRM gets."""
    kind, data = _translate(source, fields)
    if kind is None:
        return None
    return WebhookEvent(f"{source}-{entry_id}", kind, entry_time(entry_id), data)


def _translate(source: str, fields: Mapping[str, str]) -> tuple[str | None, dict[str, Any]]:
    action = fields.get("action", "")
    if source == "acd" or source.startswith("acd-"):  # `acd-east`: an ACD shard's events
        return _acd(fields)
    if source == "dispositions":
        return ("disposition.recorded" if action == "disposition" else None), _flat(fields)
    if source == "robinson":
        return _ROBINSON.get(action), _flat(fields)
    if source == "tasks":
        return _TASKS.get(action), _flat(fields)
    if source == "consent":
        return _CONSENT.get(action), _flat(fields)
    return None, {}


def _acd(fields: Mapping[str, str]) -> tuple[str | None, dict[str, Any]]:
    kind = _ACD_KINDS.get(fields.get("type", ""))
    try:
        data = json.loads(fields.get("data", "{}"))
    except ValueError:
        data = {"raw": fields.get("data", "")}
    if not isinstance(data, dict):
        data = {"raw": data}
    agent = fields.get("agent_id", "")
    if agent and "agent_id" not in data:
        data["agent_id"] = agent
    return kind, data


def _flat(fields: Mapping[str, str]) -> dict[str, Any]:
    """An audit record without its bookkeeping field (the event type says what happened)."""
    return {key: value for key, value in fields.items() if key != "action"}


def offered(call_id: str, case: Mapping[str, Any], at: float) -> WebhookEvent:
    """`call.offered`: a caller entered a queue (built from the ACD's admitted call)."""
    when = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
    return WebhookEvent(f"offered-{call_id}", "call.offered", when, dict(case))
