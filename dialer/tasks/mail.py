"""E-mail of the task feature over SMTP (aiosmtplib): the sender of the `tasks:mail` outbox.

Owned here: `SmtpConfig` (what the engine's `mail` settings give it), `build_message` (a queued
payload -> the MIME message, pure) and `SmtpSender`, which the outbox worker
(dialer.tasks.notifications.OutboxWorker) calls with each message and its idempotency key. Rules
it keeps:
- Delivery is at least once through the outbox (retries with backoff, given up after `retries`).
  The Message-ID is made from the idempotency key, so the rare duplicate (the engine died after the
  server accepted the message and before it recorded it as sent) carries the same Message-ID.
- A refusal retrying cannot fix (a 5xx reply, e.g. an unknown recipient) fails at once; a
  connection error, a timeout or a 4xx reply is retried.
- `security`: `starttls` (the submission port 587), `tls` (implicit TLS, port 465) or `none`
  (a relay on the local network, and the tests).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any, Literal

from dialer.tasks.mail_templates import render
from dialer.tasks.notifications import NotificationFailedError

Security = Literal["starttls", "tls", "none"]
_ID_SAFE = re.compile(r"[^A-Za-z0-9.\-]")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    security: Security = "starttls"
    username: str | None = None
    password: str | None = None
    sender: str = "switchboard@localhost"
    sender_name: str = "Switchboard"
    timeout_s: float = 5.0


@dataclass(frozen=True)
class MailRetry:
    """The outbox's retry policy for e-mail (dialer.tasks.notifications.RetryPolicy)."""

    retries: int = 8
    backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(minutes=30)


def message_id(key: str, sender: str) -> str:
    domain = sender.rpartition("@")[2] or "switchboard"
    return f"<{_ID_SAFE.sub('-', key)}@{domain}>"


def build_message(payload: Mapping[str, Any], key: str, config: SmtpConfig) -> EmailMessage:
    """The MIME message of a queued e-mail; its Date is when it was queued (the same on retries)."""
    rendered = render(payload)
    message = EmailMessage()
    message["From"] = formataddr((config.sender_name, config.sender))
    message["To"] = str(payload["to"])
    message["Subject"] = rendered.subject
    message["Message-ID"] = message_id(key, config.sender)
    message["X-Switchboard-Key"] = key
    queued = payload.get("queued_at")
    message["Date"] = formatdate(float(queued) if queued is not None else None, usegmt=True)
    message.set_content(rendered.body)
    message["Content-Language"] = str(payload.get("lang", "en"))  # after set_content, which clears Content-*
    return message


class SmtpSender:
    """Sends one queued e-mail per call; raises NotificationFailedError (permanent for 5xx)."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, payload: Mapping[str, Any], idempotency_key: str) -> None:
        config = self.config
        message = build_message(payload, idempotency_key, config)
        import aiosmtplib  # noqa: PLC0415 - on the first mail: an engine that sends none never loads it

        try:
            await aiosmtplib.send(
                message, hostname=config.host, port=config.port, username=config.username,
                password=config.password, use_tls=config.security == "tls",
                start_tls=config.security == "starttls", timeout=config.timeout_s,
            )  # fmt: skip
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            permanent = all(code >= 500 for code in codes)
            raise NotificationFailedError(f"SMTP refused the recipient: {exc}", permanent=permanent) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise NotificationFailedError(
                f"SMTP answered {exc.code} {exc.message}", status=exc.code, permanent=exc.code >= 500
            ) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            why = f"SMTP server unreachable: {exc}"
            raise NotificationFailedError(why, permanent=False, unreachable=True) from None
