"""Hot reload of the rule files supervisors edit (routing, campaigns, dispositions, tasks).

Rules this module keeps:
- A file is validated whole (core.config.loader.load_rules) before anything
  changes; the new model is handed to its consumer in one call, so a bad edit
  never half-applies. On an invalid edit the previous rules keep running, the
  error is logged with every file:line:col issue, and
  `switchboard_rules_reloads_total{kind,result="failure"}` goes up.
- Each applied version is logged with its content hash, and the active hash is
  exported as `switchboard_rules_active{kind,hash}` = 1.
- A reload happens when the file's (mtime, size, inode) changes, polled once a
  second (no inotify dependency; editors that replace the file are covered), and
  on SIGHUP for every watched file. An unchanged file is not re-applied.
- Reading and validating run in a worker thread: a huge or hostile file never
  blocks the event loop (calls keep being routed meanwhile).
- With a LastAppliedStore (Redis), every applied version is kept; at start an
  invalid file falls back to the last applied version with a loud error, and
  `switchboard_rules_file_invalid{kind}` = 1 (also on a refused reload) until a
  valid file is read. `invalid_files()` feeds /readyz.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import BaseModel

from core.cancellation import raise_if_cancelling, stop_task
from core.config.loader import content_hash, deprecated_spellings, load_text, read_rules_text
from core.config.yaml_file import ConfigProblem
from core.errors import ConfigError
from switchboard.rule_links import RuleFile
from switchboard.rules_store import AppliedRules, LastAppliedStore

log = logging.getLogger("switchboard.reload")

Apply = Callable[[Any], Awaitable[None] | None]
FileStamp = tuple[int, int, int]


class ReloadMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.reloads = Counter(
            "switchboard_rules_reloads",
            "Rule file reloads by kind and result (success, failure)",
            ["kind", "result"],
            registry=registry,
        )
        self.active = Gauge(
            "switchboard_rules_active",
            "1 for the content hash of the rules each kind runs now",
            ["kind", "hash"],
            registry=registry,
        )
        self.file_invalid = Gauge(
            "switchboard_rules_file_invalid",
            "1 while the rule file on disk is invalid and the engine runs an earlier version of it",
            ["kind"],
            registry=registry,
        )


@dataclass
class WatchedFile:
    kind: str
    path: Path
    model: type[BaseModel]
    apply: Apply
    stamp: FileStamp | None = None
    hash: str = ""
    failures: int = field(default=0)
    applied_at: float = field(default_factory=time.time)
    refused_at: float | None = None
    refused_issues: list[dict[str, Any]] = field(default_factory=list)
    invalid: str = ""
    """Why the file on disk is refused while an earlier version runs ("" when it is valid)."""
    linked: bool = False
    """Refused only for references to another file (retried whenever another file changes)."""
    current: Any = None
    text: str = ""
    """The model in force and the text it came from (for cross-file checks and their positions)."""


def _stamp(path: Path) -> FileStamp | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


class RulesReloader:
    """Keeps each watched rule file applied; see the module docstring for the rules."""

    def __init__(
        self,
        metrics: ReloadMetrics,
        *,
        poll_s: float = 1.0,
        store: LastAppliedStore | None = None,
        clock: Callable[[], float] = time.time,
        links: Callable[[Mapping[str, RuleFile]], list[ConfigProblem]] | None = None,
    ) -> None:
        self._metrics = metrics
        self._poll_s = poll_s
        self._store = store
        self._clock = clock
        self._links = links
        self._files: dict[str, WatchedFile] = {}
        self._task: asyncio.Task[None] | None = None
        self._sighup: asyncio.Task[object] | None = None  # a SIGHUP reload in progress
        self._signal_installed = False
        self._last: dict[str, AppliedRules] = {}
        self._unsaved: list[AppliedRules] = []

    async def fetch_last_applied(self, kinds: tuple[str, ...]) -> None:
        """Read the last applied versions from the store: what `load_initial` falls back to."""
        if self._store is not None:
            self._last = await self._store.fetch(kinds)

    def load_initial(self, kind: str, path: Path, model: type[BaseModel]) -> Any:
        """Load a file at start. If it is invalid, start on the last applied version (from the store)
        and say so loudly; without one, the ConfigError stops the engine with the issues."""
        try:
            text = read_rules_text(path)
            rules = load_text(text, model, str(path))
        except ConfigError as exc:
            text, rules = self._fall_back(kind, path, model, exc)
            invalid = _issues_text(exc)
        else:
            invalid = ""
            _warn_deprecated(kind, path, text)
            self._unsaved.append(AppliedRules(kind, text, content_hash(rules), str(path), self._clock()))
        watched = WatchedFile(kind, path, model, _unset, _stamp(path), content_hash(rules), invalid=invalid,
                              current=rules, text=text)  # fmt: skip
        self._files[kind] = watched
        self._mark_active(kind, watched.hash)
        self._metrics.file_invalid.labels(kind=kind).set(1 if invalid else 0)
        if not invalid:
            log.info("%s rules %s applied from %s", kind, watched.hash[:12], path,
                     extra={"kind": kind, "rules_hash": watched.hash, "file": str(path)})  # fmt: skip
        return rules

    def _fall_back(
        self, kind: str, path: Path, model: type[BaseModel], error: ConfigError
    ) -> tuple[str, Any]:
        last = self._last.get(kind)
        if last is None:
            raise error
        try:
            rules = load_text(last.text, model, f"{path} (last applied version, from Redis)")
        except ConfigError:
            raise error from None  # the kept copy no longer fits this version's model
        log.error(
            "%s rules file %s is INVALID; starting on the last applied version %s (applied from %s). Fix the "
            "file: the engine keeps running the old rules until it is valid. Problems: %s",
            kind, path, content_hash(rules)[:12], last.file, _issues_text(error),
            extra={"kind": kind, "file": str(path), "rules_hash": content_hash(rules)},
        )  # fmt: skip
        return last.text, rules

    async def save_applied(self) -> None:
        """Keep the versions applied since the last call (a restart on a bad file starts on them)."""
        unsaved, self._unsaved = self._unsaved, []
        if self._store is not None:
            for applied in unsaved:
                await self._store.save(applied)

    def invalid_files(self) -> dict[str, str]:
        """kind -> why its file on disk is refused, for each kind running an earlier version."""
        return {w.kind: f"{w.path}: {w.invalid}" for w in self._files.values() if w.invalid}

    def watch(self, kind: str, apply: Apply) -> None:
        """From now on, hand every valid new version of `kind` to `apply`."""
        self._files[kind].apply = apply

    def hash_of(self, kind: str) -> str:
        return self._files[kind].hash

    def status(self) -> list[dict[str, Any]]:
        """Per rule file: the version in force and when it was applied, and the last refused edit
        with its located problems (for the console's rules page)."""
        return [
            {
                "kind": w.kind, "file": str(w.path), "hash": w.hash, "applied_at": w.applied_at,
                "refused_at": w.refused_at, "refused_issues": w.refused_issues,
            }
            for w in self._files.values()
        ]  # fmt: skip

    async def check_all(self, *, force: bool = False) -> dict[str, bool]:
        """Reload each file that changed (or all with force); returns kind -> applied.

        The changed files are checked together against the others (rule_links): a file refused
        only for its references to another is retried with them, so renaming a code in two files
        lands when the second one is saved."""
        changed = []
        for watched in self._files.values():
            stamp = _stamp(watched.path)
            if force or stamp != watched.stamp:
                watched.stamp = stamp
                changed.append(watched)
        if not changed:
            return {}
        retried = [w for w in self._files.values() if w.linked and w not in changed]
        results: dict[str, bool] = {}
        fresh: list[tuple[WatchedFile, str, Any]] = []
        for watched in [*changed, *retried]:
            results[watched.kind] = False
            candidate = await self._validate(watched)
            if candidate is None:
                continue
            text, rules = candidate
            if content_hash(rules) == watched.hash:
                self._set_valid(watched)
            else:
                fresh.append((watched, text, rules))
        problems = self._link_problems(fresh) if fresh else []
        if problems:
            issues = "; ".join(str(problem) for problem in problems)
            for watched, _, _ in fresh:
                self._refused(watched, issues, linked=True)
            return results
        for watched, text, rules in fresh:
            results[watched.kind] = await self._apply(watched, text, rules)
        return results

    def link_problems(self) -> list[ConfigProblem]:
        """Broken references between the rule files in force (checked at start)."""
        return self._link_problems([])

    def _link_problems(self, fresh: list[tuple[WatchedFile, str, Any]]) -> list[ConfigProblem]:
        if self._links is None:
            return []
        files = {w.kind: RuleFile(str(w.path), w.text, w.current) for w in self._files.values()}
        files.update({w.kind: RuleFile(str(w.path), text, rules) for w, text, rules in fresh})
        return self._links(files)

    async def _validate(self, watched: WatchedFile) -> tuple[str, Any] | None:
        """The file's text and model, or None when it is refused (counted, logged, flagged)."""
        try:  # in a thread: a huge or hostile file must not block the event loop
            return await asyncio.to_thread(_read_and_validate, watched.path, watched.model)
        except ConfigError as exc:
            watched.refused_issues = [i for i in exc.details.get("issues", []) if isinstance(i, dict)]
            self._refused(watched, _issues_text(exc))
        except Exception as exc:  # a bug in a validator: still a refused edit, counted and located
            watched.refused_issues = []
            self._refused(watched, f"{watched.path}: cannot be validated ({type(exc).__name__}: {exc})")
        return None

    async def _apply(self, watched: WatchedFile, text: str, rules: Any) -> bool:
        extra: dict[str, Any] = {"kind": watched.kind, "file": str(watched.path)}
        new_hash = content_hash(rules)
        try:
            result = watched.apply(rules)
            if inspect.isawaitable(result):
                await result
        except Exception:
            self._metrics.reloads.labels(kind=watched.kind, result="failure").inc()
            log.exception("%s rules %s could not be applied; keeping %s", watched.kind, new_hash[:12],
                          watched.hash[:12], extra=extra)  # fmt: skip
            return False
        self._set_valid(watched)
        _warn_deprecated(watched.kind, watched.path, text)
        self._metrics.active.remove(watched.kind, watched.hash)
        watched.hash, watched.current, watched.text = new_hash, rules, text
        watched.applied_at = time.time()
        self._mark_active(watched.kind, new_hash)
        self._metrics.reloads.labels(kind=watched.kind, result="success").inc()
        log.info("%s rules %s applied from %s", watched.kind, new_hash[:12], watched.path,
                 extra={**extra, "rules_hash": new_hash})  # fmt: skip
        self._unsaved.append(AppliedRules(watched.kind, text, new_hash, str(watched.path), self._clock()))
        await self.save_applied()
        return True

    def _refused(self, watched: WatchedFile, issues: str, *, linked: bool = False) -> None:
        watched.failures += 1
        watched.invalid, watched.linked = issues, linked
        watched.refused_at = time.time()
        self._metrics.reloads.labels(kind=watched.kind, result="failure").inc()
        self._metrics.file_invalid.labels(kind=watched.kind).set(1)
        log.error("%s rules rejected, keeping %s: %s", watched.kind, watched.hash[:12], issues,
                  extra={"kind": watched.kind, "file": str(watched.path), "issues": issues,
                         "rules_hash": watched.hash})  # fmt: skip

    def _set_valid(self, watched: WatchedFile) -> None:
        if watched.invalid:
            log.info("%s rules file %s is valid again", watched.kind, watched.path)
        watched.invalid, watched.linked = "", False
        self._metrics.file_invalid.labels(kind=watched.kind).set(0)

    def _mark_active(self, kind: str, rules_hash: str) -> None:
        self._metrics.active.labels(kind=kind, hash=rules_hash).set(1)

    def start(self) -> None:
        self._task = asyncio.create_task(self._poll_forever(), name="switchboard-rules-reload")
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_sighup)
            self._signal_installed = True
        except (NotImplementedError, RuntimeError, ValueError):
            log.warning("SIGHUP reload not available here; file changes still reload")

    def _on_sighup(self) -> None:
        log.info("SIGHUP: reloading every rule file")
        if self._sighup is None or self._sighup.done():  # kept: the loop holds tasks only weakly
            self._sighup = asyncio.get_running_loop().create_task(self.check_all(force=True))

    async def stop(self) -> None:
        if self._signal_installed:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._signal_installed = False
        await stop_task(self._task)
        self._task = None
        await stop_task(self._sighup)

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                await self.check_all()
            except Exception:
                log.exception("rules reload failed unexpectedly; previous rules keep running")
            raise_if_cancelling()


def _warn_deprecated(kind: str, path: Path, text: str) -> None:
    old = deprecated_spellings(path, text)
    if old:
        log.warning("%s rules use %d old spelling(s), accepted until the next release: %s", kind, len(old),
                    "; ".join(map(str, old[:5])), extra={"kind": kind, "file": str(path)})  # fmt: skip


def _read_and_validate(path: Path, model: type[BaseModel]) -> tuple[str, BaseModel]:
    text = read_rules_text(path)
    return text, load_text(text, model, str(path))


def _issues_text(error: ConfigError) -> str:
    found = error.details.get("issues", [])
    issues = [str(issue.get("text", "")) for issue in found if isinstance(issue, dict)]
    return "; ".join(issues) or error.message


def _unset(rules: Any) -> None:
    raise RuntimeError("a rule file changed before its consumer was attached (call watch first)")
