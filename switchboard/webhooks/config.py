"""The `webhooks:` settings section: where each CRM endpoint is, its secret, which events it gets.

Read once at start with the other settings (a changed URL or secret takes a restart). Each entry
has a `name` that keys its outbox in Redis and labels its metrics, so renaming an endpoint starts
a new outbox (the old one keeps its undelivered events until the name comes back).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from switchboard.webhooks.catalog import EVENT_TYPES


class WebhookSection(BaseModel):
    """One CRM endpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    url: str = Field(min_length=8)
    secret: SecretStr
    events: tuple[str, ...] = ("*",)
    """Event types (`call.answered`), families (`call.*`) or `*` for all."""
    timeout: float = Field(5.0, gt=0, le=60)
    backoff_min: float = Field(1.0, gt=0, le=3600)
    backoff_max: float = Field(300.0, gt=0, le=86400)
    max_age: float = Field(86400.0, gt=0, le=30 * 86400)
    """An event not delivered this many seconds after it happened is given up (kept as failed)."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http:// or https:// URL (got {value[:30]!r})")
        return value

    @field_validator("secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (it signs every delivery)")
        return value

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        families = {kind.split(".")[0] for kind in EVENT_TYPES}
        for pattern in value:
            known = pattern == "*" or pattern in EVENT_TYPES
            known = known or (pattern.endswith(".*") and pattern[:-2] in families)
            if not known:
                raise ValueError(f"unknown event {pattern!r}; known: *, {', '.join(EVENT_TYPES)}")
        return value

    @model_validator(mode="after")
    def _backoff_order(self) -> WebhookSection:
        if self.backoff_max < self.backoff_min:
            raise ValueError("backoff_max must not be smaller than backoff_min")
        return self

    def wants(self, event_type: str) -> bool:
        family = event_type.split(".", maxsplit=1)[0] + ".*"
        return any(p in ("*", event_type, family) for p in self.events)


def check_unique(webhooks: tuple[WebhookSection, ...]) -> tuple[WebhookSection, ...]:
    names = [hook.name for hook in webhooks]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"webhook names must be unique (repeated: {', '.join(duplicates)})")
    return webhooks
