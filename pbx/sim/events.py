"""Event builders: the exact headers, in the exact order, that Asterisk 22 sends.

Each builder returns a list of `(key, value)` pairs starting with `Event` and
`Privilege`; the emitter adds `Timestamp` right after `Privilege` when
timestampevents is on (as manager.conf does). Field names and their order are
copied from the recordings in shared/ami (asterisk-22.10.1-full.txt); the
channel block is `ast_manager_build_channel_state_string_prefix`: Channel,
ChannelState, ChannelStateDesc, CallerIDNum, CallerIDName, ConnectedLineNum,
ConnectedLineName, Language, AccountCode, Context, Exten, Priority, Uniqueid,
Linkedid, then one ChanVariable per configured channel variable, with a prefix
(`Dest`, `LocalOne`, `LocalTwo`) where the event describes several channels.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pbx.sim.channels import UNKNOWN, Bridge, Channel

Headers = list[tuple[str, str]]

CALL = "call,all"
DIALPLAN = "dialplan,all"
USER = "user,all"
DTMF = "dtmf,all"
SYSTEM = "system,all"

CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    3: "No route to destination",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    20: "Subscriber absent",
    21: "Call Rejected",
    27: "Destination out of order",
    28: "Invalid number format",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
    42: "Switching equipment congestion",
    127: "Interworking, unspecified",
}


def cause_text(cause: int) -> str:
    return CAUSE_TEXT.get(cause, "Unknown")


def _duration(seconds: float) -> str:
    whole = max(int(seconds), 0)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class EventFactory:
    """Builds events for channels, with the ChanVariable list of manager.conf."""

    def __init__(self, channelvars: Sequence[str]) -> None:
        self.channelvars = tuple(channelvars)

    def channel_fields(self, channel: Channel, prefix: str = "") -> Headers:
        fields: Headers = [
            (f"{prefix}Channel", channel.name),
            (f"{prefix}ChannelState", str(channel.state)),
            (f"{prefix}ChannelStateDesc", channel.state_desc),
            (f"{prefix}CallerIDNum", channel.caller_num),
            (f"{prefix}CallerIDName", channel.caller_name),
            (f"{prefix}ConnectedLineNum", channel.connected_num),
            (f"{prefix}ConnectedLineName", channel.connected_name),
            (f"{prefix}Language", "en"),
            (f"{prefix}AccountCode", ""),
            (f"{prefix}Context", channel.context),
            (f"{prefix}Exten", channel.exten),
            (f"{prefix}Priority", str(channel.priority)),
            (f"{prefix}Uniqueid", channel.uniqueid),
            (f"{prefix}Linkedid", channel.linkedid),
        ]
        fields.extend((f"{prefix}ChanVariable", f"{name}={channel.var(name)}") for name in self.channelvars)
        return fields

    def channel_event(
        self, name: str, channel: Channel, *extra: tuple[str, str], privilege: str = CALL
    ) -> Headers:
        return [("Event", name), ("Privilege", privilege), *self.channel_fields(channel), *extra]

    def newchannel(self, channel: Channel) -> Headers:
        return self.channel_event("Newchannel", channel)

    def newstate(self, channel: Channel) -> Headers:
        return self.channel_event("Newstate", channel)

    def new_callerid(self, channel: Channel) -> Headers:
        presentation = ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")
        return self.channel_event("NewCallerid", channel, presentation)

    def new_connected_line(self, channel: Channel) -> Headers:
        return self.channel_event("NewConnectedLine", channel)

    def varset(self, channel: Channel, variable: str, value: str) -> Headers:
        return self.channel_event(
            "VarSet", channel, ("Variable", variable), ("Value", value), privilege=DIALPLAN
        )

    def newexten(self, channel: Channel, app: str, data: str) -> Headers:
        return self.channel_event(
            "Newexten",
            channel,
            ("Extension", channel.exten),
            ("Application", app),
            ("AppData", data),
            privilege=DIALPLAN,
        )

    def hangup(self, channel: Channel, cause: int) -> Headers:
        return self.channel_event("Hangup", channel, ("Cause", str(cause)), ("Cause-txt", cause_text(cause)))

    def hangup_request(self, channel: Channel, cause: int) -> Headers:
        return self.channel_event("HangupRequest", channel, ("Cause", str(cause)))

    def soft_hangup_request(self, channel: Channel, cause: int) -> Headers:
        return self.channel_event("SoftHangupRequest", channel, ("Cause", str(cause)))

    def moh_start(self, channel: Channel, moh_class: str) -> Headers:
        return self.channel_event("MusicOnHoldStart", channel, ("Class", moh_class))

    def moh_stop(self, channel: Channel) -> Headers:
        return self.channel_event("MusicOnHoldStop", channel)

    def dtmf_begin(self, channel: Channel, digit: str) -> Headers:
        """A key the caller pressed starts (Asterisk 22: Digit, Direction)."""
        return self.channel_event(
            "DTMFBegin", channel, ("Digit", digit), ("Direction", "Received"), privilege=DTMF
        )

    def dtmf_end(self, channel: Channel, digit: str, duration_ms: int) -> Headers:
        return self.channel_event(
            "DTMFEnd",
            channel,
            ("Digit", digit),
            ("DurationMs", str(duration_ms)),
            ("Direction", "Received"),
            privilege=DTMF,
        )

    def user_event(self, channel: Channel | None, name: str, body: Iterable[tuple[str, str]]) -> Headers:
        fields = self.channel_fields(channel) if channel is not None else []
        return [("Event", "UserEvent"), ("Privilege", USER), *fields, ("UserEvent", name), *body]

    def _dial(self, name: str, caller: Channel | None, dest: Channel, last: tuple[str, str]) -> Headers:
        fields = self.channel_fields(caller) if caller is not None else []
        return [("Event", name), ("Privilege", CALL), *fields, *self.channel_fields(dest, "Dest"), last]

    def dial_begin(self, caller: Channel | None, dest: Channel, dial_string: str) -> Headers:
        return self._dial("DialBegin", caller, dest, ("DialString", dial_string))

    def dial_state(self, caller: Channel | None, dest: Channel, status: str) -> Headers:
        return self._dial("DialState", caller, dest, ("DialStatus", status))

    def dial_end(self, caller: Channel | None, dest: Channel, status: str) -> Headers:
        return self._dial("DialEnd", caller, dest, ("DialStatus", status))

    def local_bridge(self, one: Channel, two: Channel) -> Headers:
        return [
            ("Event", "LocalBridge"),
            ("Privilege", CALL),
            *self.channel_fields(one, "LocalOne"),
            *self.channel_fields(two, "LocalTwo"),
            ("Context", two.context),
            ("Exten", two.exten),
            ("LocalOptimization", "Yes"),
        ]

    def originate_response(  # noqa: PLR0917 - mirrors the event's fields
        self,
        action_id: str,
        channel: Channel | None,
        requested: str,
        target: tuple[tuple[str, str], tuple[str, str]],
        reason: int,
        callerid: tuple[str, str],
    ) -> Headers:
        """`target` is (Application, Data) or (Context, Exten); `callerid` is the action's."""
        headers: Headers = [("Event", "OriginateResponse"), ("Privilege", CALL)]
        if action_id:
            headers.append(("ActionID", action_id))
        headers += [
            ("Response", "Success" if channel is not None else "Failure"),
            ("Channel", channel.name if channel is not None else requested),
            *target,
            ("Reason", str(reason)),
            ("Uniqueid", channel.uniqueid if channel is not None else UNKNOWN),
            ("CallerIDNum", callerid[0] or UNKNOWN),
            ("CallerIDName", callerid[1] or UNKNOWN),
        ]
        if channel is not None:
            key = f"ChanVariable({channel.name})"
            headers.extend((key, f"{name}={channel.var(name)}") for name in self.channelvars)
        return headers

    @staticmethod
    def bridge_fields(bridge: Bridge) -> Headers:
        return [
            ("BridgeUniqueid", bridge.id),
            ("BridgeType", "basic"),
            ("BridgeTechnology", "simple_bridge"),
            ("BridgeCreator", UNKNOWN),
            ("BridgeName", UNKNOWN),
            ("BridgeNumChannels", str(len(bridge.members))),
            ("BridgeVideoSourceMode", "none"),
        ]

    def bridge_create(self, bridge: Bridge) -> Headers:
        return [("Event", "BridgeCreate"), ("Privilege", CALL), *self.bridge_fields(bridge)]

    def bridge_destroy(self, bridge: Bridge) -> Headers:
        return [("Event", "BridgeDestroy"), ("Privilege", CALL), *self.bridge_fields(bridge)]

    def bridge_enter(self, bridge: Bridge, channel: Channel) -> Headers:
        return self._bridge_channel("BridgeEnter", bridge, channel)

    def bridge_leave(self, bridge: Bridge, channel: Channel) -> Headers:
        return self._bridge_channel("BridgeLeave", bridge, channel)

    def _bridge_channel(self, name: str, bridge: Bridge, channel: Channel) -> Headers:
        fields = self.channel_fields(channel)
        return [("Event", name), ("Privilege", CALL), *self.bridge_fields(bridge), *fields]

    def core_show_channel(self, channel: Channel, action_id: str, now: float) -> Headers:
        headers: Headers = [("Event", "CoreShowChannel")]
        if action_id:
            headers.append(("ActionID", action_id))
        return [
            *headers,
            *self.channel_fields(channel),
            ("Application", channel.app),
            ("ApplicationData", channel.app_data),
            ("Duration", _duration(now - channel.created)),
            ("BridgeId", channel.bridge.id if channel.bridge else ""),
        ]

    def status(self, channel: Channel, action_id: str, now: float) -> Headers:
        headers: Headers = [
            ("Event", "Status"),
            ("Privilege", "Call"),
            *self.channel_fields(channel),
            ("Type", channel.tech),
            ("DNID", ""),
            ("EffectiveConnectedLineNum", channel.connected_num),
            ("EffectiveConnectedLineName", channel.connected_name),
            ("TimeToHangup", "0"),
            ("BridgeID", channel.bridge.id if channel.bridge else ""),
            ("Application", channel.app),
            ("Data", channel.app_data),
            ("Nativeformats", "(slin)"),
            ("Readformat", "slin"),
            ("Readtrans", ""),
            ("Writeformat", "slin"),
            ("Writetrans", ""),
            ("Callgroup", "0"),
            ("Pickupgroup", "0"),
            ("Seconds", str(max(int(now - channel.created), 0))),
        ]
        if action_id:
            headers.append(("ActionID", action_id))
        return headers


def list_complete(event: str, action_id: str, items: int, *extra: tuple[str, str]) -> Headers:
    """The closing event of an EventList (`astman_send_list_complete`)."""
    headers: Headers = [("Event", event)]
    if action_id:
        headers.append(("ActionID", action_id))
    return [*headers, ("EventList", "Complete"), ("ListItems", str(items)), *extra]


def fully_booted(uptime: int) -> Headers:
    return [
        ("Event", "FullyBooted"),
        ("Privilege", SYSTEM),
        ("Uptime", str(uptime)),
        ("LastReload", str(uptime)),
        ("Status", "Fully Booted"),
    ]
