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
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import BaseModel

from core.config.loader import content_hash, load_rules
from core.errors import ConfigError

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


def _stamp(path: Path) -> FileStamp | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


class RulesReloader:
    """Keeps each watched rule file applied; see the module docstring for the rules."""

    def __init__(self, metrics: ReloadMetrics, *, poll_s: float = 1.0) -> None:
        self._metrics = metrics
        self._poll_s = poll_s
        self._files: dict[str, WatchedFile] = {}
        self._task: asyncio.Task[None] | None = None
        self._signal_installed = False

    def load_initial(self, kind: str, path: Path, model: type[BaseModel]) -> Any:
        """Load a file at start; a ConfigError here stops the engine with the issues."""
        rules = load_rules(path, model)
        self._files[kind] = WatchedFile(kind, path, model, _unset, _stamp(path), content_hash(rules))
        self._mark_active(kind, self._files[kind].hash)
        log.info("%s rules %s applied from %s", kind, self._files[kind].hash[:12], path,
                 extra={"kind": kind, "rules_hash": self._files[kind].hash, "file": str(path)})
        return rules

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
        """Reload each file that changed (or all with force); returns kind -> applied."""
        results = {}
        for watched in self._files.values():
            stamp = _stamp(watched.path)
            if force or stamp != watched.stamp:
                watched.stamp = stamp
                results[watched.kind] = await self._reload(watched)
        return results

    async def _reload(self, watched: WatchedFile) -> bool:
        extra: dict[str, Any] = {"kind": watched.kind, "file": str(watched.path)}
        try:
            rules = load_rules(watched.path, watched.model)
        except ConfigError as exc:
            watched.failures += 1
            watched.refused_at = time.time()
            watched.refused_issues = [i for i in exc.details.get("issues", []) if isinstance(i, dict)]
            self._metrics.reloads.labels(kind=watched.kind, result="failure").inc()
            issues = [issue.get("text", "") for issue in exc.details.get("issues", [])]
            log.error("%s rules rejected, keeping %s: %s", watched.kind, watched.hash[:12], "; ".join(issues),
                      extra={**extra, "issues": issues, "rules_hash": watched.hash})
            return False
        new_hash = content_hash(rules)
        if new_hash == watched.hash:
            return False
        try:
            result = watched.apply(rules)
            if inspect.isawaitable(result):
                await result
        except Exception:
            self._metrics.reloads.labels(kind=watched.kind, result="failure").inc()
            log.exception("%s rules %s could not be applied; keeping %s", watched.kind, new_hash[:12],
                          watched.hash[:12], extra=extra)
            return False
        self._metrics.active.remove(watched.kind, watched.hash)
        watched.hash = new_hash
        watched.applied_at = time.time()
        self._mark_active(watched.kind, new_hash)
        self._metrics.reloads.labels(kind=watched.kind, result="success").inc()
        log.info("%s rules %s applied from %s", watched.kind, new_hash[:12], watched.path,
                 extra={**extra, "rules_hash": new_hash})
        return True

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
        asyncio.get_running_loop().create_task(self.check_all(force=True))

    async def stop(self) -> None:
        if self._signal_installed:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._signal_installed = False
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                await self.check_all()
            except Exception:
                log.exception("rules reload failed unexpectedly; previous rules keep running")


def _unset(rules: Any) -> None:
    raise RuntimeError("a rule file changed before its consumer was attached (call watch first)")
