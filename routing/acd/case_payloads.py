"""What the event stream carries of an inbound call (routing/acd/events.py publishes it): the case
every event names, and the handover that travels to the agent with the call. Pure: no I/O.
"""

from __future__ import annotations

from routing.acd.calls import ActiveCall


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
        data["transfer"] = transfer_info(active, "blind")
    return data


def transfer_info(call: ActiveCall, mode: str) -> dict[str, object]:
    facts = call.facts
    return {"from": facts.transferer or facts.transferred_from, "to": facts.transfer_target, "mode": mode}
