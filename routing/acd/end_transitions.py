"""The inbound call table's hangups and resyncs: how a call ends (abandoned before an answer, ended
after a talk) and how it is settled by what Asterisk shows after a (re)connect (routing/acd/lifecycle.py
lists which (state, event) pair each serves). Pure: no I/O.

Rules kept here: a call ends once (the caller's hangup closes it; an agent's leg gone before the
bridge is a missed ring, not an end); only inbound calls count as abandoned; a Bridge sent before
the link stalled whose caller and answered leg are gone by the resync is settled as a talk that
ended unseen, never as an abandon.
"""

from __future__ import annotations

from routing.acd import call_events as ev
from routing.acd.call_events import Effect, Result
from routing.acd.calls import ActiveCall, CallState
from routing.acd.case_payloads import case_data
from routing.acd.offer_transitions import bridge, connected, is_call_leg


# -- hangups -------------------------------------------------------------------------------------------
def gone_waiting(call: ActiveCall, event: ev.ChannelGone) -> Result:
    return _abandoned(call, event.at) if event.uniqueid == call.facts.uniqueid else (call, ())


def gone_offered(call: ActiveCall, event: ev.ChannelGone) -> Result:
    if event.uniqueid == call.facts.uniqueid:
        return _abandoned(call, event.at)
    if is_call_leg(call, event.channel):  # answered, then gone before the bridge
        return call, (ev.Missed(call.facts.agent_id),)
    return call, ()


def gone_connected(call: ActiveCall, event: ev.ChannelGone) -> Result:
    if event.uniqueid == call.facts.uniqueid:
        return _ended(call, event.at, "caller")
    if is_call_leg(call, event.channel):
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


# -- after a (re)connect -------------------------------------------------------------------------------
def resync_waiting(call: ActiveCall, event: ev.Resynced) -> Result:
    return (call, ()) if event.caller_present else _abandoned(call, event.at)


def resync_offered(call: ActiveCall, event: ev.Resynced) -> Result:
    """An agent was being rung: answered meanwhile (bridge now), still ringing, or gone (release)."""
    if not event.caller_present:
        if call.facts.bridge_in_doubt and not event.answered_leg:
            return _talk_unseen(call, event.at)
        return _abandoned(call, event.at)
    if event.answered_leg:
        return bridge(call, event.at, event.answered_leg, event.bridged)
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
    talk, effects = connected(call, at, call.facts.agent_channel)
    assert talk is not None
    _over, ending = _ended(talk, at, "caller")
    note = ev.Note("the Bridge sent before the link stalled connected the call; it ended unseen", warn=True)
    return None, (*effects, *ending, note)


def resync_connected(call: ActiveCall, event: ev.Resynced) -> Result:
    if not event.caller_present:
        return _ended(call, event.at, "caller")
    return (call, ()) if event.talking else _ended(call, event.at, "agent")
