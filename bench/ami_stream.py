"""Synthesize a long AMI event stream from the real Asterisk 22 recording.

The recorded session's events are repeated with fresh Uniqueids, Linkedids and
channel suffixes per copy, so a tracker sees many distinct calls that each start
and finish, just as on a busy PBX. Responses and list events are left out: this
is the unsolicited event stream an engine ingests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ami"
RECORDING = FIXTURES / "asterisk-22.10.1-full.txt"
_UNIQUEID = re.compile(r"179533(\d{4})\.(\d+)")
_CHANNEL_SUFFIX = re.compile(r"-0000(00[0-9a-f]{2});")


def recorded_event_frames(path: Path = RECORDING) -> list[str]:
    """The server's unsolicited events in the recording, as CRLF message texts."""
    frames: list[str] = []
    current: list[str] = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.startswith(("#", ">>>")):
            continue
        if line:
            current.append(line)
            continue
        unsolicited = not any(header.startswith("ActionID:") for header in current)
        if current and current[0].startswith("Event: ") and unsolicited:
            frames.append("\r\n".join(current))
        current = []
    return frames


def synthesize(min_events: int, path: Path = RECORDING) -> tuple[bytes, int]:
    """At least `min_events` events as one byte stream (banner first) and the exact count."""
    frames = recorded_event_frames(path)
    template = "\r\n\r\n".join(frames) + "\r\n\r\n"
    copies = -(-min_events // len(frames))
    parts = ["Asterisk Call Manager/11.0.0\r\n"]
    for copy in range(copies):
        text = _UNIQUEID.sub(_fresh_uniqueid(copy), template)
        parts.append(_CHANNEL_SUFFIX.sub(_fresh_suffix(copy), text))
    return "".join(parts).encode(), copies * len(frames)


def _fresh_uniqueid(copy: int) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        return f"{1800000000 + copy * 10}.{match.group(2)}"

    return replace


def _fresh_suffix(copy: int) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        return f"-{copy:04x}{match.group(1)};"

    return replace
