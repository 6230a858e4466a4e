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

import copy
import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple, Self, TypeVar, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from core.config.error_messages import error_message, field_names, is_spurious, render_loc
from core.config.vocabulary import deprecations, file_loc
from core.config.yaml_file import ConfigProblem, problems_from_error
from core.config.yaml_marks import MAX_FILE_BYTES, Loc, Parsed, parse_yaml, size_problem
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
        issues = _validation_issues(exc, parsed, file, model)
        wrong = [tuple(error["loc"]) for error in exc.errors()]
        also = references_despite(parsed.data, model, wrong)
        issues += [_issue(file, parsed, p.loc, p.message) for p in also]
        raise _config_error(file, issues) from None
    if problems:
        raise _config_error(file, [_issue(file, parsed, p.loc, p.message) for p in problems])
    return result


def deprecated_spellings(path: str | Path, text: str | None = None) -> list[ConfigProblem]:
    """The old spellings in a rule file (core.config.vocabulary), each with its place; [] if unreadable."""
    try:
        parsed = parse_yaml(read_rules_text(path) if text is None else text)
    except ConfigError:
        return []
    return [ConfigProblem(str(path), sentence, render_loc(loc), line, column)
            for loc, line, column, sentence in deprecations(parsed)]  # fmt: skip


def read_rules_text(path: str | Path) -> str:
    """The text of a rule file; a ConfigError with the place when it cannot be read or is not UTF-8."""
    file = str(path)
    try:
        with Path(path).open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)  # never more than the cap in memory
            size = max(len(raw), os.fstat(handle.fileno()).st_size)
    except OSError as exc:
        raise _config_error(
            file, [ConfigProblem(file, f"cannot read the file: {exc.strerror}", "", 0, 0)]
        ) from None
    too_large = size_problem(size)
    if too_large:
        raise _config_error(file, [ConfigProblem(file, too_large, "", 1, 1)])
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


def references_despite(data: Any, model: type[BaseModel], wrong: Sequence[Loc] = ()) -> list[Problem]:
    """The cross-reference problems of the parts that did validate, so that one structural mistake
    does not hide them (a second pass of `check-config` would find them otherwise).

    Each wrong value (`wrong`, the paths pydantic named) is left out where it is a mapping key
    (its default applies); then each element of a top-level list that still does not validate
    on its own is left out, and so are top-level keys that do not; the rest is validated with
    its cross-checks. A problem about a
    name defined only in a left-out element is not reported (it may be that element's mistake).
    """
    if not isinstance(data, dict) or not issubclass(model, CheckedModel):
        return []
    data = copy.deepcopy(data)
    for loc in wrong:
        if len(loc) == 1 and isinstance(data.get(loc[0]), list):
            continue  # "too short" because an element failed: the elements are sorted out below
        _drop_leaf(data, loc)
    pruned, kept, dropped = _valid_elements(data, model)
    problems: list[Problem] = []
    for _ in range(2):
        try:
            model.model_validate(pruned, context={_PROBLEMS: problems})
        except ValidationError as exc:  # top-level values: leave them out and try once more
            problems.clear()
            for error in exc.errors():
                if len(error["loc"]) >= 1 and error["loc"][0] in pruned and error["loc"][0] not in kept:
                    pruned.pop(error["loc"][0])
            continue
        except (ValueError, TypeError):
            return []
        break
    else:  # a list emptied by leaving its wrong elements out (tiers: at least one): check the rest as is,
        # unless a left-out element had no readable name (its references could not be told apart)
        problems = [] if _NAMELESS in dropped else _checks_of_parts(pruned, model)
    return [
        Problem(_remap(p.loc, kept), p.message)
        for p in problems
        if not any(f"'{name}'" in p.message for name in dropped)
    ]


_NAME_KEYS = ("name", "id", "code", "kind")
_NAMELESS = "\0nameless"  # a left-out element without a name (never in a message)


def _checks_of_parts(pruned: dict[str, Any], model: type[BaseModel]) -> list[Problem]:
    """The cross-checks of a model built from its parts that validate one by one, without the
    whole's own constraints (a list's minimum length): [] when even that cannot be built."""
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = name if name in pruned else field.alias
        if key is None or key not in pruned or field.annotation is None:
            continue
        try:
            values[name] = TypeAdapter(field.annotation).validate_python(pruned[key])
        except (ValidationError, ValueError, TypeError):
            continue  # its default applies (or the checks below cannot run: nothing reported)
    try:
        built = model.model_construct(**values)
        return built.cross_check() if isinstance(built, CheckedModel) else []
    except Exception:  # a best-effort second look; the structural problems stand
        return []


def _valid_elements(
    data: dict[str, Any], model: type[BaseModel]
) -> tuple[dict[str, Any], dict[str, list[int]], set[str]]:
    pruned, kept, dropped = dict(data), dict[str, list[int]](), set[str]()
    for name, field in model.model_fields.items():
        value = data.get(name)
        item_type = _item_type(field.annotation)
        if not isinstance(value, list) or item_type is None:
            continue
        adapter: TypeAdapter[Any] = TypeAdapter(item_type)
        good = []
        for index, item in enumerate(value):
            try:
                adapter.validate_python(item)
                good.append(index)
            except (ValidationError, ValueError, TypeError):
                names = {str(item[k]) for k in _NAME_KEYS if k in item} if isinstance(item, dict) else set()
                dropped |= names or {_NAMELESS}
        kept[name], pruned[name] = good, [value[index] for index in good]
    return pruned, kept, dropped


def _drop_leaf(data: Any, loc: Loc) -> None:
    """Remove the mapping key at `loc` (a wrong value or an unknown key), if it is one."""
    node = data
    for part in loc[:-1]:
        inside_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (inside_list or (isinstance(node, dict) and part in node)):
            return
        node = node[part]
    if loc and isinstance(node, dict) and isinstance(loc[-1], str):
        node.pop(loc[-1], None)


def _item_type(annotation: Any) -> Any:
    """X of `tuple[X, ...]` (how rule models spell their lists), else None."""
    args = get_args(annotation)
    if get_origin(annotation) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    return None


def _remap(loc: Loc, kept: dict[str, list[int]]) -> Loc:
    """A path in the pruned document -> the same place in the file."""
    if len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int) and loc[0] in kept:
        indices = kept[loc[0]]
        if loc[1] < len(indices):
            return (loc[0], indices[loc[1]], *loc[2:])
    return loc


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
    loc = file_loc(loc, parsed)
    mark = parsed.mark_for(loc)
    return ConfigProblem(file, message, render_loc(loc) or "(top level)", mark.line, mark.column)


def _config_error(file: str, issues: list[ConfigProblem]) -> ConfigError:
    issues = sorted(issues, key=lambda i: (i.line or 0, i.column or 0, i.key))
    count = f"{len(issues)} problem{'s' if len(issues) != 1 else ''}"
    return ConfigError(
        f"{file}: {count}; first: {sentence(issues[0])}", file=file, issues=[issue_dict(i) for i in issues]
    )
