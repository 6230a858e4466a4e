"""Pure AMI codec: bytes in, frozen messages out (pbx.ami_messages); actions and messages out as bytes.

No asyncio and no I/O here (the h11 way): the client and the simulated PBX feed
whatever TCP hands them to `AmiDecoder.feed` and write what `encode_*` returns.

Rules this module keeps, all seen in recordings of Asterisk 22:
- The server opens with one banner line, `Asterisk Call Manager/x.y.z`, with no
  blank line after it.
- Every other message is `Key: Value` lines ended by CRLF, the message by an empty
  line. Keys repeat (`ChanVariable`, `Variable`), so headers are an ordered tuple;
  `fields` keeps the first value of each key for quick lookup.
- Bytes are decoded only once a whole message has arrived, so a multi-byte UTF-8
  character split across TCP chunks is never mangled; invalid UTF-8 is kept with
  surrogate escapes instead of being dropped.
- `Response: Follows` (Command output of older Asterisk) carries raw lines and ends
  with `--END COMMAND--`, possibly after blank lines: it is collected whole.
- Nothing raises on bad input: a line that is not `Key: Value` yields a
  `Malformed` item naming the reason, and decoding goes on with the next message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from core.errors import AmiEncodeError
from pbx.ami_messages import (
    END_COMMAND,
    Action,
    AmiItem,
    Banner,
    Event,
    Headers,
    Malformed,
    Message,
    Response,
    parse_message,
)
from pbx.event_filter import EventFilter

__all__ = [  # the message types live in pbx.ami_messages; importing them from here works too
    "BANNER_PREFIX", "END_COMMAND", "MAX_BUFFER", "Action", "ActionResult", "AmiDecoder", "AmiItem",
    "Banner", "Event", "FieldValue", "Headers", "Malformed", "Message", "Response", "ResponseAssembler",
    "channel_variables", "encode_action", "encode_banner", "encode_message", "parse_message",
]  # fmt: skip

CRLF = b"\r\n"
END_OF_MESSAGE = b"\r\n\r\n"
BANNER_PREFIX = "Asterisk Call Manager/"
# A peer that never sends a message terminator must not grow our buffer forever.
MAX_BUFFER = 4 * 1024 * 1024


_FOLLOWS = b"Response: Follows"
_END_COMMAND = END_COMMAND.encode()


def _frames(region: str) -> list[str]:
    """Non-empty messages of a region; stray blank lines between messages are ignored."""
    return [text for frame in region.split("\r\n\r\n") if (text := frame.strip("\r\n"))]


def _parse_region(region: str, items: list[AmiItem], keep: EventFilter | None) -> int:
    """`parse_message` on every frame, with its Event branch inlined (this loop is the hot path).
    Events `keep` refuses are counted, not parsed (pbx.event_filter); returns how many."""
    append = items.append
    skipped = 0
    for frame in region.split("\r\n\r\n"):
        text = frame.strip("\r\n")
        if text.startswith("Event: "):
            colons = text.count(":")
            if colons > text.count("\n") or colons > text.count("\r\n"):  # not _garbled(text)
                end = text.find("\r\n")
                name = text[7:] if end < 0 else text[7:end]
                if keep is not None and not keep.keeps(name, text):
                    skipped += 1
                    continue
                append(Event(text, name))
                continue
        if text:
            append(parse_message(text))
    return skipped


class AmiDecoder:
    """Incremental decoder. `feed` takes any chunk and returns the items it completed.

    `expect_banner=True` for a client (servers greet first); the simulated PBX
    decodes client actions with `expect_banner=False`. With `keep`, events it refuses
    are not returned, only counted in `skipped` (the caller's liveness signal).
    """

    __slots__ = ("_buffer", "_expect_banner", "_keep", "skipped")

    def __init__(self, *, expect_banner: bool = True, keep: EventFilter | None = None) -> None:
        self._buffer = bytearray()
        self._expect_banner = expect_banner
        self._keep = keep
        self.skipped = 0

    @property
    def pending_bytes(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[AmiItem]:
        self._buffer += data
        items: list[AmiItem] = []
        if self._expect_banner and not self._take_banner(items):
            return items
        buffer = self._buffer
        if _FOLLOWS in buffer:
            consumed = self._feed_with_follows(items)
        else:
            # Terminators are ASCII, so the region up to the last one is whole UTF-8.
            last = buffer.rfind(END_OF_MESSAGE)
            consumed = 0 if last < 0 else last + 4
            if consumed:
                region = buffer[:last].decode("utf-8", "surrogateescape")
                self.skipped += _parse_region(region, items, self._keep)
        del buffer[:consumed]
        if len(buffer) > MAX_BUFFER:
            items.append(Malformed(bytes(buffer[:200]).decode("utf-8", "replace"), "message over 4 MiB"))
            buffer.clear()
        return items

    def _feed_with_follows(self, items: list[AmiItem]) -> int:
        """Message by message, because command output may hold blank lines."""
        buffer = self._buffer
        start = 0
        while True:
            while buffer.startswith(CRLF, start):  # stray blank lines between messages
                start += 2
            end = buffer.find(END_OF_MESSAGE, start)
            if end < 0:
                return start
            if buffer.startswith(_FOLLOWS, start) and buffer.find(_END_COMMAND, start, end) < 0:
                marker = buffer.find(_END_COMMAND, end)
                end = buffer.find(END_OF_MESSAGE, marker) if marker >= 0 else -1
                if end < 0:
                    return start
            text = bytes(buffer[start:end]).decode("utf-8", "surrogateescape")
            start = end + 4
            if text.lstrip("\r\n").startswith("Response: Follows"):
                items.append(parse_message(text.strip("\r\n")))
            else:
                items.extend(parse_message(frame) for frame in _frames(text))

    def _take_banner(self, items: list[AmiItem]) -> bool:
        end = self._buffer.find(CRLF)
        if end < 0:
            return False
        line = bytes(self._buffer[:end]).decode("utf-8", "surrogateescape")
        del self._buffer[: end + 2]
        self._expect_banner = False
        if line.startswith(BANNER_PREFIX):
            items.append(Banner(line[len(BANNER_PREFIX) :]))
        else:
            items.append(Malformed(line, "expected the 'Asterisk Call Manager/x.y.z' banner"))
        return True


FieldValue = str | int | float | bool | Sequence[str]


def _render(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_message(headers: Iterable[tuple[str, FieldValue]]) -> bytes:
    """Encode `Key: Value` pairs; a sequence value repeats its key (e.g. Variable)."""
    parts: list[str] = []
    for key, value in headers:
        values = value if isinstance(value, Sequence) and not isinstance(value, str) else (value,)
        for item in values:
            text = _render(item)
            if "\r" in text or "\n" in text or "\r" in key or "\n" in key or ":" in key:
                raise AmiEncodeError("AMI header would break framing", key=key, value=text[:80])
            parts.append(f"{key}: {text}\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("utf-8", "surrogateescape")


def encode_action(name: str, action_id: str, fields: Mapping[str, FieldValue] | None = None) -> bytes:
    """`Action` first, then `ActionID`, then the fields in the given order."""
    headers: list[tuple[str, FieldValue]] = [("Action", name), ("ActionID", action_id)]
    headers.extend((fields or {}).items())
    return encode_message(headers)


def encode_banner(version: str) -> bytes:
    return f"{BANNER_PREFIX}{version}\r\n".encode()


def channel_variables(variables: Mapping[str, str]) -> list[str]:
    """Originate's `Variable` header values: one `NAME=value` per variable."""
    return [f"{name}={value}" for name, value in variables.items()]


@dataclass(slots=True)
class _Pending:
    response: Response
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ActionResult:
    """A complete answer: the response, plus the events of its list if it had one."""

    response: Response
    events: tuple[Event, ...] = ()


class ResponseAssembler:
    """Groups multi-message answers, keyed only on `EventList: start` / `Complete`.

    `feed` returns (results, passthrough): finished answers to actions, and the
    events that belong to no list (ordinary call events). A list whose response
    says `EventList: start` collects every event with the same ActionID until one
    says `EventList: Complete`. Message wording is never looked at.
    """

    __slots__ = ("_open",)

    def __init__(self) -> None:
        self._open: dict[str, _Pending] = {}

    @property
    def open_lists(self) -> int:
        return len(self._open)

    def feed(self, item: Event | Response) -> tuple[ActionResult | None, Event | None]:
        if not self._open and type(item) is Event:
            return None, item  # no list is open: a call event passes without a header search
        action_id = item.get("ActionID")
        if isinstance(item, Response):
            if item.starts_event_list:
                self._open[action_id or ""] = _Pending(item)
                return None, None
            return ActionResult(item), None
        pending = self._open.get(action_id) if action_id is not None else None
        if pending is None:
            return None, item
        if (item.get("EventList") or "").lower() == "complete":
            del self._open[action_id or ""]
            return ActionResult(pending.response, (*pending.events, item)), None
        pending.events.append(item)
        return None, None

    def abandon(self, action_id: str) -> None:
        """Forget a list whose action timed out, so its memory is released."""
        self._open.pop(action_id, None)
