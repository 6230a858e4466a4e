"""`switchboard check-config`: kind detection, every problem with file:line:col, plug-in checkers."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config.yaml_file import ConfigProblem
from core.errors import ConfigError
from switchboard import config_check
from switchboard.api.tokens import hash_token
from switchboard.cli import EXIT_ERROR, EXIT_OK, main
from switchboard.config_check import CheckerRegistry, default_registry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper().startswith("SWITCHBOARD_"):
            monkeypatch.delenv(name)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def check(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, list[str]]:
    code = main(["check-config", *map(str, args)])
    return code, capsys.readouterr().out.splitlines()


def test_shipped_examples_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(capsys, ROOT / "config/settings.example.yaml")
    assert code == EXIT_OK, out
    assert out[-1] == "1 file(s) ok"


def test_the_example_tokens_file_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """Its tokens were published: it shows the format, and nobody may run with it."""
    example = ROOT / "config/api-tokens.example.yaml"
    code, out = check(capsys, example)
    assert code == EXIT_ERROR, out
    assert sum("is a published example token" in line for line in out) == 4, out
    assert out[-1] == "1 of 1 file(s) have problems (4 in all)"


def test_all_problems_of_all_files_are_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = write(tmp_path, "settings.yaml", "ami:\n  port: 0\n  hots: x\ntimezone: Nowhere/City\n")
    broken = write(tmp_path, "routing.yaml", "queues:\n  - name: vip\n    skills: [a, b\n")
    good = write(tmp_path, "prod-settings.yaml", "ami:\n  port: 5038\n")
    code, out = check(capsys, settings, broken, good)
    assert code == EXIT_ERROR
    assert f"{settings}:2:3: ami.port: Input should be greater than or equal to 1" in out
    assert f"{settings}:3:3: ami.hots: unknown key (check the spelling)" in out
    assert any(line.startswith(f"{settings}:4:1: timezone: 'Nowhere/City'") for line in out)
    assert any(line.startswith(f"{broken}:4:1: YAML syntax error") for line in out), out
    assert f"{good}: ok (settings)" in out
    assert out[-1] == "2 of 3 file(s) have problems (4 in all)"


def test_kind_is_detected_from_contents(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = write(tmp_path, "engine.yaml", "redis:\n  url: redis://localhost:6379/0\n")
    tokens = write(tmp_path, "people.yaml", f"- name: ann\n  role: advisor\n  token_sha256: {'a' * 64}\n")
    code, out = check(capsys, settings, tokens)
    assert code == EXIT_OK
    assert out[:2] == [f"{settings}: ok (settings)", f"{tokens}: ok (api-tokens)"]


def test_unknown_kind_asks_for_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "mystery.yaml", "colour: blue\n")
    code, out = check(capsys, path)
    assert code == EXIT_ERROR
    assert out[0].startswith(f"{path}: cannot tell what kind of file this is; use --kind (")
    code = main(["check-config", "--kind", "routing", str(path)])
    assert code == EXIT_ERROR
    assert any(line.startswith(f"{path}:1:1: colour:") for line in capsys.readouterr().out.splitlines())


def test_kinds_without_a_validator_get_a_syntax_check_and_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(config_check.HOOKS, "campaigns", "dialer.no_such_module_here:Campaigns")
    path = write(tmp_path, "campaigns.yaml", "campaigns: []\n")
    report = default_registry().check_file(path)
    assert (report.kind, report.ok) == ("campaigns", True)
    assert report.note == "YAML syntax only: no campaigns validator in this build yet"


def test_a_hook_naming_a_model_validates_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hook_models_for_test.py").write_text(
        "from pydantic import BaseModel, ConfigDict\n\n"
        "class Tasks(BaseModel):\n"
        "    model_config = ConfigDict(extra='forbid')\n"
        "    retry_days: int\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(config_check.HOOKS, "tasks", "hook_models_for_test:Tasks")
    try:
        report = default_registry().check_file(write(tmp_path, "tasks.yaml", "retry_days: soon\nextra: 1\n"))
    finally:
        sys.modules.pop("hook_models_for_test", None)
    assert report.kind == "tasks" and report.note == ""
    assert [(p.line, p.key) for p in report.problems] == [(1, "retry_days"), (2, "extra")]


def test_routing_rules_are_fully_validated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(capsys, ROOT / "config/routing.yaml")
    assert (code, out[0]) == (EXIT_OK, f"{ROOT / 'config/routing.yaml'}: ok (routing)")
    path = write(tmp_path, "routing.yaml", "queues: []\ntiers: x\n")
    code, out = check(capsys, path)
    assert code == EXIT_ERROR
    assert any(line.startswith(f"{path}:2:1: tiers:") for line in out), out


def test_duplicate_keys_in_rules_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "campaigns.yaml", "campaigns:\n  - id: a\n    id: b\n")
    code, out = check(capsys, path)
    assert code == EXIT_ERROR
    assert out[0] == f"{path}:3:5: campaigns[0].id: duplicate key 'id' (first defined on line 2)"


def test_tokens_file_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        "api-tokens.yaml",
        f"""\
- name: ann
  role: advisor
  token_sha256: {hash_token("ann-token-0123456789")}
- name: ann
  role: boss
  token: ann-token-9999999999
- name: bob
  role: crm
  token: short
- name: cy
  role: admin
""",
    )
    code, out = check(capsys, path)
    assert code == EXIT_ERROR
    assert out[:3] == [
        f"{path}:5:3: [1].role: Input should be 'advisor', 'supervisor', 'admin' or 'crm'",
        f"{path}:7:3: [2]: token is too short: use at least 16 characters",
        f"{path}:10:3: [3]: give exactly one of token_sha256 (recommended) or token",
    ]


def test_tokens_duplicates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        "tokens.yaml",
        """\
tokens:
  - {name: ann, role: advisor, token: ann-token-0123456789}
  - {name: ann, role: crm, token: other-token-0123456789}
  - {name: bob, role: crm, token: ann-token-0123456789}
""",
    )
    code, out = check(capsys, path)
    assert code == EXIT_ERROR
    assert f"{path}:3:5: [1].name: name 'ann' is already used by entry 0" in out
    assert f"{path}:4:5: [2]: same token as entry 0" in out


def test_settings_naming_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "routing.yaml", "routing: {}\n")
    path = write(
        tmp_path, "settings.yaml", "http:\n  tokens_file: tokens.yaml\nrules:\n  routing: routing.yaml\n"
    )
    code, out = check(capsys, path)
    assert code == EXIT_ERROR
    assert out[0] == f"{path}:2:3: http.tokens_file: file not found: {tmp_path / 'tokens.yaml'}"
    assert len(out) == 2


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(capsys, tmp_path / "settings.yaml")
    assert code == EXIT_ERROR
    assert out[0].startswith(f"{tmp_path / 'settings.yaml'}: cannot read file: No such file")


def test_registry_takes_new_checkers_and_reads_their_config_errors(tmp_path: Path) -> None:
    def check_queues(path: Path) -> None:
        raise ConfigError(
            "invalid routing rules",
            errors=[
                {
                    "file": str(path),
                    "line": 3,
                    "column": 7,
                    "path": "queues[0].skills",
                    "message": "unknown skill",
                },
                {"file": str(path), "line": 9, "column": 1, "path": "tiers", "message": "empty"},
            ],
        )

    def check_single(path: Path) -> list[ConfigProblem]:
        return [ConfigProblem(str(path), "looks odd", "x", 1, 1)]

    registry = CheckerRegistry()
    registry.register_checker(
        "queues", lambda path, data: isinstance(data, dict) and "queues" in data, check_queues
    )
    registry.register_checker("odd", lambda path, data: False, check_single, name_hints=("odd",))
    report = registry.check_file(write(tmp_path, "anything.yaml", "queues: []\n"))
    assert report.kind == "queues"
    assert [str(problem) for problem in report.problems] == [
        f"{tmp_path / 'anything.yaml'}:3:7: queues[0].skills: unknown skill",
        f"{tmp_path / 'anything.yaml'}:9:1: tiers: empty",
    ]
    odd = registry.check_file(write(tmp_path, "odd-one.yaml", "queues: []\n"))
    assert (odd.kind, [p.message for p in odd.problems]) == ("odd", ["looks odd"])


def test_single_location_config_error_from_a_checker(tmp_path: Path) -> None:
    def check_one(path: Path) -> None:
        raise ConfigError(
            "skill level out of range", file=str(path), line=4, column=12, path="agents[2].level"
        )

    registry = CheckerRegistry()
    registry.register_checker("agents", lambda path, data: True, check_one)
    report = registry.check_file(write(tmp_path, "agents.yaml", "agents: []\n"))
    assert [str(problem) for problem in report.problems] == [
        f"{tmp_path / 'agents.yaml'}:4:12: agents[2].level: skill level out of range"
    ]


@pytest.mark.parametrize("where", ["file", "environment"])
def test_a_settings_files_links_are_checked_for_the_shard_its_engine_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """An engine of shard east, named in the file or (as on a host that sets it by environment) in
    SWITCHBOARD_ACD_SHARD: east's campaign is checked against the routing.yaml it names."""
    write(tmp_path, "campaigns.yaml", "version: 1\ncampaigns:\n"
          "  - {id: east-sales, name: East, queue: east-only, shard: east}\n")  # fmt: skip
    routing = ROOT / "config/routing.yaml"
    settings = write(
        tmp_path, "settings.yaml", f"rules:\n  routing: {routing}\n  campaigns: campaigns.yaml\n"
    )
    assert check(capsys, settings)[0] == EXIT_OK, "the default shard's engines never check east's campaign"
    if where == "environment":
        monkeypatch.setenv("SWITCHBOARD_ACD_SHARD", "east")
    else:
        settings.write_text(settings.read_text(encoding="utf-8") + "acd:\n  shard: east\n", encoding="utf-8")
    code, out = check(capsys, settings)
    assert code == EXIT_ERROR
    assert any("campaigns[0].queue" in line and "east-only" in line for line in out), out
