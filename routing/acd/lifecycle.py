"""One inbound call's life as a table: `apply(call, event) -> (call, effects)`. Pure: no I/O.

States: unknown or over (`None`), `waiting`, `offered` (an agent is rung; the caller hears
music), `connected` (bridged to the agent), `consulting` (a warm transfer: the caller holds with
music, the transferer waits in [switchboard-transfer] while the target is rung, then talks to
them). Events and effects are in routing/acd/call_events.py; the shell (routing/acd/callflow.py)
matches Asterisk's reports to a call and applies them here, and routing/acd/inbound_effects.py
performs the effects in order (AMI through the executor, Redis and the agent table through the
dispatcher). Rules the table keeps (docs/acd.md):
- The caller's channel is never hung up: a missed ring, a failed bridge or a late answer only
  ever hangs up the agent's leg (a transfer moves the caller to the transfer context's music).
- A bridge whose outcome is unknown (no answer in time) is never hung up on a guess: Asterisk's
  report of caller and agent in one bridge connects the call (BridgeSeen, with the link up), else
  the resync after a reconnect settles it.
- Whatever order events arrive in, a call ends once: every event for a call that is over does
  nothing, except an agent answering for it, whose leg is hung up.
- Only inbound calls are counted in the inbound metrics (the dialer counts its own), and a call is
  counted answered once: a transferred call answered again is not counted twice.
- A transfer keeps the call: its id, case, summary and tier travel with it (docs/transfers.md).
  Blind: the caller waits again (target queue or skill, tier kept; or the named agent), the
  transferer goes into wrap-up. Warm: the transferer stays until they complete (the caller is
  joined to the target), cancel or the consult fails (the caller is joined back to them); a
  transferer who hangs up during the consult completes it, as on a phone.
`TABLE` below names every (state, event) pair: a transition or `ignored`
(tests/unit/test_acd_lifecycle.py checks that none is missing). The transitions live by phase:
offer_transitions.py (arrival, the ring, the answer and the Bridge), end_transitions.py (hangups
and what a resync finds), transfer_transitions.py (blind, warm, out of the ACD); what the event
stream carries is case_payloads.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from routing.acd import call_events as ev
from routing.acd import end_transitions as ending
from routing.acd import offer_transitions as offer
from routing.acd import transfer_transitions as transfer
from routing.acd.call_events import Event, Result
from routing.acd.calls import ActiveCall, CallState

Handler = Callable[[Any, Any], Result]
STATES: tuple[CallState | None, ...] = (
    None, CallState.WAITING, CallState.OFFERED, CallState.CONNECTED, CallState.CONSULTING,
)  # fmt: skip
EVENTS: tuple[type, ...] = (
    ev.Arrived, ev.RingAnswered, ev.RingFailed, ev.AgentRang, ev.RingTimedOut, ev.AgentAnswered,
    ev.BridgeResult, ev.BridgeSeen, ev.ChannelGone, ev.Resynced, ev.TransferAsked, ev.ConsultAsked,
    ev.ConsultCompleted, ev.ConsultCancelled, ev.TransferredOut,
)  # fmt: skip


def apply(call: ActiveCall | None, event: Event) -> Result:
    """The call after `event` (None once it is over) and the effects to perform, in order."""
    handler = TABLE[(call.state if call is not None else None, type(event))]
    return handler(call, event)


def ignored(call: ActiveCall | None, event: Event) -> Result:
    return call, ()


# -- the table ---------------------------------------------------------------------------------------------
WAIT, OFFER, TALK, CONSULT = CallState.WAITING, CallState.OFFERED, CallState.CONNECTED, CallState.CONSULTING
_ASKED = (ev.TransferAsked, ev.ConsultAsked, ev.ConsultCompleted, ev.ConsultCancelled, ev.TransferredOut)
TABLE: dict[tuple[CallState | None, type], Handler] = {
    (None, ev.Arrived): offer.admit,
    (None, ev.RingAnswered): ignored,
    (None, ev.RingFailed): ignored,
    (None, ev.AgentRang): ignored,
    (None, ev.RingTimedOut): offer.timed_out,
    (None, ev.AgentAnswered): offer.hang_up_late,
    (None, ev.BridgeResult): ignored,
    (None, ev.BridgeSeen): ignored,  # the call ended already (its hangup came first)
    (None, ev.ChannelGone): ignored,
    (None, ev.Resynced): ignored,
    (WAIT, ev.Arrived): ignored,  # announced twice
    (WAIT, ev.RingAnswered): ignored,
    (WAIT, ev.RingFailed): ignored,
    (WAIT, ev.AgentRang): ignored,
    (WAIT, ev.RingTimedOut): offer.timed_out,
    (WAIT, ev.AgentAnswered): offer.hang_up_late,
    (WAIT, ev.BridgeResult): ignored,
    (WAIT, ev.BridgeSeen): ignored,  # no agent is offered: nobody to connect it to
    (WAIT, ev.ChannelGone): ending.gone_waiting,
    (WAIT, ev.Resynced): ending.resync_waiting,
    (OFFER, ev.Arrived): ignored,
    (OFFER, ev.RingAnswered): offer.leg_up,
    (OFFER, ev.RingFailed): offer.ring_failed,
    (OFFER, ev.AgentRang): offer.ringing,
    (OFFER, ev.RingTimedOut): offer.timed_out,
    (OFFER, ev.AgentAnswered): offer.answered_offer,
    (OFFER, ev.BridgeResult): offer.bridge_result,
    (OFFER, ev.BridgeSeen): offer.bridge_seen,
    (OFFER, ev.ChannelGone): ending.gone_offered,
    (OFFER, ev.Resynced): ending.resync_offered,
    (TALK, ev.Arrived): ignored,
    (TALK, ev.RingAnswered): ignored,
    (TALK, ev.RingFailed): ignored,
    (TALK, ev.AgentRang): ignored,
    (TALK, ev.RingTimedOut): ignored,  # the answer cancelled the ring timer; never cut a talk
    (TALK, ev.AgentAnswered): offer.answered_talk,
    (TALK, ev.BridgeResult): ignored,
    (TALK, ev.BridgeSeen): ignored,  # connected already (the Bridge's answer came first)
    (TALK, ev.ChannelGone): ending.gone_connected,
    (TALK, ev.Resynced): ending.resync_connected,
    # transfers are asked of a connected call only (the API checks the state first; late or
    # duplicated asks elsewhere do nothing)
    **{(state, event): ignored for state in (None, WAIT, OFFER) for event in _ASKED},
    (TALK, ev.TransferAsked): transfer.blind,
    (TALK, ev.ConsultAsked): transfer.consult,
    (TALK, ev.ConsultCompleted): ignored,
    (TALK, ev.ConsultCancelled): ignored,
    (TALK, ev.TransferredOut): transfer.transferred_out,
    (CONSULT, ev.Arrived): ignored,
    (CONSULT, ev.RingAnswered): offer.leg_up,
    (CONSULT, ev.RingFailed): transfer.consult_ring_failed,
    (CONSULT, ev.AgentRang): offer.ringing,
    (CONSULT, ev.RingTimedOut): transfer.consult_timed_out,
    (CONSULT, ev.AgentAnswered): transfer.consult_answered,
    (CONSULT, ev.BridgeResult): transfer.consult_bridged,
    (CONSULT, ev.BridgeSeen): ignored,  # the caller holds; the consult's own Bridge answers for it
    (CONSULT, ev.ChannelGone): transfer.gone_consulting,
    (CONSULT, ev.Resynced): transfer.resync_consulting,
    (CONSULT, ev.TransferAsked): ignored,
    (CONSULT, ev.ConsultAsked): ignored,
    (CONSULT, ev.ConsultCompleted): transfer.completed,
    (CONSULT, ev.ConsultCancelled): transfer.consult_cancelled,
    (CONSULT, ev.TransferredOut): ignored,  # the caller holds in the engine's context, not bridged
}
