"""Building the webhook service of an engine from its settings and parts (used by the runtime).

The ACD's admitted call gives `call.offered` its case (read from the ACD's working memory right
after the ACD handled the arrival, since the engine hands an event to its services in order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from core.clock import Clock
from dialer.dialer_keys import ConsentKeys, DialerKeys, LeadKeys, TaskKeys
from routing.acd.case_payloads import case_data
from routing.acd.events import AcdEvents
from routing.acd.service import AcdService
from switchboard.webhooks.config import WebhookSection
from switchboard.webhooks.metrics import WebhookMetrics
from switchboard.webhooks.service import WebhookService


def stream_sources(acd_events: AcdEvents, keys: DialerKeys, shard: str = "") -> dict[str, str]:
    """Source name -> the stream its events are read from. The ACD's is its shard's (`acd-east`:
    its own cursor, its events' ids apart from the other shards')."""
    leads = LeadKeys.of(keys)
    return {
        f"acd-{shard}" if shard else "acd": acd_events.keys.events,
        "dispositions": leads.audit_dispositions,
        "robinson": leads.audit_robinson,
        "tasks": TaskKeys.of(keys).audit,
        "consent": ConsentKeys.of(keys).audit,
    }


def offered_case(acd: AcdService, call_id: str) -> Mapping[str, Any] | None:
    """The case of a call the ACD just admitted (None when it did not admit it, or not inbound)."""
    active = acd.ctx.state.calls.get(call_id)
    if active is None or active.call.outbound:
        return None
    return case_data(active)


def build_webhooks(
    redis: aioredis.Redis, hooks: Sequence[WebhookSection], *, acd: AcdService, keys: DialerKeys,
    registry: CollectorRegistry, clock: Clock, shard: str = "",
) -> WebhookService:  # fmt: skip
    return WebhookService(
        redis, hooks, sources=stream_sources(acd.events, keys, shard),
        metrics=WebhookMetrics(registry, [hook.name for hook in hooks]), clock=clock,
        offered_case=lambda call_id: offered_case(acd, call_id),
        disposition_key=LeadKeys.of(keys).disposition,
    )  # fmt: skip
