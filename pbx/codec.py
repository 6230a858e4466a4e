"""Pure AMI codec: bytes in, frozen messages out; actions and messages out as bytes.

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

CRLF = b"\r\n"
END_OF_MESSAGE = b"\r\n\r\n"
END_COMMAND = "--END COMMAND--"
BANNER_PREFIX = "Asterisk Call Manager/"
# A peer that never sends a message terminator must not grow our buffer forever.
MAX_BUFFER = 4 * 1024 * 1024

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Banner:
    """The first line a server sends, e.g. `Asterisk Call Manager/11.0.0`."""

    version: str


class Message:
    """One AMI message: ordered headers, read lazily from the message text.

    Immutable: `raw` and `name` are read-only. Decoding only splits messages and
    reads the first line; `get` finds one header in the text without parsing the
    rest (an engine reads a few fields of most events), and `headers`/`fields`
    parse everything on first use. Lines that are not `Key: Value` are kept in
    `problems` rather than dropped.
    """

    # Private slots behind read-only properties rather than a `__setattr__` guard:
    # a guard would make every construction (one per message) go through
    # `object.__setattr__`, which costs more than the rest of decoding a message.
    __slots__ = ("_name", "_parsed", "_raw")
    kind = "message"

    def __init__(self, raw: str, name: str = "") -> None:
        self._raw = raw
        self._name = name
        self._parsed: tuple[Headers, dict[str, str], tuple[str, ...]] | None = None

    @property
    def raw(self) -> str:
        return self._raw

    @property
    def name(self) -> str:
        return self._name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and type(other) is type(self) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r}, {len(self._raw)} bytes)"

    def _parse(self) -> tuple[Headers, dict[str, str], tuple[str, ...]]:
        parsed = self._parsed
        if parsed is None:
            parsed = self._parsed = _parse_headers(self._raw)
        return parsed

    @property
    def headers(self) -> Headers:
        return self._parse()[0]

    @property
    def fields(self) -> Mapping[str, str]:
        """First value of each key."""
        return self._parse()[1]

    @property
    def problems(self) -> tuple[str, ...]:
        """Lines that were not `Key: Value`, with their line numbers."""
        return self._parse()[2]

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of `key`, found without parsing the whole message."""
        raw = self._raw
        needles = _NEEDLES.get(key) or _needles(key)
        if raw.startswith(needles[0]):
            start = len(needles[0])
        else:
            found = raw.find(needles[1])
            if found < 0:
                return default
            start = found + len(needles[1])
        if raw.startswith(" ", start):
            start += 1
        end = raw.find("\r\n", start)
        return raw[start:] if end < 0 else raw[start:end]

    def get_all(self, key: str) -> list[str]:
        return [value for name, value in self.headers if name == key]

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def chan_variables(self, prefix: str = "ChanVariable") -> dict[str, str]:
        """`ChanVariable: NAME=value` and `ChanVariable(chan): NAME=value` as a dict.

        Use prefix `DestChanVariable` for the destination side of queue events.
        """
        found: dict[str, str] = {}
        if prefix not in self._raw:
            return found
        for name, value in self.headers:
            if name == prefix or (name.startswith(prefix + "(") and name.endswith(")")):
                var, _, val = value.partition("=")
                found[var] = val
        return found


# `get` needles per key (`Key:` at the start, `\r\nKey:` later), built once per key.
_NEEDLES: dict[str, tuple[str, str]] = {}
_MAX_NEEDLES = 1024  # keys come from code, but a caller looping over odd keys must not grow this


def _needles(key: str) -> tuple[str, str]:
    needles = (key + ":", "\r\n" + key + ":")
    if len(_NEEDLES) < _MAX_NEEDLES:
        _NEEDLES[key] = needles
    return needles


def _is_header(line: str) -> bool:
    key, sep, _ = line.partition(": ")
    return bool(sep) and bool(key) and " " not in key


def _parse_headers(raw: str) -> tuple[Headers, dict[str, str], tuple[str, ...]]:
    headers: list[tuple[str, str]] = []
    problems: list[str] = []
    lines = raw.split("\r\n")
    if raw.startswith("Response: Follows"):
        # Command output follows the leading headers; it is not a header problem.
        lines = lines[: next((i for i, line in enumerate(lines) if not _is_header(line)), len(lines))]
    for number, line in enumerate(lines, 1):
        key, sep, value = line.partition(": ")
        if not sep:
            if not line.endswith(":"):
                problems.append(f"line {number} is not 'Key: Value': {line[:80]!r}")
                continue
            key, value = line[:-1], ""  # `Key:` with an empty value and no space
        headers.append((key, value))
    fields: dict[str, str] = {}
    for key, value in headers:
        fields.setdefault(key, value)
    return tuple(headers), fields, tuple(problems)


class Event(Message):
    __slots__ = ()
    kind = "event"


class Action(Message):
    """An action as a server receives it (the simulated PBX decodes these)."""

    __slots__ = ()
    kind = "action"


class Response(Message):
    """A reply to an action. `name` is its status: Success, Error, Follows or Goodbye."""

    __slots__ = ()
    kind = "response"

    @property
    def status(self) -> str:
        return self._name

    @property
    def output(self) -> tuple[str, ...]:
        """Raw output lines of `Response: Follows`, or `Output` headers of newer Asterisk."""
        if self._name != "Follows":
            return tuple(self.get_all("Output"))
        lines = self._raw.split("\r\n")
        first_body = next((i for i, line in enumerate(lines) if not _is_header(line)), len(lines))
        return tuple(line for line in lines[first_body:] if line != END_COMMAND)

    @property
    def ok(self) -> bool:
        return self._name in ("Success", "Follows", "Goodbye")

    @property
    def message(self) -> str:
        return self.get("Message") or ""

    @property
    def starts_event_list(self) -> bool:
        return (self.get("EventList") or "").lower() == "start"


@dataclass(frozen=True, slots=True)
class Malformed:
    """Bytes that could not be read as an AMI message; decoding continued after them."""

    raw: str
    reason: str


AmiItem = Banner | Event | Response | Action | Malformed
_KINDS: dict[str, type[Event] | type[Response] | type[Action]] = {
    "Event": Event, "Response": Response, "Action": Action,
}


def _garbled(text: str) -> bool:
    """Cheap guard for garbage: every line needs at least one colon."""
    colons = text.count(":")
    # "\n" is counted first: cheaper than "\r\n", and never fewer.
    return colons <= text.count("\n") and colons <= text.count("\r\n")


def parse_message(text: str) -> Event | Response | Action | Malformed:
    """Classify one message (without its terminating blank line) by its first header."""
    first_end = text.find("\r\n")
    if text.startswith("Event: ") and not _garbled(text):  # nearly every message
        return Event(text, text[7:] if first_end < 0 else text[7:first_end])
    first = text if first_end < 0 else text[:first_end]
    key, sep, value = first.partition(": ")
    kind = _KINDS.get(key) if sep else None
    if kind is None or _garbled(text):
        if key == "Response" and value == "Follows":
            return Response(text, value)
        return _classify_slowly(text)
    return kind(text, value)


def _classify_slowly(text: str) -> Event | Response | Action | Malformed:
    headers, fields, problems = _parse_headers(text)
    if problems:
        return Malformed(text, problems[0])
    for key, kind in _KINDS.items():
        if key in fields:
            return kind(text, fields[key])
    if not headers:
        return Malformed(text, "empty message")
    return Malformed(text, "no Event, Response or Action header")


_FOLLOWS = b"Response: Follows"
_END_COMMAND = END_COMMAND.encode()


def _frames(region: str) -> list[str]:
    """Non-empty messages of a region; stray blank lines between messages are ignored."""
    return [text for frame in region.split("\r\n\r\n") if (text := frame.strip("\r\n"))]


def _parse_region(region: str, items: list[AmiItem]) -> None:
    """`parse_message` on every frame, with its Event branch inlined (this loop is the hot path)."""
    append = items.append
    for frame in region.split("\r\n\r\n"):
        text = frame.strip("\r\n")
        if text.startswith("Event: "):
            colons = text.count(":")
            if colons > text.count("\n") or colons > text.count("\r\n"):  # not _garbled(text)
                end = text.find("\r\n")
                append(Event(text, text[7:] if end < 0 else text[7:end]))
                continue
        if text:
            append(parse_message(text))


class AmiDecoder:
    """Incremental decoder. `feed` takes any chunk and returns the items it completed.

    `expect_banner=True` for a client (servers greet first); the simulated PBX
    decodes client actions with `expect_banner=False`.
    """

    __slots__ = ("_buffer", "_expect_banner")

    def __init__(self, *, expect_banner: bool = True) -> None:
        self._buffer = bytearray()
        self._expect_banner = expect_banner

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
                _parse_region(region, items)
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
