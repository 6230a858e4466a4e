"""Settings from env and YAML, error messages that name key and place, secrets kept out of sight."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import ConfigError
from switchboard.logs import JsonFormatter, SecretFilter, build_handler, configure_logging
from switchboard.runtime import Runtime
from switchboard.settings import Settings, describe, env_name, load_settings, redact_url

SECRET = "s3cret-ami-Pa55"
REDIS_PASSWORD = "redisPa55word"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the SWITCHBOARD_* variables they set themselves."""
    for name in list(os.environ):
        if name.upper().startswith("SWITCHBOARD_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str, name: str = "settings.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(exc: pytest.ExceptionInfo[ConfigError]) -> list[dict[str, object]]:
    errors = exc.value.details["errors"]
    assert isinstance(errors, list)
    return errors


def test_defaults_without_file_or_env() -> None:
    settings = load_settings()
    assert settings.ami.host == "127.0.0.1"
    assert settings.ami.port == 5038
    assert settings.ami.auth == "md5"
    assert settings.ami.secret is None
    assert settings.redis.url is None
    assert settings.default_region == "HU"
    assert settings.zone.key == "Europe/Budapest"
    assert settings.log.format == "auto"


def test_values_from_yaml_and_paths_relative_to_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
ami:
  host: pbx.example
  port: 5039
  username: engine
  secret: {SECRET}
  auth: plain
redis:
  url: redis://:{REDIS_PASSWORD}@redis:6379/2
http:
  port: 9000
  tokens_file: tokens.yaml
rules:
  routing: rules/routing.yaml
  campaigns: /abs/campaigns.yaml
default_region: pl
timezone: Europe/Warsaw
log:
  format: json
  level: debug
""",
    )
    settings = load_settings(path)
    assert (settings.ami.host, settings.ami.port, settings.ami.username, settings.ami.auth) == (
        "pbx.example",
        5039,
        "engine",
        "plain",
    )
    assert settings.ami.secret is not None and settings.ami.secret.get_secret_value() == SECRET
    assert settings.http.port == 9000
    assert settings.http.tokens_file == tmp_path / "tokens.yaml"
    assert settings.rules.routing == tmp_path / "rules" / "routing.yaml"
    assert settings.rules.campaigns == Path("/abs/campaigns.yaml")
    assert settings.default_region == "PL"
    assert settings.timezone == "Europe/Warsaw"
    assert settings.log.level == "DEBUG"


def test_env_overrides_the_file_key_by_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "ami:\n  host: from-file\n  port: 5038\nhttp:\n  port: 9000\n")
    monkeypatch.setenv("SWITCHBOARD_AMI_PORT", "6000")
    monkeypatch.setenv("SWITCHBOARD_AMI_SECRET", SECRET)
    monkeypatch.setenv("SWITCHBOARD_REDIS_URL", "redis://localhost:6379/0")
    monkeypatch.setenv("SWITCHBOARD_HTTP_TOKENS_FILE", "/etc/tokens.yaml")
    monkeypatch.setenv("SWITCHBOARD_TIMEZONE", "Europe/London")
    settings = load_settings(path)
    assert settings.ami.host == "from-file"
    assert settings.ami.port == 6000
    assert settings.ami.secret is not None and settings.ami.secret.get_secret_value() == SECRET
    assert settings.http.port == 9000
    assert settings.http.tokens_file == Path("/etc/tokens.yaml")
    assert settings.timezone == "Europe/London"


def test_settings_file_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_SETTINGS_FILE", str(write(tmp_path, "default_region: GB\n")))
    assert load_settings().default_region == "GB"


def test_empty_env_values_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_REDIS_URL", "")
    assert load_settings().redis.url is None


def test_section_with_only_comments_means_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "rules:\n  # routing: routing.yaml\nami:\n  port: 5040\n"))
    assert settings.rules.routing is None
    assert settings.ami.port == 5040


def test_bad_value_names_key_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "ami:\n  host: pbx\n  port: 99999\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert exc.value.details["key"] == "ami.port"
    assert (exc.value.details["line"], exc.value.details["column"]) == (3, 3)
    assert f"{path}:3:3: ami.port:" in exc.value.message


def test_every_problem_is_reported_in_file_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
ami:
  prot: 5038
  auth: sha1
timezone: Mars/Olympus
default_region: XX
redis:
  url: http://redis:6379
""",
    )
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    found = [(error["key"], error["line"]) for error in errors_of(exc)]
    assert found == [
        ("ami.prot", 2),
        ("ami.auth", 3),
        ("timezone", 4),
        ("default_region", 5),
        ("redis.url", 7),
    ]
    message = exc.value.message
    assert "unknown key" in message
    assert "'Mars/Olympus' is not a known time zone" in message
    assert "'XX' is not a phone region" in message


def test_bad_env_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_HTTP_PORT", "eighty")
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert errors_of(exc)[0]["file"] == "env SWITCHBOARD_HTTP_PORT"
    assert "env SWITCHBOARD_HTTP_PORT: http.port:" in exc.value.message


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "ami:\n  host: pbx\n   port: 5038\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert exc.value.details["line"] == 3
    assert "YAML syntax error" in exc.value.message


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "ami:\n  port: 5038\n  port: 5039\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert "duplicate key 'port' (first defined on line 2)" in exc.value.message
    assert exc.value.details["line"] == 3


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_settings(tmp_path / "nope.yaml")


def test_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mapping of sections"):
        load_settings(write(tmp_path, "- ami\n- redis\n"))


def test_check_mode_ignores_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_AMI_PORT", "6000")
    assert load_settings(write(tmp_path, "ami:\n  port: 5038\n"), use_env=False).ami.port == 5038


def test_run_requires_redis_url_ami_secret_and_routing_rules() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings().require_for_run()
    assert [error["key"] for error in errors_of(exc)] == ["redis.url", "ami.secret", "rules.routing"]
    assert "SWITCHBOARD_RULES_ROUTING" in exc.value.message
    assert "SWITCHBOARD_REDIS_URL" in exc.value.message
    assert "SWITCHBOARD_AMI_SECRET" in exc.value.message


def test_ami_client_settings_carry_every_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_AMI_SECRET", SECRET)
    monkeypatch.setenv("SWITCHBOARD_AMI_PING_INTERVAL", "0")
    ami = load_settings().ami_client_settings()
    assert (ami.host, ami.port, ami.username, ami.secret, ami.ping_interval) == (
        "127.0.0.1",
        5038,
        "switchboard",
        SECRET,
        0.0,
    )
    assert SECRET not in repr(ami)


def test_reconnect_bounds_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_AMI_RECONNECT_MIN", "10")
    monkeypatch.setenv("SWITCHBOARD_AMI_RECONNECT_MAX", "1")
    with pytest.raises(ConfigError, match="reconnect_max must not be smaller"):
        load_settings()


def test_keepalive_and_health_limits_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_AMI_SECRET", SECRET)
    monkeypatch.setenv("SWITCHBOARD_AMI_PING_TIMEOUT", "2.5")
    settings = load_settings()
    assert (settings.ami.ping_interval, settings.ami.max_disconnected) == (20.0, 120.0)
    assert settings.ami_client_settings().ping_timeout == 2.5
    monkeypatch.setenv("SWITCHBOARD_AMI_MAX_DISCONNECTED", "10")  # below reconnect_max (30)
    with pytest.raises(ConfigError, match="max_disconnected must be 0"):
        load_settings()
    monkeypatch.setenv("SWITCHBOARD_AMI_MAX_DISCONNECTED", "0")  # off
    assert load_settings().ami.max_disconnected == 0
    monkeypatch.setenv("SWITCHBOARD_AMI_PING_TIMEOUT", "0")
    with pytest.raises(ConfigError, match=r"ami\.ping_timeout"):
        load_settings()


def test_env_name() -> None:
    assert env_name(("ami", "secret")) == "SWITCHBOARD_AMI_SECRET"
    assert env_name(("http", "tokens_file")) == "SWITCHBOARD_HTTP_TOKENS_FILE"
    assert env_name(("timezone",)) == "SWITCHBOARD_TIMEZONE"


# --- secrets --------------------------------------------------------------------------------------


@pytest.fixture
def secret_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SWITCHBOARD_AMI_SECRET", SECRET)
    monkeypatch.setenv("SWITCHBOARD_REDIS_URL", f"redis://:{REDIS_PASSWORD}@redis:6379/0")
    return load_settings()


def test_secrets_are_masked_in_repr_str_and_dumps(secret_settings: Settings) -> None:
    for text in (
        repr(secret_settings),
        str(secret_settings),
        secret_settings.model_dump_json(),
        json.dumps(describe(secret_settings)),
    ):
        assert SECRET not in text
        assert REDIS_PASSWORD not in text
    assert describe(secret_settings)["redis"]["url"] == "redis://:***@redis:6379/0"
    assert secret_settings.redis.display_url == "redis://:***@redis:6379/0"
    assert sorted(secret_settings.secrets()) == sorted([SECRET, REDIS_PASSWORD])


def test_invalid_secret_is_not_echoed_in_the_error(tmp_path: Path) -> None:
    path = write(tmp_path, f"ami:\n  secret: [{SECRET}]\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert SECRET not in exc.value.message
    assert SECRET not in json.dumps(exc.value.details)
    assert exc.value.details["key"] == "ami.secret"


def test_redact_url() -> None:
    assert redact_url("redis://user:pw@host:6379/0") == "redis://user:***@host:6379/0"
    assert redact_url("redis://host:6379/0") == "redis://host:6379/0"
    assert redact_url("rediss://:p%40ss@h/1") == "rediss://:***@h/1"


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_secrets_never_reach_the_logs(secret_settings: Settings, restore_root_logger: None) -> None:
    stream = io.StringIO()
    configure_logging("json", "DEBUG", secrets=secret_settings.secrets(), stream=stream)
    log = logging.getLogger("switchboard.test")
    log.info("login as switchboard with %s", SECRET, extra={"call_id": "c-1", "password": "x" * 8})
    log.debug("raw AMI: Action: Login\r\nUsername: switchboard\r\nSecret: %s\r\n", "other-value")
    log.warning("redis at redis://:%s@redis:6379/0 down", REDIS_PASSWORD)
    try:
        raise RuntimeError(f"boom with {SECRET}")
    except RuntimeError:
        log.exception("failed")
    text = stream.getvalue()
    assert SECRET not in text and REDIS_PASSWORD not in text and "other-value" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["msg"] == "login as switchboard with ***"
    assert lines[0]["call_id"] == "c-1"
    assert lines[0]["password"] == "***"
    assert lines[0]["level"] == "info" and lines[0]["logger"] == "switchboard.test"
    assert "Secret: ***" in lines[1]["msg"]
    assert "RuntimeError: boom with ***" in lines[3]["exc"]


def test_secret_filter_leaves_ordinary_text_alone() -> None:
    masker = SecretFilter(["abc"])  # too short to mask safely
    text = "abc ami.secret: required token_sha256: 12ab"
    assert masker.mask(text) == text
    assert masker.mask("Authorization: Bearer xyz") == "Authorization: ***"


def test_secret_filter_masks_secret_names_whatever_their_case() -> None:
    """A text is searched once for the names (any case) before the masking patterns run on it."""
    masker = SecretFilter()
    assert masker.mask("PASSWD=hunter22 ok") == "PASSWD=*** ok"
    assert masker.mask("X-Api-ToKeN: abc, next") == "X-Api-ToKeN: ***, next"
    assert masker.mask("at redis://:pw@host") == "at redis://:***@host"
    # Beyond ASCII, the names are found as the patterns' IGNORECASE finds them (long s folds to s).
    assert masker.mask("Anrufer Müller \u017fecret: hunter22") == "Anrufer Müller \u017fecret: ***"
    assert masker.mask("Anrufer Müller, Kunde 42") == "Anrufer Müller, Kunde 42"


def test_auto_format_is_json_when_not_a_terminal() -> None:
    handler = build_handler("auto", io.StringIO())
    assert isinstance(handler.formatter, JsonFormatter)


def test_console_format_shows_extras() -> None:
    stream = io.StringIO()
    handler = build_handler("console", stream, secrets=[SECRET])
    record = logging.LogRecord("switchboard", logging.INFO, __file__, 1, "call %s ringing", (SECRET,), None)
    record.call_id = "c-9"
    handler.handle(record)
    output = stream.getvalue()
    assert "call *** ringing" in output and "call_id=c-9" in output and SECRET not in output


def test_yaml_1_2_keeps_norway_and_phone_like_values_as_text(tmp_path: Path) -> None:
    # PyYAML's YAML 1.1 default would read NO as false; settings use the rules' YAML 1.2 reading.
    settings = load_settings(write(tmp_path, "default_region: NO\nami:\n  username: '0630'\n"), use_env=False)
    assert settings.default_region == "NO"
    assert settings.ami.username == "0630"


def test_engine_id_and_lease_timing_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_ENGINE_ID", "sb-2")
    monkeypatch.setenv("SWITCHBOARD_ENGINE_LEASE_TTL", "4")
    settings = load_settings(None)
    engine = settings.engine
    assert (engine.id, engine.lease_ttl, engine.lease_renew) == ("sb-2", 4.0, 1.0)
    assert Runtime(settings).instance_id == "sb-2", "on agent legs, ActionIDs and the lease"
    monkeypatch.delenv("SWITCHBOARD_ENGINE_ID")
    host = socket.gethostname()
    assert Runtime(load_settings(None)).instance_id == f"{host}-8080", "default: host and HTTP port"
    monkeypatch.setenv("SWITCHBOARD_HTTP_PORT", "0")
    assert Runtime(load_settings(None)).instance_id == f"{host}-pid{os.getpid()}", "an ephemeral port: PID"


def test_a_lease_renewed_no_sooner_than_it_expires_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "engine:\n  lease_ttl: 2\n  lease_renew: 2\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert "lease_renew (2.0) must be below lease_ttl (2.0)" in str(errors_of(exc))


def test_ended_call_ttl_defaults_to_a_day_and_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().acd.ended_call_ttl == 86400
    monkeypatch.setenv("SWITCHBOARD_ACD_ENDED_CALL_TTL", "300")
    assert load_settings().acd.ended_call_ttl == 300
    monkeypatch.setenv("SWITCHBOARD_ACD_ENDED_CALL_TTL", "5")  # under a minute: reports would miss calls
    with pytest.raises(ConfigError, match=r"acd\.ended_call_ttl"):
        load_settings()


def test_the_smtp_password_comes_from_the_environment_or_a_file_beside_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "smtp-password").write_text("smtp-Pa55-word\n")
    path = write(tmp_path, "mail:\n  host: smtp.example.hu\n  password_file: smtp-password\n")
    settings = load_settings(path)
    assert settings.mail.enabled and settings.mail.port == 587 and settings.mail.security == "starttls"
    assert settings.mail.password_file == tmp_path / "smtp-password"  # relative to the settings file
    assert settings.mail.secret() == "smtp-Pa55-word"
    assert "smtp-Pa55-word" in settings.secrets(), "the log filter masks it"
    assert "smtp-Pa55-word" not in json.dumps(describe(settings))

    monkeypatch.setenv("SWITCHBOARD_MAIL_PASSWORD", "from-the-env")
    with pytest.raises(ConfigError) as both:
        load_settings(path)
    assert "set mail.password or mail.password_file, not both" in both.value.message
    monkeypatch.setenv("SWITCHBOARD_MAIL_HOST", "relay.local")
    env_only = load_settings()
    assert (env_only.mail.host, env_only.mail.secret()) == ("relay.local", "from-the-env")


def test_mail_is_off_without_a_host_and_a_bad_sender_is_named(tmp_path: Path) -> None:
    assert not load_settings().mail.enabled
    with pytest.raises(ConfigError) as exc:
        load_settings(write(tmp_path, "mail:\n  host: smtp.example.hu\n  sender: nobody\n"))
    assert exc.value.details["key"] == "mail.sender"
