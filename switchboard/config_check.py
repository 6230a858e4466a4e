"""`switchboard check-config`: what kind of file is this, and what is wrong with it (all of it).

A registry of checkers, one per kind of file. Each has a `detect(path, data)`
(data is the parsed YAML, or None if it does not parse), a `check(path)` that
returns problems or raises ConfigError, and filename hints tried before
content detection (`routing.yaml` is a routing file whatever it contains).

routing/ and dialer/ cannot import switchboard (imports point one way), so
their validators are found through HOOKS instead of registering themselves:
`"module:Name"` where Name is either the pydantic model of the whole file
(validated with core.config.loader.load_rules, which reports every issue with
file:line:col) or a function `check(path)` raising core.errors.ConfigError with
`details["issues"]` (or `["errors"]`) = [{file, line, column, path, message}].
Until the module exists, the kind gets a YAML syntax (and duplicate key) check
only, and the report says so.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from core.config.yaml_file import ConfigProblem, load_yaml, problems_from_error
from core.errors import ConfigError
from switchboard.api.tokens import TokenStore
from switchboard.applied_check import DiskVersion
from switchboard.rule_links import RuleFile, link_problems
from switchboard.settings import PATH_KEYS, Settings, load_settings

Detect = Callable[[Path, object], bool]
Check = Callable[[Path], Sequence[ConfigProblem] | None]

HOOKS: dict[str, str] = {
    "routing": "routing.rules:Rules",
    "campaigns": "dialer.campaigns.rules:Campaigns",
    "tasks": "dialer.tasks.rules:TaskRules",
    "dispositions": "dialer.dispositions.rules:DispositionRules",
}
# kind -> the word in a file name that hints at it
RULE_KINDS = (
    ("routing", "routing"),
    ("campaigns", "campaign"),
    ("tasks", "task"),
    ("dispositions", "disposition"),
)
CONTENT_KEYS: dict[str, tuple[str, ...]] = {
    "routing": ("queues", "tiers"),
    "campaigns": ("campaigns",),
    "tasks": ("tasks", "deadlines"),
    "dispositions": ("dispositions",),
}


@dataclass(frozen=True)
class Checker:
    kind: str
    detect: Detect
    check: Check
    name_hints: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class FileReport:
    file: str
    kind: str | None
    problems: list[ConfigProblem] = field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


class CheckerRegistry:
    """Kinds of configuration files, tried in registration order."""

    def __init__(self) -> None:
        self._checkers: dict[str, Checker] = {}

    def register_checker(
        self, kind: str, detect: Detect, check: Check, *, name_hints: Sequence[str] = (), note: str = ""
    ) -> None:
        """Add a kind, or replace the checker of an existing kind (keeping its place)."""
        self._checkers[kind] = Checker(kind, detect, check, tuple(name_hints), note)

    def kinds(self) -> list[str]:
        return list(self._checkers)

    def detect(self, path: Path, data: object) -> str | None:
        name = path.name.lower()
        for checker in self._checkers.values():
            if any(hint in name for hint in checker.name_hints):
                return checker.kind
        for checker in self._checkers.values():
            if checker.detect(path, data):
                return checker.kind
        return None

    def check_file(self, path: Path, kind: str | None = None) -> FileReport:
        """Every problem of one file; never raises for a bad file."""
        try:
            data = load_yaml(path).data
        except ConfigError as exc:
            if kind is None:
                kind = self.detect(path, None)
            return FileReport(str(path), kind, problems_from_error(exc, str(path)))
        kind = kind or self.detect(path, data)
        if kind is None:
            message = f"cannot tell what kind of file this is; use --kind ({', '.join(self.kinds())})"
            return FileReport(str(path), None, [ConfigProblem(str(path), message)])
        checker = self._checkers[kind]
        try:
            problems = list(checker.check(path) or [])
        except ConfigError as exc:
            problems = problems_from_error(exc, str(path))
        return FileReport(str(path), kind, problems, checker.note)


def default_registry() -> CheckerRegistry:
    """The checkers `switchboard check-config` uses."""
    registry = CheckerRegistry()
    registry.register_checker("api-tokens", _looks_like_tokens, check_tokens, name_hints=("token",))
    registry.register_checker("settings", _looks_like_settings, check_settings, name_hints=("settings",))
    for kind, hint in RULE_KINDS:
        check, note = hooked_check(kind)
        detect = _has_top_key(*CONTENT_KEYS[kind])
        registry.register_checker(kind, detect, check, name_hints=(hint,), note=note)
    return registry


def check_settings(path: Path) -> list[ConfigProblem]:
    """Validate a settings file on its own (environment ignored), that the files it names exist,
    and that the rule files it names agree with each other (rule_links)."""
    settings = load_settings(path, use_env=False)
    return _missing_files(settings, path) + link_check(named_rule_files(settings), engine_shard(path))


def engine_shard(path: Path | None) -> str:
    """The ACD shard an engine of these settings runs: acd.shard of the file and the environment
    (SWITCHBOARD_ACD_SHARD wins, as in the engine; no file: SWITCHBOARD_SETTINGS_FILE's); the file's
    alone when the environment spoils it, the default shard when neither loads."""
    with contextlib.suppress(ConfigError):
        return load_settings(path).acd.shard
    if path is not None:
        with contextlib.suppress(ConfigError):
            return load_settings(path, use_env=False).acd.shard
    return ""


def _missing_files(settings: Settings, path: Path) -> list[ConfigProblem]:
    problems = []
    doc = load_yaml(path)
    for section, key in PATH_KEYS:
        value = getattr(getattr(settings, section), key)
        if isinstance(value, Path) and not value.is_file():
            line, column = doc.position((section, key))
            problems.append(
                ConfigProblem(str(path), f"file not found: {value}", f"{section}.{key}", line, column)
            )
    return problems


def check_tokens(path: Path) -> None:
    TokenStore.from_file(path)


def check_yaml_only(path: Path) -> None:
    load_yaml(path)


def hooked_check(kind: str) -> tuple[Check, str]:
    """The validator of `kind` from its package if it exists, else a YAML syntax check."""
    module_name, _, attribute = HOOKS[kind].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise
        return check_yaml_only, f"YAML syntax only: no {kind} validator in this build yet"
    target = getattr(module, attribute, None)
    if isinstance(target, type) and issubclass(target, BaseModel):
        return _model_check(target), ""
    if callable(target):
        return _call_check(target), ""
    return check_yaml_only, f"YAML syntax only: {HOOKS[kind]} is missing"


def _model_check(model: type[BaseModel]) -> Check:
    def check(path: Path) -> None:
        from core.config.loader import load_rules  # noqa: PLC0415  (the rules loader, only when needed)

        load_rules(path, model)

    return check


def _call_check(function: Callable[[Path], object]) -> Check:
    def check(path: Path) -> None:
        function(path)

    return check


def _looks_like_settings(path: Path, data: object) -> bool:
    return isinstance(data, dict) and bool(data) and set(data) <= set(Settings.model_fields)


def _looks_like_tokens(path: Path, data: object) -> bool:
    if isinstance(data, dict) and set(data) == {"tokens"}:
        return True
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(item, dict) and "role" in item for item in data)
    )


def _has_top_key(*keys: str) -> Detect:
    def detect(path: Path, data: object) -> bool:
        return isinstance(data, dict) and any(key in data for key in keys)

    return detect


def link_check(files: dict[str, Path], shard: str = "") -> list[ConfigProblem]:
    """Broken references between rule files (kind -> path), each file valid on its own, as an
    engine of ACD shard `shard` sees them (its campaigns only).

    A file that does not load is left out: its own problems are reported by its own check."""
    from core.config.loader import load_text, read_rules_text  # noqa: PLC0415  (only when needed)

    loaded: dict[str, RuleFile] = {}
    for kind, path in files.items():
        module_name, _, attribute = HOOKS[kind].partition(":")
        model = getattr(importlib.import_module(module_name), attribute)
        try:
            text = read_rules_text(path)
            loaded[kind] = RuleFile(str(path), text, load_text(text, model, str(path)))
        except ConfigError:
            continue
    return link_problems(loaded, shard=shard)


def disk_version(kind: str, path: Path) -> DiskVersion:
    """The content hash of a rule file as the engine would compute it (None: it does not load)."""
    from core.config.loader import content_hash, load_text, read_rules_text  # noqa: PLC0415

    module_name, _, attribute = HOOKS[kind].partition(":")
    model = getattr(importlib.import_module(module_name), attribute)
    try:
        return DiskVersion(kind, str(path), content_hash(load_text(read_rules_text(path), model, str(path))))
    except ConfigError:
        return DiskVersion(kind, str(path), None)


def named_rule_files(settings: Settings) -> dict[str, Path]:
    """The rule files a settings file names (those that exist)."""
    named = {kind: getattr(settings.rules, kind) for kind in HOOKS}
    return {kind: path for kind, path in named.items() if isinstance(path, Path) and path.is_file()}
