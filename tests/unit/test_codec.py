"""The pure AMI codec against the real Asterisk 22 recordings and against bad input."""

from __future__ import annotations

import random

import pytest

from pbx.codec import (
    MAX_BUFFER,
    Action,
    AmiDecoder,
    AmiItem,
    Banner,
    Event,
    Malformed,
    Response,
    encode_action,
    encode_banner,
)
from tests.support.recordings import EXCERPT, FULL, server_stream


def decode_in_chunks(stream: bytes, sizes: list[int] | None = None) -> list[AmiItem]:
    decoder = AmiDecoder()
    items: list[AmiItem] = []
    position = 0
    index = 0
    while position < len(stream):
        size = sizes[index % len(sizes)] if sizes else len(stream)
        items.extend(decoder.feed(stream[position : position + size]))
        position += size
        index += 1
    assert decoder.pending_bytes == 0
    return items


@pytest.fixture(scope="module")
def full_items() -> list[AmiItem]:
    return decode_in_chunks(server_stream(FULL))


def test_full_recording_decodes_to_banner_events_and_responses(full_items: list[AmiItem]) -> None:
    assert full_items[0] == Banner("11.0.0")
    kinds = [type(item).__name__ for item in full_items]
    assert kinds.count("Event") == 791
    assert kinds.count("Response") == 44
    assert kinds.count("Banner") == 1
    assert "Malformed" not in kinds


def test_excerpt_recording_decodes() -> None:
    items = decode_in_chunks(server_stream(EXCERPT))
    assert items[0] == Banner("11.0.0")
    # The excerpt holds a second connection (the failed login): its banner is the only oddity.
    (odd,) = [item for item in items if isinstance(item, Malformed)]
    assert odd.raw == "Asterisk Call Manager/11.0.0"
    assert [item for item in items if isinstance(item, Response) and item.status == "Error"]


@pytest.mark.parametrize("seed", range(6))
def test_random_chunking_gives_identical_items(full_items: list[AmiItem], seed: int) -> None:
    rng = random.Random(seed)
    sizes = [rng.randint(1, 700) for _ in range(500)]
    assert decode_in_chunks(server_stream(FULL), sizes) == full_items


def test_one_byte_chunks_give_identical_items(full_items: list[AmiItem]) -> None:
    assert decode_in_chunks(server_stream(FULL), [1]) == full_items


def test_events_keep_order_and_fields(full_items: list[AmiItem]) -> None:
    originate = next(i for i in full_items if isinstance(i, Event) and i.name == "OriginateResponse")
    assert originate.action_id == "orig-answer-1"
    assert originate.get("Reason") == "4"
    assert originate.chan_variables()["ENGINE_CALL_ID"] == "call-0001"
    newchannel = next(i for i in full_items if isinstance(i, Event) and i.name == "Newchannel")
    assert newchannel.get("CallerIDNum") == "<unknown>"
    assert newchannel.chan_variables() == {"SIM_TALK": "", "SIM_ROLE": "", "ENGINE_CALL_ID": ""}
    assert newchannel.get("AccountCode") == ""  # `AccountCode: ` keeps its empty value


def test_agent_events_expose_destination_variables(full_items: list[AmiItem]) -> None:
    called = next(i for i in full_items if isinstance(i, Event) and i.name == "AgentCalled")
    assert called.chan_variables()["ENGINE_CALL_ID"] == "call-q-0001"
    assert called.chan_variables("DestChanVariable")["ENGINE_CALL_ID"] == ""


def test_utf8_character_split_across_chunks_is_not_lost() -> None:
    stream = encode_banner("11.0.0") + "Event: UserEvent\r\nCallerIDName: Ádám Łukasz 日本\r\n\r\n".encode()
    split_at = stream.index("日".encode()) + 1  # inside the three-byte character
    items = decode_in_chunks(stream, [split_at, 1, 2, 3])
    assert isinstance(items[1], Event)
    assert items[1].get("CallerIDName") == "Ádám Łukasz 日本"


def test_invalid_utf8_is_kept_not_dropped() -> None:
    stream = b"Event: Newchannel\r\nCallerIDName: caf\xe9 \xff\r\nUniqueid: 1.1\r\n\r\n"
    (item,) = AmiDecoder(expect_banner=False).feed(stream)
    assert isinstance(item, Event)
    name = item.get("CallerIDName")
    assert name is not None
    assert name.encode("utf-8", "surrogateescape") == b"caf\xe9 \xff"
    assert item.get("Uniqueid") == "1.1"


def test_truncated_frame_yields_nothing_until_complete() -> None:
    decoder = AmiDecoder()
    assert decoder.feed(b"Asterisk Call Man") == []
    assert decoder.feed(b"ager/11.0.0\r\nResponse: Success\r\nActionID: a") == [Banner("11.0.0")]
    assert decoder.feed(b"1\r\nMessage: ok\r\n") == []
    assert decoder.feed(b"\r") == []
    (response,) = decoder.feed(b"\n")
    assert isinstance(response, Response)
    assert response.action_id == "a1"
    assert response.ok
    assert decoder.pending_bytes == 0


def test_garbage_lines_become_malformed_and_decoding_continues() -> None:
    stream = (
        b"Event: Ping\r\nthis is not a header\r\n\r\n"
        b"no colon at all\r\n\r\n"
        b": empty key\r\n\r\n"
        b"Foo: bar\r\n\r\n"
        b"Event: Newstate\r\nUniqueid: 9.9\r\n\r\n"
    )
    items = AmiDecoder(expect_banner=False).feed(stream)
    assert [type(item) for item in items] == [Malformed, Malformed, Malformed, Malformed, Event]
    first = items[0]
    assert isinstance(first, Malformed)
    assert "line 2" in first.reason
    assert isinstance(items[4], Event)
    assert items[4].get("Uniqueid") == "9.9"


def test_wrong_banner_is_reported_and_decoding_continues() -> None:
    items = AmiDecoder().feed(b"HTTP/1.1 400 Bad Request\r\nResponse: Success\r\nActionID: 1\r\n\r\n")
    assert isinstance(items[0], Malformed)
    assert "banner" in items[0].reason
    assert isinstance(items[1], Response)


def test_a_peer_that_never_ends_a_message_cannot_grow_the_buffer() -> None:
    decoder = AmiDecoder(expect_banner=False)
    items = decoder.feed(b"Event: X\r\nData: " + b"a" * (MAX_BUFFER + 10))
    assert len(items) == 1
    assert isinstance(items[0], Malformed)
    assert decoder.pending_bytes == 0
    assert isinstance(decoder.feed(b"Event: Y\r\n\r\n")[0], Event)


def test_unknown_events_are_kept() -> None:
    (item,) = AmiDecoder(expect_banner=False).feed(b"Event: SomethingNew2030\r\nFoo: 1\r\nFoo: 2\r\n\r\n")
    assert isinstance(item, Event)
    assert item.name == "SomethingNew2030"
    assert item.get_all("Foo") == ["1", "2"]


def test_message_without_leading_event_key_is_still_classified() -> None:
    (item,) = AmiDecoder(expect_banner=False).feed(b"Privilege: call,all\r\nEvent: Hangup\r\n\r\n")
    assert isinstance(item, Event)
    assert item.name == "Hangup"


def test_extra_blank_lines_between_messages_are_ignored() -> None:
    stream = b"Event: A\r\n\r\n\r\n\r\nEvent: B\r\n\r\n"
    items = AmiDecoder(expect_banner=False).feed(stream)
    assert [item.name for item in items if isinstance(item, Event)] == ["A", "B"]


def test_header_without_space_after_colon_has_empty_value() -> None:
    (item,) = AmiDecoder(expect_banner=False).feed(b"Event: X\r\nEmpty:\r\n\r\n")
    assert isinstance(item, Event)
    assert item.get("Empty") == ""


def test_client_actions_decode_for_a_server() -> None:
    data = encode_action("Originate", "o-1", {"Channel": "PJSIP/1", "Variable": ["A=1", "B=2"]})
    (item,) = AmiDecoder(expect_banner=False).feed(data)
    assert isinstance(item, Action)
    assert item.name == "Originate"
    assert item.action_id == "o-1"
    assert item.get_all("Variable") == ["A=1", "B=2"]


@pytest.mark.parametrize(
    "stream",
    [
        b"Event: X\r\ngarbage\r\n\r\n",
        b"Event: X\r\nTimestamp: 1:2:3\r\ngarbage\r\n\r\n",
    ],
)
def test_a_garbage_line_inside_a_message_is_never_silently_dropped(stream: bytes) -> None:
    (item,) = AmiDecoder(expect_banner=False).feed(stream)
    if isinstance(item, Malformed):
        assert "garbage" in item.reason
    else:
        assert isinstance(item, Event)
        assert any("garbage" in problem for problem in item.problems)
