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
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

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
from pbx.client_pure import AmiSettings
from switchboard.webhooks.config import WebhookSection, check_unique

ENV_PREFIX = "SWITCHBOARD_"
SETTINGS_FILE_ENV = "SWITCHBOARD_SETTINGS_FILE"
REDIS_SCHEMES = ("redis", "rediss", "unix")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AmiSection(_Section):
    """How to reach and log in to the Asterisk Manager Interface."""

    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(5038, ge=1, le=65535)
    username: str = Field("switchboard", min_length=1)
    secret: SecretStr | None = None
    auth: Literal["md5", "plain"] = "md5"
    connect_timeout: float = Field(5.0, gt=0, le=300)
    action_timeout: float = Field(5.0, gt=0, le=300)
    reconnect_min: float = Field(0.5, gt=0, le=300)
    reconnect_max: float = Field(30.0, gt=0, le=3600)
    ping_interval: float = Field(20.0, ge=0, le=3600)
    ping_timeout: float = Field(5.0, gt=0, le=300)
    max_disconnected: float = Field(120.0, ge=0, le=86400)
    """/healthz fails once AMI has not been connected and resynced for longer (0: never)."""

    @model_validator(mode="after")
    def _backoff_order(self) -> AmiSection:
        if self.reconnect_max < self.reconnect_min:
            raise ValueError("reconnect_max must not be smaller than reconnect_min")
        if 0 < self.max_disconnected < self.reconnect_max:
            raise ValueError(
                "max_disconnected must be 0 (off) or at least reconnect_max: one backoff wait alone "
                "would fail /healthz and get a healthy engine restarted"
            )
        return self


class RedisSection(_Section):
    """Where state lives. Without a URL only `switchboard demo` runs (with a private redis-server)."""

    url: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        scheme = urlsplit(value.get_secret_value()).scheme
        if scheme not in REDIS_SCHEMES:
            raise ValueError(f"must start with redis://, rediss:// or unix:// (got scheme {scheme!r})")
        return value

    @property
    def display_url(self) -> str:
        """The URL with its password replaced by `***`: safe for logs and messages."""
        return redact_url(self.url.get_secret_value()) if self.url is not None else "(not set)"


class SentinelSection(_Section):
    """Redis behind Sentinel: the engine asks the sentinels where the primary is, and asks again
    after a failover. Set `addresses` and `master_name` instead of `redis.url` (docs/redis.md)."""

    addresses: Annotated[tuple[str, ...], NoDecode] = ()  # the environment's form is host:port,host:port
    master_name: str = Field("switchboard", min_length=1)
    password: SecretStr | None = None  # of the Redis primary and replicas (requirepass)
    username: str | None = None  # of the Redis primary and replicas (ACL user)
    sentinel_password: SecretStr | None = None  # of the sentinels, when they require AUTH
    db: int = Field(0, ge=0, le=15)
    timeout: float = Field(1.0, gt=0, le=60)  # connect and reply timeout, sentinels and data nodes

    @field_validator("addresses", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        """`host:port,host:port` (the environment's form) or a list."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("addresses")
    @classmethod
    def _check_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{address!r} is not host:port (e.g. 10.0.0.5:26379)")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.addresses)

    def nodes(self) -> list[tuple[str, int]]:
        return [(host, int(port)) for host, _, port in (a.rpartition(":") for a in self.addresses)]


class HttpSection(_Section):
    """The HTTP API: health, metrics, and the endpoints for advisors, supervisors and the CRM."""

    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(8080, ge=0, le=65535)
    tokens_file: Path | None = None
    access_log: bool = False
    max_body_bytes: int = Field(1024 * 1024, ge=1024, le=1024**3)
    """Largest request body of a route (read only after the token is known); larger: 413."""
    max_bulk_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, le=1024**3)
    """Largest request body of the bulk routes (`POST /api/v1/leads:bulk`: up to 10000 leads)."""


class ConsoleSection(_Section):
    """The web console (docs/console.md): its session cookie."""

    session_secret: SecretStr | None = Field(
        None, description="signs session cookies; unset: a random one per process (sessions end on restart)"
    )
    session_hours: float = Field(12.0, gt=0, le=24 * 7)
    secure_cookie: Literal["auto", "always", "never"] = Field(
        "auto", description="auto: Secure when the request came over TLS (or X-Forwarded-Proto https)"
    )
    login_free_failures: int = Field(
        5, ge=1, le=100, description="failed sign-ins of one client before each further one locks it out"
    )
    login_max_lockout_seconds: float = Field(
        900.0, ge=1, le=86400, description="the longest lockout (it doubles per failure from 1 s)"
    )


class MailSection(_Section):
    """E-mail over SMTP (docs/tasks.md#e-mail): advisors' reminders and morning digest, and customers'
    callback times. Off until `host` is set. Keep the password out of the file: set it in the
    environment (SWITCHBOARD_MAIL_PASSWORD) or point `password_file` at a file only the engine reads."""

    host: str | None = Field(None, min_length=1)
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    """starttls: submission (587); tls: implicit TLS (465); none: a relay on a trusted network."""
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    sender: str = Field("switchboard@localhost", pattern=r"^[^@\s]+@[^@\s]+$")
    sender_name: str = Field("Switchboard", min_length=1, max_length=100)
    timeout: float = Field(5.0, gt=0, le=30)
    """Seconds to connect and send one message; kept short: sending runs in the tasks' 10 s pass."""
    retries: int = Field(8, ge=0, le=50)
    """Attempts after the first before a message is given up (kept in `tasks:mail:failed`)."""
    backoff: float = Field(30.0, gt=0, le=3600)
    """Seconds before the first retry; doubles each time up to `max_backoff`."""
    max_backoff: float = Field(1800.0, gt=0, le=86400)
    default_language: Literal["hu", "pl", "en"] = "en"
    """For advisors without `language` in routing.yaml and customers whose number is not HU or PL."""

    @model_validator(mode="after")
    def _one_password(self) -> MailSection:
        if self.password is not None and self.password_file is not None:
            raise ValueError("set mail.password or mail.password_file, not both")
        if self.password_file is not None and not self.password_file.is_file():
            raise ValueError(f"mail.password_file {self.password_file} is not a readable file")
        return self

    @property
    def enabled(self) -> bool:
        return self.host is not None

    def secret(self) -> str | None:
        """The SMTP password, from the environment / file setting or `password_file`."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip() or None
        return None


class RulesSection(_Section):
    """Paths of the rule files supervisors edit; the engine reloads them when they change."""

    routing: Path | None = None
    campaigns: Path | None = None
    dispositions: Path | None = None
    tasks: Path | None = None


class EngineSection(_Section):
    """This engine among several sharing one Redis and Asterisk (docs/reliability.md)."""

    id: str | None = Field(None, min_length=1, max_length=100)
    """Marks its agent legs, ActionIDs and leases; None: `{hostname}-{http.port}` (switchboard.runtime)."""
    lease_ttl: float = Field(3.0, gt=0, le=60)
    """Seconds a dead owner keeps the ACD and the pacing before a standby may take them."""
    lease_renew: float = Field(1.0, gt=0, le=30)
    """Seconds between renewals (and between a standby's takeover attempts)."""

    @model_validator(mode="after")
    def _renew_below_ttl(self) -> EngineSection:
        if self.lease_renew >= self.lease_ttl:
            raise ValueError(f"lease_renew ({self.lease_renew}) must be below lease_ttl ({self.lease_ttl})")
        return self


class StreamRetention(_Section):
    """How long one audit stream keeps its records (None: no bound of that kind)."""

    max_age_days: float | None = Field(None, gt=0, le=36500)
    max_entries: int | None = Field(None, ge=1000)


DEFAULT_AUDIT_STREAMS: dict[str, StreamRetention] = {
    # The abandon records regulators ask for: two years, never capped by count.
    "dial-attempts": StreamRetention(max_age_days=730),
    "dial-blocked": StreamRetention(max_age_days=365, max_entries=5_000_000),
    "blacklist": StreamRetention(max_age_days=1825),
    "robinson": StreamRetention(max_age_days=1825),
    "dispositions": StreamRetention(max_age_days=730),
    "leads": StreamRetention(max_age_days=730),
    "campaigns": StreamRetention(max_age_days=730),
    "tasks": StreamRetention(max_age_days=365, max_entries=5_000_000),
    # Consent grants and withdrawals; each number's own log (consent:log:{e164}) is kept untrimmed.
    "consent": StreamRetention(max_age_days=1825),
}


class AuditSection(_Section):
    """Retention of the audit streams (switchboard/audit_retention.py); Redis must not evict them."""

    trim_interval: float = Field(300.0, ge=1, le=86400)
    """Seconds between trims."""
    streams: dict[str, StreamRetention] = Field(default_factory=lambda: dict(DEFAULT_AUDIT_STREAMS))
    """Per stream (name after `sb:dialer:audit:`); a stream given here replaces its default."""

    @field_validator("streams", mode="after")
    @classmethod
    def _known_streams(cls, value: dict[str, StreamRetention]) -> dict[str, StreamRetention]:
        unknown = sorted(set(value) - set(DEFAULT_AUDIT_STREAMS))
        if unknown:
            raise ValueError(f"unknown audit stream(s) {unknown}; known: {', '.join(DEFAULT_AUDIT_STREAMS)}")
        return {**DEFAULT_AUDIT_STREAMS, **value}


class AcdSection(_Section):
    """What the inbound ACD keeps in Redis (docs/redis.md, sizing)."""

    ended_call_ttl: int = Field(86400, ge=60, le=30 * 86400)
    """Seconds an ended call's record stays in Redis (reports, webhooks, the console's recent
    calls); Redis holds about rate x this x 730 B of them."""


class LogSection(_Section):
    format: Literal["json", "console", "auto"] = "auto"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


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


def redact_url(url: str) -> str:
    """`redis://user:pw@host:6379/0` -> `redis://user:***@host:6379/0`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return parts._replace(netloc=f"{user}:***@{hostinfo}").geturl()


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


__all__ = ["ConfigError", "Settings", "describe", "env_name", "load_settings", "redact_url"]
