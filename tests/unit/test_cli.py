"""The `switchboard` command: exit codes, messages instead of tracebacks, the engine contract."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from core.config.yaml_file import parse_yaml
from switchboard import __version__
from switchboard.api.tokens import TokenStore, hash_token
from switchboard.cli import EXIT_AMI_LOGIN, EXIT_ERROR, EXIT_OK, EXIT_STORE, EXIT_USAGE, main
from tests.support.cli_harness import clean_env, restore_root_logger

__all__ = ["clean_env", "restore_root_logger"]  # autouse fixtures, from the harness
SECRET = "cli-secret-Pa55"


@pytest.fixture
def run_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("SWITCHBOARD_AMI_SECRET", SECRET)
    routing = Path(__file__).resolve().parents[2] / "config/routing.yaml"
    monkeypatch.setenv("SWITCHBOARD_RULES_ROUTING", str(routing))


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == EXIT_OK
    assert capsys.readouterr().out.startswith(f"switchboard {__version__} (python ")


def test_help_speaks_to_an_admin(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for text in (
        "run",
        "demo",
        "check-config",
        "version",
        "new-token",
        "SWITCHBOARD_SETTINGS_FILE",
        "exit codes",
    ):
        assert text in out


def test_run_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert "--settings FILE" in out and "redis.url" in out


def test_unknown_command_and_bad_option_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["dial-everyone"])
    assert exc.value.code == EXIT_USAGE
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--duration", "0"])
    assert exc.value.code == EXIT_USAGE
    assert "must be greater than 0" in capsys.readouterr().err


def test_run_without_redis_and_secret_says_what_to_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"], engine_module="no_engine_here") == EXIT_USAGE
    err = capsys.readouterr().err
    assert "SWITCHBOARD_REDIS_URL" in err and "SWITCHBOARD_AMI_SECRET" in err
    assert "Traceback" not in err


def test_run_with_invalid_settings_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("ami:\n  port: nope\n", encoding="utf-8")
    assert main(["run", "--settings", str(path)]) == EXIT_USAGE
    assert f"{path}:2:3: ami.port:" in capsys.readouterr().err


@pytest.mark.usefixtures("run_env")
def test_run_when_the_engine_is_not_built(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"], engine_module="switchboard_engine_that_does_not_exist") == EXIT_ERROR
    assert "`switchboard run` is not available in this build" in capsys.readouterr().err


@pytest.mark.usefixtures("run_env")
def test_run_when_the_engine_lacks_the_function(
    fake_engine: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    module = fake_engine("def something_else(): pass\n")
    assert main(["run"], engine_module=module) == EXIT_ERROR
    assert f"{module}.run_engine is missing" in capsys.readouterr().err


@pytest.mark.usefixtures("run_env")
def test_wrong_ami_password_exits_3_with_a_hint(
    fake_engine: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    module = fake_engine(f"""
        from core.errors import AmiLoginError

        async def run_engine(settings):
            raise AmiLoginError("Asterisk refused the login of 'switchboard' (secret {SECRET}): "
                                "Authentication failed")
    """)
    assert main(["run"], engine_module=module) == EXIT_AMI_LOGIN
    err = capsys.readouterr().err
    assert "Authentication failed" in err
    assert "manager.conf" in err and "SWITCHBOARD_AMI_SECRET" in err
    assert SECRET not in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("run_env")
def test_unreachable_redis_exits_4(
    fake_engine: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    module = fake_engine("""
        from switchboard.redis_conn import connect_redis

        async def run_engine(settings):
            await connect_redis(settings.redis.url.get_secret_value(), wait_s=2)
    """)
    assert main(["run"], engine_module=module) == EXIT_STORE
    err = capsys.readouterr().err
    assert "Redis at redis://127.0.0.1:1/0 is not reachable" in err
    assert "SWITCHBOARD_REDIS_URL" in err


@pytest.mark.usefixtures("run_env")
def test_engine_result_is_the_exit_code(fake_engine: Callable[[str], str]) -> None:
    assert main(["run"], engine_module=fake_engine("def run_engine(settings):\n    return 7\n")) == 7
    assert main(["run"], engine_module=fake_engine("async def run_engine(settings):\n    return None\n")) == 0


def test_demo_passes_http_port_and_uses_a_configured_redis(
    fake_engine: Callable[[str], str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SWITCHBOARD_REDIS_URL", "redis://example-redis:6379/3")
    module = fake_engine("""
        def run_demo(settings, duration_s):
            print(settings.http.port, settings.redis.url.get_secret_value(), settings.log.level)
    """)
    assert main(["demo", "--http-port", "9123", "--log-level", "debug"], engine_module=module) == EXIT_OK
    assert capsys.readouterr().out.split() == ["9123", "redis://example-redis:6379/3", "DEBUG"]


def test_new_token_prints_a_token_and_its_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new-token", "--name", "crm-sync", "--role", "crm"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    token = lines[1]
    entry = "\n".join(line for line in lines[2:] if not line.startswith("#"))
    store = TokenStore.from_document(parse_yaml(entry, "entry"))
    principal = store.authenticate(token)
    assert principal is not None and (principal.name, principal.role) == ("crm-sync", "crm")
    assert hash_token(token) in entry and token not in entry


def test_a_token_entry_for_a_numeric_name_passes_check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new-token", "--name", "1001", "--role", "advisor"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    tokens = tmp_path / "api-tokens.yaml"
    tokens.write_text("\n".join(line for line in lines[2:] if not line.startswith("#")) + "\n")
    assert main(["check-config", str(tokens)]) == EXIT_OK, capsys.readouterr()
    store = TokenStore.from_document(parse_yaml(tokens.read_text(), "entry"))
    principal = store.authenticate(lines[1])
    assert principal is not None and principal.name == "1001"


def test_the_readme_explain_command_works_as_written(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SWITCHBOARD_SETTINGS_FILE", raising=False)
    monkeypatch.delenv("SWITCHBOARD_RULES_ROUTING", raising=False)
    assert main(["explain", "--caller", "+36301234567", "--queue", "support"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "config/routing.yaml" in out and "Tier: key" in out and "Decision: offer" in out
