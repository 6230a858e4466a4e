"""The inbound call table's transfers (routing/acd/lifecycle.py lists which (state, event) pair each
serves; docs/transfers.md). Pure: no I/O.

A transfer keeps the call: its id, case, summary and tier travel with it. Blind: the caller waits
again (target queue or skill, tier kept; or the named agent), the transferer goes into wrap-up.
Warm (state consulting): the caller holds with music, the transferer waits in
[switchboard-transfer] while the target is rung, then talks to them; the transferer stays until
they complete (the caller is joined to the target), cancel or the consult fails (the caller is
joined back to them); a transferer who hangs up during the consult completes it, as on a phone.
A phone that sends the caller out of the ACD ends the call here, tracked.
"""

from __future__ import annotations

from routing.acd import call_events as ev
from routing.acd.call_events import Result
from routing.acd.calls import ActiveCall, CallState, leg_base
from routing.acd.case_payloads import case_data, handover, transfer_info
from routing.acd.offer_transitions import hang_up_late, is_call_leg


# -- blind ---------------------------------------------------------------------------------------------
def blind(call: ActiveCall, event: ev.TransferAsked) -> Result:
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


# -- warm: the consult ----------------------------------------------------------------------------------
def consult(call: ActiveCall, event: ev.ConsultAsked) -> Result:
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


def consult_cancelled(call: ActiveCall, event: ev.ConsultCancelled) -> Result:
    return _back_to_transferer(call, event.reason, target_answered=False)


def consult_ring_failed(call: ActiveCall, event: ev.RingFailed) -> Result:
    back, effects = _back_to_transferer(call, f"agent did not answer: {event.reason}", target_answered=True)
    # the target missed the ring: counted like any missed ring (instead of freeing them)
    return back, (*(e for e in effects if not isinstance(e, ev.AgentLeaves)), ev.Missed(call.facts.agent_id))


def consult_timed_out(call: ActiveCall, event: ev.RingTimedOut) -> Result:
    back, effects = _back_to_transferer(call, "no OriginateResponse in time", target_answered=False)
    return back, (*(e for e in effects if not isinstance(e, ev.AgentLeaves)), ev.Missed(event.agent_id))


def consult_answered(call: ActiveCall, event: ev.AgentAnswered) -> Result:
    if call.facts.agent_id != event.agent_id:
        return hang_up_late(call, event)
    return call, (ev.Bridge(call.facts.transferer_channel, event.channel),)


def consult_bridged(call: ActiveCall, event: ev.BridgeResult) -> Result:
    """The transferer and the target talk; the target gets the case now (before the caller)."""
    if event.bridged is None:
        return call, ()
    if not event.bridged:  # the transferer is gone: as on a phone, that completes the transfer
        return _complete(call.with_facts(agent_channel=event.channel), event.at)
    moved = call.with_facts(agent_channel=event.channel)
    target = moved.facts.agent_id
    data = {**handover(moved, event.at - call.call.since), "transfer": transfer_info(moved, "warm")}
    return moved, (ev.AgentTalks(target, moved), ev.Publish("handover", target, data))


def completed(call: ActiveCall, event: ev.ConsultCompleted) -> Result:
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


def gone_consulting(call: ActiveCall, event: ev.ChannelGone) -> Result:
    facts = call.facts
    if event.uniqueid == facts.uniqueid:
        return _consult_caller_gone(call, event.at)
    if leg_base(event.channel) == leg_base(facts.transferer_channel):
        return _complete(call, event.at)
    if is_call_leg(call, event.channel):  # the target hung up during the consult
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


def resync_consulting(call: ActiveCall, event: ev.Resynced) -> Result:
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


# -- out of the ACD -------------------------------------------------------------------------------------
def transferred_out(call: ActiveCall, event: ev.TransferredOut) -> Result:
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
