"""Inbound calls: a caller arrives on the trunk and enters the holding context.

The call is a single PJSIP channel (`PJSIP/<inbound_trunk>-<hex>`, state Ring,
the caller's number as CallerIDNum) that runs [switchboard-inbound]: it sets
SWITCHBOARD_CALL_ID=${UNIQUEID}, answers, sends `UserEvent: SwitchboardInbound`
(CallID, CallerIDNum, Dialled, IvrChoice) and waits on MusicOnHold until the
engine bridges or redirects it, or until the caller's patience runs out (the
caller hangs up: HangupRequest 16, MusicOnHoldStop, Hangup 16). An IVR choice
is set as SWITCHBOARD_IVR before the holding context runs, as an IVR would, and
a queue as SWITCHBOARD_QUEUE, as the DID's context does. A call may enter another context
instead (`context`, e.g. `switchboard-ivr` of the generated IVR menus), and carries the keys
its caller will press at each Read() (`keys`: "1", or "" for none).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pbx.sim.channels import RING, UNKNOWN, Channel

if TYPE_CHECKING:
    from pbx.sim.core import PbxCore

INBOUND_CONTEXT = "switchboard-inbound"


def place_inbound(
    core: PbxCore,
    caller: str,
    dialled: str,
    *,
    ivr_choice: str | None = None,
    queue: str | None = None,
    tier_hint: str | None = None,
    patience_s: float | None = None,
    talk_s: float | None = None,
    context: str = INBOUND_CONTEXT,
    keys: Sequence[str] = (),
    shard: str | None = None,
) -> Channel:
    """Start one inbound call now; returns its channel (already running the dialplan)."""
    core.processed_calls += 1
    channel = core.channels.new_single(
        "PJSIP", core.config.inbound_trunk, state=RING, context=context, exten=dialled
    )
    channel.keys = list(keys)
    channel.caller_num = caller or UNKNOWN
    core.emit(core.events.newchannel(channel))
    endpoint = core.endpoints.plan_caller(caller, tier_hint or "", patience_s, talk_s)
    core.attach(channel, endpoint, dialled=dialled)
    if ivr_choice:
        core.set_var(channel, "SWITCHBOARD_IVR", ivr_choice)
    if queue:  # the DID's context names the queue before its Goto
        core.set_var(channel, "SWITCHBOARD_QUEUE", queue)
    if shard:  # and, in a center split into ACD shards, the shard whose engines take the call
        core.set_var(channel, "SWITCHBOARD_SHARD", shard)
    core.arm_endpoint(channel, bridged=False)
    core.dialplan.goto(channel, context, dialled, 1)
    return channel
