"""AMI messages: the frozen Banner, Event, Response, Action and Malformed items, and
`parse_message`, which classifies one message's text. Pure: no asyncio, no I/O.

Every message but the banner is `Key: Value` lines ended by CRLF. Keys repeat
(`ChanVariable`, `Variable`), so headers are an ordered tuple; `fields` keeps the
first value of each key for quick lookup. Nothing raises on bad input: a line that
is not `Key: Value` yields a `Malformed` item naming the reason. pbx.codec frames
the byte stream into these messages and re-exports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

END_COMMAND = "--END COMMAND--"

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
