"""The fault proxy's pure parts: AMI framing with exact bytes, header lookup, event swapping."""

from __future__ import annotations

import random

from pbx.sim.faultproxy import AmiFramer, Reorderer, frame_fields

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
PING = b"Response: Success\r\nActionID: 1\r\nPing: Pong\r\n\r\n"


def event(name: str, linked: str, unique: str) -> bytes:
    text = f"Event: {name}\r\nPrivilege: call,all\r\nUniqueid: {unique}\r\nLinkedid: {linked}\r\n\r\n"
    return text.encode()


def test_framer_splits_banner_and_messages_across_chunks() -> None:
    framer, stream = AmiFramer(banner=True), BANNER + PING + PING
    frames = [frame for index in range(len(stream)) for frame in framer.feed(stream[index : index + 1])]
    assert frames == [BANNER, PING, PING]
    assert framer.pending == 0


def test_framer_keeps_a_partial_message_pending() -> None:
    framer = AmiFramer()
    assert framer.feed(PING[:10]) == []
    assert framer.pending == 10
    assert framer.feed(PING[10:] + PING[:3]) == [PING]
    assert framer.pending == 3


def test_framer_without_banner_on_a_client_stream() -> None:
    action = b"Action: Ping\r\nActionID: 7\r\n\r\n"
    assert AmiFramer(banner=True).feed(action) == [action]


def test_frame_fields_first_value_lower_keys() -> None:
    fields = frame_fields(b"Action: Originate\r\nVariable: A=1\r\nvariable: B=2\r\n\r\n")
    assert fields == {"action": "Originate", "variable": "A=1"}


def test_reorderer_swaps_two_channels_of_one_call() -> None:
    reorder = Reorderer(1.0, random.Random(1))
    first, second = event("Newstate", "L1", "U1"), event("DialBegin", "L1", "U2")
    assert reorder.feed(first) == []
    assert reorder.feed(second) == [second, first]
    assert reorder.swaps == 1


def test_reorderer_never_swaps_one_channel_or_other_calls() -> None:
    reorder = Reorderer(1.0, random.Random(1))
    a, b, c = event("Newstate", "L1", "U1"), event("Hangup", "L1", "U1"), event("Newstate", "L2", "U3")
    assert reorder.feed(a) == []
    assert reorder.feed(b) == [a]  # same channel: order kept, b held in its turn
    assert reorder.feed(c) == [b]
    assert reorder.flush() == [c]
    assert reorder.swaps == 0


def test_reorderer_never_moves_responses_or_list_events() -> None:
    reorder = Reorderer(1.0, random.Random(1))
    listed = b"Event: CoreShowChannel\r\nActionID: 9\r\nUniqueid: U1\r\nLinkedid: L1\r\n\r\n"
    assert reorder.feed(PING) == [PING]
    assert reorder.feed(listed) == [listed]
    assert not reorder.holding


def test_reorderer_off_passes_everything() -> None:
    reorder = Reorderer(0.0, random.Random(1))
    frames = [event("Newstate", "L1", "U1"), event("DialBegin", "L1", "U2")]
    assert [out for frame in frames for out in reorder.feed(frame)] == frames
