"""Read the recorded Asterisk sessions in tests/fixtures/ami (copied from shared/ami).

Format: `### title` starts a step; lines starting `>>> ` are what the client sent;
`#` lines are annotations; everything else is server bytes with CRLF shown as LF.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pbx.codec import Event
from pbx.sim.channels import Channel
from pbx.sim.events import Headers

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
FULL = FIXTURES / "asterisk-22.10.1-full.txt"
EXCERPT = FIXTURES / "asterisk-22.10.1-excerpt.txt"


@dataclass(frozen=True)
class Step:
    title: str
    sent: tuple[str, ...]
    server_bytes: bytes


def _server_bytes(lines: list[str]) -> bytes:
    return "\r\n".join(lines).encode()


def load_steps(path: Path = FULL) -> list[Step]:
    """Split a recording into its `###` steps, each with the server's bytes."""
    steps: list[Step] = []
    title, sent, server = "", [], []  # type: ignore[var-annotated]
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.startswith("### "):
            if title or server:
                steps.append(Step(title, tuple(sent), _server_bytes(server)))
            title, sent, server = line[4:], [], []
        elif line.startswith(">>>"):
            sent.append(line[4:])
            server.append("")  # what the client wrote separates server messages
        elif line.startswith("#"):
            continue
        else:
            server.append(line)
    steps.append(Step(title, tuple(sent), _server_bytes(server)))
    return steps


def server_stream(path: Path = FULL) -> bytes:
    """Everything the server sent in the session, in order, as one byte stream."""
    stream = b"\r\n".join(step.server_bytes for step in load_steps(path))
    return stream.lstrip(b"\r\n") + b"\r\n\r\n"


TRANSFERS = FIXTURES / "transfers"

# The events a transfer is judged by: who is in which bridge, who hears music, who is on hold.
TRANSFER_EVENTS = frozenset(
    {
        "BlindTransfer",
        "AttendedTransfer",
        "BridgeEnter",
        "BridgeLeave",
        "MusicOnHoldStart",
        "MusicOnHoldStop",
        "Hold",
        "Unhold",
        "Hangup",
    }
)


def recorded_events(path: Path) -> list[dict[str, str]]:
    """The events of a recording, in order, each as its headers (the first of a repeated one)."""
    events: list[dict[str, str]] = []
    for step in load_steps(path):
        for block in step.server_bytes.decode().split("\r\n\r\n"):
            fields: dict[str, str] = {}
            for line in block.split("\r\n"):
                key, sep, value = line.partition(": ")
                if sep:
                    fields.setdefault(key, value)
            if "Event" in fields:
                events.append(fields)
    return events


def party_of(channel: str, roles: dict[str, str]) -> str:
    """The role ("caller", "agent", "target") of a channel whose name starts with a key of
    `roles`; "" for others (a Local channel's ;2 half, the phone's side)."""
    if channel.endswith(";2"):
        return ""
    return next((role for prefix, role in roles.items() if channel.startswith(prefix)), "")


def transfer_sequence(events: list[dict[str, str]], roles: dict[str, str]) -> list[tuple[str, str]]:
    """(event, party) for the transfer events of the parties, in order; a transfer event's party
    is its transferee."""
    sequence: list[tuple[str, str]] = []
    for event in events:
        name = event.get("Event", "")
        if name not in TRANSFER_EVENTS:
            continue
        party = party_of(event.get("Channel") or event.get("TransfereeChannel") or "", roles)
        if party:
            sequence.append((name, party))
    return sequence


def channel_from(event: Event, prefix: str = "") -> Channel:
    """A Channel holding exactly what a recorded event says about it."""

    def get(key: str) -> str:
        return event.get(prefix + key) or ""

    variables = {}
    for value in event.get_all(prefix + "ChanVariable"):
        name, _, content = value.partition("=")
        if content:
            variables[name] = content
    name = get("Channel")
    return Channel(
        name=name,
        uniqueid=get("Uniqueid"),
        linkedid=get("Linkedid"),
        tech=name.split("/")[0],
        created=0.0,
        state=int(get("ChannelState")),
        caller_num=get("CallerIDNum"),
        caller_name=get("CallerIDName"),
        connected_num=get("ConnectedLineNum"),
        connected_name=get("ConnectedLineName"),
        context=get("Context"),
        exten=get("Exten"),
        priority=int(get("Priority")),
        variables=variables,
    )


def without_timestamp(event: Event) -> Headers:
    return [(k, v) for k, v in event.headers if k != "Timestamp"]
