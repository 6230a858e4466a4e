"""What the call tracker reports: one frozen record per change, and channel snapshots.

Kept apart from pbx.tracker so consumers (routing, dialer) can import the
vocabulary without the state machine. Every record carries the engine's call id
when it is known, so a consumer rarely needs a lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Asterisk's OriginateResponse Reason codes (see shared/ami/README.md).
ORIGINATE_REASONS = {0: "failed", 1: "hung up", 3: "no answer", 4: "answered", 5: "busy", 8: "congestion"}


@dataclass(frozen=True, slots=True)
class ChannelUp:
    """A channel appeared (Newchannel, or first seen in another event or at resync)."""

    uniqueid: str
    channel: str
    linkedid: str
    call_id: str | None


@dataclass(frozen=True, slots=True)
class ChannelAnswered:
    uniqueid: str
    channel: str
    call_id: str | None


@dataclass(frozen=True, slots=True)
class ChannelHungUp:
    """`cause` is None when the channel vanished while we were not connected (resync)."""

    uniqueid: str
    channel: str
    linkedid: str
    call_id: str | None
    cause: int | None
    cause_txt: str


@dataclass(frozen=True, slots=True)
class CallIdBound:
    """A channel's call id became known (or changed): from now on its events carry it."""

    call_id: str
    uniqueid: str
    channel: str
    linkedid: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The last channel carrying this call id is gone."""

    call_id: str
    linkedid: str


@dataclass(frozen=True, slots=True)
class Bridged:
    uniqueid: str
    channel: str
    bridge_id: str
    call_id: str | None
    peers: tuple[str, ...]  # uniqueids already in the bridge


@dataclass(frozen=True, slots=True)
class Unbridged:
    uniqueid: str
    channel: str
    bridge_id: str
    call_id: str | None


@dataclass(frozen=True, slots=True)
class LocalPaired:
    """The two halves (;1 and ;2) of a Local channel."""

    one: str
    two: str
    call_id: str | None


@dataclass(frozen=True, slots=True)
class DialStarted:
    caller_uniqueid: str | None  # None when Originate itself dials
    dest_uniqueid: str
    dest_channel: str
    dial_string: str
    call_id: str | None


@dataclass(frozen=True, slots=True)
class DialEnded:
    caller_uniqueid: str | None
    dest_uniqueid: str
    dest_channel: str
    status: str  # ANSWER, BUSY, NOANSWER, CONGESTION, CANCEL, CHANUNAVAIL
    call_id: str | None


@dataclass(frozen=True, slots=True)
class OriginateResult:
    """The outcome of an async Originate, matched by ActionID (never by channel)."""

    action_id: str
    ok: bool
    reason: int
    uniqueid: str | None
    channel: str
    call_id: str | None

    @property
    def reason_text(self) -> str:
        return ORIGINATE_REASONS.get(self.reason, f"reason {self.reason}")


@dataclass(frozen=True, slots=True)
class UserEventSeen:
    name: str
    headers: Mapping[str, str]
    uniqueid: str | None
    call_id: str | None


@dataclass(frozen=True, slots=True)
class Transferred:
    """Asterisk reports a transfer (events BlindTransfer, AttendedTransfer), whether a phone made it
    or an AMI action. `transferee_*` is the party moved (the caller); `exten`@`context` the blind
    transfer's target; `target_channel` the party an attended transfer joined them to. `result` is
    Asterisk's (Success, Fail, Invalid, Not Permitted); `call_id` the transferee's (else the
    transferer's)."""

    kind: str  # "blind" or "attended"
    result: str
    transferer_channel: str
    transferee_uniqueid: str
    transferee_channel: str
    context: str
    exten: str
    target_channel: str
    call_id: str | None


CallChange = (
    ChannelUp
    | ChannelAnswered
    | ChannelHungUp
    | CallIdBound
    | CallEnded
    | Bridged
    | Unbridged
    | LocalPaired
    | DialStarted
    | DialEnded
    | OriginateResult
    | UserEventSeen
    | Transferred
)


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """A read-only snapshot of one tracked channel."""

    uniqueid: str
    channel: str
    linkedid: str
    state: int
    caller_id_num: str
    caller_id_name: str
    call_id: str | None
    bridge_id: str | None
    local_peer: str | None
    answered: bool
