"""Which AMI events the engine reads: the one list, so the codec can skip the rest unparsed.

Of the 52 events per inbound call the simulated PBX sends (as a real Asterisk 22 does), 34
(Newexten, VarSet of dialplan variables, MusicOnHold*, DialState...) change nothing any consumer
reads. The consumers, checked by grep: pbx.tracker is the only reader of raw events (its handlers
below); the services (routing.acd.service, dialer.loop.service, dialer.tasks.service,
switchboard.webhooks.service) read only the tracker's CallChanges, and the dialer's takeover notes
the time of every event (`Takeover.event_seen`, the link's liveness): a skipped event still
advances it (pbx.ami_transport.SkipEvents, switchboard.engine `watch_link`) and still counts as
contact for the keepalive.

Never skipped: events with an ActionID (an action's answer or event list, e.g. CoreShowChannel,
OriginateResponse), and anything not on the fast path of the codec.
"""

from __future__ import annotations

from dataclasses import dataclass

# Keep in step with pbx.tracker.CallTracker's handlers (tests/unit/test_event_filter.py checks).
NEEDED_EVENTS = frozenset({
    "Newchannel", "Newstate", "VarSet", "NewCallerid", "DialBegin", "DialEnd", "LocalBridge",
    "BridgeEnter", "BridgeLeave", "Hangup", "Rename", "OriginateResponse", "UserEvent",
    "CoreShowChannel", "BlindTransfer", "AttendedTransfer",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class EventFilter:
    """`keeps(name, text)`: whether an event (its name, its whole text) must be parsed and dispatched.

    VarSet is kept only for `variable` (the tracker's call-id variable, e.g. SWITCHBOARD_CALL_ID,
    also set inherited as `_NAME`): the same cheap test the tracker makes first.
    """

    variable: str
    names: frozenset[str] = NEEDED_EVENTS

    def keeps(self, name: str, text: str) -> bool:
        if name not in self.names:
            return "\nActionID: " in text
        if name == "VarSet":
            return self.variable + "\r\n" in text or text.endswith(self.variable) or "\nActionID: " in text
        return True
