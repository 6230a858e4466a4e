"""The channels Asterisk has, as the call tracker keeps them. Pure: no asyncio, no I/O.

Channels by Uniqueid, grouped by Linkedid, indexed by the engine's call id and by
bridge, plus a short ring of recent hangups that keeps late events from bringing a
dead channel back. pbx.tracker reads events and drives this table; every change it
makes is appended to the caller's `changes` list (the records of pbx.call_changes).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sized
from typing import NamedTuple

from pbx.call_changes import (
    Bridged,
    CallChange,
    CallEnded,
    CallIdBound,
    ChannelAnswered,
    ChannelHungUp,
    ChannelInfo,
    ChannelUp,
    Unbridged,
)
from pbx.codec import Event

STATE_RINGING = 5
STATE_UP = 6
RECENT_HANGUPS = 4096  # how many hung-up Uniqueids are remembered


class TrackedChannel:
    """One channel as the tracker knows it (mutable; callers get frozen `ChannelInfo`)."""

    __slots__ = (
        "answered", "bridge_id", "call_id", "caller_id_name", "caller_id_num",
        "linkedid", "local_peer", "name", "own_call_id", "seq", "state", "uniqueid",
    )  # fmt: skip

    def __init__(self, uniqueid: str, name: str, linkedid: str, state: int, seq: int) -> None:
        self.seq = seq  # creation order, to tell channels newer than a resync snapshot
        self.uniqueid = uniqueid
        self.name = name
        self.linkedid = linkedid
        self.state = state
        self.caller_id_num = ""
        self.caller_id_name = ""
        self.call_id: str | None = None
        self.own_call_id = False
        self.bridge_id: str | None = None
        self.local_peer: str | None = None
        self.answered = False

    def info(self) -> ChannelInfo:
        return ChannelInfo(
            self.uniqueid, self.name, self.linkedid, self.state, self.caller_id_num,
            self.caller_id_name, self.call_id, self.bridge_id, self.local_peer, self.answered,
        )  # fmt: skip


class _Group:
    """Channels sharing a Linkedid, and the call id the group learned first."""

    __slots__ = ("call_id", "members")

    def __init__(self) -> None:
        self.call_id: str | None = None
        self.members: set[str] = set()


def int_or(text: str | None, default: int = 0) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def value_after(raw: str, marker: str) -> str | None:
    found = raw.find(marker)
    if found < 0:
        return None
    start = found + len(marker)
    end = raw.find("\r\n", start)
    return (raw[start:] if end < 0 else raw[start:end]) or None


class _Keys(NamedTuple):
    """Header names of one channel block (`Dest...` etc.), built once rather than per event."""

    uniqueid: str
    linkedid: str
    own_variable: str  # `\r\n{prefix}ChanVariable: {variable}=`


class ChannelTable:
    """The model CallTracker updates: channels, Linkedid groups, call ids, bridges, recent hangups."""

    def __init__(self, call_id_variable: str) -> None:
        self.keys = {
            p: _Keys(p + "Uniqueid", p + "Linkedid", f"\r\n{p}ChanVariable: {call_id_variable}=")
            for p in ("", "Dest", "LocalOne", "LocalTwo")  # the channel blocks events carry
        }
        self.channels: dict[str, TrackedChannel] = {}
        self.by_name: dict[str, str] = {}
        self.groups: dict[str, _Group] = {}
        self.by_call_id: dict[str, set[str]] = {}
        self.bridges: dict[str, set[str]] = {}
        self.recent: set[str] = set()
        self.recent_order: deque[str] = deque()
        self.seq = 0

    # -- lookups -------------------------------------------------------------
    def channel(self, uniqueid: str) -> ChannelInfo | None:
        found = self.channels.get(uniqueid)
        return found.info() if found else None

    def channel_by_name(self, name: str) -> ChannelInfo | None:
        uniqueid = self.by_name.get(name)
        return self.channel(uniqueid) if uniqueid else None

    def channels_for_call(self, call_id: str) -> list[ChannelInfo]:
        return [self.channels[uid].info() for uid in sorted(self.by_call_id.get(call_id, ()))]

    def channels_in_group(self, linkedid: str) -> list[ChannelInfo]:
        group = self.groups.get(linkedid)
        return [self.channels[uid].info() for uid in sorted(group.members)] if group else []

    def call_ids(self) -> list[str]:
        return sorted(self.by_call_id)

    def sizes(self) -> dict[str, int]:
        """How much each structure holds (tests and metrics check memory stays bounded)."""
        held: dict[str, Sized] = {
            "channels": self.channels, "names": self.by_name, "groups": self.groups,
            "call_ids": self.by_call_id, "bridges": self.bridges, "recent_hangups": self.recent,
        }  # fmt: skip
        return {key: len(value) for key, value in held.items()}

    # -- channel lifecycle ---------------------------------------------------
    def find(self, event: Event, prefix: str, changes: list[CallChange]) -> TrackedChannel | None:
        """The channel an event is about, created when first seen; None for dead ones."""
        keys = self.keys[prefix]
        uniqueid = event.get(keys.uniqueid)
        if not uniqueid or uniqueid in self.recent:
            return None
        channel = self.channels.get(uniqueid)
        linkedid = event.get(keys.linkedid) or uniqueid
        if channel is None:
            return self.create(event, prefix, uniqueid, linkedid, changes)
        if channel.linkedid != linkedid:
            self.move(channel, linkedid, changes)
        return channel

    def create(
        self, event: Event, prefix: str, uniqueid: str, linkedid: str, changes: list[CallChange]
    ) -> TrackedChannel:
        name = event.get(prefix + "Channel") or ""
        self.seq += 1
        state = int_or(event.get(prefix + "ChannelState"))
        channel = TrackedChannel(uniqueid, name, linkedid, state, self.seq)
        channel.caller_id_num = event.get(prefix + "CallerIDNum") or ""
        channel.caller_id_name = event.get(prefix + "CallerIDName") or ""
        self.channels[uniqueid] = channel
        self.by_name[name] = uniqueid
        group = self.groups.get(linkedid)
        if group is None:
            group = self.groups[linkedid] = _Group()
        group.members.add(uniqueid)
        own = value_after(event.raw, self.keys[prefix].own_variable)
        changes.append(ChannelUp(uniqueid, name, linkedid, own or group.call_id))
        if own:
            self.bind(channel, own, changes)
        elif group.call_id:
            self.set_call_id(channel, group.call_id, changes)
        if channel.state == STATE_UP:
            channel.answered = True
            changes.append(ChannelAnswered(uniqueid, name, channel.call_id))
        return channel

    def move(self, channel: TrackedChannel, linkedid: str, changes: list[CallChange]) -> None:
        self.leave_group(channel)
        channel.linkedid = linkedid
        group = self.groups.get(linkedid)
        if group is None:
            group = self.groups[linkedid] = _Group()
        group.members.add(channel.uniqueid)
        if channel.call_id is None and group.call_id:
            self.set_call_id(channel, group.call_id, changes)

    def leave_group(self, channel: TrackedChannel) -> None:
        group = self.groups.get(channel.linkedid)
        if group is not None:
            group.members.discard(channel.uniqueid)
            if not group.members:
                del self.groups[channel.linkedid]

    def release(
        self, channel: TrackedChannel, cause: int | None, text: str, changes: list[CallChange]
    ) -> None:
        uniqueid = channel.uniqueid
        del self.channels[uniqueid]
        if self.by_name.get(channel.name) == uniqueid:
            del self.by_name[channel.name]
        self.leave_group(channel)
        if channel.bridge_id:
            self.leave_bridge(channel.bridge_id, uniqueid)
        peer = self.channels.get(channel.local_peer or "")
        if peer is not None:
            peer.local_peer = None
        changes.append(ChannelHungUp(uniqueid, channel.name, channel.linkedid, channel.call_id, cause, text))
        if channel.call_id:
            self.unindex(channel.call_id, uniqueid, channel.linkedid, changes)
        self.remember_hangup(uniqueid)

    def remember_hangup(self, uniqueid: str) -> None:
        self.recent.add(uniqueid)
        self.recent_order.append(uniqueid)
        if len(self.recent_order) > RECENT_HANGUPS:
            self.recent.discard(self.recent_order.popleft())

    # -- call ids -------------------------------------------------------------
    def bind(self, channel: TrackedChannel, call_id: str, changes: list[CallChange]) -> None:
        """The channel's own variable names its call id; its group learns it too."""
        channel.own_call_id = True
        if channel.call_id != call_id:
            self.set_call_id(channel, call_id, changes)
        group = self.groups[channel.linkedid]
        if group.call_id is None:
            group.call_id = call_id
            for uid in group.members:
                member = self.channels[uid]
                if member.call_id is None:
                    self.set_call_id(member, call_id, changes)

    def set_call_id(self, channel: TrackedChannel, call_id: str, changes: list[CallChange]) -> None:
        if channel.call_id:
            self.unindex(channel.call_id, channel.uniqueid, channel.linkedid, changes)
        channel.call_id = call_id
        members = self.by_call_id.get(call_id)
        if members is None:
            members = self.by_call_id[call_id] = set()
        members.add(channel.uniqueid)
        changes.append(CallIdBound(call_id, channel.uniqueid, channel.name, channel.linkedid))

    def unindex(self, call_id: str, uniqueid: str, linkedid: str, changes: list[CallChange]) -> None:
        members = self.by_call_id.get(call_id)
        if members is not None:
            members.discard(uniqueid)
            if not members:
                del self.by_call_id[call_id]
                changes.append(CallEnded(call_id, linkedid))

    @staticmethod
    def call_id_of(channel: TrackedChannel | None) -> str | None:
        return channel.call_id if channel is not None else None

    # -- bridges ---------------------------------------------------------------
    def leave_bridge(self, bridge_id: str, uniqueid: str) -> None:
        members = self.bridges.get(bridge_id)
        if members is not None:
            members.discard(uniqueid)
            if not members:
                del self.bridges[bridge_id]

    def enter_bridge(self, channel: TrackedChannel, bridge_id: str) -> Bridged:
        members = self.bridges.get(bridge_id)
        if members is None:
            members = self.bridges[bridge_id] = set()
        peers = tuple(sorted(members))
        members.add(channel.uniqueid)
        channel.bridge_id = bridge_id
        return Bridged(channel.uniqueid, channel.name, bridge_id, channel.call_id, peers)

    def unbridge(self, channel: TrackedChannel) -> list[CallChange]:
        bridge_id = channel.bridge_id or ""
        self.leave_bridge(bridge_id, channel.uniqueid)
        channel.bridge_id = None
        return [Unbridged(channel.uniqueid, channel.name, bridge_id, channel.call_id)]

    @staticmethod
    def set_state(channel: TrackedChannel, state: int, changes: list[CallChange]) -> None:
        channel.state = state
        if state == STATE_UP and not channel.answered:
            channel.answered = True
            changes.append(ChannelAnswered(channel.uniqueid, channel.name, channel.call_id))

    @staticmethod
    def uid(channel: TrackedChannel | None) -> str | None:
        return channel.uniqueid if channel is not None else None
