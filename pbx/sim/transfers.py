"""Transfers as Asterisk 22's manager does them, with the events it raises.

BlindTransfer (manager.c action_blind_transfer -> ast_bridge_transfer_blind): `Channel` is the
transferer, `Exten` the target, `Context` defaults to the transferer's. Errors in manager.c's
order: "No channel specified", "No extension specified", "Channel specified does not exist";
a transferer in no bridge is "Transfer invalid" (the BlindTransfer event still says so,
Result: Invalid). On success the reply "Transfer succeeded" comes first, then, as the bridge
core does it: the transferer is removed (BridgeLeave), BlindTransfer (Result: Success,
IsExternal: Yes for a manager action, the bridge as it was with both parties), the transferee
leaves (BridgeLeave, BridgeDestroy) and runs Exten@Context from priority 1; the transferer goes
on in its own dialplan after the bridge (the shipped [switchboard-agent] hangs up).

Atxfer (manager.c action_atxfer: the `atxfer` feature of the transferer's bridge): same three
errors, then "Atxfer successfully queued". A transferer in a two-party bridge leaves it
(BridgeLeave), the transferee hears music (MusicOnHoldStart) and Exten@Context (Context also
sets TRANSFER_CONTEXT; default: the channel's TRANSFER_CONTEXT, else its context) is dialled
as a Local channel that runs no dialplan of its own. Answered, it is bridged with the
transferer (the consult). The transferer hanging up completes the transfer: AttendedTransfer
(Result: Success, DestType: Bridge, the transferer's two bridges, Transferee*, TransferTarget*)
comes before the transferer's own hangup events, then the transferee's MusicOnHoldStop and its
bridge with the target. CancelAtxfer ("CancelAtxfer successfully queued"), a target that does
not answer, or a target that hangs up, return the transferer to the transferee (no
AttendedTransfer event). A transferer in no bridge: the feature has nothing to act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pbx.sim.channels import Bridge, Channel
from pbx.sim.context import ActionContext, Handler
from pbx.sim.endpoints import parse_dial_string
from pbx.sim.events import CALL, Headers
from pbx.sim.originate import OriginateRequest

_CONSULT_VAR = "SIM_ATXFER_OF"


def blind_transfer_event(  # noqa: PLR0917 - mirrors the event's fields
    ctx: ActionContext,
    result: str,
    transferer: Channel,
    transferee: Channel | None,
    bridge: Headers,
    context: str,
    exten: str,
) -> Headers:
    events = ctx.core.events
    headers: Headers = [("Event", "BlindTransfer"), ("Privilege", CALL), ("Result", result)]
    headers += events.channel_fields(transferer, "Transferer")
    if transferee is not None:
        headers += events.channel_fields(transferee, "Transferee")
    headers += bridge
    headers += [("IsExternal", "Yes"), ("Context", context), ("Extension", exten)]
    return headers


def _blind_transfer(ctx: ActionContext) -> None:
    name, exten = ctx.header("Channel"), ctx.header("Exten")
    if not name:
        ctx.error("No channel specified")
        return
    if not exten:
        ctx.error("No extension specified")
        return
    core = ctx.core
    transferer = core.channels.get(name)
    if transferer is None:
        ctx.error("Channel specified does not exist")
        return
    context = ctx.header("Context") or transferer.context
    bridge = transferer.bridge
    others = [m for m in bridge.members if m is not transferer] if bridge is not None else []
    if bridge is None or len(others) != 1:
        ctx.error("Transfer invalid")
        core.emit(blind_transfer_event(ctx, "Invalid", transferer, None, [], context, exten))
        return
    ctx.ack("Transfer succeeded")
    _move_transferee(ctx, bridge, transferer, others[0], context, exten)


def _move_transferee(  # noqa: PLR0917 - one step of the transfer, with its parties
    ctx: ActionContext, bridge: Bridge, transferer: Channel, transferee: Channel, context: str, exten: str
) -> None:
    core = ctx.core
    as_it_was = core.events.bridge_fields(bridge)
    core.interrupt(transferee)
    core.bridges.remove(bridge, transferer)
    core.soon(lambda: core.resume_after_bridge(transferer))
    core.emit(blind_transfer_event(ctx, "Success", transferer, transferee, as_it_was, context, exten))
    core.bridges.dissolve(bridge, moved=(transferee,))
    core.arm_endpoint(transferee, bridged=False)

    def go() -> None:
        if not transferee.hungup:
            core.dialplan.goto(transferee, context, exten, 1)

    core.soon(go)


@dataclass(eq=False)
class _Consult:
    """One attended transfer under way: who transfers whom, to which target leg."""

    transferer: Channel
    transferee: Channel
    orig: Headers  # the original bridge's fields, as it was with both parties
    target: Channel | None = None
    done: bool = False
    consult_bridge: Headers = field(default_factory=list)


def _transferer(ctx: ActionContext) -> Channel | None:
    name, exten = ctx.header("Channel"), ctx.header("Exten")
    if not name:
        ctx.error("No channel specified")
        return None
    if not exten and ctx.action.name.lower() == "atxfer":
        ctx.error("No extension specified")
        return None
    channel = ctx.core.channels.get(name)
    if channel is None:
        ctx.error("Channel specified does not exist")
    return channel


def _atxfer(ctx: ActionContext) -> None:
    transferer = _transferer(ctx)
    if transferer is None:
        return
    core = ctx.core
    if ctx.header("Context"):
        core.set_var(transferer, "TRANSFER_CONTEXT", ctx.header("Context"))
    context = transferer.var("TRANSFER_CONTEXT") or transferer.context
    ctx.ack("Atxfer successfully queued")
    bridge = transferer.bridge
    others = [m for m in bridge.members if m is not transferer] if bridge is not None else []
    if bridge is None or len(others) != 1 or transferer.uniqueid in core.consults:
        return
    consult = _Consult(transferer, others[0], core.events.bridge_fields(bridge))
    core.consults[transferer.uniqueid] = consult
    core.interrupt(transferer)
    core.bridges.remove(bridge, transferer)  # the transferee stays in it, on hold
    consult.transferee.moh_class = "default"
    core.emit(core.events.moh_start(consult.transferee, "default"))
    request = OriginateRequest(
        target=parse_dial_string(f"Local/{ctx.header('Exten')}@{context}", core.config),
        application="Wait",
        data="3600",
        variables=((_CONSULT_VAR, transferer.uniqueid),),
        is_async=False,
    )
    ctx.originator.start(request, lambda ok, reason: _dialled(ctx, consult, ok))
    transferer.hangup_first.append(lambda: _transferer_gone(ctx, consult))


def _dialled(ctx: ActionContext, consult: _Consult, ok: bool) -> None:
    core = ctx.core
    if consult.done or consult.transferer.hungup:
        return
    target = next(
        (c for c in core.channels if c.var(_CONSULT_VAR) == consult.transferer.uniqueid and c.half in (0, 1)),
        None,
    )
    if not ok or target is None:
        _back(ctx, consult)
        return
    consult.target = target
    bridge = core.bridges.bridge(consult.transferer, target)
    consult.consult_bridge = core.events.bridge_fields(bridge)
    target.hangup_first.append(lambda: _back(ctx, consult))


def _transferer_gone(ctx: ActionContext, consult: _Consult) -> None:
    """The transferer hangs up: with the target answered, that completes the transfer."""
    core, target = ctx.core, consult.target
    if consult.done or target is None or target.hungup or consult.transferee.hungup:
        _finish(ctx, consult)
        return
    _finish(ctx, consult)
    core.emit(attended_transfer_event(ctx, consult, target))
    core.stop_moh(consult.transferee)
    core.bridges.bridge(consult.transferee, target)


def _back(ctx: ActionContext, consult: _Consult) -> None:
    """No transfer after all: the transferer is joined to the transferee again."""
    core = ctx.core
    if consult.done:
        return
    _finish(ctx, consult)
    target = consult.target
    if target is not None and not target.hungup:
        core.hangup(target, 16, "soft")
    if not consult.transferer.hungup and not consult.transferee.hungup:
        core.stop_moh(consult.transferee)
        core.bridges.bridge(consult.transferee, consult.transferer)


def _finish(ctx: ActionContext, consult: _Consult) -> None:
    consult.done = True
    ctx.core.consults.pop(consult.transferer.uniqueid, None)


def _cancel_atxfer(ctx: ActionContext) -> None:
    transferer = _transferer(ctx)
    if transferer is None:
        return
    ctx.ack("CancelAtxfer successfully queued")
    consult = ctx.core.consults.get(transferer.uniqueid)
    if isinstance(consult, _Consult):
        _back(ctx, consult)


def _prefixed(bridge: Headers, prefix: str) -> Headers:
    return [(prefix + key, value) for key, value in bridge]


def attended_transfer_event(ctx: ActionContext, consult: _Consult, target: Channel) -> Headers:
    events = ctx.core.events
    second = consult.consult_bridge
    headers: Headers = [("Event", "AttendedTransfer"), ("Privilege", CALL), ("Result", "Success")]
    headers += events.channel_fields(consult.transferer, "OrigTransferer")
    headers += _prefixed(consult.orig, "Orig")
    headers += events.channel_fields(consult.transferer, "SecondTransferer")
    headers += _prefixed(second, "Second")
    headers += [("IsExternal", "No"), ("DestType", "Bridge")]
    headers += [("DestBridgeUniqueid", dict(second).get("BridgeUniqueid", ""))]
    headers += events.channel_fields(consult.transferee, "Transferee")
    headers += events.channel_fields(target, "TransferTarget")
    return headers


TRANSFER_ACTIONS: dict[str, Handler] = {
    "blindtransfer": _blind_transfer,
    "atxfer": _atxfer,
    "cancelatxfer": _cancel_atxfer,
}
