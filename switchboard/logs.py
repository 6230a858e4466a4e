"""Structured logs: JSON lines for machines, a readable console for people, secrets masked in both.

Owns the root logging setup of the engine process. Code everywhere logs with
the standard library (`logging.getLogger(__name__)`) and passes correlation ids
as extras: `log.info("originate sent", extra={"call_id": cid, "action_id": aid})`.
Every extra becomes a JSON field (or `key=value` on the console).

Format `auto` picks JSON when stderr is not a terminal (systemd, Docker, CI)
and the console renderer (rich) when it is.

The SecretFilter sits on the handler, so it sees records of every logger: it
replaces known secret values, `Secret: ...`-style AMI headers, `password=` /
`token=` pairs and URL passwords with `***`, in the message, the extras and the
formatted traceback.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

LogFormat = Literal["json", "console", "auto"]
MASK = "***"
MIN_SECRET_LENGTH = 4  # masking a 1-3 character "secret" everywhere would garble every line
# uvicorn adds `color_message`, the message again with ANSI colour escapes: never a field of ours.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "color_message",
}  # fmt: skip
_SENSITIVE_KEY = re.compile(r"secret|password|passwd|token|authorization|api[_-]?key", re.IGNORECASE)
_PATTERNS = (
    # AMI headers and key=value / key: value pairs whose name says they are secret.
    re.compile(
        r"(?i)(?<![\w.])(\w*(?:secret|password|passwd|token|authorization)\s*[:=]\s*)(?:bearer\s+)?[^\s,;&\"']+"
    ),
    # URL userinfo: scheme://user:password@host
    re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+(?=@)"),
)
# What every match of _PATTERNS holds: one plain search spares most texts both substitutions.
_MAYBE_SECRET = re.compile(r"secret|password|passwd|token|authorization|://", re.IGNORECASE)


def _maybe_secret(text: str) -> bool:
    """`_MAYBE_SECRET.search(text)`, about 10x faster on ASCII (most log texts, 7 records a call with
    several texts each): lowercase once, then plain substring tests of the same words. Other texts
    take the regex (its IGNORECASE folds more characters than `lower`, e.g. the Kelvin sign)."""
    if not text.isascii():
        return _MAYBE_SECRET.search(text) is not None
    low = text.lower()
    return (
        "secret" in low or "password" in low or "passwd" in low or "token" in low or "authorization" in low
        or "://" in low
    )  # fmt: skip


class SecretFilter(logging.Filter):
    """Masks secrets in every record that passes the handler it is attached to."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: list[str] = []
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        known = set(self._secrets) | {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        self._secrets = sorted(known, key=len, reverse=True)  # longest first: no partial leftovers

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        if not _maybe_secret(text):
            return text
        for pattern in _PATTERNS:
            text = pattern.sub(lambda match: match.group(1) + MASK, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.mask(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        fields = vars(record)
        for key, value in extras(record).items():
            if _sensitive(key):
                fields[key] = MASK
            elif isinstance(value, str):
                fields[key] = self.mask(value)
        return True


def _sensitive(key: str) -> bool:
    """Whether an extra's name says it holds a secret; the names are the code's own, a few dozen."""
    found = _SENSITIVE_KEYS.get(key)
    if found is None:
        found = _SENSITIVE_KEY.search(key) is not None
        if len(_SENSITIVE_KEYS) < 4096:  # bounded, should a caller ever build names at run time
            _SENSITIVE_KEYS[key] = found
    return found


_SENSITIVE_KEYS: dict[str, bool] = {}
_EXTRAS = "_switchboard_extras"  # the extras' names, noted on the record by its first reader


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The `extra=` fields of a record (call_id, action_id, ...)."""
    fields = vars(record)
    names: list[str] | None = fields.get(_EXTRAS)
    if names is None:  # the filter and the formatter both read them: find the names once
        names = [key for key in fields if key not in _STANDARD_ATTRS and key[0] != "_"]
        fields[_EXTRAS] = names
    return {key: fields[key] for key in names}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the extras, and exc when there is one."""

    @staticmethod
    def timestamp(created: float) -> str:
        """`created` as isoformat(timespec="milliseconds") in UTC."""
        return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in extras(record).items():
            entry.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return _JSON.encode(entry)


_JSON = json.JSONEncoder(default=str, ensure_ascii=False)  # json.dumps would build one per record


class ConsoleFormatter(logging.Formatter):
    """The message followed by its extras as key=value, for the rich console."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        fields = " ".join(f"{key}={value}" for key, value in extras(record).items())
        if fields:
            text = f"{text}  {fields}"
        if record.exc_text:
            text = f"{text}\n{record.exc_text}"
        return text


def resolve_format(fmt: LogFormat, stream: TextIO) -> Literal["json", "console"]:
    if fmt != "auto":
        return fmt
    isatty = getattr(stream, "isatty", None)
    return "console" if isatty is not None and isatty() else "json"


def build_handler(fmt: LogFormat, stream: TextIO, secrets: Iterable[str] = ()) -> logging.Handler:
    handler: logging.Handler
    if resolve_format(fmt, stream) == "json":
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
    else:
        from rich.console import Console  # noqa: PLC0415 - a JSON-logging engine never loads rich
        from rich.logging import RichHandler  # noqa: PLC0415

        console = Console(file=stream, soft_wrap=True)
        handler = RichHandler(console=console, show_path=False, markup=False, rich_tracebacks=False)
        handler.setFormatter(ConsoleFormatter())
    handler.addFilter(SecretFilter(secrets))
    return handler


def configure_logging(
    fmt: LogFormat = "auto", level: str = "INFO", *, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> logging.Handler:
    """Replace the root logger's handlers with one structured handler; returns it (tests read it)."""
    handler = build_handler(fmt, stream if stream is not None else sys.stderr, secrets)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Third-party chatter that would drown call events at INFO.
    for name, quiet in (("uvicorn.access", "WARNING"), ("panoramisk", "WARNING"), ("asyncio", "WARNING")):
        logging.getLogger(name).setLevel(quiet)
    return handler
