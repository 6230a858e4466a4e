"""Connection settings of one engine process: read once at start, never reloaded.

Sources, weakest first: defaults, a settings YAML file (`--settings FILE` or
SWITCHBOARD_SETTINGS_FILE), environment variables `SWITCHBOARD_<SECTION>_<KEY>`
(e.g. SWITCHBOARD_AMI_SECRET). The environment overrides the file key by key.

Rules that keep operators safe:
- Secrets (AMI secret, Redis URL with its password) are SecretStr: repr, str
  and JSON dumps show `**********`; validation errors never echo the input.
- Every invalid value is reported (all of them, not the first) as a ConfigError
  naming the key and where it came from: `file:line:col` or the env variable.
- Relative paths written in the settings file are relative to that file's
  folder (as nginx or Asterisk do); from the environment, to the working dir.
- Routing rules (routing.yaml, campaigns.yaml, tasks.yaml) are not settings:
  only their paths live here; their contents reload at runtime.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from core.config.error_messages import render_loc
from core.config.yaml_file import (
    ConfigProblem,
    Loc,
    YamlDocument,
    config_error,
    load_yaml,
    problems_from_validation,
)
from core.errors import ConfigError
from pbx.ami_settings import AmiSettings
from switchboard.settings_sections import (
    DEFAULT_AUDIT_STREAMS,
    REDIS_SCHEMES,
    AcdSection,
    AmiSection,
    AuditSection,
    ConsoleSection,
    EngineSection,
    HttpSection,
    LogSection,
    MailSection,
    RedisSection,
    RulesSection,
    SentinelSection,
    StreamRetention,
    redact_url,
)
from switchboard.webhooks.config import WebhookSection, check_unique

ENV_PREFIX = "SWITCHBOARD_"
SETTINGS_FILE_ENV = "SWITCHBOARD_SETTINGS_FILE"


class Settings(BaseSettings):
    """Everything one engine process needs to start; see docs/operations.md for the table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="_",
        env_nested_max_split=1,
        env_ignore_empty=True,
        extra="forbid",
        frozen=True,
    )

    ami: AmiSection = AmiSection()
    redis: RedisSection = RedisSection()
    sentinel: SentinelSection = SentinelSection()
    http: HttpSection = HttpSection()
    rules: RulesSection = RulesSection()
    log: LogSection = LogSection()
    engine: EngineSection = EngineSection()
    acd: AcdSection = AcdSection()
    console: ConsoleSection = ConsoleSection()
    mail: MailSection = MailSection()
    audit: AuditSection = AuditSection()
    default_region: str = "HU"
    timezone: str = "Europe/Budapest"
    webhooks: tuple[WebhookSection, ...] = ()
    """CRM endpoints that get call, disposition, Robinson and task events (docs/webhooks.md)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's data arrives as init kwargs; the environment wins over it.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _one_redis(self) -> Settings:
        if self.redis.url is not None and self.sentinel.enabled:
            raise ValueError("set redis.url or sentinel.addresses, not both")
        if self.redis.cluster and self.sentinel.enabled:
            raise ValueError("set redis.cluster or sentinel.addresses, not both (a cluster fails over)")
        if self.redis.cluster and self.redis.url is None:
            raise ValueError("redis.cluster needs redis.url: any one node, e.g. redis://10.0.0.5:6379")
        return self

    @field_validator("default_region", mode="before")
    @classmethod
    def _check_region(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a phone region (two letters, e.g. HU, PL, GB, US)")
        return region

    @field_validator("webhooks")
    @classmethod
    def _unique_webhooks(cls, value: tuple[WebhookSection, ...]) -> tuple[WebhookSection, ...]:
        return check_unique(value)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            hint = "e.g. Europe/Budapest, Europe/Warsaw"
            raise ValueError(f"{value!r} is not a known time zone ({hint})") from None
        return value

    @property
    def redis_display(self) -> str:
        """Where Redis is, for logs: the URL (password masked) or the sentinels."""
        sentinel = self.sentinel
        if sentinel.enabled:
            return f"sentinel {sentinel.master_name} at {','.join(sentinel.addresses)}"
        if self.redis.cluster:
            return f"cluster at {','.join([self.redis.display_url, *self.redis.cluster_nodes])}"
        return self.redis.display_url

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def secrets(self) -> list[str]:
        """Values the log filter must never let through."""
        values = []
        if self.ami.secret is not None:
            values.append(self.ami.secret.get_secret_value())
        if self.console.session_secret is not None:
            values.append(self.console.session_secret.get_secret_value())
        if self.redis.url is not None:
            password = urlsplit(self.redis.url.get_secret_value()).password
            if password:
                values.append(password)
        values.extend(hook.secret.get_secret_value() for hook in self.webhooks)
        mail_password = self.mail.secret()
        if mail_password:
            values.append(mail_password)
        sentinel = self.sentinel
        values += [p.get_secret_value() for p in (sentinel.password, sentinel.sentinel_password) if p]
        return values

    def require_for_run(self) -> None:
        """`switchboard run` talks to a real Asterisk and a shared Redis: both must be configured."""
        missing = []
        if self.redis.url is None and not self.sentinel.enabled:
            missing.append((("redis", "url"), "e.g. redis://redis-host:6379/0, or sentinel.addresses"))
        if self.ami.secret is None:
            missing.append((("ami", "secret"), "the secret of the AMI user in manager.conf"))
        if self.rules.routing is None:
            missing.append((("rules", "routing"), "the routing rules, e.g. /etc/switchboard/routing.yaml"))
        problems = [
            ConfigProblem(
                "",
                f"required by `switchboard run` ({hint}); set it in the settings file or {env_name(loc)}",
                render_loc(loc),
            )
            for loc, hint in missing
        ]
        if problems:
            raise config_error(problems, "settings incomplete")

    def ami_client_settings(self) -> AmiSettings:
        """The AMI part in the form pbx.client.AmiClient takes (requires ami.secret)."""
        ami = self.ami
        if ami.secret is None:
            problem = ConfigProblem("", "required to log in to AMI", "ami.secret")
            raise config_error([problem], "settings incomplete")
        return AmiSettings(
            host=ami.host,
            port=ami.port,
            username=ami.username,
            secret=ami.secret.get_secret_value(),
            auth=ami.auth,
            action_timeout=ami.action_timeout,
            connect_timeout=ami.connect_timeout,
            reconnect_min=ami.reconnect_min,
            reconnect_max=ami.reconnect_max,
            ping_interval=ami.ping_interval,
            ping_timeout=ami.ping_timeout,
        )


class _FileOnlySettings(Settings):
    """Settings from the file alone: what `check-config` validates."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def env_name(loc: Loc) -> str:
    """The environment variable that sets `loc`: ("ami", "port") -> SWITCHBOARD_AMI_PORT."""
    return ENV_PREFIX + "_".join(str(part) for part in loc[:2]).upper()


PATH_KEYS: tuple[tuple[str, str], ...] = (
    ("http", "tokens_file"),
    ("mail", "password_file"),
    ("rules", "routing"),
    ("rules", "campaigns"),
    ("rules", "dispositions"),
    ("rules", "tasks"),
)


def load_settings(path: Path | None = None, *, use_env: bool = True) -> Settings:
    """Build Settings from the file (if any) and the environment; raises ConfigError listing every problem.

    With `path=None` the file named by SWITCHBOARD_SETTINGS_FILE is read, if set.
    `use_env=False` validates the file alone (what `check-config` does).
    """
    env = os.environ
    if path is None and use_env and env.get(SETTINGS_FILE_ENV):
        path = Path(env[SETTINGS_FILE_ENV])
    doc = load_yaml(path) if path is not None else YamlDocument("(no settings file)", {})
    data = _file_data(doc)
    try:
        return Settings(**data) if use_env else _FileOnlySettings(**data)
    except ValidationError as exc:

        def source_of(loc: Loc) -> str | None:
            name = env_name(loc)
            return f"env {name}" if use_env and env.get(name) else None

        problems = sorted(problems_from_validation(exc, doc, source_of=source_of), key=_by_position)
        raise config_error(problems, "invalid settings") from None


def _by_position(problem: ConfigProblem) -> tuple[str, int, int]:
    return (problem.file, problem.line or 0, problem.column or 0)


def _file_data(doc: YamlDocument) -> dict[str, Any]:
    if doc.data is None:
        return {}
    if not isinstance(doc.data, dict):
        message = "a settings file is a mapping of sections (ami:, redis:, ...)"
        problem = ConfigProblem(doc.file, message, "", 1, 1)
        raise config_error([problem], "invalid settings")
    base = Path(doc.file).parent
    sections = {"ami", "redis", "sentinel", "http", "rules", "log", "engine", "audit", "acd", "console"}
    sections.add("mail")
    data: dict[str, Any] = {
        key: dict(value) if isinstance(value, dict) else value
        for key, value in doc.data.items()
        if not (key in sections and value is None)  # a section with only comments in it: defaults
    }
    for section, key in PATH_KEYS:
        block = data.get(section)
        if isinstance(block, dict) and isinstance(block.get(key), str) and block[key]:
            value = Path(block[key]).expanduser()
            block[key] = str(value if value.is_absolute() else base / value)
    return data


def describe(settings: Settings) -> dict[str, Any]:
    """A printable view of the settings with secrets masked (for `--show-settings`-style output)."""
    view = settings.model_dump(mode="json")
    view["redis"]["url"] = settings.redis.display_url
    return view


__all__ = [  # the sections live in switchboard.settings_sections; importing them from here works too
    "DEFAULT_AUDIT_STREAMS", "PATH_KEYS", "REDIS_SCHEMES", "SETTINGS_FILE_ENV", "AcdSection", "AmiSection",
    "AuditSection", "ConfigError", "ConsoleSection", "EngineSection", "HttpSection", "LogSection",
    "MailSection", "RedisSection", "RulesSection", "SentinelSection", "Settings", "StreamRetention",
    "describe", "env_name", "load_settings", "redact_url",
]  # fmt: skip
