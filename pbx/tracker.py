"""Channel and call tracker: AMI events in, call changes out. Pure: no asyncio, no I/O.

It follows channels by Uniqueid and groups them by Linkedid, and it learns the
engine's own call id from the channel variable `SWITCHBOARD_CALL_ID` (configure
it in manager.conf `channelvars`, so every channel event carries it). Rules:
- Correlation never guesses: a channel's call id comes from its own variable
  (`ChanVariable` headers, `VarSet`, `OriginateResponse ChanVariable(...)`), or,
  for a channel without one (a queue member's leg), from the Linkedid group it
  belongs to. Linkedid can change when Asterisk bridges; the channel moves along.
- Failed Originates have no channel (`Uniqueid: <unknown>`): `OriginateResult`
  carries the ActionID, which is how the engine matches them.
- Order-independent (docs/sim.md lists the orders a real Asterisk 22 delivers): a
  successful OriginateResponse that overtakes its channel's Newchannel creates the
  channel; a Hangup before the channel's BridgeLeave releases it from the bridge,
  and the late BridgeLeave (like any late event) finds it in the recent hangups.
- Memory is bounded: a hung-up channel is released at once, its group and its
  bridge when they empty. A short ring of recent hangups keeps late events from
  bringing a dead channel back. `resync` (CoreShowChannel events after a
  reconnect) drops what Asterisk no longer has and adds what it has.
- Hot path: unknown events cost one dict lookup, VarSets of other variables one
  string search; headers are read with `Event.get`, not by parsing the message.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sized
from functools import partial
from typing import NamedTuple

from pbx.call_changes import (
    ORIGINATE_REASONS,
    Bridged,
    CallChange,
    CallEnded,
    CallIdBound,
    ChannelAnswered,
    ChannelHungUp,
    ChannelInfo,
    ChannelUp,
    DialEnded,
    DialStarted,
    LocalPaired,
    OriginateResult,
    Transferred,
    Unbridged,
    UserEventSeen,
)
from pbx.codec import Event

__all__ = [  # the records live in pbx.call_changes; importing them from here works too
    "CALL_ID_VARIABLE", "ORIGINATE_REASONS", "Bridged", "CallChange", "CallEnded", "CallIdBound",
    "CallTracker", "ChannelAnswered", "ChannelHungUp", "ChannelInfo", "ChannelUp", "DialEnded",
    "DialStarted", "LocalPaired", "OriginateResult", "Unbridged", "UserEventSeen",
]  # fmt: skip

CALL_ID_VARIABLE = "SWITCHBOARD_CALL_ID"
STATE_RINGING = 5
STATE_UP = 6
RECENT_HANGUPS = 4096  # how many hung-up Uniqueids are remembered


class _Channel:
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


def _int(text: str | None, default: int = 0) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def _value_after(raw: str, marker: str) -> str | None:
    found = raw.find(marker)
    if found < 0:
        return None
    start = found + len(marker)
    end = raw.find("\r\n", start)
    return (raw[start:] if end < 0 else raw[start:end]) or None


Handler = Callable[[Event], list[CallChange]]


class _Keys(NamedTuple):
    """Header names of one channel block (`Dest...` etc.), built once rather than per event."""

    uniqueid: str
    linkedid: str
    own_variable: str  # `\r\n{prefix}ChanVariable: {variable}=`


class CallTracker:
    """`apply(event)` updates the model and returns what changed; lookups read it."""

    def __init__(self, call_id_variable: str = CALL_ID_VARIABLE) -> None:
        self._variable = call_id_variable
        # A VarSet of our variable has its name at the end of a line: VarSets of
        # other variables (most of them) are skipped by one search for this.
        self._variable_eol = call_id_variable + "\r\n"
        self._keys = {
            p: _Keys(p + "Uniqueid", p + "Linkedid", f"\r\n{p}ChanVariable: {call_id_variable}=")
            for p in ("", "Dest", "LocalOne", "LocalTwo")  # the channel blocks events carry
        }
        self._channels: dict[str, _Channel] = {}
        self._by_name: dict[str, str] = {}
        self._groups: dict[str, _Group] = {}
        self._by_call_id: dict[str, set[str]] = {}
        self._bridges: dict[str, set[str]] = {}
        self._recent: set[str] = set()
        self._recent_order: deque[str] = deque()
        self._seq = 0
        self.shown: tuple[Event, ...] = ()  # the last resync's CoreShowChannels, for adoption
        self._handlers: dict[str, Handler] = {
            "Newchannel": self._on_newchannel,
            "Newstate": self._on_newstate,
            "VarSet": self._on_varset,
            "NewCallerid": self._on_newcallerid,
            "DialBegin": partial(self._on_dial, header="DialString", record=DialStarted),
            "DialEnd": partial(self._on_dial, header="DialStatus", record=DialEnded),
            "LocalBridge": self._on_localbridge,
            "BridgeEnter": self._on_bridgeenter,
            "BridgeLeave": self._on_bridgeleave,
            "Hangup": self._on_hangup,
            "Rename": self._on_rename,
            "OriginateResponse": self._on_originate_response,
            "UserEvent": self._on_userevent,
            "CoreShowChannel": self._on_coreshowchannel,
            "BlindTransfer": self._on_transfer,
            "AttendedTransfer": self._on_transfer,
        }

    # -- lookups -------------------------------------------------------------
    def channel(self, uniqueid: str) -> ChannelInfo | None:
        found = self._channels.get(uniqueid)
        return found.info() if found else None

    def channel_by_name(self, name: str) -> ChannelInfo | None:
        uniqueid = self._by_name.get(name)
        return self.channel(uniqueid) if uniqueid else None

    def channels_for_call(self, call_id: str) -> list[ChannelInfo]:
        return [self._channels[uid].info() for uid in sorted(self._by_call_id.get(call_id, ()))]

    def channels_in_group(self, linkedid: str) -> list[ChannelInfo]:
        group = self._groups.get(linkedid)
        return [self._channels[uid].info() for uid in sorted(group.members)] if group else []

    def call_ids(self) -> list[str]:
        return sorted(self._by_call_id)

    def sizes(self) -> dict[str, int]:
        """How much each structure holds (tests and metrics check memory stays bounded)."""
        held: dict[str, Sized] = {
            "channels": self._channels, "names": self._by_name, "groups": self._groups,
            "call_ids": self._by_call_id, "bridges": self._bridges, "recent_hangups": self._recent,
        }  # fmt: skip
        return {key: len(value) for key, value in held.items()}

    # -- applying events -----------------------------------------------------
    def apply(self, event: Event) -> list[CallChange]:
        handler = self._handlers.get(event.name)
        return handler(event) if handler is not None else []

    def begin_resync(self) -> int:
        """Call before sending CoreShowChannels; pass the mark to `resync`."""
        return self._seq

    def resync(self, channels: Iterable[Event], since: int | None = None) -> list[CallChange]:
        """Make the model match a CoreShowChannels answer taken after a reconnect.

        Channels first seen after `since` (from `begin_resync`) are newer than the
        snapshot and are kept; without a mark every channel missing from it goes.
        """
        self.shown = tuple(channels)
        present = {uid: event for event in self.shown if (uid := event.get("Uniqueid"))}
        limit = self._seq if since is None else since
        gone = [c for uid, c in self._channels.items() if uid not in present and c.seq <= limit]
        changes: list[CallChange] = []
        for channel in gone:
            self._release(channel, None, "gone at resync", changes)
        for event in present.values():
            changes.extend(self._on_coreshowchannel(event))
        return changes

    # -- channel lifecycle ---------------------------------------------------
    def _find(self, event: Event, prefix: str, changes: list[CallChange]) -> _Channel | None:
        """The channel an event is about, created when first seen; None for dead ones."""
        keys = self._keys[prefix]
        uniqueid = event.get(keys.uniqueid)
        if not uniqueid or uniqueid in self._recent:
            return None
        channel = self._channels.get(uniqueid)
        linkedid = event.get(keys.linkedid) or uniqueid
        if channel is None:
            return self._create(event, prefix, uniqueid, linkedid, changes)
        if channel.linkedid != linkedid:
            self._move(channel, linkedid, changes)
        return channel

    def _create(
        self, event: Event, prefix: str, uniqueid: str, linkedid: str, changes: list[CallChange]
    ) -> _Channel:
        name = event.get(prefix + "Channel") or ""
        self._seq += 1
        channel = _Channel(uniqueid, name, linkedid, _int(event.get(prefix + "ChannelState")), self._seq)
        channel.caller_id_num = event.get(prefix + "CallerIDNum") or ""
        channel.caller_id_name = event.get(prefix + "CallerIDName") or ""
        self._channels[uniqueid] = channel
        self._by_name[name] = uniqueid
        group = self._groups.get(linkedid)
        if group is None:
            group = self._groups[linkedid] = _Group()
        group.members.add(uniqueid)
        own = _value_after(event.raw, self._keys[prefix].own_variable)
        changes.append(ChannelUp(uniqueid, name, linkedid, own or group.call_id))
        if own:
            self._bind(channel, own, changes)
        elif group.call_id:
            self._set_call_id(channel, group.call_id, changes)
        if channel.state == STATE_UP:
            channel.answered = True
            changes.append(ChannelAnswered(uniqueid, name, channel.call_id))
        return channel

    def _move(self, channel: _Channel, linkedid: str, changes: list[CallChange]) -> None:
        self._leave_group(channel)
        channel.linkedid = linkedid
        group = self._groups.get(linkedid)
        if group is None:
            group = self._groups[linkedid] = _Group()
        group.members.add(channel.uniqueid)
        if channel.call_id is None and group.call_id:
            self._set_call_id(channel, group.call_id, changes)

    def _leave_group(self, channel: _Channel) -> None:
        group = self._groups.get(channel.linkedid)
        if group is not None:
            group.members.discard(channel.uniqueid)
            if not group.members:
                del self._groups[channel.linkedid]

    def _release(self, channel: _Channel, cause: int | None, text: str, changes: list[CallChange]) -> None:
        uniqueid = channel.uniqueid
        del self._channels[uniqueid]
        if self._by_name.get(channel.name) == uniqueid:
            del self._by_name[channel.name]
        self._leave_group(channel)
        if channel.bridge_id:
            self._leave_bridge(channel.bridge_id, uniqueid)
        peer = self._channels.get(channel.local_peer or "")
        if peer is not None:
            peer.local_peer = None
        changes.append(ChannelHungUp(uniqueid, channel.name, channel.linkedid, channel.call_id, cause, text))
        if channel.call_id:
            self._unindex(channel.call_id, uniqueid, channel.linkedid, changes)
        self._remember_hangup(uniqueid)

    def _remember_hangup(self, uniqueid: str) -> None:
        self._recent.add(uniqueid)
        self._recent_order.append(uniqueid)
        if len(self._recent_order) > RECENT_HANGUPS:
            self._recent.discard(self._recent_order.popleft())

    # -- call ids -------------------------------------------------------------
    def _bind(self, channel: _Channel, call_id: str, changes: list[CallChange]) -> None:
        """The channel's own variable names its call id; its group learns it too."""
        channel.own_call_id = True
        if channel.call_id != call_id:
            self._set_call_id(channel, call_id, changes)
        group = self._groups[channel.linkedid]
        if group.call_id is None:
            group.call_id = call_id
            for uid in group.members:
                member = self._channels[uid]
                if member.call_id is None:
                    self._set_call_id(member, call_id, changes)

    def _set_call_id(self, channel: _Channel, call_id: str, changes: list[CallChange]) -> None:
        if channel.call_id:
            self._unindex(channel.call_id, channel.uniqueid, channel.linkedid, changes)
        channel.call_id = call_id
        members = self._by_call_id.get(call_id)
        if members is None:
            members = self._by_call_id[call_id] = set()
        members.add(channel.uniqueid)
        changes.append(CallIdBound(call_id, channel.uniqueid, channel.name, channel.linkedid))

    def _unindex(self, call_id: str, uniqueid: str, linkedid: str, changes: list[CallChange]) -> None:
        members = self._by_call_id.get(call_id)
        if members is not None:
            members.discard(uniqueid)
            if not members:
                del self._by_call_id[call_id]
                changes.append(CallEnded(call_id, linkedid))

    def _call_id_of(self, channel: _Channel | None) -> str | None:
        return channel.call_id if channel is not None else None

    # -- bridges ---------------------------------------------------------------
    def _leave_bridge(self, bridge_id: str, uniqueid: str) -> None:
        members = self._bridges.get(bridge_id)
        if members is not None:
            members.discard(uniqueid)
            if not members:
                del self._bridges[bridge_id]

    # -- event handlers --------------------------------------------------------
    def _on_newchannel(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        self._find(event, "", changes)
        return changes

    def _on_newstate(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        channel = self._find(event, "", changes)
        if channel is not None:
            self._set_state(channel, _int(event.get("ChannelState"), channel.state), changes)
        return changes

    @staticmethod
    def _set_state(channel: _Channel, state: int, changes: list[CallChange]) -> None:
        channel.state = state
        if state == STATE_UP and not channel.answered:
            channel.answered = True
            changes.append(ChannelAnswered(channel.uniqueid, channel.name, channel.call_id))

    def _on_varset(self, event: Event) -> list[CallChange]:
        raw = event.raw
        if self._variable_eol not in raw and not raw.endswith(self._variable):
            return []
        variable = event.get("Variable")
        if variable is None or variable.lstrip("_") != self._variable:
            return []
        changes: list[CallChange] = []
        channel = self._find(event, "", changes)
        value = event.get("Value")
        if channel is not None and value and (value != channel.call_id or not channel.own_call_id):
            self._bind(channel, value, changes)
        return changes

    def _on_newcallerid(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        channel = self._find(event, "", changes)
        if channel is not None:
            channel.caller_id_num = event.get("CallerIDNum") or ""
            channel.caller_id_name = event.get("CallerIDName") or ""
        return changes

    def _on_dial(self, event: Event, header: str, record: type[DialStarted | DialEnded]) -> list[CallChange]:
        changes: list[CallChange] = []
        caller = self._find(event, "", changes)
        dest = self._find(event, "Dest", changes)
        if dest is not None:
            call_id = dest.call_id or self._call_id_of(caller)
            text = event.get(header) or ""
            changes.append(record(self._uid(caller), dest.uniqueid, dest.name, text, call_id))
        return changes

    @staticmethod
    def _uid(channel: _Channel | None) -> str | None:
        return channel.uniqueid if channel is not None else None

    def _on_localbridge(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        one = self._find(event, "LocalOne", changes)
        two = self._find(event, "LocalTwo", changes)
        if one is None or two is None:
            return changes
        one.local_peer, two.local_peer = two.uniqueid, one.uniqueid
        for source, target in ((one, two), (two, one)):
            if source.call_id and target.call_id is None:
                self._set_call_id(target, source.call_id, changes)
        changes.append(LocalPaired(one.uniqueid, two.uniqueid, one.call_id or two.call_id))
        return changes

    def _on_bridgeenter(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        channel = self._find(event, "", changes)
        bridge_id = event.get("BridgeUniqueid")
        if channel is None or not bridge_id or channel.bridge_id == bridge_id:
            return changes
        if channel.bridge_id:
            changes.extend(self._unbridge(channel))
        changes.append(self._enter_bridge(channel, bridge_id))
        return changes

    def _enter_bridge(self, channel: _Channel, bridge_id: str) -> Bridged:
        members = self._bridges.get(bridge_id)
        if members is None:
            members = self._bridges[bridge_id] = set()
        peers = tuple(sorted(members))
        members.add(channel.uniqueid)
        channel.bridge_id = bridge_id
        return Bridged(channel.uniqueid, channel.name, bridge_id, channel.call_id, peers)

    def _on_bridgeleave(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        channel = self._find(event, "", changes)
        if channel is not None and channel.bridge_id:
            changes.extend(self._unbridge(channel))
        return changes

    def _unbridge(self, channel: _Channel) -> list[CallChange]:
        bridge_id = channel.bridge_id or ""
        self._leave_bridge(bridge_id, channel.uniqueid)
        channel.bridge_id = None
        return [Unbridged(channel.uniqueid, channel.name, bridge_id, channel.call_id)]

    def _on_hangup(self, event: Event) -> list[CallChange]:
        uniqueid = event.get("Uniqueid")
        if not uniqueid or uniqueid in self._recent:
            return []
        cause, text = _int(event.get("Cause")), event.get("Cause-txt") or ""
        channel = self._channels.get(uniqueid)
        if channel is not None:
            changes: list[CallChange] = []
            self._release(channel, cause, text, changes)
            return changes
        # Never seen (born while we were away): report it only if it is one of ours.
        call_id = _value_after(event.raw, self._keys[""].own_variable)
        if call_id is None:
            return []
        self._remember_hangup(uniqueid)
        name, linkedid = event.get("Channel") or "", event.get("Linkedid") or uniqueid
        return [ChannelHungUp(uniqueid, name, linkedid, call_id, cause, text)]

    def _on_rename(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        channel = self._find(event, "", changes)
        new_name = event.get("Newname")
        if channel is not None and new_name:
            if self._by_name.get(channel.name) == channel.uniqueid:
                del self._by_name[channel.name]
            channel.name = new_name
            self._by_name[new_name] = channel.uniqueid
        return changes

    def _on_originate_response(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        ok = event.get("Response") == "Success"
        call_id = (event.chan_variables() if self._variable in event.raw else {}).get(self._variable) or None
        uniqueid = event.get("Uniqueid")
        channel = self._channels.get(uniqueid) if uniqueid else None
        if channel is None and ok and uniqueid and uniqueid not in self._recent:
            # Sent straight from the originating thread, it can overtake the channel's own
            # Newchannel (queued in Stasis): the channel exists, so it is learned here.
            channel = self._create(event, "", uniqueid, uniqueid, changes)
        if channel is not None and call_id and not channel.own_call_id:
            self._bind(channel, call_id, changes)
        action_id = event.get("ActionID") or ""
        reason = _int(event.get("Reason"), -1)
        known_uid = uniqueid if channel is not None else None
        name = event.get("Channel") or ""
        call_id = call_id or self._call_id_of(channel)
        changes.append(OriginateResult(action_id, ok, reason, known_uid, name, call_id))
        return changes

    def _on_userevent(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        channel = self._find(event, "", changes)
        name = event.get("UserEvent") or ""
        changes.append(UserEventSeen(name, event.fields, self._uid(channel), self._call_id_of(channel)))
        return changes

    def _on_transfer(self, event: Event) -> list[CallChange]:
        """BlindTransfer / AttendedTransfer: who was moved where, under the call id they carry."""
        blind = event.name == "BlindTransfer"
        transferer = event.get("TransfererChannel" if blind else "OrigTransfererChannel") or ""
        uniqueid = event.get("TransfereeUniqueid") or ""
        by_name = self._by_name.get(transferer)
        call_id = self._call_id_of(self._channels.get(uniqueid)) or self._call_id_of(
            self._channels.get(by_name) if by_name else None
        )
        return [
            Transferred(
                kind="blind" if blind else "attended",
                result=event.get("Result") or "",
                transferer_channel=transferer,
                transferee_uniqueid=uniqueid,
                transferee_channel=event.get("TransfereeChannel") or "",
                context=event.get("Context") or "" if blind else "",
                exten=event.get("Extension") or "" if blind else "",
                target_channel="" if blind else event.get("TransferTargetChannel") or "",
                call_id=call_id,
            )
        ]

    def _on_coreshowchannel(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        channel = self._find(event, "", changes)
        if channel is None:
            return changes
        self._set_state(channel, _int(event.get("ChannelState"), channel.state), changes)
        bridge_id = event.get("BridgeId") or None
        if bridge_id != channel.bridge_id:
            if channel.bridge_id:
                changes.extend(self._unbridge(channel))
            if bridge_id:
                changes.append(self._enter_bridge(channel, bridge_id))
        return changes
