"""References across rule files: tasks and campaigns name disposition codes, campaigns name queues
and skills; each broken one is reported with file:line:col, at load, reload and in check-config."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config.loader import load_text
from dialer.campaigns.rules import Campaigns
from dialer.dispositions.rules import DispositionRules
from dialer.tasks.rules import TaskRules
from routing.rules import Rules
from switchboard.cli import EXIT_ERROR, EXIT_OK, main
from switchboard.rule_links import RuleFile, link_problems

ROOT = Path(__file__).resolve().parents[2]
MODELS = {"routing": Rules, "campaigns": Campaigns, "dispositions": DispositionRules, "tasks": TaskRules}


def shipped(**edits: tuple[str, str]) -> dict[str, RuleFile]:
    files = {}
    for kind, model in MODELS.items():
        text = (ROOT / "config" / f"{kind}.yaml").read_text()
        if kind in edits:
            old, new = edits[kind]
            assert old in text
            text = text.replace(old, new, 1)
        files[kind] = RuleFile(f"{kind}.yaml", text, load_text(text, model, f"{kind}.yaml"))
    return files


def test_the_shipped_rule_files_agree() -> None:
    assert link_problems(shipped()) == []


def test_a_task_on_an_unknown_disposition_is_located_with_a_hint() -> None:
    files = shipped(tasks=("on_dispositions: [callback_later]", "on_dispositions: [call_back_later]"))
    [problem] = link_problems(files)
    line = files["tasks"].text.splitlines().index("    on_dispositions: [call_back_later]") + 1
    assert (problem.file, problem.line, problem.key) == ("tasks.yaml", line, "tasks[1].on_dispositions[0]")
    assert problem.message == (
        "names disposition code 'call_back_later', which dispositions.yaml does not define;"
        " did you mean 'callback_later'?"
    )


def test_a_campaign_retry_on_an_unknown_disposition() -> None:
    files = shipped(campaigns=("callback_later: 1d", "call_back_later: 1d"))
    [problem] = link_problems(files)
    assert problem.key == "campaigns[0].caps.retry_after_disposition.call_back_later"
    assert "did you mean 'callback_later'" in problem.message and problem.line


def test_removing_a_code_other_files_use_breaks_them_all() -> None:
    files = shipped(dispositions=("code: callback_later", "code: ring_back"))
    keys = sorted(problem.key for problem in link_problems(files))
    assert keys == ["campaigns[0].caps.retry_after_disposition.callback_later", "tasks[1].on_dispositions[0]"]


def test_a_campaign_on_an_unknown_queue_or_skill() -> None:
    files = shipped(campaigns=("queue: support", "queue: suport"))
    [problem] = link_problems(files)
    assert problem.message.startswith("names queue 'suport', which routing.yaml does not define")
    files = shipped(campaigns=("skills: {sales: 4}", "skills: {sails: 4}"))
    [problem] = link_problems(files)
    assert problem.key.endswith(".skills.sails") and "did you mean 'sales'" in problem.message


def test_without_the_other_file_nothing_is_checked() -> None:
    files = shipped(tasks=("on_dispositions: [callback_later]", "on_dispositions: [anything]"))
    del files["dispositions"]
    assert link_problems(files) == []


def test_check_config_reports_references_across_the_files_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for kind in MODELS:
        (tmp_path / f"{kind}.yaml").write_text((ROOT / "config" / f"{kind}.yaml").read_text())
    paths = [str(tmp_path / f"{kind}.yaml") for kind in MODELS]
    assert main(["check-config", *paths]) == EXIT_OK
    capsys.readouterr()
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(tasks.read_text().replace("[callback_later]", "[call_back_later]"))
    assert main(["check-config", *paths]) == EXIT_ERROR
    out = capsys.readouterr().out
    assert f"{tasks}:" in out and "names disposition code 'call_back_later'" in out
    assert out.strip().splitlines()[-1] == "1 of 4 file(s) have problems (1 in all)"


def test_check_config_of_a_settings_file_checks_the_rule_files_it_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for kind in MODELS:
        (tmp_path / f"{kind}.yaml").write_text((ROOT / "config" / f"{kind}.yaml").read_text())
    (tmp_path / "campaigns.yaml").write_text(
        (tmp_path / "campaigns.yaml").read_text().replace("callback_later: 1d", "call_back_later: 1d")
    )
    settings = tmp_path / "settings.yaml"
    settings.write_text("rules:\n" + "".join(f"  {kind}: {kind}.yaml\n" for kind in MODELS))
    assert main(["check-config", str(settings)]) == EXIT_ERROR
    assert "names disposition code 'call_back_later'" in capsys.readouterr().out


def test_a_campaign_needing_consent_needs_a_disposition_that_withdraws_it() -> None:
    consent = (
        "    dial_string: PJSIP/{number}@trunk\n",
        "    dial_string: PJSIP/{number}@trunk\n    consent_purpose: survey\n",
    )
    assert (
        link_problems(shipped(campaigns=consent)) == []
    )  # the shipped consent_withdrawn withdraws every purpose
    only_marketing = (
        "      - action: withdraw_consent\n",
        "      - action: withdraw_consent\n        purpose: marketing\n",
    )
    [problem] = link_problems(shipped(campaigns=consent, dispositions=only_marketing))
    assert problem.key == "campaigns[0].consent_purpose" and problem.line
    assert problem.message.startswith("is 'survey', but no disposition of dispositions.yaml withdraws it")
