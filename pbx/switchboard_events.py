"""The dialplan's UserEvents as typed events: the one place that reads their headers. Pure.

`config/asterisk/extensions_switchboard.conf` announces three moments with a UserEvent:

- `SwitchboardInbound` (CallID, CallerIDNum, Dialled, IvrChoice, Queue, Shard): a caller waits in
  `[switchboard-inbound]`; Shard (SWITCHBOARD_SHARD, empty: the default shard) names the ACD that
  takes the call (docs/redis.md, shards).
- `SwitchboardAgentAnswered` (CallID, AgentID, Channel): an agent's leg answered in
  `[switchboard-agent]`.
- `SwitchboardOutboundAnswered` (CallID, AMDStatus): a dialled customer answered and AMD judged.
- `SwitchboardNoticeUnheard` (CallID, Outage, Status): an outage notice could not be read out
  (the text-to-speech application is missing or failed: TryExec's TRYSTATUS); the caller goes
  back to `[switchboard-inbound]` to be queued.

`decode(change)` turns the tracker's UserEventSeen into one of these frozen events (None for any
other UserEvent), so no service parses `UserEventSeen.headers` itself. The call id falls back to
the channel's own SWITCHBOARD_CALL_ID, then its Uniqueid, exactly as every consumer did before.
"""

from __future__ import annotations

from dataclasses import dataclass

from pbx.call_changes import UserEventSeen

SHARD_VARIABLE = "SWITCHBOARD_SHARD"
"""The channel variable naming the ACD shard whose engines take a call: set by the DID's dialplan
for a caller, by the dialer's Originate for a customer; absent or empty: the default shard."""
INBOUND = "SwitchboardInbound"
AGENT_ANSWERED = "SwitchboardAgentAnswered"
OUTBOUND_ANSWERED = "SwitchboardOutboundAnswered"
NOTICE_UNHEARD = "SwitchboardNoticeUnheard"


@dataclass(frozen=True, slots=True)
class InboundArrived:
    """A caller holds in `[switchboard-inbound]` and asks to be routed."""

    call_id: str
    uniqueid: str  # the caller's channel ('' when the tracker does not know it)
    channel: str
    caller: str  # CallerIDNum as sent
    dialled: str
    ivr: str
    queue: str
    shard: str = ""  # the ACD shard that takes the call ('' the default one)


@dataclass(frozen=True, slots=True)
class AgentAnswered:
    """An agent's leg answered; `channel` is that leg (the dialplan's ${CHANNEL})."""

    call_id: str
    agent_id: str
    channel: str
    uniqueid: str  # of the leg, '' when the tracker does not know it


@dataclass(frozen=True, slots=True)
class OutboundAnswered:
    """A dialled customer answered; `amd_status` is AMD's verdict (HUMAN, MACHINE, NOTSURE...)."""

    call_id: str
    uniqueid: str  # the customer's channel, '' when the tracker does not know it
    channel: str
    amd_status: str


@dataclass(frozen=True, slots=True)
class NoticeUnheard:
    """The notice of `outage_id` was not read out to the caller (`status`: TRYSTATUS)."""

    call_id: str
    outage_id: str
    status: str


SwitchboardEvent = InboundArrived | AgentAnswered | OutboundAnswered | NoticeUnheard


def decode(change: UserEventSeen) -> SwitchboardEvent | None:
    """The typed event a Switchboard UserEvent carries; None for any other UserEvent."""
    h = change.headers
    uniqueid = change.uniqueid or ""
    if change.name == INBOUND:
        call_id = h.get("CallID") or change.call_id or uniqueid
        return InboundArrived(
            call_id=call_id,
            uniqueid=uniqueid or call_id,
            channel=h.get("Channel", ""),
            caller=h.get("CallerIDNum", ""),
            dialled=h.get("Dialled", ""),
            ivr=h.get("IvrChoice", ""),
            queue=h.get("Queue", ""),
            shard=h.get("Shard", "").strip(),
        )
    if change.name == AGENT_ANSWERED:
        return AgentAnswered(h.get("CallID", ""), h.get("AgentID", ""), h.get("Channel", ""), uniqueid)
    if change.name == OUTBOUND_ANSWERED:
        call_id = h.get("CallID", "") or change.call_id or ""
        return OutboundAnswered(call_id, uniqueid, h.get("Channel", ""), h.get("AMDStatus", ""))
    if change.name == NOTICE_UNHEARD:
        call_id = h.get("CallID", "") or change.call_id or uniqueid
        return NoticeUnheard(call_id, h.get("Outage", ""), h.get("Status", ""))
    return None
