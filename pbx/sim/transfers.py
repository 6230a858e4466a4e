"""Transfers as Asterisk 22's manager does them, with the events it raises.

Checked against Asterisk 22.10.1 (recordings in tests/fixtures/ami/transfers/).

BlindTransfer (manager.c action_blind_transfer -> ast_bridge_transfer_blind): `Channel` is the
transferer, `Exten` the target, `Context` defaults to the transferer's. Errors in manager.c's
order: "No channel specified", "No extension specified", "Channel specified does not exist";
a transferer in no bridge is "Transfer invalid" (the BlindTransfer event still says so,
Result: Invalid). On success the reply "Transfer succeeded" comes first, then the transferer's
Unhold, BLINDTRANSFER is
set on both parties, the BlindTransfer event (Result: Success, IsExternal: Yes for a manager
action, the bridge as it was with both parties) comes BEFORE anyone leaves the bridge; then the
transferee leaves (BridgeLeave, already showing the target's Context/Exten), the transferer
leaves and goes on in its own dialplan after the bridge (the shipped [switchboard-agent] hangs
up), the bridge is destroyed and the transferee runs Exten@Context from priority 1.

Atxfer (manager.c action_atxfer): same three errors, then "No attended transfer feature code
found" when features.conf has no `atxfer` code (the action only queues that code and the digits
as DTMF), then "Atxfer successfully queued". A transferer whose bridge features do not allow a
transfer (no CHANNEL(dtmf_features)=T on an AMI-bridged leg) is acked and nothing else happens
(the digits reach the other party). The
transferer is put on Hold and the transferee hears music (MusicOnHoldStart) while BOTH stay in
their bridge; Exten@Context (Context also sets TRANSFER_CONTEXT; default: the channel's
TRANSFER_CONTEXT, else its context) is dialled as a Local channel. Answered, the target's leg
enters a new (consult) bridge and only then the transferer leaves the first bridge and joins it.
The transferer hanging up completes the transfer: it leaves the consult bridge, the transferee's
music stops, the target leaves the consult bridge and enters the FIRST bridge (the caller never
moves), then AttendedTransfer (Result: Success, DestType: Bridge, DestBridgeUniqueid: the first
bridge, Orig* with 2 channels, Second* with 0), then the transferer's Hangup. CancelAtxfer
("CancelAtxfer successfully queued") or a target that hangs up: the transferer leaves the
consult bridge and enters the first bridge again, music stops, Unhold, the consult bridge goes
and the target is hung up (no AttendedTransfer event). A target that does not answer: music
stops and Unhold (the transferer never left). A transferer in no bridge: nothing happens.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    core.emit(core.events.channel_event("Unhold", transferer))  # Asterisk takes the transferer off hold
    core.set_var(transferer, "BLINDTRANSFER", transferee.name)
    core.set_var(transferee, "BLINDTRANSFER", transferer.name)
    core.emit(blind_transfer_event(ctx, "Success", transferer, transferee, as_it_was, context, exten))
    core.interrupt(transferee)
    transferee.context, transferee.exten = context, exten  # Asterisk's BridgeLeave already shows them
    core.bridges.remove(bridge, transferee)
    core.bridges.dissolve(bridge)  # the transferer leaves and goes on in its dialplan
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
    first: Bridge  # the bridge of transferer and transferee; the transferee never leaves it
    target: Channel | None = None
    consult: Bridge | None = None
    done: bool = False


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
    if not core.config.atxfer_feature:
        ctx.error("No attended transfer feature code found")
        return
    if ctx.header("Context"):
        core.set_var(transferer, "TRANSFER_CONTEXT", ctx.header("Context"))
    context = transferer.var("TRANSFER_CONTEXT") or transferer.context
    ctx.ack("Atxfer successfully queued")
    bridge = transferer.bridge
    others = [m for m in bridge.members if m is not transferer] if bridge is not None else []
    if bridge is None or len(others) != 1 or transferer.uniqueid in core.consults:
        return
    if "T" not in transferer.dtmf_features:
        return  # no transfer feature on this leg: the code reaches the other party as DTMF, nothing else
    consult = _Consult(transferer, others[0], bridge)
    core.consults[transferer.uniqueid] = consult
    core.emit(core.events.channel_event("Hold", transferer))
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
    """The target answered (the consult begins) or did not (the transferer has the caller back)."""
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
    core.interrupt(target)
    second = Bridge(core.bridges.new_id(), core.clock.now())
    core.bridges.active[second.id] = second
    consult.consult = second
    core.emit(core.events.bridge_create(second))
    core.bridges.join(second, target)
    core.bridges.remove(consult.first, consult.transferer)
    core.bridges.join(second, consult.transferer)
    target.hangup_first.append(lambda: _back(ctx, consult, target_gone=True))


def _transferer_gone(ctx: ActionContext, consult: _Consult) -> None:
    """The transferer hangs up: with the target answered, that completes the transfer. (Tests may
    run this after the transferer's own hangup, the other order an engine must survive: then the
    consult bridge is already gone.)"""
    core, target, second = ctx.core, consult.target, consult.consult
    _finish(ctx, consult)
    if second is not None and consult.transferer.bridge is second:
        core.bridges.remove(second, consult.transferer)
    if target is None or second is None or target.hungup or consult.transferee.hungup:
        return
    later = core.sequencer.draw(core.config.order.hangup_before_attended_transfer)
    if later:
        core.sequencer.capture()
    core.stop_moh(consult.transferee)
    if target.bridge is second:
        core.bridges.remove(second, target)
    core.bridges.join(consult.first, target)
    core.emit(attended_transfer_event(ctx, consult, target, second))
    if second.id in core.bridges.active:
        core.bridges.destroy(second)
    core.arm_endpoint(target, bridged=True)
    if later:  # reported once the transferer's Hangup is out
        taken = core.sequencer.captured()
        consult.transferer.hangup_hooks.append(lambda: core.sequencer.send_later(taken))


def _back(ctx: ActionContext, consult: _Consult, *, target_gone: bool = False) -> None:
    """No transfer after all: the transferer is joined to the transferee again. `target_gone`: the
    target hangs up (it leaves the consult bridge first, as Asterisk reports it)."""
    core = ctx.core
    if consult.done:
        return
    _finish(ctx, consult)
    target, second = consult.target, consult.consult
    transferer = consult.transferer
    if target_gone and second is not None and target is not None and target.bridge is second:
        core.bridges.remove(second, target)
    if second is not None and transferer.bridge is second:
        core.bridges.remove(second, transferer)
    if not transferer.hungup and not consult.transferee.hungup and transferer.bridge is None:
        core.bridges.join(consult.first, transferer)
    core.stop_moh(consult.transferee)
    if not transferer.hungup:
        core.emit(core.events.channel_event("Unhold", transferer))
    if second is not None:
        if target is not None and target.bridge is second:
            core.bridges.remove(second, target)
        core.bridges.destroy(second)
    if target is not None and not target_gone and not target.hungup:
        core.hangup(target, 16, "soft")


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


def attended_transfer_event(
    ctx: ActionContext, consult: _Consult, target: Channel, second: Bridge
) -> Headers:
    """As Asterisk sends it once the target is in the first bridge: Orig* that bridge (2 channels),
    Second* the emptied consult bridge, the destination the first bridge."""
    events = ctx.core.events
    first = events.bridge_fields(consult.first)
    headers: Headers = [("Event", "AttendedTransfer"), ("Privilege", CALL), ("Result", "Success")]
    headers += events.channel_fields(consult.transferer, "OrigTransferer")
    headers += _prefixed(first, "Orig")
    headers += events.channel_fields(consult.transferer, "SecondTransferer")
    headers += _prefixed(events.bridge_fields(second), "Second")
    headers += events.channel_fields(consult.transferee, "Transferee")
    headers += events.channel_fields(target, "TransferTarget")
    headers += [("IsExternal", "No"), ("DestType", "Bridge"), ("DestBridgeUniqueid", consult.first.id)]
    return headers


TRANSFER_ACTIONS: dict[str, Handler] = {
    "blindtransfer": _blind_transfer,
    "atxfer": _atxfer,
    "cancelatxfer": _cancel_atxfer,
}
