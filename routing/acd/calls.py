"""What the ACD shell knows about one inbound call beyond the routing core's WaitingCall.

Owned here: the call's facts (caller, dialled number, IVR choice, case id, CRM
record, which channel holds the caller; for an answered outbound call the dialer
handed over, its campaign and lead) and where it is in its life
(waiting -> offered to an agent -> connected, and back to waiting or consulting when an agent
transfers it), stored as the `facts` of
routing.acd.store_records' call record. A waiting call is in the routing snapshot; an
offered or connected one is not (nobody else may be offered it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from operator import attrgetter
from typing import Any

from routing.queue import WaitingCall


class CallState(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"  # an agent is being rung; the caller still hears music
    CONNECTED = "connected"  # bridged to the agent
    CONSULTING = "consulting"  # warm transfer: the caller holds, the transferer consults the target


@dataclass(frozen=True, slots=True)
class CallFacts:
    case_id: str
    uniqueid: str  # the caller's channel (SWITCHBOARD_CALL_ID is set from it)
    channel: str
    caller: str = ""  # CallerIDNum as received
    number: str | None = None  # E.164, None when withheld or not a number
    dialled: str = ""
    ivr: str = ""
    matched: str = ""  # the rule path that gave the tier
    crm: Mapping[str, str] = field(default_factory=dict)
    state: CallState = CallState.WAITING
    agent_id: str = ""
    action_id: str = ""  # of the Originate ringing agent_id
    agent_channel: str = ""  # the agent's leg once it answered
    bridge_in_doubt: bool = False  # a Bridge with agent_channel went out and got no answer
    answered_at: float | None = None
    summary: str = ""  # the case summary: the first agent writes it, whoever has the call completes it
    opened_by: str = ""  # the first agent who took the call: they opened the case
    owner: str = ""  # engine instance that admitted the call
    campaign: str = ""  # an outbound call's campaign (handed over by the dialer)
    lead_id: str = ""  # an outbound call's lead
    outcome: str = ""  # once ended: abandoned, ended (after a talk) or routed_out
    exit_to: str = ""  # routed_out: the exit extension the caller was sent to
    transferer: str = ""  # consulting: the agent who asked for the warm transfer (agent_id is the target)
    transferer_channel: str = ""  # consulting: the transferer's leg, waiting in [switchboard-transfer]
    transfers: int = 0  # how many times the call was transferred (counted answered once, at the first)
    transferred_from: str = ""  # the agent who transferred it last
    transfer_target: str = (
        ""  # where it was transferred last: queue:<q>, skill:<s>, agent:<id>, or an extension
    )

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every field, and this runs on every call write.
        data = dict(zip(_FACT_AT, _ALL_FACTS(self), strict=True))
        data["state"] = str(self.state)
        data["crm"] = dict(self.crm)
        return data

    def but(self, **changes: Any) -> CallFacts:
        """These facts with `changes`: `dataclasses.replace` without its per-field checks and keyword
        call (a call's facts are copied about ten times over its life: half the cost of a copy)."""
        values = list(_ALL_FACTS(self))
        for name, value in changes.items():
            at = _FACT_AT.get(name)
            if at is None:
                raise TypeError(f"CallFacts has no field {name!r}")
            values[at] = value
        return CallFacts(*values)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallFacts:
        """Raises KeyError / ValueError / TypeError on a malformed record."""
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        known["state"] = CallState(known.get("state", CallState.WAITING))
        known["crm"] = {str(k): str(v) for k, v in dict(known.get("crm") or {}).items()}
        answered = known.get("answered_at")
        known["answered_at"] = None if answered is None else float(answered)
        return cls(**known)


# the fields' init order; `but` builds positionally, so every field must be a plain positional one
_FACT_AT = {f.name: at for at, f in enumerate(fields(CallFacts)) if f.init and not f.kw_only}
if len(_FACT_AT) != len(CallFacts.__dataclass_fields__):
    raise TypeError("CallFacts.but needs plain positional fields (no init=False, kw_only or ClassVar)")
_ALL_FACTS = attrgetter(*_FACT_AT)


@dataclass(frozen=True, slots=True)
class ActiveCall:
    call: WaitingCall
    facts: CallFacts

    @property
    def id(self) -> str:
        return self.call.id

    @property
    def state(self) -> CallState:
        return self.facts.state

    def with_facts(self, **changes: Any) -> ActiveCall:
        return ActiveCall(self.call, self.facts.but(**changes))

    def waiting_again(self, call: WaitingCall) -> ActiveCall:
        """Back in the queue (no agent any more), as `call` (e.g. with an agent declined)."""
        facts = self.facts.but(
            state=CallState.WAITING,
            agent_id="",
            action_id="",
            agent_channel="",
            bridge_in_doubt=False,
        )
        return ActiveCall(call, facts)


def leg_base(channel: str) -> str:
    """A Local channel's two halves (`...;1`, `...;2`) are one leg; other channels are themselves."""
    if channel.startswith("Local/") and channel[-2:] in (";1", ";2"):
        return channel[:-2]
    return channel


def interface_base(interface: str) -> str:
    """What channel names of `interface` start with: `Local/1001@agents/n` dials `Local/1001@agents-...`."""
    if interface.startswith("Local/"):
        head, at, rest = interface.partition("@")
        if at:
            return head + at + rest.split("/", 1)[0]
    return interface


def is_leg_of(channel: str, interface: str) -> bool:
    """`PJSIP/1001-0000000b` is a leg of `PJSIP/1001`, `Local/1001@agents-03;1` of `Local/1001@agents`."""
    return channel.startswith(interface_base(interface) + "-")


def is_agent_leg(channel: str, interface: str) -> bool:
    """The leg the engine originated for an agent: a channel of their interface, never a Local
    channel's `;2` half (it runs the agent's dialplan: bridging it cuts the agent off) nor a channel
    that only shares the call's Linkedid (the phone behind a Local channel, a spy, a transfer)."""
    return is_leg_of(channel, interface) and not channel.endswith(";2")
