"""The sections of the engine's settings file (ami:, redis:, sentinel:, http:, console:,
mail:, rules:, engine:, audit:, acd:, log:): each a frozen pydantic model with its
defaults, bounds and the checks of one section. switchboard.settings assembles them
into `Settings`, reads the file and the environment, and re-exports them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import NoDecode

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
    """Where state lives. Without a URL only `switchboard demo` runs (with a private redis-server).

    `cluster: true`: the URL names one node of a Redis Cluster (its password is every node's) and the
    client finds the others; `cluster_nodes` adds more nodes to start from (docs/redis.md)."""

    url: SecretStr | None = None
    cluster: bool = False
    cluster_nodes: Annotated[tuple[str, ...], NoDecode] = ()  # the environment's form is host:port,host:port

    @field_validator("cluster_nodes", mode="before")
    @classmethod
    def _split_nodes(cls, value: object) -> object:
        return _split_addresses(value)

    @field_validator("cluster_nodes")
    @classmethod
    def _check_nodes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_addresses(value, "10.0.0.5:6379")

    @model_validator(mode="after")
    def _nodes_need_cluster(self) -> RedisSection:
        if self.cluster_nodes and not self.cluster:
            raise ValueError("cluster_nodes is set but cluster is false: set cluster: true as well")
        return self

    def nodes(self) -> list[tuple[str, int]]:
        return _nodes(self.cluster_nodes)

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
        return _split_addresses(value)

    @field_validator("addresses")
    @classmethod
    def _check_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_addresses(value, "10.0.0.5:26379")

    @property
    def enabled(self) -> bool:
        return bool(self.addresses)

    def nodes(self) -> list[tuple[str, int]]:
        return _nodes(self.addresses)


def _split_addresses(value: object) -> object:
    """`host:port,host:port` (the environment's form) or a list."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _check_addresses(value: tuple[str, ...], example: str) -> tuple[str, ...]:
    for address in value:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{address!r} is not host:port (e.g. {example})")
    return value


def _nodes(addresses: tuple[str, ...]) -> list[tuple[str, int]]:
    return [(host, int(port)) for host, _, port in (a.rpartition(":") for a in addresses)]


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
    shard: str = Field("", pattern=r"^([a-z0-9][a-z0-9_-]{0,39})?$")
    """The ACD this engine runs: '' the default one (`sb:routing:{acd}:`), `east` the shard whose keys
    are `sb:routing:{acd-east}:` (its own agents, queues, calls, lease), serving the callers whose
    SWITCHBOARD_SHARD is `east` and the campaigns with `shard: east` (docs/redis.md)."""


class LogSection(_Section):
    format: Literal["json", "console", "auto"] = "auto"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


def redact_url(url: str) -> str:
    """`redis://user:pw@host:6379/0` -> `redis://user:***@host:6379/0`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return parts._replace(netloc=f"{user}:***@{hostinfo}").geturl()
