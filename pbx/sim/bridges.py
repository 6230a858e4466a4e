"""Basic two-party bridges, as the AMI Bridge action makes them.

Recorded behaviour kept here: BridgeCreate (0 channels), BridgeEnter per
channel with the running count, then a BRIDGEPEER VarSet on each; the members
share the oldest Linkedid. When one member leaves (hangup or Redirect) the
other is ejected too (BridgeLeave each, then BridgeDestroy) and continues its
own dialplan at the priority after the one it was bridged from (the after-goto
of features.c); a channel that was running an Originate's Application simply
ends.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from pbx.sim.channels import Bridge, Channel, linkedid_key

if TYPE_CHECKING:
    from pbx.sim.core import PbxCore


class Bridges:
    def __init__(self, core: PbxCore) -> None:
        self.core = core
        self.active: dict[str, Bridge] = {}

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.core.rng.getrandbits(128), version=4))

    def bridge(self, one: Channel, two: Channel) -> Bridge:
        """Pull both channels out of what they are doing and connect them, in Asterisk 22.10.1's
        order (recorded, tests/fixtures/ami/transfers/engine-warm-complete.txt): the new bridge is
        created first; each channel in turn stops its music, leaves the bridge it was in and enters
        the new one; only then is a bridge left behind emptied (its other member ejected, going on
        in its dialplan) and destroyed."""
        bridge = Bridge(self.new_id(), self.core.clock.now())
        self.active[bridge.id] = bridge
        self.core.emit(self.core.events.bridge_create(bridge))
        left: list[Bridge] = []
        for channel in (one, two):
            self.core.interrupt(channel)
            old = channel.bridge
            if old is not None:
                self.remove(old, channel)
                left.append(old)
            self._enter(bridge, channel)
        for channel, peer in ((one, two), (two, one)):
            self.core.set_var(channel, "BRIDGEPEER", peer.name)
        for old in left:
            if old.id in self.active:
                self.dissolve(old)
        for channel in (one, two):
            self.core.arm_endpoint(channel, bridged=True)
        return bridge

    def join(self, bridge: Bridge, channel: Channel) -> None:
        """`channel` enters an existing bridge (an attended transfer's moves), BRIDGEPEER set on both."""
        self._enter(bridge, channel)
        for member in bridge.members:
            peer = next((other for other in bridge.members if other is not member), None)
            if peer is not None:
                self.core.set_var(member, "BRIDGEPEER", peer.name)

    def destroy(self, bridge: Bridge) -> None:
        """An empty bridge goes (BridgeDestroy)."""
        self.active.pop(bridge.id, None)
        self.core.emit(self.core.events.bridge_destroy(bridge))

    def _enter(self, bridge: Bridge, channel: Channel) -> None:
        bridge.members.append(channel)
        channel.bridge = bridge
        oldest = min((member.linkedid for member in bridge.members), key=linkedid_key)
        for member in bridge.members:
            member.linkedid = oldest
        self.core.emit(self.core.events.bridge_enter(bridge, channel))

    def leave(self, channel: Channel, *, moved: tuple[Channel, ...] = ()) -> None:
        """`channel` leaves; a basic bridge then ejects the rest and is destroyed. A member in
        `moved` (the other half of a dual Redirect) goes where it was sent, not on in its dialplan."""
        bridge = channel.bridge
        if bridge is None:
            return
        self.remove(bridge, channel)
        self.dissolve(bridge, moved=moved)

    def dissolve(self, bridge: Bridge, *, moved: tuple[Channel, ...] = ()) -> None:
        """Eject every member left (each continues its dialplan unless `moved`) and destroy the bridge."""
        for other in list(bridge.members):
            self.remove(bridge, other)
            if other not in moved:
                self.core.soon(lambda other=other: self.core.resume_after_bridge(other))  # type: ignore[misc]
        self.active.pop(bridge.id, None)
        self.core.emit(self.core.events.bridge_destroy(bridge))

    def remove(self, bridge: Bridge, channel: Channel) -> None:
        bridge.members.remove(channel)
        channel.bridge = None
        self.core.emit(self.core.events.bridge_leave(bridge, channel))
