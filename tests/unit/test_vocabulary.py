"""One vocabulary for the four rule files (durations with units, full weekday names,
extra_closed_dates, holiday_country); the old spellings still load, each reported with its place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.config.loader import content_hash, deprecated_spellings, load_text
from core.config.vocabulary import to_minutes, to_seconds
from dialer.campaigns.rules import Campaigns
from dialer.tasks.rules import TaskRules
from routing.rules import Rules
from switchboard.cli import EXIT_OK, main

ROOT = Path(__file__).resolve().parents[2]


def old_spelling(text: str) -> str:
    """The shipped routing.yaml as it was written before the one vocabulary."""
    for new, old in (("wrap_up", "wrap_up_seconds"), ("ring_timeout", "ring_timeout_seconds"),
                     ("within", "within_seconds"), ("max_wait", "max_wait_seconds")):  # fmt: skip
        text = re.sub(rf"\b{new}: (\d+)s\b", rf"{old}: \1", text)
    steps = r"(\s)after: (\d+)s(\n\s+widen|\n\s+any_level|\n\s+overflow_to)"
    text = re.sub(steps, r"\1after_seconds: \2\3", text)
    text = re.sub(r"\bafter: (\d+)s\b", r"seconds: \1", text)
    text = re.sub(r"\bwindow: (\d+)m\b", r"window_minutes: \1", text)
    text = text.replace("extra_closed_dates:", "holidays:")
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"):
        text = re.sub(rf"^(\s+){day}:", rf"\1{day[:3]}:", text, flags=re.MULTILINE)
    return text


def test_old_and_new_spellings_mean_the_same_rules(tmp_path: Path) -> None:
    new = (ROOT / "config/routing.yaml").read_text()
    old = old_spelling(new)
    assert "wrap_up_seconds: 20" in old and "mon:" in old
    assert "after_seconds: 30" in old and "seconds: 300" in old
    assert content_hash(load_text(new, Rules)) == content_hash(load_text(old, Rules))
    assert deprecated_spellings(tmp_path / "r.yaml", new) == [], "the shipped file speaks the new vocabulary"
    found = deprecated_spellings(tmp_path / "r.yaml", old)
    keys = {problem.key for problem in found}
    assert {"queues[0].wrap_up_seconds", "queues[1].hours.weekly.mon", "queues[1].hours.holidays",
            "fairness.window_minutes", "queues[0].max_wait.seconds"} <= keys  # fmt: skip
    wrap_up = next(p for p in found if p.key == "queues[0].wrap_up_seconds")
    line = next(i for i, text in enumerate(old.splitlines(), 1) if "wrap_up_seconds: 20" in text)
    assert wrap_up.line == line
    assert "write `wrap_up`" in wrap_up.message and "accepted until the next release" in wrap_up.message


def test_check_config_lists_old_spellings_without_failing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(old_spelling((ROOT / "config/routing.yaml").read_text()))
    assert main(["check-config", str(path)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "`mon` is the old spelling: write `monday`" in out and "(deprecated, not an error)" in out


def test_durations_take_units_everywhere() -> None:
    assert [to_seconds(v) for v in ("20s", "2m", "1.5h", "1d", 7)] == [20.0, 120.0, 5400.0, 86400.0, 7]
    assert to_minutes("2h") == 120.0 and to_minutes(30) == 30
    campaigns = (ROOT / "config/campaigns.yaml").read_text()
    loaded = load_text(campaigns, Campaigns).campaigns[0]
    assert (loaded.ring_timeout_s, loaded.pacing.abandon_grace_s) == (30.0, 2.0)
    old = campaigns.replace("ring_timeout: 30s", "ring_timeout_s: 30").replace("monday:", "mon:", 1)
    assert load_text(old, Campaigns) == load_text(campaigns, Campaigns)


def test_tasks_speak_the_same_holiday_words() -> None:
    text = (ROOT / "config/tasks.yaml").read_text()
    new = text.replace("holiday_country: HU}", "holiday_country: HU, extra_closed_dates: [2026-12-31]}")
    rules = load_text(new, TaskRules)
    deadline = rules.tasks[2].deadline
    assert (deadline.country, [str(d) for d in deadline.extra_holidays]) == ("HU", ["2026-12-31"])
    old = text.replace("holiday_country: HU}", "country: HU, extra_holidays: [2026-12-31]}")
    assert load_text(old, TaskRules) == rules


def test_no_example_date_is_in_the_past_year() -> None:
    for name in ("routing.yaml", "campaigns.yaml", "tasks.yaml"):
        assert "2025-" not in (ROOT / "config" / name).read_text(), name
