"""The simulated PBX's state and the channel lifecycle every other part goes through.

`PbxCore` owns the channels, bridges, dialplan, endpoints and the event sink;
its methods change a channel *and* emit the event Asterisk emits for that
change, so no caller can forget one. Hang-ups follow the recordings:

- a soft hangup (AMI Hangup, dialplan Hangup()) starts with SoftHangupRequest,
  a far end hanging up starts with HangupRequest, a finished application with
  nothing; then the channel leaves its bridge (the other member is ejected and
  continues its dialplan) and Hangup is sent;
- a Local half takes its other half with it: `;1` going first gives
  `HangupRequest ;2, Hangup ;1, SoftHangupRequest ;2, Hangup ;2`; `;2` going first
  gives `HangupRequest ;1, Hangup ;2, ..., Hangup ;1`.
Timers run through the injected clock; after `stopped` no callback acts.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pbx.sim.bridges import Bridges
from pbx.sim.channels import UNKNOWN, UP, Channel, ChannelRegistry
from pbx.sim.clock import Clock, Timer
from pbx.sim.config import SimConfig
from pbx.sim.dialplan import Dialplan
from pbx.sim.endpoints import Endpoint, Endpoints
from pbx.sim.events import EventFactory, Headers
from pbx.sim.ordering import Hold, Sequencer

HangupMode = Literal["soft", "remote", "end"]
EventSink = Callable[[Headers], None]


@dataclass
class CallRecord:
    """One simulated party's call, for demos and benchmarks (service level, talk time)."""

    role: str
    number: str
    channel: str
    tier: str
    dialled: str
    outcome: str
    created: float
    answered: float | None = None
    bridged: float | None = None
    ended: float | None = None
    ended_by: str | None = None
    """`talk`: the person hung up during a bridged conversation (its natural end); `patience`: the
    person hung up while not bridged (waiting, on hold); `pbx`: anything else ended it (an AMI
    Hangup, the dialplan, the other side). The chaos suite tells dropped calls apart by it."""
    call_id: str = ""
    """The channel's SWITCHBOARD_CALL_ID when it ended (the engine's id for the call)."""


def variable_name(name: str) -> str:
    """`__VAR` and `_VAR` (inheritance markers) name the variable `VAR`."""
    return name[2:] if name.startswith("__") else name[1:] if name.startswith("_") else name


class PbxCore:
    """Channels, bridges and timers of one simulated Asterisk."""

    def __init__(self, config: SimConfig, clock: Clock, rng: random.Random, sink: EventSink) -> None:
        self.config = config
        self.clock = clock
        self.rng = rng
        self.events = EventFactory(config.channelvars)
        self.channels = ChannelRegistry(clock)
        self.endpoints = Endpoints(config, rng)
        self.bridges = Bridges(self)
        self.dialplan = Dialplan(self)
        self.globals: dict[str, str] = {}
        self.processed_calls = 0
        self.consults: dict[str, object] = {}  # transferer uniqueid -> its attended transfer (transfers.py)
        self.started_at = clock.now()
        self.stopped = False
        self.call_log: deque[CallRecord] = deque(maxlen=100_000)
        self._records: dict[int, CallRecord] = {}
        self._agent_calls: Counter[str] = Counter()
        # Its own RNG, derived from the main one's state without drawing from it: orders never
        # shift the seeded outcomes, ring and talk times.
        self.sequencer = Sequencer(random.Random(f"event-order {rng.getstate()[1][1:9]}"), sink)

    # -- events and timers ------------------------------------------------
    def emit(self, headers: Headers) -> None:
        self.sequencer.emit(self._stamped(headers))

    def _stamped(self, headers: Headers) -> Headers:
        if self.config.timestamp_events and len(headers) > 1 and headers[1][0] == "Privilege":
            headers.insert(2, ("Timestamp", f"{self.clock.now():.6f}"))
        return headers

    def draws(self, number: str, order: str) -> bool:
        """Whether a call to `number` comes in this other order (an EventOrder field) this time."""
        return self.sequencer.draw(float(getattr(self.config.order_for(number), order)))

    def far_number(self, channel: Channel) -> str:
        far = self.endpoint_channel(channel)
        return far.endpoint.number if far is not None and far.endpoint is not None else ""

    def hold_events(self, channel: Channel, number: str) -> Hold | None:
        """Maybe (EventOrder.originate_response_first) keep an originated channel's events back."""
        if not self.sequencer.draw(self.config.order_for(number).originate_response_first):
            return None
        return self.sequencer.hold(channel.uniqueid)

    def release_events(self, hold: Hold, first: Headers | None) -> None:
        self.sequencer.release(hold, None if first is None else self._stamped(first))

    def _leave_bridge(self, channel: Channel) -> list[Headers]:
        """Leave the bridge; with EventOrder.hangup_before_bridge_leave the bridge's events are
        returned, to be sent after the Hangup."""
        if not self.draws(self.far_number(channel), "hangup_before_bridge_leave"):
            self.bridges.leave(channel)
            return []
        self.sequencer.capture()
        try:
            self.bridges.leave(channel)
        finally:
            taken = self.sequencer.captured()
        return taken

    def later(self, delay: float, callback: Callable[[], None]) -> Timer:
        def run() -> None:
            if not self.stopped:
                callback()

        return self.clock.call_later(delay, run)

    def soon(self, callback: Callable[[], None]) -> None:
        self.later(0.0, callback)

    # -- channel attributes -----------------------------------------------
    def set_var(self, channel: Channel, name: str, value: str) -> None:
        channel.variables[variable_name(name)] = value
        self.emit(self.events.varset(channel, name, value))

    def set_state(self, channel: Channel, state: int) -> None:
        if channel.state != state:
            channel.state = state
            self.emit(self.events.newstate(channel))

    def set_callerid(self, channel: Channel, number: str, name: str, *, connected_too: bool) -> None:
        """NewCallerid then NewConnectedLine; a Local ;1 shows its connected line only in the second."""
        channel.caller_num, channel.caller_name = number or UNKNOWN, name or UNKNOWN
        if connected_too:
            channel.connected_num, channel.connected_name = channel.caller_num, channel.caller_name
        self.emit(self.events.new_callerid(channel))
        channel.connected_num, channel.connected_name = channel.caller_num, channel.caller_name
        self.emit(self.events.new_connected_line(channel))

    def stop_moh(self, channel: Channel) -> None:
        if channel.moh_class is not None:
            channel.moh_class = None
            self.emit(self.events.moh_stop(channel))

    def interrupt(self, channel: Channel) -> None:
        """Stop the running application (a Bridge or Redirect pulls the channel out)."""
        if channel.pending is not None:
            channel.pending.cancel()
            channel.pending = None
        channel.app_hungup = None
        self.stop_moh(channel)

    def end_application(self, channel: Channel) -> None:
        """The call ended under a blocking application: it reports as Asterisk's does
        (Asterisk 22: a caller who hangs up during Playback still gets PLAYBACKSTATUS=SUCCESS)."""
        report, channel.app_hungup = channel.app_hungup, None
        if report is not None:
            report()

    # -- endpoints ---------------------------------------------------------
    def attach(self, channel: Channel, endpoint: Endpoint, dialled: str = "") -> None:
        channel.endpoint = endpoint
        record = CallRecord(
            endpoint.role,
            endpoint.number,
            channel.name,
            endpoint.tier,
            dialled,
            endpoint.outcome,
            self.clock.now(),
        )
        self._records[id(channel)] = record
        self.call_log.append(record)
        if endpoint.role == "agent":
            self._agent_calls[endpoint.number] += 1

    def agent_in_call(self, extension: str) -> bool:
        return self._agent_calls[extension] > 0

    def endpoint_channel(self, channel: Channel) -> Channel | None:
        if channel.endpoint is not None:
            return channel
        partner = channel.partner
        return partner if partner is not None and partner.endpoint is not None else None

    def mark_answered(self, channel: Channel) -> None:
        far = self.endpoint_channel(channel)
        record = self._records.get(id(far)) if far is not None else None
        if record is not None and record.answered is None:
            record.answered = self.clock.now()
        self.arm_endpoint(channel, bridged=False)

    def arm_endpoint(self, channel: Channel, *, bridged: bool) -> None:
        """(Re)start the far end's clock: talk time in a bridge, patience outside one."""
        far = self.endpoint_channel(channel)
        if far is None or far.hungup or far.endpoint is None:
            return
        if far.endpoint_timer is not None:
            far.endpoint_timer.cancel()
            far.endpoint_timer = None
        record = self._records.get(id(far))
        if bridged and record is not None and record.bridged is None:
            record.bridged = self.clock.now()
        delay = far.endpoint.talk_s if bridged else far.endpoint.patience_s
        if delay is not None:
            far.endpoint_timer = self.later(delay, lambda: self.endpoint_hangs_up(far))

    def endpoint_hangs_up(self, channel: Channel) -> None:
        """The person hangs up: a Local ;2 runs Hangup(), a PJSIP peer sends BYE."""
        channel.endpoint_timer = None
        record = self._records.get(id(channel))
        if record is not None and record.ended_by is None:
            record.ended_by = "talk" if channel.bridge is not None else "patience"
        if not channel.hungup:
            self.hangup(channel, 16, "soft" if channel.half == 2 else "remote")

    def far_end_hangs_up(self, name: str) -> bool:
        """The person on the channel `name` (or its Local partner's phone) hangs up now; False if
        no such channel is up."""
        channel = self.channels.get_by_prefix(name) if name else None
        if channel is None or channel.hungup:
            return False
        far = self.endpoint_channel(channel)
        if far is not None and not far.hungup:
            self.endpoint_hangs_up(far)
        else:
            self.hangup(channel, 16, "remote")
        return True

    # -- hangups -------------------------------------------------------------
    def end_cause(self, channel: Channel) -> int:
        """The cause when a channel's PBX simply ends (Local: 0, as recorded)."""
        return 0 if channel.tech == "Local" else 16

    def hangup(self, channel: Channel, cause: int, mode: HangupMode = "soft") -> None:
        if channel.hungup:
            return
        first, channel.hangup_first = channel.hangup_first, []
        for hook in first:
            hook()
        partner = channel.partner if channel.partner is not None and not channel.partner.hungup else None
        channel.hungup = True
        channel.cancel_timers()
        if mode == "soft":
            self.emit(self.events.soft_hangup_request(channel, cause or 16))
        elif mode == "remote":
            self.emit(self.events.hangup_request(channel, cause))
        self.stop_moh(channel)
        self.end_application(channel)
        later = self._leave_bridge(channel) if channel.bridge is not None else []
        if partner is not None:
            self.emit(self.events.hangup_request(partner, cause))
            if self.draws(self.far_number(channel), "partner_hangup_first"):
                self._take_down_partner(partner, cause)  # EventOrder.partner_hangup_first
                self.finish(channel, cause)
                self.sequencer.send_later(later)
                return
        self.finish(channel, cause)
        self.sequencer.send_later(later)
        if partner is not None:
            self._take_down_partner(partner, cause)

    def _take_down_partner(self, channel: Channel, cause: int) -> None:
        channel.hungup = True
        channel.cancel_timers()
        self.stop_moh(channel)
        self.end_application(channel)
        if channel.half == 2:
            self.emit(self.events.soft_hangup_request(channel, 16))
        later = self._leave_bridge(channel) if channel.bridge is not None else []
        self.finish(channel, cause)
        self.sequencer.send_later(later)

    def finish(self, channel: Channel, cause: int) -> None:
        """Send Hangup and forget the channel."""
        channel.hungup = True
        channel.cancel_timers()
        hangup = self.events.hangup(channel, cause)
        # Gone before the event is seen, so whoever waits on the event sees it gone.
        self.channels.remove(channel)
        record = self._records.pop(id(channel), None)
        if record is not None:
            record.ended = self.clock.now()
            record.ended_by = record.ended_by or "pbx"
            record.call_id = channel.variables.get("SWITCHBOARD_CALL_ID", "")
        self.emit(hangup)
        hooks, channel.hangup_hooks = channel.hangup_hooks, []
        for hook in hooks:
            hook()
        if channel.endpoint is not None and channel.endpoint.role == "agent":
            self._agent_calls[channel.endpoint.number] -= 1
            if self._agent_calls[channel.endpoint.number] <= 0:
                del self._agent_calls[channel.endpoint.number]

    def answer(self, channel: Channel) -> None:
        self.set_state(channel, UP)

    def resume_after_bridge(self, channel: Channel) -> None:
        """An ejected bridge member continues its dialplan at the next priority."""
        if channel.hungup or channel.bridge is not None:
            return  # gone, or already joined to another bridge (an attended transfer's target)
        self.arm_endpoint(channel, bridged=False)
        self.dialplan.resume(channel)

    def shutdown(self) -> None:
        self.stopped = True
        for channel in self.channels:
            channel.cancel_timers()
