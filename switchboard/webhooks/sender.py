"""Posting one signed event to one CRM endpoint over HTTP (httpx, one pooled client per engine).

2xx is delivered. A 4xx that retrying cannot fix (signing.permanent) is permanent; any other
answer, a timeout or a refused connection is worth another try.
"""

from __future__ import annotations

import httpx

from core.errors import SwitchboardError
from switchboard import __version__
from switchboard.webhooks.config import WebhookSection
from switchboard.webhooks.signing import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    permanent,
    signature,
)

USER_AGENT = f"switchboard-webhooks/{__version__}"


class DeliveryFailedError(SwitchboardError):
    """The endpoint did not accept an event; `permanent` when retrying cannot help."""

    error_id = "webhook-delivery-failed"

    @property
    def permanent(self) -> bool:
        return bool(self.details.get("permanent", False))


def headers(hook: WebhookSection, event_id: str, event_type: str, body: bytes, now: float) -> dict[str, str]:
    stamp = int(now)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: event_id,
        "Idempotency-Key": event_id,
        EVENT_TYPE_HEADER: event_type,
        TIMESTAMP_HEADER: str(stamp),
        SIGNATURE_HEADER: signature(hook.secret.get_secret_value(), stamp, body),
    }


async def post(
    client: httpx.AsyncClient, hook: WebhookSection, *, event_id: str, event_type: str, body: bytes,
    now: float,
) -> None:  # fmt: skip
    """Deliver or raise DeliveryFailedError."""
    sent = headers(hook, event_id, event_type, body, now)
    try:
        reply = await client.post(hook.url, content=body, headers=sent, timeout=hook.timeout)
    except httpx.HTTPError as exc:
        reason = f"{type(exc).__name__} {exc}".strip()
        raise DeliveryFailedError(f"{hook.name} unreachable: {reason}", permanent=False) from None
    if not 200 <= reply.status_code < 300:
        raise DeliveryFailedError(
            f"{hook.name} answered HTTP {reply.status_code}", status=reply.status_code,
            permanent=permanent(reply.status_code),
        )  # fmt: skip
