"""Hot reload: valid edits apply in one step, invalid ones keep the old rules running."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from core.errors import ConfigError
from routing.rules import Rules
from switchboard.reload import ReloadMetrics, RulesReloader

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "routing.yaml"


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    target = tmp_path / "routing.yaml"
    shutil.copy(EXAMPLE, target)
    return target


def _sample(registry: CollectorRegistry, result: str) -> float:
    labels = {"kind": "routing", "result": result}
    return registry.get_sample_value("switchboard_rules_reloads_total", labels) or 0.0


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _wrap_up(rules: Rules) -> int:
    return rules.queues[0].wrap_up_seconds


async def test_valid_edit_is_applied_once_with_a_new_hash(rules_file: Path) -> None:
    registry = CollectorRegistry()
    reloader = RulesReloader(ReloadMetrics(registry))
    first = reloader.load_initial("routing", rules_file, Rules)
    applied: list[Rules] = []
    reloader.watch("routing", applied.append)
    old_hash = reloader.hash_of("routing")

    _edit(rules_file, "wrap_up: 20s", "wrap_up: 25s")
    assert await reloader.check_all() == {"routing": True}

    assert [_wrap_up(r) for r in applied] == [25]
    assert _wrap_up(first) == 20
    assert reloader.hash_of("routing") != old_hash
    assert _sample(registry, "success") == 1
    assert registry.get_sample_value(
        "switchboard_rules_active", {"kind": "routing", "hash": reloader.hash_of("routing")}
    ) == 1
    # the old hash is no longer reported as active
    old_labels = {"kind": "routing", "hash": old_hash}
    assert registry.get_sample_value("switchboard_rules_active", old_labels) is None
    # an unchanged file is not applied again
    assert await reloader.check_all() == {}
    assert len(applied) == 1


async def test_invalid_edit_keeps_the_old_rules_and_counts_a_failure(
    rules_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    reloader = RulesReloader(ReloadMetrics(registry))
    reloader.load_initial("routing", rules_file, Rules)
    applied: list[Rules] = []
    reloader.watch("routing", applied.append)
    old_hash = reloader.hash_of("routing")

    _edit(rules_file, "after: 30s", "after: -5")
    assert await reloader.check_all() == {"routing": False}

    assert applied == []
    assert reloader.hash_of("routing") == old_hash
    assert _sample(registry, "failure") == 1
    rejected = [r for r in caplog.records if "rejected" in r.getMessage()]
    assert rejected and "escalation[0].after must be > 0" in rejected[0].getMessage()
    assert f"{rules_file}:" in rejected[0].getMessage()  # names the file and line

    # fixing the file applies it
    _edit(rules_file, "after: -5", "after: 35s")
    assert await reloader.check_all() == {"routing": True}
    assert len(applied) == 1


async def test_yaml_syntax_error_is_rejected_too(rules_file: Path) -> None:
    registry = CollectorRegistry()
    reloader = RulesReloader(ReloadMetrics(registry))
    reloader.load_initial("routing", rules_file, Rules)
    reloader.watch("routing", lambda rules: None)
    rules_file.write_text(rules_file.read_text() + "\nqueues: [unclosed\n")
    assert await reloader.check_all() == {"routing": False}
    assert _sample(registry, "failure") == 1


async def test_a_consumer_that_fails_keeps_the_previous_hash(rules_file: Path) -> None:
    registry = CollectorRegistry()
    reloader = RulesReloader(ReloadMetrics(registry))
    reloader.load_initial("routing", rules_file, Rules)
    old_hash = reloader.hash_of("routing")

    def refuse(rules: Rules) -> None:
        raise RuntimeError("consumer broke")

    reloader.watch("routing", refuse)
    _edit(rules_file, "wrap_up: 20s", "wrap_up: 21s")
    assert await reloader.check_all() == {"routing": False}
    assert reloader.hash_of("routing") == old_hash
    assert _sample(registry, "failure") == 1


def test_invalid_file_at_start_raises_with_the_issues(rules_file: Path) -> None:
    _edit(rules_file, "after: 30s", "after: 0")
    reloader = RulesReloader(ReloadMetrics(CollectorRegistry()))
    with pytest.raises(ConfigError) as caught:
        reloader.load_initial("routing", rules_file, Rules)
    texts = [issue["text"] for issue in caught.value.details["issues"]]
    assert any("queues[0].escalation[0].after must be > 0" in text for text in texts)


async def test_sighup_reloads_and_polling_picks_up_edits(rules_file: Path) -> None:
    reloader = RulesReloader(ReloadMetrics(CollectorRegistry()), poll_s=3600)
    reloader.load_initial("routing", rules_file, Rules)
    applied: asyncio.Queue[Rules] = asyncio.Queue()
    reloader.watch("routing", applied.put_nowait)
    reloader.start()
    try:
        # Same size and a restored mtime: only SIGHUP (force) notices this edit.
        stat = rules_file.stat()
        _edit(rules_file, "wrap_up: 20s", "wrap_up: 27s")
        os.utime(rules_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        os.kill(os.getpid(), signal.SIGHUP)
        rules = await asyncio.wait_for(applied.get(), timeout=5)
        assert _wrap_up(rules) == 27
    finally:
        await reloader.stop()


async def test_an_edit_breaking_another_file_is_refused_and_a_two_file_rename_lands(tmp_path: Path) -> None:
    from dialer.dispositions.rules import DispositionRules  # noqa: PLC0415
    from dialer.tasks.rules import TaskRules  # noqa: PLC0415
    from switchboard.rule_links import link_problems  # noqa: PLC0415

    config = EXAMPLE.parent
    dispositions, tasks = tmp_path / "dispositions.yaml", tmp_path / "tasks.yaml"
    shutil.copy(config / "dispositions.yaml", dispositions)
    shutil.copy(config / "tasks.yaml", tasks)
    registry = CollectorRegistry()
    reloader = RulesReloader(ReloadMetrics(registry), poll_s=3600, links=link_problems)
    reloader.load_initial("dispositions", dispositions, DispositionRules)
    reloader.load_initial("tasks", tasks, TaskRules)
    assert reloader.link_problems() == []
    applied: list[str] = []
    reloader.watch("dispositions", lambda rules: applied.append("dispositions"))
    reloader.watch("tasks", lambda rules: applied.append("tasks"))

    # Renaming a code tasks.yaml uses: refused on its own (the tasks would never start again).
    _edit(dispositions, "code: callback_later", "code: ring_back")
    assert await reloader.check_all() == {"dispositions": False}
    why = reloader.invalid_files()["dispositions"]
    assert "tasks[1].on_dispositions[0]: names disposition code 'callback_later'" in why
    assert registry.get_sample_value("switchboard_rules_file_invalid", {"kind": "dispositions"}) == 1
    assert registry.get_sample_value(
        "switchboard_rules_reloads_total", {"kind": "dispositions", "result": "failure"}
    ) == 1

    # The second half of the rename: both land together.
    _edit(tasks, "on_dispositions: [callback_later]", "on_dispositions: [ring_back]")
    assert await reloader.check_all() == {"tasks": True, "dispositions": True}
    assert sorted(applied) == ["dispositions", "tasks"]
    assert reloader.invalid_files() == {}
    assert registry.get_sample_value("switchboard_rules_file_invalid", {"kind": "dispositions"}) == 0


async def test_hostile_edits_are_counted_refusals_and_never_block_the_loop(rules_file: Path) -> None:
    registry = CollectorRegistry()
    reloader = RulesReloader(ReloadMetrics(registry), poll_s=3600)
    reloader.load_initial("routing", rules_file, Rules)
    reloader.watch("routing", lambda rules: None)
    good = rules_file.read_text()
    laughs = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
    )
    gaps: list[float] = []

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(0.01)
            now = loop.time()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(ticker())
    try:
        for hostile in (good.replace("name: support", "name: sup\x07port", 1), laughs + good):
            rules_file.write_text(hostile)
            assert await reloader.check_all() == {"routing": False}
    finally:
        beat.cancel()
        await asyncio.gather(beat, return_exceptions=True)
    assert _sample(registry, "failure") == 2, "both counted as failed reloads"
    why = reloader.invalid_files()["routing"]
    assert "expands to more than" in why
    # Validation runs in a worker thread: the loop keeps ticking (a loaded 2-core box: generous bound).
    assert max(gaps, default=0.0) < 0.5, f"the event loop stalled for {max(gaps):.2f} s"
