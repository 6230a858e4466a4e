"""Multi-message answers (EventList, Response: Follows) and encoding of actions."""

from __future__ import annotations

import pytest

from core.errors import AmiEncodeError
from pbx.codec import (
    ActionResult,
    AmiDecoder,
    Event,
    Response,
    ResponseAssembler,
    channel_variables,
    encode_action,
    encode_message,
    parse_message,
)
from tests.support.recordings import FULL, server_stream

Assembled = tuple[dict[str, ActionResult], list[Event], ResponseAssembler]


def assemble(stream: bytes) -> Assembled:
    assembler = ResponseAssembler()
    results: dict[str, ActionResult] = {}
    passthrough: list[Event] = []
    for item in AmiDecoder().feed(stream):
        if not isinstance(item, Event | Response):
            continue
        result, event = assembler.feed(item)
        if result is not None:
            results[result.response.action_id or ""] = result
        if event is not None:
            passthrough.append(event)
    return results, passthrough, assembler


@pytest.fixture(scope="module")
def assembled() -> Assembled:
    return assemble(server_stream(FULL))


def test_core_show_channels_is_grouped(assembled: Assembled) -> None:
    results, _, _ = assembled
    result = results["csc-1"]
    assert result.response.message == "Channels will follow"
    names = [event.name for event in result.events]
    assert names == ["CoreShowChannel"] * 4 + ["CoreShowChannelsComplete"]
    assert result.events[-1].get("ListItems") == "4"
    channels = {event.get("Channel") for event in result.events[:-1]}
    assert "Local/300@sim-customer-answer-0000000e;1" in channels


def test_queue_status_is_grouped(assembled: Assembled) -> None:
    results, _, _ = assembled
    names = [event.name for event in results["qstatus-waiting"].events]
    assert names == ["QueueParams", "QueueMember", "QueueMember", "QueueEntry", "QueueStatusComplete"]


def test_hangup_by_regex_is_grouped(assembled: Assembled) -> None:
    results, _, _ = assembled
    result = results["hangup-2"]
    assert [event.get("Channel") for event in result.events[:2]] == [
        "Local/301@sim-customer-answer-0000000f;2",
        "Local/301@sim-customer-answer-0000000f;1",
    ]
    assert result.events[-1].name == "ChannelsHungupListComplete"


def test_replies_are_never_guessed_from_their_wording(assembled: Assembled) -> None:
    results, _, assembler = assembled
    # panoramisk waits for more after these messages; they are complete answers.
    assert results["qadd-1"].response.message == "Added interface to queue"
    assert results["qadd-1"].events == ()
    assert results["orig-answer-1"].response.message == "Originate successfully queued"
    assert results["orig-sync-1"].events == ()
    assert results["getvar-bad"].response.ok is False
    assert results["logoff"].response.status == "Goodbye"
    assert assembler.open_lists == 0
    assert len(results) == 44


def test_call_events_pass_through(assembled: Assembled) -> None:
    results, passthrough, _ = assembled
    listed = sum(len(result.events) for result in results.values())
    assert listed + len(passthrough) == 791
    originate = [e for e in passthrough if e.name == "OriginateResponse"]
    assert len(originate) == 12  # they carry an ActionID but belong to no list


def test_abandoned_list_releases_memory_and_late_events_pass_through() -> None:
    assembler = ResponseAssembler()
    start = parse_message("Response: Success\r\nActionID: x\r\nEventList: start")
    assert isinstance(start, Response)
    assert assembler.feed(start) == (None, None)
    assert assembler.open_lists == 1
    assembler.abandon("x")
    assert assembler.open_lists == 0
    late = parse_message("Event: CoreShowChannel\r\nActionID: x")
    assert isinstance(late, Event)
    assert assembler.feed(late) == (None, late)


def test_response_follows_with_blank_lines_inside() -> None:
    stream = (
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: cmd-9\r\n"
        b"Channel              Location\r\n\r\n\r\nsecond part: after blanks\r\n"
        b"--END COMMAND--\r\n\r\n"
        b"Event: Ping\r\n\r\n"
    )
    for size in (1, 7, len(stream)):
        decoder = AmiDecoder(expect_banner=False)
        items = []
        for start in range(0, len(stream), size):
            items.extend(decoder.feed(stream[start : start + size]))
        response, event = items
        assert isinstance(response, Response)
        assert response.status == "Follows"
        assert response.action_id == "cmd-9"
        assert response.ok
        assert response.output == ("Channel              Location", "", "", "second part: after blanks")
        assert isinstance(event, Event)


def test_response_follows_without_blank_lines() -> None:
    stream = b"Response: Follows\r\nActionID: c\r\nline one\r\n--END COMMAND--\r\n\r\n"
    (response,) = AmiDecoder(expect_banner=False).feed(stream)
    assert isinstance(response, Response)
    assert response.output == ("line one",)


def test_encode_action_puts_action_and_id_first() -> None:
    data = encode_action("Ping", "p-1", {"Foo": 1, "Async": True})
    assert data == b"Action: Ping\r\nActionID: p-1\r\nFoo: 1\r\nAsync: true\r\n\r\n"


def test_repeated_variable_headers() -> None:
    variables = channel_variables({"SWITCHBOARD_CALL_ID": "c-1", "B": "x=y"})
    data = encode_action("Originate", "o", {"Variable": variables})
    assert data.count(b"Variable: ") == 2
    assert b"Variable: B=x=y\r\n" in data


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("Channel", "PJSIP/1\r\nAction: Hangup"),
        ("Channel", "PJSIP/1\nAction: Hangup"),
        ("Channel", "PJSIP/1\rX"),
        ("Bad\r\nKey", "v"),
        ("Bad: Key", "v"),
    ],
)
def test_encode_refuses_header_injection(key: str, value: str) -> None:
    with pytest.raises(AmiEncodeError) as caught:
        encode_action("Originate", "o-1", {key: value})
    assert caught.value.error_id == "ami-encode-invalid"


def test_encode_refuses_injection_inside_a_repeated_header() -> None:
    with pytest.raises(AmiEncodeError):
        encode_message([("Variable", ["A=1", "B=2\r\n\r\nAction: Logoff"])])


def test_encode_refuses_injection_in_action_id() -> None:
    with pytest.raises(AmiEncodeError):
        encode_action("Ping", "id\r\nAction: Logoff")


def test_response_follows_after_a_stray_blank_line() -> None:
    stream = (
        b"Event: A\r\n\r\n\r\n"
        b"Response: Follows\r\nActionID: 1\r\nline\r\n\r\nmore\r\n--END COMMAND--\r\n\r\n"
        b"Event: B\r\n\r\n"
    )
    items = AmiDecoder(expect_banner=False).feed(stream)
    assert [type(item).__name__ for item in items] == ["Event", "Response", "Event"]
    assert isinstance(items[1], Response)
    assert items[1].output == ("line", "", "more")
