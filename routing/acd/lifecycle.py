"""One inbound call's life as a table: `apply(call, event) -> (call, effects)`. Pure: no I/O.

States: unknown or over (`None`), `waiting`, `offered` (an agent is rung; the caller hears
music), `connected` (bridged to the agent), `consulting` (a warm transfer: the caller holds with
music, the transferer waits in [switchboard-transfer] while the target is rung, then talks to
them). Events and effects are in routing/acd/call_events.py; the shell (routing/acd/callflow.py)
matches Asterisk's reports to a call, applies them here and performs the effects in order (AMI
through the executor, Redis and the agent table through the dispatcher). Rules the table keeps (docs/acd.md):
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


def _bridge_seen(call: ActiveCall, event: ev.BridgeSeen) -> Result:
    """Asterisk shows the caller and the agent's leg in one bridge: the call is connected, even if
    the Bridge's answer never came in time (the link stayed up, so no resync settles it). Its talk
    is timed from here; the hangups that follow end it as any talk."""
    if call.facts.agent_channel and not _is_agent_leg(call, event.channel):
        return call, ()  # not the offered agent's leg
    return _connected(call, event.at, event.channel)


def _connected(call: ActiveCall, at: float, channel: str) -> Result:
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


# -- transfers -----------------------------------------------------------------------------------------
def _blind(call: ActiveCall, event: ev.TransferAsked) -> Result:
    """The caller waits again (music in [switchboard-transfer]) with the case; the agent wraps up."""
    facts, agent_id = call.facts, call.facts.agent_id
    moved = ActiveCall(event.moved, facts).waiting_again(event.moved)
    moved = moved.with_facts(
        transfers=facts.transfers + 1,
        transferred_from=agent_id,
        transfer_target=event.target,
        answered_at=None,
    )
    exten = _exten(event.target)
    move = () if event.by_phone else (ev.MoveCaller(facts.agent_channel, facts.channel, exten),)
    data = {
        **case_data(call),
        "from": agent_id,
        "to": event.target,
        "mode": "blind",
        "summary": facts.summary,
    }
    return moved, (
        ev.Save(moved), ev.AgentLeaves(agent_id, wrap_up=True), *move,
        ev.Note(f"agent {agent_id} transferred the caller to {event.target} (blind)"),
        ev.Publish("transferred", agent_id, data), ev.Route(event.agent),
    )  # fmt: skip


def _exten(target: str) -> str:
    """`queue:billing` -> `queue-billing`: the [switchboard-transfer] extension the caller holds in."""
    return target.replace(":", "-", 1)


def _consult(call: ActiveCall, event: ev.ConsultAsked) -> Result:
    """The caller holds, the transferer waits in [switchboard-transfer], the target is rung."""
    facts = call.facts
    moved = call.with_facts(
        state=CallState.CONSULTING, transferer=facts.agent_id, transferer_channel=facts.agent_channel,
        agent_id="", action_id="", agent_channel="", transfer_target=event.target,
    )  # fmt: skip
    note = ev.Note(f"agent {facts.agent_id} consults {event.agent} ({event.target}) before transferring")
    return moved, (
        ev.HoldForConsult(facts.channel, facts.agent_channel),
        ev.Save(moved),
        note,
        ev.OfferConsult(event.agent),
    )


def _back_to_transferer(call: ActiveCall, why: str, *, target_answered: bool) -> Result:
    """The consult is over without a transfer: the caller is joined back to the transferer; the
    target (rung or talking) is free again."""
    facts = call.facts
    back = call.with_facts(
        state=CallState.CONNECTED, agent_id=facts.transferer, agent_channel=facts.transferer_channel,
        action_id="", transferer="", transferer_channel="",
    )  # fmt: skip
    target = facts.agent_id
    hang = (ev.HangUpLegs(),) if not target_answered else ()
    leaves = (ev.AgentLeaves(target, wrap_up=False),) if target else ()
    data = {**case_data(back), "from": facts.transferer, "to": facts.transfer_target, "reason": why}
    return back, (
        ev.Save(back),
        ev.Bridge(facts.channel, facts.transferer_channel),
        *hang,
        *leaves,
        ev.Note(f"transfer to {facts.transfer_target} not done ({why}); back to agent {facts.transferer}"),
        ev.Publish("transfer_cancelled", facts.transferer, data),
    )


def _consult_cancelled(call: ActiveCall, event: ev.ConsultCancelled) -> Result:
    return _back_to_transferer(call, event.reason, target_answered=False)


def _consult_ring_failed(call: ActiveCall, event: ev.RingFailed) -> Result:
    back, effects = _back_to_transferer(call, f"agent did not answer: {event.reason}", target_answered=True)
    # the target missed the ring: counted like any missed ring (instead of freeing them)
    return back, (*(e for e in effects if not isinstance(e, ev.AgentLeaves)), ev.Missed(call.facts.agent_id))


def _consult_timed_out(call: ActiveCall, event: ev.RingTimedOut) -> Result:
    back, effects = _back_to_transferer(call, "no OriginateResponse in time", target_answered=False)
    return back, (*(e for e in effects if not isinstance(e, ev.AgentLeaves)), ev.Missed(event.agent_id))


def _consult_answered(call: ActiveCall, event: ev.AgentAnswered) -> Result:
    if call.facts.agent_id != event.agent_id:
        return _hang_up_late(call, event)
    return call, (ev.Bridge(call.facts.transferer_channel, event.channel),)


def _consult_bridged(call: ActiveCall, event: ev.BridgeResult) -> Result:
    """The transferer and the target talk; the target gets the case now (before the caller)."""
    if event.bridged is None:
        return call, ()
    if not event.bridged:  # the transferer is gone: as on a phone, that completes the transfer
        return _complete(call.with_facts(agent_channel=event.channel), event.at)
    moved = call.with_facts(agent_channel=event.channel)
    target = moved.facts.agent_id
    data = {**handover(moved, event.at - call.call.since), "transfer": _transfer_info(moved, "warm")}
    return moved, (ev.AgentTalks(target, moved), ev.Publish("handover", target, data))


def _transfer_info(call: ActiveCall, mode: str) -> dict[str, object]:
    facts = call.facts
    return {"from": facts.transferer or facts.transferred_from, "to": facts.transfer_target, "mode": mode}


def _completed(call: ActiveCall, event: ev.ConsultCompleted) -> Result:
    return _complete(call, event.at)


def _complete(call: ActiveCall, at: float) -> Result:
    """The caller is joined to the target; the transferer's part is over (wrap-up)."""
    facts = call.facts
    if not facts.agent_channel:  # the target has not answered: it becomes a plain offer to them
        moved = call.with_facts(
            state=CallState.OFFERED, transferer="", transferer_channel="", transfers=facts.transfers + 1,
            transferred_from=facts.transferer,
        )  # fmt: skip
        return moved, (
            ev.Save(moved), ev.AgentLeaves(facts.transferer, wrap_up=True),
            ev.Note(f"agent {facts.transferer} left the consult; the caller goes to agent {facts.agent_id}"),
        )  # fmt: skip
    moved = call.with_facts(
        state=CallState.CONNECTED, transferer="", transferer_channel="", transfers=facts.transfers + 1,
        transferred_from=facts.transferer, answered_at=at,
    )  # fmt: skip
    data = {**case_data(moved), "from": facts.transferer, "to": facts.transfer_target, "mode": "warm",
            "agent_id": facts.agent_id, "summary": facts.summary}  # fmt: skip
    return moved, (
        ev.Save(moved), ev.Bridge(facts.channel, facts.agent_channel),
        ev.AgentLeaves(facts.transferer, wrap_up=True),
        ev.Note(f"agent {facts.transferer} transferred the caller to agent {facts.agent_id} (warm)"),
        ev.Publish("transferred", facts.transferer, data),
    )  # fmt: skip


def _gone_consulting(call: ActiveCall, event: ev.ChannelGone) -> Result:
    facts = call.facts
    if event.uniqueid == facts.uniqueid:
        return _consult_caller_gone(call, event.at)
    if leg_base(event.channel) == leg_base(facts.transferer_channel):
        return _complete(call, event.at)
    if _is_agent_leg(call, event.channel):  # the target hung up during the consult
        return _back_to_transferer(call, "the consulted agent hung up", target_answered=True)
    return call, ()


def _consult_caller_gone(call: ActiveCall, at: float) -> Result:
    """The caller hung up on hold: both legs go, the transferer wraps up, the call ends."""
    facts = call.facts
    ended = call.with_facts(
        agent_id=facts.transferer,
        agent_channel=facts.transferer_channel,
        outcome="ended",
        state=CallState.CONNECTED,
    )
    talk = at - (facts.answered_at or at)
    data = {**case_data(call), "talk": round(talk, 3), "ended_by": "caller"}
    leaves = (ev.AgentLeaves(facts.agent_id, wrap_up=bool(facts.agent_channel)),) if facts.agent_id else ()
    return None, (
        ev.HangUpLegs(), ev.HangUp(facts.transferer_channel), *leaves,
        ev.AgentWrapsUp(facts.transferer, ended), ev.Note(f"caller hung up on hold after {talk:.1f} s"),
        ev.Publish("ended", facts.transferer, data),
    )  # fmt: skip


def _resync_consulting(call: ActiveCall, event: ev.Resynced) -> Result:
    """After a reconnect the consult cannot be trusted: the caller (still holding with music) waits
    again in their queue with the case; both agents are let go."""
    facts = call.facts
    if not event.caller_present:
        return _consult_caller_gone(call, event.at)
    moved = call.waiting_again(call.call).with_facts(
        transferer="", transferer_channel="", transfers=facts.transfers + 1, transferred_from=facts.transferer
    )
    leaves = (ev.AgentLeaves(facts.agent_id, wrap_up=False),) if facts.agent_id else ()
    return moved, (
        ev.HangUpLegs(), ev.HangUp(facts.transferer_channel), ev.Save(moved), *leaves,
        ev.AgentLeaves(facts.transferer, wrap_up=True),
        ev.Note("a consult was under way across a reconnect; the caller waits again", warn=True),
        ev.Route(),
    )  # fmt: skip


def _transferred_out(call: ActiveCall, event: ev.TransferredOut) -> Result:
    """A phone sent the caller out of the ACD: the call ends here, tracked; the agent wraps up."""
    agent_id = call.facts.agent_id
    ended = call.with_facts(outcome="transferred", exit_to=event.target, transferred_from=agent_id)
    data = {**case_data(call), "from": agent_id, "to": event.target, "mode": event.kind,
            "summary": call.facts.summary}  # fmt: skip
    return None, (
        ev.AgentWrapsUp(agent_id, ended),
        ev.Note(f"agent {agent_id}'s phone transferred the caller to {event.target} ({event.kind})"),
        ev.Publish("transferred", agent_id, data),
    )


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
    data: dict[str, object] = {
        **case_data(active),
        "agent_id": facts.agent_id,
        "waited": round(waited, 3),
        "summary": facts.summary,
        "opened_by": facts.opened_by,
        "matched": facts.matched,
        "customer": dict(facts.crm),
    }
    if facts.transfers:
        data["transfer"] = _transfer_info(active, "blind")
    return data


# -- the table ---------------------------------------------------------------------------------------------
WAIT, OFFER, TALK, CONSULT = CallState.WAITING, CallState.OFFERED, CallState.CONNECTED, CallState.CONSULTING
_ASKED = (ev.TransferAsked, ev.ConsultAsked, ev.ConsultCompleted, ev.ConsultCancelled, ev.TransferredOut)
TABLE: dict[tuple[CallState | None, type], Handler] = {
    (None, ev.Arrived): _admit,
    (None, ev.RingAnswered): ignored,
    (None, ev.RingFailed): ignored,
    (None, ev.AgentRang): ignored,
    (None, ev.RingTimedOut): _timed_out,
    (None, ev.AgentAnswered): _hang_up_late,
    (None, ev.BridgeResult): ignored,
    (None, ev.BridgeSeen): ignored,  # the call ended already (its hangup came first)
    (None, ev.ChannelGone): ignored,
    (None, ev.Resynced): ignored,
    (WAIT, ev.Arrived): ignored,  # announced twice
    (WAIT, ev.RingAnswered): ignored,
    (WAIT, ev.RingFailed): ignored,
    (WAIT, ev.AgentRang): ignored,
    (WAIT, ev.RingTimedOut): _timed_out,
    (WAIT, ev.AgentAnswered): _hang_up_late,
    (WAIT, ev.BridgeResult): ignored,
    (WAIT, ev.BridgeSeen): ignored,  # no agent is offered: nobody to connect it to
    (WAIT, ev.ChannelGone): _gone_waiting,
    (WAIT, ev.Resynced): _resync_waiting,
    (OFFER, ev.Arrived): ignored,
    (OFFER, ev.RingAnswered): _leg_up,
    (OFFER, ev.RingFailed): _ring_failed,
    (OFFER, ev.AgentRang): _ringing,
    (OFFER, ev.RingTimedOut): _timed_out,
    (OFFER, ev.AgentAnswered): _answered_offer,
    (OFFER, ev.BridgeResult): _bridge_result,
    (OFFER, ev.BridgeSeen): _bridge_seen,
    (OFFER, ev.ChannelGone): _gone_offered,
    (OFFER, ev.Resynced): _resync_offered,
    (TALK, ev.Arrived): ignored,
    (TALK, ev.RingAnswered): ignored,
    (TALK, ev.RingFailed): ignored,
    (TALK, ev.AgentRang): ignored,
    (TALK, ev.RingTimedOut): ignored,  # the answer cancelled the ring timer; never cut a talk
    (TALK, ev.AgentAnswered): _answered_talk,
    (TALK, ev.BridgeResult): ignored,
    (TALK, ev.BridgeSeen): ignored,  # connected already (the Bridge's answer came first)
    (TALK, ev.ChannelGone): _gone_connected,
    (TALK, ev.Resynced): _resync_connected,
    # transfers are asked of a connected call only (the API checks the state first; late or
    # duplicated asks elsewhere do nothing)
    **{(state, event): ignored for state in (None, WAIT, OFFER) for event in _ASKED},
    (TALK, ev.TransferAsked): _blind,
    (TALK, ev.ConsultAsked): _consult,
    (TALK, ev.ConsultCompleted): ignored,
    (TALK, ev.ConsultCancelled): ignored,
    (TALK, ev.TransferredOut): _transferred_out,
    (CONSULT, ev.Arrived): ignored,
    (CONSULT, ev.RingAnswered): _leg_up,
    (CONSULT, ev.RingFailed): _consult_ring_failed,
    (CONSULT, ev.AgentRang): _ringing,
    (CONSULT, ev.RingTimedOut): _consult_timed_out,
    (CONSULT, ev.AgentAnswered): _consult_answered,
    (CONSULT, ev.BridgeResult): _consult_bridged,
    (CONSULT, ev.BridgeSeen): ignored,  # the caller holds; the consult's own Bridge answers for it
    (CONSULT, ev.ChannelGone): _gone_consulting,
    (CONSULT, ev.Resynced): _resync_consulting,
    (CONSULT, ev.TransferAsked): ignored,
    (CONSULT, ev.ConsultAsked): ignored,
    (CONSULT, ev.ConsultCompleted): _completed,
    (CONSULT, ev.ConsultCancelled): _consult_cancelled,
    (CONSULT, ev.TransferredOut): ignored,  # the caller holds in the engine's context, not bridged
}
