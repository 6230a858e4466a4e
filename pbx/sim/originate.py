"""Originate: the event sequences of Asterisk 22 for each way a dialled party responds.

Local channels copy the recordings step by step (names, causes, order):

answered    Newchannel ;1, Newchannel ;2, [VarSet, NewCallerid, NewConnectedLine per half],
            LocalBridge, OriginateResponse(4) [ringing: DialBegin, Newstate ;1 Ringing,
            DialState first], DialBegin, Newstate ;1 Up, DialEnd ANSWER, Newstate ;2 Up
busy        ... LocalBridge, DialBegin, DialEnd BUSY, HangupRequest ;2, Newstate ;2 Busy,
            OriginateResponse(5), Hangup ;1 (0), SoftHangupRequest ;2, Hangup ;2 (17)
congestion  ... DialBegin, Newstate ;2 Busy, DialEnd CONGESTION, HangupRequest ;2,
            OriginateResponse(8), Hangup ;1, SoftHangupRequest ;2, Hangup ;2 (34)
no answer   ... DialBegin, Newstate ;1 Ringing, DialState RINGING, (Timeout) HangupRequest ;2 (19),
            OriginateResponse(3), Hangup ;1 (19), SoftHangupRequest ;2, Hangup ;2 (19)
rejected    ... DialBegin, SoftHangupRequest ;2, HangupRequest ;1, Hangup ;2 (cause),
            DialEnd NOANSWER, OriginateResponse(0), Hangup ;1
no context  Newchannel ;1, Newchannel ;2, Hangup ;2, Hangup ;1, OriginateResponse(0)

Other orders a real Asterisk uses (SimConfig.order, pbx/sim/ordering.py): the OriginateResponse
before everything of its channel, or after ;1 Up and DialEnd; ;2 Up before ;1 Up.

With `local_answer_lag_s` (a Dial behind the agent's `;2`), an answer is Newstate ;2 Up, then
after the lag the rest of the answered sequence.

A failed OriginateResponse names the dial string and Uniqueid `<unknown>`. A
synchronous Originate gets no OriginateResponse; its caller is told the result.
PJSIP channels are single: Newchannel, DialBegin, [Newstate Ringing, DialState],
then Newstate Up, DialEnd ANSWER, OriginateResponse(4) or DialEnd <status>,
OriginateResponse(reason), Hangup(cause). An endpoint that cannot be reached
gets OriginateResponse(0) and no channel at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pbx.sim.channels import BUSY, RINGING, UP, Channel
from pbx.sim.endpoints import DialTarget, Endpoint
from pbx.sim.ordering import Hold

if TYPE_CHECKING:
    from pbx.sim.core import PbxCore

ResultCallback = Callable[[bool, int], None]

REASON_ANSWERED, REASON_BUSY, REASON_CONGESTION, REASON_NO_ANSWER, REASON_FAILED = 4, 5, 8, 3, 0
REASON_HANGUP = 1
OUTGOING = ("AppDial2", "(Outgoing Line)")
"""What a dialled channel shows as its application until it answers (recorded Newexten)."""
"""The dialled channel was hung up (e.g. by an AMI Hangup) while it was still ringing."""


@dataclass(frozen=True)
class OriginateRequest:
    """What an Originate action asked for, already validated."""

    target: DialTarget
    action_id: str = ""
    application: str = ""
    data: str = ""
    context: str = ""
    exten: str = ""
    priority: int = 1
    timeout_s: float = 30.0
    callerid: tuple[str, str] = ("", "")
    """(number, name) parsed from the CallerID header."""
    variables: tuple[tuple[str, str], ...] = ()
    channel_id: str = ""
    other_channel_id: str = ""
    is_async: bool = True

    @property
    def response_target(self) -> tuple[tuple[str, str], tuple[str, str]]:
        if self.application:
            return ("Application", self.application), ("Data", self.data)
        return ("Context", self.context), ("Exten", self.exten)


@dataclass
class _Call:
    request: OriginateRequest
    on_result: ResultCallback | None
    endpoint: Endpoint | None = None
    channel: Channel | None = None
    """The originated channel: a Local ;1 or the PJSIP channel."""
    far: Channel | None = None
    """Where the endpoint lives: the Local ;2, or the PJSIP channel itself."""
    done: bool = field(default=False)
    hold: Hold | None = None
    """The channel's events kept back until the OriginateResponse (EventOrder)."""
    late_response: bool = False
    """An answered Local call: OriginateResponse after ;1 Up and DialEnd (EventOrder)."""
    far_up_first: bool = False
    """An answered Local call: ;2 Up before ;1 Up (EventOrder)."""


class Originator:
    def __init__(self, core: PbxCore) -> None:
        self.core = core

    def start(self, request: OriginateRequest, on_result: ResultCallback | None = None) -> None:
        self.core.processed_calls += 1
        call = _Call(request, on_result)
        target = request.target
        if target.is_local:
            self._start_local(call)
        elif target.role is None:
            self.core.soon(lambda: self._report(call, REASON_FAILED))
        else:
            self._start_single(call)

    # -- reporting ---------------------------------------------------------
    def _report(self, call: _Call, reason: int) -> None:
        if call.done:
            return
        call.done = True
        request = call.request
        success = reason == REASON_ANSWERED
        response = None
        if request.is_async:
            response = self.core.events.originate_response(
                request.action_id,
                call.channel if success else None,
                request.target.dial_string,
                request.response_target,
                reason,
                request.callerid,
            )
        if call.hold is not None:  # it overtakes the held events (EventOrder.originate_response_first)
            self.core.release_events(call.hold, response)
            call.hold = None
        elif response is not None:
            self.core.emit(response)
        if call.on_result is not None:
            call.on_result(success, reason)

    # -- set-up ------------------------------------------------------------
    def _setup(self, channel: Channel, request: OriginateRequest, *, first_half: bool) -> None:
        for name, value in request.variables:
            self.core.set_var(channel, name, value)
        number, name = request.callerid
        if number or name:
            self.core.set_callerid(channel, number, name, connected_too=not first_half)

    def _plan(self, target: DialTarget, request: OriginateRequest) -> Endpoint:
        variables = {name.lstrip("_"): value for name, value in request.variables}
        busy = target.role == "agent" and self.core.agent_in_call(target.number)
        return self.core.endpoints.plan(target, variables, agent_busy=busy)

    def _start_local(self, call: _Call) -> None:
        request, target, core = call.request, call.request.target, self.core
        one, two = core.channels.new_local_pair(
            target.number, target.local_context, request.channel_id, request.other_channel_id
        )
        one.app, one.app_data = OUTGOING
        call.hold = core.hold_events(one, target.number)
        if call.hold is not None:
            core.sequencer.add(call.hold, two.uniqueid)
        core.emit(core.events.newchannel(one))
        core.emit(core.events.newchannel(two))
        call.channel, call.far = one, two
        if target.role is None:
            core.finish(two, 0)
            core.finish(one, 0)
            self._report(call, REASON_FAILED)
            return
        self._setup(one, request, first_half=True)
        self._setup(two, request, first_half=False)
        core.emit(core.events.local_bridge(one, two))
        call.late_response = core.draws(target.number, "originate_response_after_answer")
        call.far_up_first = core.draws(target.number, "far_half_up_first")
        call.endpoint = self._plan(target, request)
        two.app, two.app_data = "Dial", f"PJSIP/{target.number}"
        core.attach(two, call.endpoint)
        self._dial(call)

    def _start_single(self, call: _Call) -> None:
        request, target, core = call.request, call.request.target, self.core
        context = core.config.agent_endpoint_context if target.role == "agent" else core.config.trunk_context
        channel = core.channels.new_single(
            "PJSIP", target.endpoint, state=0, context=context, exten="s", channel_id=request.channel_id
        )
        channel.app, channel.app_data = OUTGOING
        call.hold = core.hold_events(channel, target.number)
        core.emit(core.events.newchannel(channel))
        call.channel = call.far = channel
        self._setup(channel, request, first_half=True)
        call.endpoint = self._plan(target, request)
        core.attach(channel, call.endpoint)
        self._dial(call)

    # -- dialling ------------------------------------------------------------
    def _dial(self, call: _Call) -> None:
        channel, endpoint = call.channel, call.endpoint
        assert channel is not None and endpoint is not None
        dial_string = call.request.target.resource
        channel.hangup_hooks.append(lambda: self._report(call, REASON_HANGUP))
        immediate = endpoint.answers and endpoint.ring_s <= 0
        if immediate and channel.half == 1 and call.request.is_async and not call.late_response:
            self._report(call, REASON_ANSWERED)  # recorded: before DialBegin when nothing rings
        self.core.emit(self.core.events.dial_begin(None, channel, dial_string))
        if immediate:
            self._answer(call)
            return
        if endpoint.answers or endpoint.outcome == "noanswer":
            self.core.set_state(channel, RINGING)
            self.core.emit(self.core.events.dial_state(None, channel, "RINGING"))
        timeout = call.request.timeout_s
        if endpoint.ring_s < timeout:
            channel.dial_timer = self.core.later(endpoint.ring_s, lambda: self._respond(call))
        else:
            channel.dial_timer = self.core.later(timeout, lambda: self._no_answer(call))

    def _respond(self, call: _Call) -> None:
        assert call.channel is not None and call.endpoint is not None
        call.channel.dial_timer = None
        if call.channel.hungup:
            self._report(call, REASON_FAILED)
            return
        outcome = call.endpoint.outcome
        if outcome in ("answer", "machine"):
            self._answer(call)
        elif outcome == "busy":
            self._busy(call)
        elif outcome == "congestion":
            self._congestion(call)
        else:
            self._reject(call)

    def _answer(self, call: _Call) -> None:
        core, channel, far = self.core, call.channel, call.far
        assert channel is not None and far is not None
        lag = core.config.local_answer_lag_s
        if channel.half == 1 and lag > 0 and far.state != UP:
            core.set_state(far, UP)  # Dial in ;2 answered it; ;1 learns it a moment later
            channel.dial_timer = core.later(lag, lambda: self._lagged_answer(call))
            return
        if channel.half == 1:
            if call.far_up_first:
                core.set_state(far, UP)
            if not call.late_response:
                self._report(call, REASON_ANSWERED)
            core.set_state(channel, UP)
            core.emit(core.events.dial_end(None, channel, "ANSWER"))
            self._report(call, REASON_ANSWERED)  # a no-op unless late_response
            core.set_state(far, UP)
        else:
            core.set_state(channel, UP)
            core.emit(core.events.dial_end(None, channel, "ANSWER"))
            self._report(call, REASON_ANSWERED)
        core.mark_answered(channel)
        if channel.bridge is not None:
            return  # bridged while it rang: the bridge, not the Originate target, has it now
        request = call.request
        if request.application:
            core.dialplan.run_application(channel, request.application, request.data)
        else:
            core.dialplan.goto(channel, request.context, request.exten, request.priority)

    def _lagged_answer(self, call: _Call) -> None:
        assert call.channel is not None
        call.channel.dial_timer = None
        if not call.channel.hungup:  # hung up meanwhile: its hangup hook reported the failure
            self._answer(call)

    def _busy(self, call: _Call) -> None:
        core, channel, far = self.core, call.channel, call.far
        assert channel is not None and far is not None
        core.emit(core.events.dial_end(None, channel, "BUSY"))
        if channel is far:
            self._fail_single(call, REASON_BUSY, 17)
            return
        core.emit(core.events.hangup_request(far, 0))
        core.set_state(far, BUSY)
        self._fail_local(call, REASON_BUSY, 0, 17)

    def _congestion(self, call: _Call) -> None:
        core, channel, far = self.core, call.channel, call.far
        assert channel is not None and far is not None
        if channel is far:
            core.emit(core.events.dial_end(None, channel, "CONGESTION"))
            self._fail_single(call, REASON_CONGESTION, 34)
            return
        core.set_state(far, BUSY)
        core.emit(core.events.dial_end(None, channel, "CONGESTION"))
        core.emit(core.events.hangup_request(far, 0))
        self._fail_local(call, REASON_CONGESTION, 0, 34)

    def _no_answer(self, call: _Call) -> None:
        core, channel, far = self.core, call.channel, call.far
        assert channel is not None and far is not None
        channel.dial_timer = None
        if channel is far:
            self._fail_single(call, REASON_NO_ANSWER, 19)
            return
        core.emit(core.events.hangup_request(far, 19))
        self._fail_local(call, REASON_NO_ANSWER, 19, 19)

    def _reject(self, call: _Call) -> None:
        core, channel, far, endpoint = self.core, call.channel, call.far, call.endpoint
        assert channel is not None and far is not None and endpoint is not None
        cause = endpoint.cause
        if channel is far:
            core.emit(core.events.hangup_request(channel, cause))
            core.emit(core.events.dial_end(None, channel, "NOANSWER"))
            self._fail_single(call, REASON_FAILED, cause)
            return
        core.emit(core.events.soft_hangup_request(far, 16))
        core.emit(core.events.hangup_request(channel, cause))
        core.finish(far, cause)
        core.emit(core.events.dial_end(None, channel, "NOANSWER"))
        self._report(call, REASON_FAILED)
        core.finish(channel, cause)

    def _fail_local(self, call: _Call, reason: int, one_cause: int, two_cause: int) -> None:
        core, channel, far = self.core, call.channel, call.far
        assert channel is not None and far is not None
        self._report(call, reason)
        core.finish(channel, one_cause)
        core.emit(core.events.soft_hangup_request(far, 16))
        core.finish(far, two_cause)

    def _fail_single(self, call: _Call, reason: int, cause: int) -> None:
        assert call.channel is not None
        self._report(call, reason)
        self.core.finish(call.channel, cause)
