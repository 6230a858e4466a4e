"""Plain-language messages for configuration mistakes, and how a location reads.

Owned here: turning a pydantic error (type, loc, ctx) into the sentence a
supervisor sees after the path, e.g. `queues[2].escalation[0].after_seconds
must be > 0`. Unknown error types fall back to pydantic's own wording, so a new
pydantic version can never hide a problem, only word it less nicely.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

Loc = tuple[str | int, ...]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

_SIMPLE: dict[str, str] = {
    "missing": "is required",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "dict_type": "must be a mapping (key: value lines)",
    "model_type": "must be a mapping (key: value lines)",
    "model_attributes_type": "must be a mapping (key: value lines)",
    "list_type": "must be a list (lines starting with '- ')",
    "tuple_type": "must be a list (lines starting with '- ')",
    "set_type": "must be a list (lines starting with '- ')",
    "date_type": "must be a date like 2025-12-24",
    "date_parsing": "must be a date like 2025-12-24",
    "date_from_datetime_parsing": "must be a date like 2025-12-24",
    "finite_number": "must be a finite number",
}

_BOUNDS: dict[str, str] = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} item(s)",
    "string_too_short": "must have at least {min_length} character(s)",
    "string_too_long": "must have at most {max_length} character(s)",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
    "string_pattern_mismatch": "must match the pattern {pattern}",
}


QUOTED_MAX = 60


def quoted(value: Any) -> str:
    """A rejected value as an import report quotes it, so the bad row can be found: text in
    quotes, control characters escaped (repr), cut after QUOTED_MAX characters."""
    text = str(value)
    return repr(text if len(text) <= QUOTED_MAX else text[:QUOTED_MAX] + "...")


def render_loc(loc: Iterable[str | int]) -> str:
    """`("queues", 2, "escalation", 0, "after_seconds")` -> `queues[2].escalation[0].after_seconds`."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _IDENT.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{str(part)!r}]"
    return out


def error_message(error: Mapping[str, Any], known_fields: Iterable[str] = ()) -> str:
    """The sentence for one pydantic error (what follows the path)."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind in _BOUNDS:
        try:
            return _BOUNDS[kind].format(**{k: _plain(v) for k, v in ctx.items()})
        except (KeyError, IndexError):
            pass
    if kind == "extra_forbidden":
        return _unknown_field(error, known_fields)
    if kind in ("value_error", "assertion_error"):
        return _strip_prefix(str(ctx.get("error", error.get("msg", ""))))
    return _lower_first(str(error.get("msg", "is invalid")))


def _plain(value: Any) -> Any:
    """`0.0` -> `0` so limits read as written in the rules."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def is_spurious(error: Mapping[str, Any]) -> bool:
    """pydantic reports `too_short` for a list whose items failed; the item errors say it all."""
    if error.get("type") != "too_short":
        return False
    given, ctx = error.get("input"), error.get("ctx") or {}
    return isinstance(given, list | tuple | dict) and len(given) >= int(ctx.get("min_length", 0))


def _unknown_field(error: Mapping[str, Any], known_fields: Iterable[str]) -> str:
    loc = error.get("loc") or ()
    name = str(loc[-1]) if loc else ""
    close = difflib.get_close_matches(name, sorted(set(known_fields)), n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"is not a known setting{hint}"


def _strip_prefix(text: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


def field_names(model: type[BaseModel]) -> set[str]:
    """Every field name reachable from `model` (for 'did you mean' hints)."""
    names: set[str] = set()
    _collect(model, names, set())
    return names


def _collect(model: type[BaseModel], names: set[str], seen: set[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.add(model)
    for name, info in model.model_fields.items():
        names.add(name)
        choices = getattr(info.validation_alias, "choices", ())  # AliasChoices: the new spelling first
        names.update(choice for choice in choices if isinstance(choice, str))
        for inner in _models_in(info.annotation):
            _collect(inner, names, seen)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    args = typing.get_args(annotation)
    if not args and not isinstance(annotation, types.UnionType):
        return []
    found: list[type[BaseModel]] = []
    for arg in args:
        found.extend(_models_in(arg))
    return found
