"""The codec skips, unparsed, the AMI events no consumer reads (pbx.event_filter) and counts them."""

from __future__ import annotations

from pbx.codec import AmiDecoder, Event, encode_message
from pbx.event_filter import NEEDED_EVENTS, EventFilter
from pbx.tracker import CALL_ID_VARIABLE, CallTracker

KEEP = EventFilter(CALL_ID_VARIABLE)


def frame(name: str, **fields: str) -> bytes:
    return encode_message([("Event", name), *fields.items()])


def decode(*frames: bytes) -> tuple[list[str], int]:
    decoder = AmiDecoder(expect_banner=False, keep=KEEP)
    items = decoder.feed(b"".join(frames))
    return [f"{i.name}:{i.get('Variable') or ''}" for i in items if isinstance(i, Event)], decoder.skipped


def test_the_needed_list_is_what_the_tracker_handles() -> None:
    # A handler added to the tracker without the list would never see its event.
    assert set(CallTracker()._handlers) == NEEDED_EVENTS


def test_newexten_and_varsets_of_other_variables_are_skipped_and_counted() -> None:
    names, skipped = decode(
        frame("Newexten", Channel="PJSIP/a-1", Uniqueid="1.1", Extension="s", Application="Set"),
        frame("VarSet", Channel="PJSIP/a-1", Uniqueid="1.1", Variable="RTPAUDIOQOS", Value="x"),
        frame("VarSet", Channel="PJSIP/a-1", Uniqueid="1.1", Variable=CALL_ID_VARIABLE, Value="c1"),
        frame("VarSet", Channel="PJSIP/a-1", Uniqueid="1.1", Variable="_" + CALL_ID_VARIABLE, Value="c1"),
        frame("Hangup", Channel="PJSIP/a-1", Uniqueid="1.1", Cause="16"),
    )
    assert names == [f"VarSet:{CALL_ID_VARIABLE}", f"VarSet:_{CALL_ID_VARIABLE}", "Hangup:"]
    assert skipped == 2


def test_an_unread_event_answering_an_action_is_kept() -> None:
    names, skipped = decode(frame("CoreShowChannelsComplete", ActionID="a-7", EventList="Complete"))
    assert names == ["CoreShowChannelsComplete:"]
    assert skipped == 0


def test_without_a_filter_every_event_is_returned() -> None:
    decoder = AmiDecoder(expect_banner=False)
    items = decoder.feed(frame("Newexten", Channel="PJSIP/a-1") + frame("Hangup", Channel="PJSIP/a-1"))
    assert [i.name for i in items if isinstance(i, Event)] == ["Newexten", "Hangup"]
    assert decoder.skipped == 0
