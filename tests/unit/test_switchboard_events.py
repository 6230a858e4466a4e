"""pbx/switchboard_events.py: the dialplan's UserEvents decoded, in the envelope a real Asterisk 22 sends.

The recording (tests/fixtures/ami) has UserEvents of the recording's own dialplan (`SimCustomer`);
the Switchboard ones are the same envelope (Channel, Uniqueid, ChanVariable...) with the body our
snippet sends (config/asterisk/extensions_switchboard.conf), so each test swaps the first recorded
body for ours and replays the whole session through the codec and the tracker.
"""

from __future__ import annotations

import pytest

from pbx.call_changes import UserEventSeen
from pbx.codec import AmiDecoder, Event
from pbx.switchboard_events import AgentAnswered, InboundArrived, NoticeUnheard, OutboundAnswered, decode
from pbx.tracker import CallTracker
from tests.support.recordings import FULL, server_stream

RECORDED_BODY = b"UserEvent: SimCustomer\r\nExten: 100\r\nOutcome: answered"
# the first recorded UserEvent: Local/100@sim-customer-answer-00000000;2, Uniqueid 1795333657.1,
# ENGINE_CALL_ID=call-0001 (the recording's channelvars)
CHANNEL, UNIQUEID, CALL_ID = "Local/100@sim-customer-answer-00000000;2", "1795333657.1", "call-0001"


def seen(body: bytes) -> list[UserEventSeen]:
    stream = server_stream(FULL)
    assert RECORDED_BODY in stream
    stream = stream.replace(RECORDED_BODY, body, 1)
    tracker = CallTracker("ENGINE_CALL_ID")
    found: list[UserEventSeen] = []
    for item in AmiDecoder().feed(stream):
        if isinstance(item, Event):
            found += [c for c in tracker.apply(item) if isinstance(c, UserEventSeen)]
    return found


def test_the_recordings_own_user_events_are_not_switchboard_events() -> None:
    found = seen(RECORDED_BODY)
    assert len(found) == 12
    assert [decode(c) for c in found] == [None] * 12


def test_inbound_is_decoded_with_every_header_of_the_snippet() -> None:
    """The body repeats CallerIDNum and Channel of the envelope (the snippet sends
    ${CALLERID(num)}, the same channel's): the first, the envelope's, is read."""
    body = (
        b"UserEvent: SwitchboardInbound\r\nCallID: c-7\r\nCallerIDNum: 7000\r\n"
        b"Dialled: 1800\r\nIvrChoice: 2\r\nQueue: support"
    )
    assert decode(seen(body)[0]) == InboundArrived(
        call_id="c-7", uniqueid=UNIQUEID, channel=CHANNEL, caller="7000",
        dialled="1800", ivr="2", queue="support",
    )  # fmt: skip


def test_inbound_without_call_id_takes_the_channels_own() -> None:
    """An older snippet without CallID: the channel's SWITCHBOARD_CALL_ID (here the recording's
    variable), absent headers read as empty."""
    arrived = decode(seen(b"UserEvent: SwitchboardInbound")[0])
    assert arrived == InboundArrived(CALL_ID, UNIQUEID, CHANNEL, "7000", "", "", "")


def test_agent_answered_names_the_leg_the_dialplan_reported() -> None:
    body = b"UserEvent: SwitchboardAgentAnswered\r\nCallID: c-7\r\nAgentID: a1\r\nChannel: PJSIP/1-0b"
    # the envelope's Channel comes first: it is the same channel in a real Asterisk (${CHANNEL})
    assert decode(seen(body)[0]) == AgentAnswered("c-7", "a1", CHANNEL, UNIQUEID)


def test_outbound_answered_carries_the_amd_verdict() -> None:
    body = b"UserEvent: SwitchboardOutboundAnswered\r\nCallID: c-9\r\nAMDStatus: MACHINE"
    assert decode(seen(body)[0]) == OutboundAnswered("c-9", UNIQUEID, CHANNEL, "MACHINE")


def test_notice_unheard_names_the_outage_and_trystatus() -> None:
    """As Asterisk 22.10.1 sent it for a text notice without app_festival (the shipped TryExec)."""
    body = b"UserEvent: SwitchboardNoticeUnheard\r\nCallID: c-3\r\nOutage: miskolc-tv\r\nStatus: NOAPP"
    assert decode(seen(body)[0]) == NoticeUnheard("c-3", "miskolc-tv", "NOAPP")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("SwitchboardInbound", InboundArrived("u-1", "u-1", "", "", "", "", "")),
        ("SwitchboardAgentAnswered", AgentAnswered("", "", "", "u-1")),
        ("SwitchboardOutboundAnswered", OutboundAnswered("", "u-1", "", "")),
        ("Other", None),
    ],
)
def test_missing_headers_read_as_empty(name: str, expected: object) -> None:
    """A channel the tracker never saw with a call id: the inbound call id is its Uniqueid; the
    others stay empty and their consumers ignore them."""
    assert decode(UserEventSeen(name, {}, "u-1", None)) == expected
