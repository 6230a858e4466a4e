"""Log records from libraries carry no terminal escapes into our logs; the JSON line's timestamp and
extras (switchboard/logs.py)."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime

import pytest

from switchboard.logs import JsonFormatter, LogFormat, build_handler

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


@pytest.mark.parametrize(
    "created",
    [0.0, 1_764_977_000.1229996, 1_000_000_000.9999996, 1_000_000_000.9999994, 1_764_977_999.9995,
     1_764_977_000.0005, 1_764_977_000.0004999, 1_764_977_059.999999],
)  # fmt: skip
def test_the_json_timestamp_is_isoformat_to_the_millisecond(created: float) -> None:
    """What the formatter writes is datetime's own rounding, whatever it formatted before."""
    formatter = JsonFormatter()
    formatter.timestamp(created - 1)  # a second already formatted must not leak into the next
    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    assert formatter.timestamp(created) == expected


def test_extras_are_masked_once_and_written_in_order() -> None:
    stream = io.StringIO()
    handler = build_handler("json", stream, secrets=["hunter22"])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "login %s", ("hunter22",), None)
    record.agent_id, record.note, record.api_token = "1001", "pw hunter22", "abc"
    handler.handle(record)
    entry = json.loads(stream.getvalue())
    assert list(entry) == ["ts", "level", "logger", "msg", "agent_id", "note", "api_token"]
    assert entry["msg"] == "login ***" and entry["note"] == "pw ***" and entry["api_token"] == "***"
