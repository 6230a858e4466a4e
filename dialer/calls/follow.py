"""The placed calls an engine follows, and how tracker changes become their table events. Pure: no I/O.

`CallBook` owns the record of every outbound call this engine placed (dialer.calls.lifecycle.OutboundCall
and its rules), indexes it by ActionID, by the customer's Uniqueid and by call id, and turns the
tracker's changes (pbx.call_changes) into events of the call table (dialer.calls.lifecycle.apply). The
service (dialer/loop/service.py) performs the effects that come back.
Rules it keeps (DESIGN.md 2.7, "the result never depends on the order Asterisk delivers a call's
events in"; docs/sim.md lists the orders a real Asterisk 22 produces):
- The customer's channel is learned from whichever comes first: the OriginateResponse (its
  Uniqueid, even when it overtook the channel's Newchannel), the first channel seen with the call
  id, or the channel that announced the answer (UserEvent SwitchboardOutboundAnswered).
- An AMD verdict for a call still dialing means its answer was missed or is late (a lost
  OriginateResponse across a reconnect): the call is answered first, then judged.
- A verdict announced for a call this engine does not follow (another engine's, heard on the
  shared AMI link) is remembered with this engine's clock on receipt for `HEARD_FOR_S`
  (`heard`): if this engine takes the call over, the grace counts from that verdict
  (dialer.calls.resync), not from the placing (the most it can assume for a verdict it missed).
- The grace timers live here too, so a replay of events with times gives the same result as the
  service: `due(now)` lists the calls whose grace ran out.
- `call_rules` turns a campaign into the rules a placed call keeps; `overdue` is the event a call is
  owed when Asterisk said nothing in time (no answer by ring timeout + margin, no AMD verdict).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from dialer.calls import lifecycle as outbound
from dialer.calls.dial_records import PlacedCall
from dialer.calls.lifecycle import CallRules, OutboundCall, Phase
from dialer.campaigns.rules import Campaign
from pbx.call_changes import (
    Bridged,
    CallChange,
    CallIdBound,
    ChannelHungUp,
    ChannelUp,
    OriginateResult,
    UserEventSeen,
)
from pbx.switchboard_events import OutboundAnswered, decode

log = logging.getLogger("switchboard.dialer")

Step = tuple[str, outbound.Event]
HEARD_FOR_S = 300.0  # a verdict heard longer ago than any grace changes nothing: forgotten (bounded)


@dataclass(frozen=True, slots=True)
class Heard:
    """An AMD verdict this engine heard for a call it did not follow: on which customer channel, and
    when (this engine's clock on receipt, as the owner stamps its own `AmdDone`)."""

    uniqueid: str
    at: float


@dataclass
class CallBook:
    calls: dict[str, OutboundCall] = field(default_factory=dict)
    rules: dict[str, CallRules] = field(default_factory=dict)
    grace: dict[str, float] = field(default_factory=dict)
    heard: dict[str, Heard] = field(default_factory=dict)  # unfollowed calls' verdicts, oldest first
    _by_action: dict[str, str] = field(default_factory=dict)
    _by_uniqueid: dict[str, str] = field(default_factory=dict)
    _first_channel: dict[str, tuple[str, str]] = field(default_factory=dict)

    # ---- the record -------------------------------------------------------------------------
    def add(self, placed: PlacedCall, rules: CallRules) -> None:
        self.calls[placed.call_id] = OutboundCall(placed)
        self.rules[placed.call_id] = rules
        if placed.action_id:
            self._by_action[placed.action_id] = placed.call_id

    def forget(self, call_id: str) -> None:
        call = self.calls.pop(call_id, None)
        self.rules.pop(call_id, None)
        self.grace.pop(call_id, None)
        self.heard.pop(call_id, None)
        self._first_channel.pop(call_id, None)
        if call is not None:
            self._by_action.pop(call.placed.action_id, None)
            self._by_uniqueid.pop(call.uniqueid, None)

    def __iter__(self) -> Iterator[OutboundCall]:
        return iter(list(self.calls.values()))

    # ---- changes -> events ------------------------------------------------------------------
    def translate(self, change: CallChange, now: float) -> list[Step]:
        """The table events one tracker change means, in the order they must be applied."""
        if isinstance(change, OriginateResult):
            return self._originate_result(change, now)
        if isinstance(change, ChannelUp | CallIdBound) and change.call_id in self.calls:
            assert change.call_id is not None
            self._first_channel.setdefault(change.call_id, (change.uniqueid, change.channel))
        elif isinstance(change, UserEventSeen):
            announced = decode(change)
            if isinstance(announced, OutboundAnswered):
                return self._amd(announced, now)
        elif isinstance(change, Bridged) and change.call_id in self.calls:
            if self._customer_bridged(self.calls[change.call_id], change):
                return [(change.call_id, outbound.AgentConnected(now))]
        elif isinstance(change, ChannelHungUp) and change.uniqueid in self._by_uniqueid:
            return [(self._by_uniqueid[change.uniqueid], outbound.CustomerGone(now))]
        return []

    def _originate_result(self, change: OriginateResult, now: float) -> list[Step]:
        call_id = self._by_action.get(change.action_id) or self._adopted(change.call_id)
        if call_id is None:
            return []
        if not change.ok:
            return [(call_id, outbound.NotAnswered(now, change.reason))]
        uniqueid, channel = self._first_channel.get(call_id, ("", ""))
        return [(call_id, outbound.Answered(now, change.uniqueid or uniqueid, change.channel or channel))]

    def _adopted(self, call_id: str | None) -> str | None:
        """A call adopted at a resync without its ActionID, still dialing: matched by its call id
        (an agent leg carries the same id, but is only rung once the customer has answered)."""
        call = self.calls.get(call_id or "")
        return (
            call_id
            if call is not None and not call.placed.action_id and call.phase is Phase.DIALING
            else None
        )

    def _amd(self, change: OutboundAnswered, now: float) -> list[Step]:
        call_id = change.call_id
        call = self.calls.get(call_id)
        if call is None:
            self._remember(change, now)
            return []
        steps: list[Step] = []
        if call.phase is Phase.DIALING:  # the answer was lost or is late: the announcement proves it
            uniqueid, channel = self._first_channel.get(call_id, ("", ""))
            if change.uniqueid and change.uniqueid != uniqueid:
                uniqueid, channel = change.uniqueid, change.channel or channel
            steps.append((call_id, outbound.Answered(now, uniqueid, channel)))
        steps.append((call_id, outbound.AmdDone(now, change.amd_status)))
        return steps

    def _remember(self, change: OutboundAnswered, now: float) -> None:
        """Another engine's verdict: kept for a takeover (see the module docstring)."""
        heard = self.heard
        while heard and heard[oldest := next(iter(heard))].at < now - HEARD_FOR_S:
            del heard[oldest]
        if change.call_id and change.uniqueid:
            heard.pop(change.call_id, None)  # re-inserted last: the oldest stay first
            heard[change.call_id] = Heard(change.uniqueid, now)

    @staticmethod
    def _customer_bridged(call: OutboundCall, change: Bridged) -> bool:
        """The customer's channel and another one are in one bridge now (not two halves of an agent leg)."""
        if not call.uniqueid:
            return False
        return (change.uniqueid == call.uniqueid and bool(change.peers)) or call.uniqueid in change.peers

    # ---- applying ---------------------------------------------------------------------------
    def apply(self, call_id: str, event: outbound.Event) -> outbound.Result | None:
        """Apply one event; grace effects are kept here, the rest are for the caller to perform.
        The caller forgets an ended call once it has performed its effects."""
        call = self.calls.get(call_id)
        if call is None:
            return None
        moved, effects = outbound.apply(call, event, self.rules.get(call_id, CallRules()))
        self.calls[call_id] = moved
        if moved.uniqueid:
            self._by_uniqueid[moved.uniqueid] = call_id
        for effect in effects:
            if isinstance(effect, outbound.StartGrace):
                self.grace[call_id] = effect.until
            elif isinstance(effect, outbound.CancelGrace):
                self.grace.pop(call_id, None)
        return moved, effects

    def postpone(self, call_id: str, until: float) -> None:
        """The call's grace runs out again at `until` (its abandon waits for a Bridge in doubt)."""
        if call_id in self.calls:
            self.grace[call_id] = until

    def due(self, now: float) -> list[str]:
        """Calls whose grace ran out by `now` (their timers are taken off)."""
        found = [call_id for call_id, until in self.grace.items() if until <= now]
        for call_id in found:
            del self.grace[call_id]
        return found


def call_rules(campaign: Campaign | None) -> CallRules:
    if campaign is None:
        return CallRules()
    machine = campaign.answering_machine
    return CallRules(
        machine=machine.action,
        machine_target=(machine.message.context, machine.message.exten),
        abandon_target=(campaign.abandon.context, campaign.abandon.exten),
        grace_s=campaign.pacing.abandon_grace_s,
    )


class CallTimeouts(Protocol):
    """The settings `overdue` reads (dialer.loop.background.DialerSettings)."""

    @property
    def answer_margin_s(self) -> float: ...

    @property
    def amd_timeout_s(self) -> float: ...


def overdue(
    call: OutboundCall, now: float, *, ring_timeout_s: float, settings: CallTimeouts
) -> outbound.Event | None:
    """The event a followed call is owed when Asterisk said nothing in time: no answer by its ring
    timeout plus a margin (vanished), or no AMD verdict after the answer (treated as a person)."""
    if call.phase is Phase.DIALING:
        if now > call.placed.placed_at + ring_timeout_s + settings.answer_margin_s:
            return outbound.Vanished(now)
    elif call.phase is Phase.ANSWERED and now > (call.answered_at or now) + settings.amd_timeout_s:
        log.warning("call %s: no AMD verdict from the dialplan; treated as a person", call.call_id)
        return outbound.AmdDone(now, "NOTSURE")
    return None
