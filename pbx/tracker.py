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

from collections.abc import Callable, Iterable
from functools import partial

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
from pbx.channel_table import RECENT_HANGUPS, STATE_RINGING, STATE_UP, ChannelTable, int_or, value_after
from pbx.codec import Event

__all__ = [  # the records live in pbx.call_changes; importing them from here works too
    "CALL_ID_VARIABLE", "ORIGINATE_REASONS", "RECENT_HANGUPS", "STATE_RINGING", "STATE_UP", "Bridged",
    "CallChange", "CallEnded", "CallIdBound", "CallTracker", "ChannelAnswered", "ChannelHungUp",
    "ChannelInfo", "ChannelUp", "DialEnded", "DialStarted", "LocalPaired", "OriginateResult", "Unbridged",
    "UserEventSeen",
]  # fmt: skip

CALL_ID_VARIABLE = "SWITCHBOARD_CALL_ID"

Handler = Callable[[Event], list[CallChange]]


class CallTracker:
    """`apply(event)` updates the model (pbx.channel_table) and returns what changed; lookups read it."""

    def __init__(self, call_id_variable: str = CALL_ID_VARIABLE) -> None:
        self._variable = call_id_variable
        # A VarSet of our variable has its name at the end of a line: VarSets of
        # other variables (most of them) are skipped by one search for this.
        self._variable_eol = call_id_variable + "\r\n"
        self._table = ChannelTable(call_id_variable)
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

    @property
    def variable(self) -> str:
        """The channel variable naming our call id (the only VarSet read: pbx.event_filter)."""
        return self._variable

    # -- lookups (answered by the table) ---------------------------------------
    def channel(self, uniqueid: str) -> ChannelInfo | None:
        return self._table.channel(uniqueid)

    def channel_by_name(self, name: str) -> ChannelInfo | None:
        return self._table.channel_by_name(name)

    def channels_for_call(self, call_id: str) -> list[ChannelInfo]:
        return self._table.channels_for_call(call_id)

    def channels_in_group(self, linkedid: str) -> list[ChannelInfo]:
        return self._table.channels_in_group(linkedid)

    def call_ids(self) -> list[str]:
        return self._table.call_ids()

    def sizes(self) -> dict[str, int]:
        """How much each structure holds (tests and metrics check memory stays bounded)."""
        return self._table.sizes()

    # -- applying events -----------------------------------------------------
    def apply(self, event: Event) -> list[CallChange]:
        handler = self._handlers.get(event.name)
        return handler(event) if handler is not None else []

    def begin_resync(self) -> int:
        """Call before sending CoreShowChannels; pass the mark to `resync`."""
        return self._table.seq

    def resync(self, channels: Iterable[Event], since: int | None = None) -> list[CallChange]:
        """Make the model match a CoreShowChannels answer taken after a reconnect.

        Channels first seen after `since` (from `begin_resync`) are newer than the
        snapshot and are kept; without a mark every channel missing from it goes.
        """
        self.shown = tuple(channels)
        present = {uid: event for event in self.shown if (uid := event.get("Uniqueid"))}
        limit = self._table.seq if since is None else since
        gone = [c for uid, c in self._table.channels.items() if uid not in present and c.seq <= limit]
        changes: list[CallChange] = []
        for channel in gone:
            self._table.release(channel, None, "gone at resync", changes)
        for event in present.values():
            changes.extend(self._on_coreshowchannel(event))
        return changes

    # -- event handlers --------------------------------------------------------
    def _on_newchannel(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        self._table.find(event, "", changes)
        return changes

    def _on_newstate(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        channel = self._table.find(event, "", changes)
        if channel is not None:
            self._table.set_state(channel, int_or(event.get("ChannelState"), channel.state), changes)
        return changes

    def _on_varset(self, event: Event) -> list[CallChange]:
        raw = event.raw
        if self._variable_eol not in raw and not raw.endswith(self._variable):
            return []
        variable = event.get("Variable")
        if variable is None or variable.lstrip("_") != self._variable:
            return []
        changes: list[CallChange] = []
        channel = self._table.find(event, "", changes)
        value = event.get("Value")
        if channel is not None and value and (value != channel.call_id or not channel.own_call_id):
            self._table.bind(channel, value, changes)
        return changes

    def _on_newcallerid(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        channel = self._table.find(event, "", changes)
        if channel is not None:
            channel.caller_id_num = event.get("CallerIDNum") or ""
            channel.caller_id_name = event.get("CallerIDName") or ""
        return changes

    def _on_dial(self, event: Event, header: str, record: type[DialStarted | DialEnded]) -> list[CallChange]:
        changes: list[CallChange] = []
        caller = self._table.find(event, "", changes)
        dest = self._table.find(event, "Dest", changes)
        if dest is not None:
            call_id = dest.call_id or self._table.call_id_of(caller)
            text = event.get(header) or ""
            changes.append(record(self._table.uid(caller), dest.uniqueid, dest.name, text, call_id))
        return changes

    def _on_localbridge(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        one = self._table.find(event, "LocalOne", changes)
        two = self._table.find(event, "LocalTwo", changes)
        if one is None or two is None:
            return changes
        one.local_peer, two.local_peer = two.uniqueid, one.uniqueid
        for source, target in ((one, two), (two, one)):
            if source.call_id and target.call_id is None:
                self._table.set_call_id(target, source.call_id, changes)
        changes.append(LocalPaired(one.uniqueid, two.uniqueid, one.call_id or two.call_id))
        return changes

    def _on_bridgeenter(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        channel = self._table.find(event, "", changes)
        bridge_id = event.get("BridgeUniqueid")
        if channel is None or not bridge_id or channel.bridge_id == bridge_id:
            return changes
        if channel.bridge_id:
            changes.extend(self._table.unbridge(channel))
        changes.append(self._table.enter_bridge(channel, bridge_id))
        return changes

    def _on_bridgeleave(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        channel = self._table.find(event, "", changes)
        if channel is not None and channel.bridge_id:
            changes.extend(self._table.unbridge(channel))
        return changes

    def _on_hangup(self, event: Event) -> list[CallChange]:
        uniqueid = event.get("Uniqueid")
        if not uniqueid or uniqueid in self._table.recent:
            return []
        cause, text = int_or(event.get("Cause")), event.get("Cause-txt") or ""
        channel = self._table.channels.get(uniqueid)
        if channel is not None:
            changes: list[CallChange] = []
            self._table.release(channel, cause, text, changes)
            return changes
        # Never seen (born while we were away): report it only if it is one of ours.
        call_id = value_after(event.raw, self._table.keys[""].own_variable)
        if call_id is None:
            return []
        self._table.remember_hangup(uniqueid)
        name, linkedid = event.get("Channel") or "", event.get("Linkedid") or uniqueid
        return [ChannelHungUp(uniqueid, name, linkedid, call_id, cause, text)]

    def _on_rename(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        channel = self._table.find(event, "", changes)
        new_name = event.get("Newname")
        if channel is not None and new_name:
            if self._table.by_name.get(channel.name) == channel.uniqueid:
                del self._table.by_name[channel.name]
            channel.name = new_name
            self._table.by_name[new_name] = channel.uniqueid
        return changes

    def _on_originate_response(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        ok = event.get("Response") == "Success"
        call_id = (event.chan_variables() if self._variable in event.raw else {}).get(self._variable) or None
        uniqueid = event.get("Uniqueid")
        channel = self._table.channels.get(uniqueid) if uniqueid else None
        if channel is None and ok and uniqueid and uniqueid not in self._table.recent:
            # Sent straight from the originating thread, it can overtake the channel's own
            # Newchannel (queued in Stasis): the channel exists, so it is learned here.
            channel = self._table.create(event, "", uniqueid, uniqueid, changes)
        if channel is not None and call_id and not channel.own_call_id:
            self._table.bind(channel, call_id, changes)
        action_id = event.get("ActionID") or ""
        reason = int_or(event.get("Reason"), -1)
        known_uid = uniqueid if channel is not None else None
        name = event.get("Channel") or ""
        call_id = call_id or self._table.call_id_of(channel)
        changes.append(OriginateResult(action_id, ok, reason, known_uid, name, call_id))
        return changes

    def _on_userevent(self, event: Event) -> list[CallChange]:
        changes: list[CallChange] = []
        channel = self._table.find(event, "", changes)
        name = event.get("UserEvent") or ""
        table = self._table
        changes.append(UserEventSeen(name, event.fields, table.uid(channel), table.call_id_of(channel)))
        return changes

    def _on_transfer(self, event: Event) -> list[CallChange]:
        """BlindTransfer / AttendedTransfer: who was moved where, under the call id they carry."""
        blind = event.name == "BlindTransfer"
        transferer = event.get("TransfererChannel" if blind else "OrigTransfererChannel") or ""
        uniqueid = event.get("TransfereeUniqueid") or ""
        by_name = self._table.by_name.get(transferer)
        call_id = self._table.call_id_of(self._table.channels.get(uniqueid)) or self._table.call_id_of(
            self._table.channels.get(by_name) if by_name else None
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
        channel = self._table.find(event, "", changes)
        if channel is None:
            return changes
        self._table.set_state(channel, int_or(event.get("ChannelState"), channel.state), changes)
        bridge_id = event.get("BridgeId") or None
        if bridge_id != channel.bridge_id:
            if channel.bridge_id:
                changes.extend(self._table.unbridge(channel))
            if bridge_id:
                changes.append(self._table.enter_bridge(channel, bridge_id))
        return changes
