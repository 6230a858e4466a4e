"""One inbound call's life as a table: `apply(call, event) -> (call, effects)`. Pure: no I/O.

States: unknown or over (`None`), `waiting`, `offered` (an agent is rung; the caller hears
music), `connected` (bridged to the agent). Events and effects are in routing/acd/call_events.py;
the shell (routing/acd/callflow.py) matches Asterisk's reports to a call, applies them here and
performs the effects in order (AMI through the executor, Redis and the agent table through the
dispatcher). Rules the table keeps (docs/acd.md):
- The caller's channel is never touched: a missed ring, a failed bridge or a late answer only
  ever hangs up the agent's leg.
- A bridge whose outcome is unknown (the link dropped) is left to the resync: a live talk is
  never hung up on a guess.
- Whatever order events arrive in, a call ends once: every event for a call that is over does
  nothing, except an agent answering for it, whose leg is hung up.
- Only inbound calls are counted in the inbound metrics (the dialer counts its own).
`TABLE` names every (state, event) pair: a transition or `ignored`
(tests/unit/test_acd_lifecycle.py checks that none is missing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from routing.acd import call_events as ev
from routing.acd.call_events import Effect, Event
from routing.acd.calls import ActiveCall, CallState, leg_base

Result = tuple[ActiveCall | None, tuple[Effect, ...]]
Handler = Callable[[Any, Any], Result]
STATES: tuple[CallState | None, ...] = (None, CallState.WAITING, CallState.OFFERED, CallState.CONNECTED)
EVENTS: tuple[type, ...] = (
    ev.Arrived, ev.RingAnswered, ev.RingFailed, ev.AgentRang, ev.RingTimedOut, ev.AgentAnswered,
    ev.BridgeResult, ev.ChannelGone, ev.Resynced,
)  # fmt: skip


def apply(call: ActiveCall | None, event: Event) -> Result:
    """The call after `event` (None once it is over) and the effects to perform, in order."""
    handler = TABLE[(call.state if call is not None else None, type(event))]
    return handler(call, event)


def ignored(call: ActiveCall | None, event: Event) -> Result:
    return call, ()


# -- arrival and the ring ----------------------------------------------------------------------------
def _admit(call: None, event: ev.Arrived) -> Result:
    return None, (ev.Admit(event.held),)


def _leg_up(call: ActiveCall, event: ev.RingAnswered) -> Result:
    moved = call.with_facts(agent_channel=event.channel)
    return moved, (ev.Save(moved),)


def _ring_failed(call: ActiveCall, event: ev.RingFailed) -> Result:
    agent_id = call.facts.agent_id
    return call, (ev.Note(f"agent {agent_id} did not answer ({event.reason})"), ev.Missed(agent_id))


def _ringing(call: ActiveCall, event: ev.AgentRang) -> Result:
    return call, (ev.AgentRinging(call.facts.agent_id),)


def _timed_out(call: ActiveCall | None, event: ev.RingTimedOut) -> Result:
    """No OriginateResponse in time: the leg (if any) is hung up and the agent missed the call."""
    note = ev.Note(f"agent {event.agent_id}: no OriginateResponse in time", warn=True)
    legs = (ev.HangUpLegs(),) if call is not None and call.state is CallState.OFFERED else ()
    return call, (note, *legs, ev.Missed(event.agent_id))


# -- the answer and the bridge -----------------------------------------------------------------------
def _hang_up_late(call: ActiveCall | None, event: ev.AgentAnswered) -> Result:
    note = ev.Note(f"agent {event.agent_id} answered a call that no longer waits for them; hanging up")
    return call, (note, *((ev.HangUp(event.channel),) if event.channel else ()))


def _answered_offer(call: ActiveCall, event: ev.AgentAnswered) -> Result:
    if call.facts.agent_id != event.agent_id:
        return _hang_up_late(call, event)
    return _bridge(call, event.at, event.channel, event.bridged)


def _answered_talk(call: ActiveCall, event: ev.AgentAnswered) -> Result:
    same_leg = leg_base(call.facts.agent_channel) == leg_base(event.channel)
    if call.facts.agent_id == event.agent_id and same_leg:
        return call, ()  # already bridged (a resync found the answered leg first)
    return _hang_up_late(call, event)


def _bridge(call: ActiveCall, at: float, channel: str, bridged: bool) -> Result:
    if bridged:
        return _connected(call, at, channel)
    return call, (ev.Bridge(call.facts.channel, channel),)


def _bridge_result(call: ActiveCall, event: ev.BridgeResult) -> Result:
    if event.bridged is None:  # maybe bridged: never hang up a live talk; the resync settles it
        moved = call.with_facts(agent_channel=event.channel, bridge_in_doubt=True)
        return moved, (ev.Save(moved),)
    if not event.bridged:
        return call, (ev.HangUp(event.channel),)  # the caller is gone: its hangup closes the call
    return _connected(call, event.at, event.channel)


def _connected(call: ActiveCall, at: float, channel: str) -> Result:
    moved = call.with_facts(state=CallState.CONNECTED, agent_channel=channel, answered_at=at)
    waited = at - call.call.since
    counted = () if call.call.outbound else (ev.CountAnswered(call.call.queue, call.call.tier, waited),)
    agent_id = call.facts.agent_id
    publish = ev.Publish("handover", agent_id, handover(moved, waited))
    return moved, (ev.AgentTalks(agent_id, moved), *counted, publish)


# -- hangups -------------------------------------------------------------------------------------------
def _gone_waiting(call: ActiveCall, event: ev.ChannelGone) -> Result:
    return _abandoned(call, event.at) if event.uniqueid == call.facts.uniqueid else (call, ())


def _gone_offered(call: ActiveCall, event: ev.ChannelGone) -> Result:
    if event.uniqueid == call.facts.uniqueid:
        return _abandoned(call, event.at)
    if _is_agent_leg(call, event.channel):  # answered, then gone before the bridge
        return call, (ev.Missed(call.facts.agent_id),)
    return call, ()


def _gone_connected(call: ActiveCall, event: ev.ChannelGone) -> Result:
    if event.uniqueid == call.facts.uniqueid:
        return _ended(call, event.at, "caller")
    if _is_agent_leg(call, event.channel):
        return _ended(call, event.at, "agent")
    return call, ()


def _abandoned(call: ActiveCall, at: float) -> Result:
    """The caller hung up before an agent answered: a ringing leg is hung up, its agent freed."""
    ended, agent_id, waited = call.with_facts(outcome="abandoned"), call.facts.agent_id, at - call.call.since
    if call.state is CallState.OFFERED:
        closing: tuple[Effect, ...] = (ev.HangUpLegs(), ev.AgentFreed(agent_id, ended))
    else:
        closing = (ev.Close(ended),)
    counted = () if call.call.outbound else (ev.CountAbandoned(call.call.queue, call.call.tier, waited),)
    note = ev.Note(f"caller hung up after {waited:.1f} s (abandoned)")
    data = {**case_data(call), "waited": round(waited, 3), "ringing": agent_id}
    return None, (*closing, *counted, note, ev.Publish("abandoned", agent_id, data))


def _ended(call: ActiveCall, at: float, by: str) -> Result:
    """A talk ended: the agent goes into wrap-up."""
    agent_id, talk = call.facts.agent_id, at - (call.facts.answered_at or at)
    data = {**case_data(call), "talk": round(talk, 3), "ended_by": by}
    return None, (
        ev.AgentWrapsUp(agent_id, call.with_facts(outcome="ended")),
        ev.Note(f"ended by the {by} after {talk:.1f} s"),
        ev.Publish("ended", agent_id, data),
    )


def _is_agent_leg(call: ActiveCall, channel: str) -> bool:
    leg = call.facts.agent_channel
    return bool(leg) and leg_base(channel) == leg_base(leg)


# -- after a (re)connect -------------------------------------------------------------------------------
def _resync_waiting(call: ActiveCall, event: ev.Resynced) -> Result:
    return (call, ()) if event.caller_present else _abandoned(call, event.at)


def _resync_offered(call: ActiveCall, event: ev.Resynced) -> Result:
    """An agent was being rung: answered meanwhile (bridge now), still ringing, or gone (release)."""
    if not event.caller_present:
        if call.facts.bridge_in_doubt and not event.answered_leg:
            return _talk_unseen(call, event.at)
        return _abandoned(call, event.at)
    if event.answered_leg:
        return _bridge(call, event.at, event.answered_leg, event.bridged)
    if event.ringing:
        return call, ()
    note = ev.Note(f"the leg ringing agent {call.facts.agent_id} is gone; releasing", warn=True)
    return call, (note, ev.Requeue())


def _talk_unseen(call: ActiveCall, at: float) -> Result:
    """A Bridge went out unanswered (the link stalled) and, by the resync, the caller and the agent's
    answered leg are both gone. Asterisk executes an action it receives even after its sender gave
    up on the connection, and a Bridge that failed (the caller already gone) leaves the agent's leg
    waiting in its dialplan (`Wait(30)`): so the Bridge connected them and the talk ended while the
    engine was away. Settled as that talk (answered, then ended), never as an abandon."""
    connected, effects = _connected(call, at, call.facts.agent_channel)
    assert connected is not None
    _over, ending = _ended(connected, at, "caller")
    note = ev.Note("the Bridge sent before the link stalled connected the call; it ended unseen", warn=True)
    return None, (*effects, *ending, note)


def _resync_connected(call: ActiveCall, event: ev.Resynced) -> Result:
    if not event.caller_present:
        return _ended(call, event.at, "caller")
    return (call, ()) if event.talking else _ended(call, event.at, "agent")


# -- what the event stream carries ------------------------------------------------------------------------
def case_data(active: ActiveCall) -> dict[str, object]:
    call, facts = active.call, active.facts
    return {
        "call_id": call.id,
        "case_id": facts.case_id,
        "queue": call.queue,
        "tier": call.tier,
        "caller": facts.number or facts.caller,
        "dialled": facts.dialled,
        "ivr": facts.ivr,
        **({"campaign": facts.campaign, "lead_id": facts.lead_id} if call.outbound else {}),
    }


def handover(active: ActiveCall, waited: float) -> dict[str, object]:
    """What travels to the agent with the call (seed 004: the customer never repeats it)."""
    facts = active.facts
    return {
        **case_data(active),
        "agent_id": facts.agent_id,
        "waited": round(waited, 3),
        "summary": facts.summary,
        "matched": facts.matched,
        "customer": dict(facts.crm),
    }


# -- the table ---------------------------------------------------------------------------------------------
WAIT, OFFER, TALK = CallState.WAITING, CallState.OFFERED, CallState.CONNECTED
TABLE: dict[tuple[CallState | None, type], Handler] = {
    (None, ev.Arrived): _admit,
    (None, ev.RingAnswered): ignored,
    (None, ev.RingFailed): ignored,
    (None, ev.AgentRang): ignored,
    (None, ev.RingTimedOut): _timed_out,
    (None, ev.AgentAnswered): _hang_up_late,
    (None, ev.BridgeResult): ignored,
    (None, ev.ChannelGone): ignored,
    (None, ev.Resynced): ignored,
    (WAIT, ev.Arrived): ignored,  # announced twice
    (WAIT, ev.RingAnswered): ignored,
    (WAIT, ev.RingFailed): ignored,
    (WAIT, ev.AgentRang): ignored,
    (WAIT, ev.RingTimedOut): _timed_out,
    (WAIT, ev.AgentAnswered): _hang_up_late,
    (WAIT, ev.BridgeResult): ignored,
    (WAIT, ev.ChannelGone): _gone_waiting,
    (WAIT, ev.Resynced): _resync_waiting,
    (OFFER, ev.Arrived): ignored,
    (OFFER, ev.RingAnswered): _leg_up,
    (OFFER, ev.RingFailed): _ring_failed,
    (OFFER, ev.AgentRang): _ringing,
    (OFFER, ev.RingTimedOut): _timed_out,
    (OFFER, ev.AgentAnswered): _answered_offer,
    (OFFER, ev.BridgeResult): _bridge_result,
    (OFFER, ev.ChannelGone): _gone_offered,
    (OFFER, ev.Resynced): _resync_offered,
    (TALK, ev.Arrived): ignored,
    (TALK, ev.RingAnswered): ignored,
    (TALK, ev.RingFailed): ignored,
    (TALK, ev.AgentRang): ignored,
    (TALK, ev.RingTimedOut): ignored,  # the answer cancelled the ring timer; never cut a talk
    (TALK, ev.AgentAnswered): _answered_talk,
    (TALK, ev.BridgeResult): ignored,
    (TALK, ev.ChannelGone): _gone_connected,
    (TALK, ev.Resynced): _resync_connected,
}
