"""YAML files with positions: every error an operator sees says file:line:col.

Owns reading a YAML file into plain data plus a map from each key path to its
line and column, so that a pydantic error on `ami.port` can point at the line
where `port:` was written. It also refuses what PyYAML silently accepts and an
operator would not mean: a key written twice in one mapping (PyYAML keeps the
last one), and several documents in one file.

Positions are 1-based (as editors show them). Nothing here knows what a
settings, routing or tokens file means; callers validate the data.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.config import yaml_marks
from core.config.error_messages import render_loc
from core.errors import ConfigError

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in one config file, printable as `file:line:col: key: message`.

    The one problem type of every config file: settings, API tokens and the rule files
    (core.config.loader, whose `key` is the path of the offending value). `line` is None
    when the problem has no place in a file (an environment variable).
    """

    file: str
    message: str
    key: str = ""
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        parts = [part for part in (where, self.key) if part]
        return ": ".join([*parts, self.message])

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "key": self.key,
            "message": self.message,
        }


@dataclass(frozen=True)
class YamlDocument:
    """Parsed data of one file and where each key path was written."""

    file: str
    data: Any
    positions: dict[tuple[str, ...], tuple[int, int]] = field(default_factory=dict)

    def position(self, loc: Loc) -> tuple[int | None, int | None]:
        """Line and column of `loc`, or of its nearest ancestor that is in the file."""
        key = tuple(str(part) for part in loc)
        for end in range(len(key), 0, -1):
            found = self.positions.get(key[:end])
            if found is not None:
                return found
        return None, None

    def has(self, loc: Loc) -> bool:
        return tuple(str(part) for part in loc) in self.positions


def load_yaml(path: Path) -> YamlDocument:
    """Read and parse `path`; a missing file, bad syntax or a duplicate key is a ConfigError."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(yaml_marks.MAX_FILE_BYTES + 1)  # never more than the cap in memory
            size = max(len(raw), os.fstat(handle.fileno()).st_size)
        too_large = yaml_marks.size_problem(size)
        if too_large:
            raise config_error([ConfigProblem(str(path), too_large)])
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise config_error([ConfigProblem(str(path), f"cannot read file: {_reason(exc)}")]) from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, file: str) -> YamlDocument:
    """The same YAML 1.2 reading as the rule files (core.config.yaml_marks): `NO` stays Norway's code."""
    parsed = yaml_marks.parse_yaml(text)
    if parsed.issues:
        raise config_error([
            ConfigProblem(file, issue.message, render_loc(issue.loc), issue.mark.line, issue.mark.column)
            for issue in parsed.issues
        ])  # fmt: skip
    positions = {key: (mark.line, mark.column) for key, mark in parsed.marks.items() if key}
    return YamlDocument(file, parsed.data, positions)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def problems_from_validation(
    exc: ValidationError, doc: YamlDocument, *, prefix: Loc = (), source_of: Any = None
) -> list[ConfigProblem]:
    """Translate pydantic errors into problems with positions; never echoes the rejected input.

    `source_of(loc)` may return a different source name (e.g. an environment
    variable) for a key that did not come from the file.
    """
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        loc: Loc = (*prefix, *_clean_loc(error["loc"]))
        message = _message(error)
        source = source_of(loc) if source_of is not None else None
        if source is not None:
            problems.append(ConfigProblem(source, message, render_loc(loc)))
            continue
        line, column = doc.position(loc)
        problems.append(ConfigProblem(doc.file, message, render_loc(loc), line, column))
    return problems


def _clean_loc(loc: Sequence[str | int]) -> Loc:
    # Tagged unions and validators add synthetic steps such as "function-after[...]".
    return tuple(part for part in loc if not (isinstance(part, str) and "[" in part))


def _message(error: Any) -> str:
    text = str(error["msg"])
    if error["type"] == "extra_forbidden":
        return "unknown key (check the spelling)"
    if error["type"] == "missing":
        return "required key is missing"
    return text.removeprefix("Value error, ")


def config_error(problems: Sequence[ConfigProblem], what: str = "invalid configuration") -> ConfigError:
    """One ConfigError carrying every problem; its message lists them one a line."""
    first = problems[0] if problems else ConfigProblem("", what)
    lines = "\n".join(f"  {problem}" for problem in problems)
    return ConfigError(
        f"{what}:\n{lines}",
        file=first.file,
        line=first.line,
        column=first.column,
        key=first.key,
        errors=[problem.as_dict() for problem in problems],
    )


def problems_from_error(exc: ConfigError, default_file: str) -> list[ConfigProblem]:
    """Read problems back out of a ConfigError: `errors` (config_error) or a rule file's `issues`
    (core.config.loader.issue_dict, which names the key `path`)."""
    errors = exc.details.get("errors") or exc.details.get("issues")
    if isinstance(errors, list) and errors:
        items = [item for item in errors if isinstance(item, dict)]
        return [_problem_from_dict(item, default_file, exc.message) for item in items]
    return [_problem_from_dict(exc.details, default_file, exc.message)]


def _problem_from_dict(item: dict[str, Any], default_file: str, default_message: str) -> ConfigProblem:
    line, column = item.get("line"), item.get("column")
    return ConfigProblem(
        file=str(item.get("file") or default_file),
        message=str(item.get("message") or default_message),
        key=str(item.get("key") or item.get("path") or ""),
        line=line if isinstance(line, int) and line > 0 else None,
        column=column if isinstance(column, int) and column > 0 else None,
    )
