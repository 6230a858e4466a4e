"""Generic YAML + pydantic loader: validate a whole file, report every mistake with file:line:col.

Owned here: the one way Switchboard reads a file supervisors edit
(routing.yaml here; the dialer reuses it for campaigns.yaml and tasks.yaml).
Rules it keeps:
- The whole file is validated before anything is returned: `load_rules` gives a
  complete model or raises `ConfigError` listing ALL issues. Nothing half-applies;
  the caller swaps the returned model in one assignment.
- Every issue is a core.config.yaml_file.ConfigProblem (the one problem type of every config
  file) with file, line, column and a path such as `queues[2].escalation[0].after_seconds`,
  and a sentence (`must be > 0`).
- Cross-reference checks (a queue names a skill that exists, ...) live on the
  model (`CheckedModel.cross_check`) and are reported the same way, with paths.
- `content_hash` identifies the applied content ("rules version 3f2a... applied").
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, NamedTuple, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from core.config.error_messages import error_message, field_names, is_spurious, render_loc
from core.config.yaml_file import ConfigProblem, problems_from_error
from core.config.yaml_marks import Loc, Parsed, parse_yaml
from core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

_PROBLEMS = "core.config.loader.problems"


class Problem(NamedTuple):
    """A cross-reference problem found by a model: where (loc) and what (message)."""

    loc: Loc
    message: str


def sentence(problem: ConfigProblem) -> str:
    """A rule-file problem as its editor reads it: `file:line:col: path must be > 0`."""
    where = f"{problem.file}:{problem.line}:{problem.column}"
    return f"{where}: {problem.key} {problem.message}" if problem.key else f"{where}: {problem.message}"


def issue_dict(problem: ConfigProblem) -> dict[str, Any]:
    """How a rule-file problem travels in ConfigError.details["issues"] (logs, reload, API)."""
    return {
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
        "path": problem.key,
        "message": problem.message,
        "text": sentence(problem),
    }


def text_check(pattern: str, what: str) -> Any:
    """A validator: text must match `pattern`; the message says `what` (pydantic's would show the regex)."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(f"must be {what}, got {value!r}")
        return value

    return AfterValidator(check)


def schema_pattern(pattern: str) -> Any:
    """Put `pattern` into the JSON Schema (for editors) without pydantic enforcing it a second time."""
    return Field(json_schema_extra={"pattern": pattern})


class ConfigModel(BaseModel):
    """Base for config sections: immutable, unknown keys are errors, numbers accepted as text."""

    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)


class CheckedModel(ConfigModel):
    """A root model whose cross-references are checked after its fields validate.

    Constructed directly, it raises on the first problems; read by the loader,
    every problem is reported with its own path and line.
    """

    def cross_check(self) -> list[Problem]:
        return []

    @model_validator(mode="after")
    def _run_cross_check(self, info: ValidationInfo) -> Self:
        problems = self.cross_check()
        if not problems:
            return self
        sink = info.context.get(_PROBLEMS) if isinstance(info.context, dict) else None
        if isinstance(sink, list):
            sink.extend(problems)
            return self
        raise ValueError("; ".join(f"{render_loc(p.loc)} {p.message}" for p in problems))


def load_text(text: str, model: type[M], file: str = "<text>") -> M:
    """Validate YAML text into `model`; raise ConfigError listing every issue."""
    parsed = parse_yaml(text)
    issues = [
        ConfigProblem(file, i.message, render_loc(i.loc), i.mark.line, i.mark.column) for i in parsed.issues
    ]
    if issues:
        raise _config_error(file, issues)
    problems: list[Problem] = []
    try:
        result = model.model_validate(_document(parsed), context={_PROBLEMS: problems})
    except ValidationError as exc:
        raise _config_error(file, _validation_issues(exc, parsed, file, model)) from None
    if problems:
        raise _config_error(file, [_issue(file, parsed, p.loc, p.message) for p in problems])
    return result


def read_rules_text(path: str | Path) -> str:
    """The text of a rule file; a ConfigError with the place when it cannot be read or is not UTF-8."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise _config_error(
            file, [ConfigProblem(file, f"cannot read the file: {exc.strerror}", "", 0, 0)]
        ) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _config_error(file, [ConfigProblem(file, "is not UTF-8 text", "", line, 1)]) from None


def load_rules(path: str | Path, model: type[M]) -> M:
    """Read and validate a YAML file into `model`; raise ConfigError listing every issue."""
    return load_text(read_rules_text(path), model, str(path))


def check_file(path: str | Path, model: type[BaseModel]) -> list[ConfigProblem]:
    """Every problem in the file, or an empty list when it is valid (for `check-config`)."""
    try:
        load_rules(path, model)
    except ConfigError as exc:
        return problems_from_error(exc, str(path))
    return []


def content_hash(model: BaseModel) -> str:
    """sha256 of the canonical JSON of the validated content (same content -> same hash)."""
    canonical = json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def schema_json(model: type[BaseModel]) -> str:
    """The JSON Schema text committed next to the example (editors autocomplete from it)."""
    return json.dumps(model.model_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schema(model: type[BaseModel], path: str | Path) -> None:
    Path(path).write_text(schema_json(model), encoding="utf-8")


def _document(parsed: Parsed) -> Any:
    return {} if parsed.data is None else parsed.data


def _validation_issues(
    exc: ValidationError, parsed: Parsed, file: str, model: type[BaseModel]
) -> list[ConfigProblem]:
    known = field_names(model)
    issues: list[ConfigProblem] = []
    for error in exc.errors():
        if is_spurious(error):
            continue
        loc = tuple(part for part in error["loc"] if part != "[key]")
        message = error_message(error, known)
        if len(loc) < len(error["loc"]):
            message = f"(the key) {message}"
        issues.append(_issue(file, parsed, loc, message))
    return issues


def _issue(file: str, parsed: Parsed, loc: Loc, message: str) -> ConfigProblem:
    mark = parsed.mark_for(loc)
    return ConfigProblem(file, message, render_loc(loc) or "(top level)", mark.line, mark.column)


def _config_error(file: str, issues: list[ConfigProblem]) -> ConfigError:
    issues = sorted(issues, key=lambda i: (i.line or 0, i.column or 0, i.key))
    count = f"{len(issues)} problem{'s' if len(issues) != 1 else ''}"
    return ConfigError(
        f"{file}: {count}; first: {sentence(issues[0])}", file=file, issues=[issue_dict(i) for i in issues]
    )
