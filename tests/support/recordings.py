"""Read the recorded Asterisk sessions in tests/fixtures/ami (copied from shared/ami).

Format: `### title` starts a step; lines starting `>>> ` are what the client sent;
`#` lines are annotations; everything else is server bytes with CRLF shown as LF.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
