"""Outbound resync: after an AMI reconnect or an engine restart, the dialer's placed calls are rebuilt
from what Asterisk has (DESIGN.md 2.7: "answered customers are connected or handled as abandons,
vanished calls get one definite outcome").

The pure half, `plan`, reads a CoreShowChannels answer: a customer is the channel carrying the
call's SWITCHBOARD_CALL_ID in the [switchboard-outbound] context (answered, AMD then hold music),
or, before the answer, the originated channel (its Uniqueid is its Linkedid) of a call id that has
no answered channel. For each call the engine follows (its own, and those it just took over from
a previous life or a dead engine), it says what to apply:
- answered customers become `Found` (dialer.calls.lifecycle): bridged is connected; in AMD is answered;
  on hold is handed to the desk, or, past the grace, redirected to the abandon message and counted
  once. The grace counts from the earliest moment the answer may have come (`since`: the last
  event the engine saw before the link went, the placing time after a restart or a takeover), so
  an abandon is never under-counted; but from the verdict itself when this engine heard it live
  for a call it did not follow then (`heard`, dialer.calls.follow: a standby hears every verdict,
  so a customer whose AMD ended while no engine owned the call is not abandoned for the time AMD
  took). Nothing else dates a missed verdict: the listing carries no time and a restarted
  engine was not there to hear it;
- customers still ringing are followed: their OriginateResponse or hangup arrives live;
- a followed call whose channel is gone gets `Vanished` (one definite outcome), saying whether the
  desk sent a Bridge for its customer (a person on hold may have talked); an answered customer
  whose call id is only on an unanswered channel (the agent's leg still ringing) is gone too.
`still_due`: an effect on a customer Asterisk never confirmed (the abandon Redirect, a machine's
hang-up, lost with the link or never sent) is sent again while the customer is still answered on
that channel in [switchboard-outbound] (on hold: Asterisk did not execute it); its call was settled
when it was decided, so it is neither settled nor counted again.
`orphans` are the customers nobody here follows: who takes them is for dialer.calls.recovery (the
intent store knows who placed each call). The shell, `OutboundResync`, lists the channels and
reads AMDSTATUS (Getvar) of customers whose verdict was missed; dialer.loop.takeover runs it all.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from core.errors import AmiError
from core.step_deadline import ami_limit
from dialer.calls import lifecycle as outbound
from dialer.calls.dial_records import DialKind, PlacedCall
from dialer.calls.dialing import OUTBOUND_CONTEXT
from dialer.calls.follow import Heard
from dialer.calls.lifecycle import OutboundCall, Phase
from pbx.codec import Event
from pbx.service import ActionSender
from pbx.switchboard_events import SHARD_VARIABLE
from pbx.tracker import CALL_ID_VARIABLE

log = logging.getLogger("switchboard.dialer.resync")

STATE_UP = 6
DETECTING = "AMD"  # the application of a customer whose answering-machine detection still runs
_ON_THE_LINE = frozenset({Phase.ANSWERED, Phase.WAITING})  # the customer's channel answered, listed as such
FRESH_S = 2.0  # a dialing call younger than this may not have a channel yet: left to its timers


@dataclass(frozen=True, slots=True)
class LiveCustomer:
    call_id: str
    uniqueid: str
    channel: str
    answered: bool  # in [switchboard-outbound]: answered and announced to the dialplan
    detecting: bool
    bridged: bool
    up: bool = True
    shard: str = ""  # SWITCHBOARD_SHARD as the listing shows it ('' absent: the default shard)


def customers(channels: Iterable[Event], variable: str = CALL_ID_VARIABLE) -> dict[str, LiveCustomer]:
    """Each call id's customer channel in a CoreShowChannels answer (answered ones first)."""
    found: dict[str, LiveCustomer] = {}
    for event in channels:
        call_id = event.chan_variables().get(variable) if variable in event.raw else None
        uniqueid = event.get("Uniqueid") or ""
        if not call_id or not uniqueid:
            continue
        up = event.get("ChannelState") == str(STATE_UP)
        answered = up and event.get("Context") == OUTBOUND_CONTEXT
        originated = uniqueid == (event.get("Linkedid") or uniqueid)
        if answered or (originated and call_id not in found):
            found[call_id] = LiveCustomer(
                call_id, uniqueid, event.get("Channel") or "", answered,
                event.get("Application") == DETECTING, bool(event.get("BridgeId")), up,
                event.chan_variables().get(SHARD_VARIABLE, "").strip(),
            )  # fmt: skip
    return found


def found_event(
    call: OutboundCall, live: LiveCustomer, now: float, since: float, amd_status: str | None,
    *, heard: Heard | None = None,
) -> outbound.Found:  # fmt: skip
    answered_at = max(since, call.placed.placed_at)
    judged_at = heard.at if heard is not None and heard.uniqueid == live.uniqueid else None
    return outbound.Found(now, live.uniqueid, live.channel, answered_at, amd_status, live.bridged, judged_at)


def needs_verdict(call: OutboundCall | None, live: LiveCustomer) -> bool:
    """The AMD verdict of a followed call was missed: the customer left AMD unheard."""
    if not live.answered or live.detecting or live.bridged:
        return False
    return call is not None and call.phase in (Phase.DIALING, Phase.ANSWERED)


def plan(
    calls: Iterable[OutboundCall], live: Mapping[str, LiveCustomer], now: float, since: float,
    verdicts: Mapping[str, str], *, bridges: Collection[str] = (), heard: Mapping[str, Heard] | None = None,
) -> list[tuple[str, outbound.Event]]:  # fmt: skip
    """What to apply to each followed call (pure). `verdicts`: AMDSTATUS read for missed verdicts;
    `bridges`: the customers' channels the desk sent a Bridge for (not refused); `heard`: the
    verdicts this engine heard for calls it did not follow then (by call id)."""
    steps: list[tuple[str, outbound.Event]] = []
    for call in calls:
        found = live.get(call.call_id)
        if found is not None and not found.answered and call.phase in _ON_THE_LINE:
            found = None  # another leg with the call id (the agent's, ringing): the customer is gone
        if found is None:
            if call.phase is not Phase.DIALING or call.placed.placed_at + FRESH_S < now:
                steps.append((call.call_id, outbound.Vanished(now, call.channel in bridges)))
        elif found.answered and call.phase is not Phase.CONNECTED:
            amd = None if found.detecting else verdicts.get(call.call_id, "NOTSURE")
            judged = (heard or {}).get(call.call_id)
            steps.append((call.call_id, found_event(call, found, now, since, amd, heard=judged)))
    return steps


def still_due(call_id: str, channel: str, live: Mapping[str, LiveCustomer]) -> bool:
    """An unconfirmed effect on this customer's channel is still due: they wait in the outbound
    context, unbridged (executed, it would have moved or ended them: anything else is done)."""
    found = live.get(call_id)
    return found is not None and found.answered and found.channel == channel and not found.bridged


def orphans(live: Mapping[str, LiveCustomer], followed: Iterable[str]) -> list[LiveCustomer]:
    """Customers nobody here follows: answered ones, and originated channels still ringing (taken
    over only if their dial intent says so: inbound legs carry call ids too)."""
    known = set(followed)
    return [
        found for call_id, found in live.items() if call_id not in known and (found.answered or not found.up)
    ]


def unknown_call(call_id: str, now: float) -> PlacedCall:
    """A customer whose dial record is lost: still connected or abandoned, never left on hold."""
    return PlacedCall(call_id, "", "", "", DialKind.CAMPAIGN, now)


class OutboundResync:
    """The shell: list the customers, read a missed verdict (see the module docstring)."""

    def __init__(self, sender: ActionSender, *, timeout: float, variable: str = CALL_ID_VARIABLE) -> None:
        self.sender = sender
        self.timeout = timeout
        self.variable = variable

    def _limit(self) -> float:
        """In a pacing round's recovery pass, no longer than the round's AMI time (core.step_deadline)."""
        return max(0.05, ami_limit(self.timeout))

    async def live(self) -> dict[str, LiveCustomer]:
        result = await self.sender.send("CoreShowChannels", timeout=self._limit(), check=True)
        return customers((e for e in result.events if e.name == "CoreShowChannel"), self.variable)

    async def verdict(self, channel: str) -> str:
        """The AMD verdict the dialplan left on the channel (NOTSURE when it cannot be read)."""
        try:
            result = await self.sender.send(
                "Getvar", {"Channel": channel, "Variable": "AMDSTATUS"}, timeout=self._limit()
            )
        except AmiError as exc:
            log.warning("AMDSTATUS of %s not read: %s", channel, exc.message)
            return "NOTSURE"
        return (result.response.get("Value") or "NOTSURE") if result.response.ok else "NOTSURE"
