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
"""

from __future__ import annotations

from pbx.sim.channels import Bridge, Channel
from pbx.sim.context import ActionContext, Handler
from pbx.sim.events import CALL, Headers


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


TRANSFER_ACTIONS: dict[str, Handler] = {
    "blindtransfer": _blind_transfer,
}
