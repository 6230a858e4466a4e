"""Log records from libraries carry no terminal escapes into our logs (switchboard/logs.py)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from switchboard.logs import LogFormat, build_handler

ESC = "\x1b"


def _uvicorn_record() -> logging.LogRecord:
    """What uvicorn.server logs at start: the plain message plus `color_message` with ANSI codes."""
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, "Uvicorn running on %s (Press CTRL+C to quit)",
        ("http://127.0.0.1:8080",), None,
    )  # fmt: skip
    record.color_message = "Uvicorn running on \x1b[1m%s\x1b[0m (Press CTRL+C to quit)"
    return record


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_uvicorn_color_message_does_not_reach_the_logs(fmt: LogFormat) -> None:
    stream = io.StringIO()
    handler = build_handler(fmt, stream)
    handler.handle(_uvicorn_record())
    text = stream.getvalue()
    assert ESC not in text and "color_message" not in text
    assert "Uvicorn running on http://127.0.0.1:8080" in text
    if fmt == "json":
        assert set(json.loads(text)) == {"ts", "level", "logger", "msg"}
