"""The channel model of the simulated Asterisk: names, unique ids, states, bridges.

Rules kept, as a real Asterisk 22 shows them in the recordings:
- Uniqueid is `<creation epoch seconds>.<global sequence>`; Linkedid is the
  Uniqueid of the oldest channel of the call (a Local ;2 inherits its ;1's,
  a bridge gives every member the oldest Linkedid among them).
- A Local channel is a pair of halves, `Local/<exten>@<context>-<8 hex>;1` (the
  originated side) and `;2` (the side that runs <context>); the hex counter is
  shared by all Local channels. PJSIP channels are single,
  `PJSIP/<endpoint>-<8 hex>`, with one counter for all PJSIP channels.
- Caller and connected line start as `<unknown>`; variables start empty.
Lookup by name follows Asterisk: exact name, then Uniqueid, case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pbx.sim.clock import Clock, Timer
    from pbx.sim.endpoints import Endpoint

UNKNOWN = "<unknown>"
DOWN, RING, RINGING, UP, BUSY = 0, 4, 5, 6, 7
STATE_DESC = {
    0: "Down",
    1: "Rsrvd",
    2: "OffHook",
    3: "Dialing",
    4: "Ring",
    5: "Ringing",
    6: "Up",
    7: "Busy",
}


@dataclass(eq=False)
class Bridge:
    """A basic two-party bridge (what the AMI Bridge action creates)."""

    id: str
    created: float
    members: list[Channel] = field(default_factory=list)


@dataclass(eq=False)
class Channel:
    """One live channel and what it is doing right now."""

    name: str
    uniqueid: str
    linkedid: str
    tech: str
    created: float
    state: int = DOWN
    caller_num: str = UNKNOWN
    caller_name: str = UNKNOWN
    connected_num: str = UNKNOWN
    connected_name: str = UNKNOWN
    context: str = "default"
    exten: str = "s"
    priority: int = 1
    variables: dict[str, str] = field(default_factory=dict)
    app: str = ""
    app_data: str = ""
    half: int = 0
    """1 or 2 for the halves of a Local channel, 0 for a single channel."""
    partner: Channel | None = None
    in_dialplan: bool = False
    """True while running dialplan priorities; False for an Originate's Application."""
    bridge: Bridge | None = None
    moh_class: str | None = None
    dtmf_features: str = ""  # CHANNEL(dtmf_features): "T" lets its bridge run the transfer features
    hungup: bool = False
    pending: Timer | None = None
    """The running application's timer (Wait, MusicOnHold with duration, AMD...)."""
    endpoint: Endpoint | None = None
    """The simulated person or device behind this channel, if any."""
    endpoint_timer: Timer | None = None
    dial_timer: Timer | None = None
    hangup_first: list[Callable[[], None]] = field(default_factory=list)
    """Run once when a hangup of this channel begins, before its events (an attended transfer
    completes before the transferer's hangup is reported)."""
    hangup_hooks: list[Callable[[], None]] = field(default_factory=list)
    """Run once when the channel is gone (an Originate still dialling learns it failed)."""
    keys: list[str] = field(default_factory=list)  # what the caller presses at each Read(), in order
    app_done: Callable[[], None] | None = None
    """Run when the blocking application ends normally (TryExec's TRYSTATUS=SUCCESS)."""
    app_hungup: Callable[[], None] | None = None
    """What the running application reports when the call ends under it (Playback's
    PLAYBACKSTATUS, Read's READSTATUS=HANGUP), as Asterisk's application returns."""

    @property
    def state_desc(self) -> str:
        return STATE_DESC.get(self.state, "Unknown")

    @property
    def base_name(self) -> str:
        """The name without its Local half suffix (`;1` / `;2`)."""
        return self.name[:-2] if self.half else self.name

    def var(self, name: str) -> str:
        return self.variables.get(name, "")

    def cancel_timers(self) -> None:
        for timer in (self.pending, self.endpoint_timer, self.dial_timer):
            if timer is not None:
                timer.cancel()
        self.pending = self.endpoint_timer = self.dial_timer = None


def linkedid_key(uniqueid: str) -> tuple[int, int]:
    """Order Uniqueids by age: `<epoch>.<sequence>` (assigned ids sort last)."""
    epoch, _, seq = uniqueid.partition(".")
    if epoch.isdigit() and seq.isdigit():
        return int(epoch), int(seq)
    return 2**62, 0


class ChannelRegistry:
    """Every live channel, in creation order, plus the id and name counters."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._channels: dict[str, Channel] = {}
        self._sequence = 0
        self._local_counter = 0
        self._tech_counter = 0

    def __iter__(self) -> Iterator[Channel]:
        return iter(list(self._channels.values()))

    def __len__(self) -> int:
        return len(self._channels)

    def snapshot(self) -> dict[str, Channel]:
        return dict(self._channels)

    def new_uniqueid(self) -> str:
        uniqueid = f"{int(self._clock.now())}.{self._sequence}"
        self._sequence += 1
        return uniqueid

    def new_local_pair(
        self, exten: str, context: str, channel_id: str = "", other_id: str = ""
    ) -> tuple[Channel, Channel]:
        base = f"Local/{exten}@{context}-{self._local_counter:08x}"
        self._local_counter += 1
        now = self._clock.now()
        one_id = channel_id or self.new_uniqueid()
        two_id = other_id or (f"{channel_id};2" if channel_id else self.new_uniqueid())
        one = Channel(f"{base};1", one_id, one_id, "Local", now, DOWN, context=context, exten=exten, half=1)
        two = Channel(f"{base};2", two_id, one_id, "Local", now, RING, context=context, exten=exten, half=2)
        one.partner, two.partner = two, one
        self._channels[one.name] = one
        self._channels[two.name] = two
        return one, two

    def new_single(
        self, tech: str, endpoint: str, *, state: int, context: str, exten: str, channel_id: str = ""
    ) -> Channel:
        name = f"{tech}/{endpoint}-{self._tech_counter:08x}"
        self._tech_counter += 1
        uniqueid = channel_id or self.new_uniqueid()
        now = self._clock.now()
        channel = Channel(name, uniqueid, uniqueid, tech, now, state, context=context, exten=exten)
        self._channels[name] = channel
        return channel

    def remove(self, channel: Channel) -> None:
        self._channels.pop(channel.name, None)

    def get(self, name: str) -> Channel | None:
        """By exact name, then by Uniqueid, then case-insensitively (ast_channel_get_by_name)."""
        found = self._channels.get(name)
        if found is not None:
            return found
        folded = name.lower()
        for channel in self._channels.values():
            if channel.uniqueid == name or channel.name.lower() == folded:
                return channel
        return None

    def get_by_prefix(self, prefix: str) -> Channel | None:
        """The first channel whose name starts with `prefix` (the Bridge action's lookup)."""
        found = self.get(prefix)
        if found is not None:
            return found
        folded = prefix.lower()
        return next((c for c in self._channels.values() if c.name.lower().startswith(folded)), None)

    def matching(self, pattern: re.Pattern[str]) -> list[Channel]:
        return [c for c in self._channels.values() if pattern.search(c.name)]
