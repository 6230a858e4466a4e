"""The inbound call table's transitions from arrival to talk: the caller admitted, the agent rung,
the answer, the Bridge and its outcome (states waiting and offered; routing/acd/lifecycle.py lists
which (state, event) pair each serves). Pure: no I/O.

A bridge whose outcome is unknown is never hung up on a guess (`bridge_result`): Asterisk's report
of caller and agent in one bridge connects it (`bridge_seen`), else the resync settles it. A Bridge
refused because the agent's leg was gone (the caller still there) is a miss: the caller is routed
again at once (`leg_gone`). Only the agent's leg is ever hung up here, never the caller's channel.
"""

from __future__ import annotations

from routing.acd import call_events as ev
from routing.acd.call_events import Result
from routing.acd.calls import ActiveCall, CallState, leg_base
from routing.acd.case_payloads import handover

# Asterisk's refusals of a Bridge (features.c action_bridge, which looks Channel1, the caller, up first)
CALLER_GONE = "Channel1 does not exist"
LEG_GONE = "Channel2 does not exist"


# -- arrival and the ring ----------------------------------------------------------------------------
def admit(call: None, event: ev.Arrived) -> Result:
    return None, (ev.Admit(event.held),)


def leg_up(call: ActiveCall, event: ev.RingAnswered) -> Result:
    moved = call.with_facts(agent_channel=event.channel)
    return moved, (ev.Save(moved),)


def ring_failed(call: ActiveCall, event: ev.RingFailed) -> Result:
    agent_id = call.facts.agent_id
    return call, (ev.Note(f"agent {agent_id} did not answer ({event.reason})"), ev.Missed(agent_id))


def ringing(call: ActiveCall, event: ev.AgentRang) -> Result:
    return call, (ev.AgentRinging(call.facts.agent_id),)


def timed_out(call: ActiveCall | None, event: ev.RingTimedOut) -> Result:
    """No OriginateResponse in time: the leg (if any) is hung up and the agent missed the call."""
    note = ev.Note(f"agent {event.agent_id}: no OriginateResponse in time", warn=True)
    legs = (ev.HangUpLegs(),) if call is not None and call.state is CallState.OFFERED else ()
    return call, (note, *legs, ev.Missed(event.agent_id))


# -- the answer and the bridge -----------------------------------------------------------------------
def hang_up_late(call: ActiveCall | None, event: ev.AgentAnswered) -> Result:
    note = ev.Note(f"agent {event.agent_id} answered a call that no longer waits for them; hanging up")
    return call, (note, *((ev.HangUp(event.channel),) if event.channel else ()))


def answered_offer(call: ActiveCall, event: ev.AgentAnswered) -> Result:
    if call.facts.agent_id != event.agent_id:
        return hang_up_late(call, event)
    return bridge(call, event.at, event.channel, event.bridged)


def answered_talk(call: ActiveCall, event: ev.AgentAnswered) -> Result:
    same_leg = leg_base(call.facts.agent_channel) == leg_base(event.channel)
    if call.facts.agent_id == event.agent_id and same_leg:
        return call, ()  # already bridged (a resync found the answered leg first)
    return hang_up_late(call, event)


def bridge(call: ActiveCall, at: float, channel: str, bridged: bool) -> Result:
    if bridged:
        return connected(call, at, channel)
    return call, (ev.Bridge(call.facts.channel, channel),)


def bridge_result(call: ActiveCall, event: ev.BridgeResult) -> Result:
    if event.bridged is None:  # maybe bridged: never hang up a live talk; the resync settles it
        moved = call.with_facts(agent_channel=event.channel, bridge_in_doubt=True)
        return moved, (ev.Save(moved),)
    if event.bridged:
        return connected(call, event.at, event.channel)
    if event.leg_gone and event.action_id == call.facts.action_id:
        return leg_gone(call, event)
    return call, (ev.HangUp(event.channel),)  # the caller is gone: its hangup closes the call


def leg_gone_at_bridge(refusal: str, *, caller_here: bool, leg_here: bool) -> bool:
    """What a refused Bridge means: the agent's leg was gone and the caller there (BridgeResult's
    `leg_gone`). Asterisk's message says it; without one it knows (another wording, or nothing was
    sent) what Asterisk last showed decides: the caller there and the leg hung up."""
    if refusal.startswith(LEG_GONE):
        return True
    if refusal.startswith(CALLER_GONE):
        return False
    return caller_here and not leg_here


def leg_gone(call: ActiveCall, event: ev.BridgeResult) -> Result:
    """The agent's answered leg was gone when the Bridge came (the phone hung up before it), the
    caller still there: a miss, as a leg gone before the bridge (end_transitions.gone_offered), so
    the caller is routed again now; its leg's Hangup may come before or after this and does nothing
    more. The leg is hung up in case it is still there."""
    agent_id = call.facts.agent_id
    note = ev.Note(f"agent {agent_id}'s answered leg {event.channel} was gone at the Bridge; routing again")
    return call, (ev.HangUp(event.channel), note, ev.Missed(agent_id))


def bridge_seen(call: ActiveCall, event: ev.BridgeSeen) -> Result:
    """Asterisk shows the caller and the agent's leg in one bridge: the call is connected, even if
    the Bridge's answer never came in time (the link stayed up, so no resync settles it). Its talk
    is timed from here; the hangups that follow end it as any talk."""
    if call.facts.agent_channel and not is_call_leg(call, event.channel):
        return call, ()  # not the offered agent's leg
    return connected(call, event.at, event.channel)


def connected(call: ActiveCall, at: float, channel: str) -> Result:
    opened_by = call.facts.opened_by or call.facts.agent_id  # the first who takes the call opens the case
    moved = call.with_facts(
        state=CallState.CONNECTED, agent_channel=channel, answered_at=at, opened_by=opened_by
    )
    waited = at - call.call.since
    first_answer = not call.call.outbound and not call.facts.transfers
    counted = (ev.CountAnswered(call.call.queue, call.call.tier, waited),) if first_answer else ()
    agent_id = call.facts.agent_id
    publish = ev.Publish("handover", agent_id, handover(moved, waited))
    return moved, (ev.AgentTalks(agent_id, moved), *counted, publish)


def is_call_leg(call: ActiveCall, channel: str) -> bool:
    """`channel` is the leg of the agent the call is offered to or talks with (same base name)."""
    leg = call.facts.agent_channel
    return bool(leg) and leg_base(channel) == leg_base(leg)
