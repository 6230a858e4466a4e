"""Webhook events come from what the engine's own producers write: the ACD's event stream, a
disposition recorded by the disposition service (with the case of its call), the follow-up task
it creates, and a Robinson request filed by the disposition and decided by a supervisor."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from dialer.dialer_keys import LeadKeys
from dialer.dispositions.rules import load_dispositions
from dialer.stores import DialerStores
from dialer.tasks.rules import load_task_rules
from dialer.tasks.store import TaskStore
from routing.acd.events import AcdEvents
from switchboard.webhooks.config import WebhookSection
from switchboard.webhooks.metrics import WebhookMetrics
from switchboard.webhooks.service import WebhookService
from switchboard.webhooks.wiring import stream_sources
from tests.support.webhook_receiver import WebhookReceiver

CONFIG = Path(__file__).resolve().parents[2] / "config"
SECRET = "sources-secret-0123456789"
T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    server = WebhookReceiver(SECRET)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_a_call_its_disposition_task_and_robinson_decision_reach_the_crm(
    redis_client: aioredis.Redis, receiver: WebhookReceiver
) -> None:
    stores = DialerStores.build(
        redis_client, default_region="HU", registry=CollectorRegistry(),
        rules=load_dispositions(CONFIG / "dispositions.yaml"),
    )  # fmt: skip
    tasks = TaskStore(redis_client, leads=stores.leads, rules=load_task_rules(CONFIG / "tasks.yaml"))
    leads = [
        {"lead_id": "L1", "customer_id": "C1", "name": "Kiss Anna", "email": "anna@example.hu",
         "phones": ["+36301234567"]},
        {"lead_id": "L2", "customer_id": "C2", "name": "Nagy Béla", "email": "bela@example.hu",
         "phones": ["+36301234568"]},
    ]  # fmt: skip
    await stores.leads.upsert_many(leads, now=T0, actor="crm", campaign_id="c1")
    events = AcdEvents(redis_client)
    hook = WebhookSection(
        name="crm", url=receiver.url, secret=SecretStr(SECRET), events=("call.*", "disposition.*")
    )
    everything = WebhookSection(name="audit", url=receiver.url, secret=SecretStr(SECRET))
    service = WebhookService(
        redis_client, [hook, everything], sources=stream_sources(events, stores.keys),
        metrics=WebhookMetrics(CollectorRegistry()), clock=time.time,
        disposition_key=LeadKeys.of(stores.keys).disposition,
    )  # fmt: skip
    try:
        await service.relay_once()
        case = {
            "call_id": "c-9",
            "case_id": "K-9",
            "queue": "sales",
            "tier": "active",
            "caller": "+36301234567",
        }
        await events.publish("ended", "1008", {**case, "talk": 42.0, "ended_by": "agent"})
        callback = await stores.dispositions.record(
            lead_id="L1", code="callback_later", advisor="ann", note="after 5 pm", call_id="c-9", now=T0
        )
        await tasks.record_disposition(callback, now=T0)
        spam = await stores.dispositions.record(lead_id="L2", code="spam_lead", advisor="ann", now=T0)
        (request,) = await stores.robinson.list_requests()
        await stores.robinson.approve(request.request_id, supervisor="sue", now=T0)
        await service.run_once()
    finally:
        await service.close()

    by_type: dict[str, list[dict[str, object]]] = {}
    for event in (r.event for r in receiver.accepted()):
        by_type.setdefault(str(event["type"]), []).append(event)
    assert {
        "call.ended",
        "disposition.recorded",
        "task.created",
        "robinson.filed",
        "robinson.approved",
    } <= set(by_type)
    assert len(by_type["call.ended"]) == 2, "one per webhook that wants it"
    recorded = {e["data"]["disposition"]: e["data"] for e in by_type["disposition.recorded"]}  # type: ignore[index]
    first = recorded[callback.disposition_id]
    assert (first["call_id"], first["case_id"], first["code"], first["note"]) == (
        "c-9",
        "K-9",
        "callback_later",
        "after 5 pm",
    )
    assert recorded[spam.disposition_id]["code"] == "spam_lead"
    assert len(by_type["task.created"]) == 1 and len(by_type["robinson.approved"]) == 1, (
        "only `audit` wants them"
    )
    assert by_type["robinson.approved"][0]["data"]["actor"] == "sue"  # type: ignore[index]


async def test_a_consent_and_its_withdrawal_by_disposition_reach_the_crm(
    redis_client: aioredis.Redis, receiver: WebhookReceiver
) -> None:
    stores = DialerStores.build(
        redis_client, default_region="HU", registry=CollectorRegistry(),
        rules=load_dispositions(CONFIG / "dispositions.yaml"),
    )  # fmt: skip
    lead = {"lead_id": "L1", "customer_id": "C1", "phones": ["+36301234567"]}
    await stores.leads.upsert_many([lead], now=T0, actor="crm", campaign_id="c1")
    hook = WebhookSection(name="crm", url=receiver.url, secret=SecretStr(SECRET), events=("consent.*",))
    service = WebhookService(
        redis_client, [hook], sources=stream_sources(AcdEvents(redis_client), stores.keys),
        metrics=WebhookMetrics(CollectorRegistry()), clock=time.time,
        disposition_key=LeadKeys.of(stores.keys).disposition,
    )  # fmt: skip
    try:
        await service.relay_once()
        consent = {
            "customer_id": "C1", "number": "06 30 123 4567", "purpose": "marketing",
            "source": "web-form", "given_at": "2026-03-01T09:30:00+01:00", "reference": "form-7",
        }  # fmt: skip
        await stores.consent.give(consent, actor="crm-sync", now=T0)
        await stores.dispositions.record(
            lead_id="L1", code="consent_withdrawn", advisor="ann", number="+36301234567", now=T0
        )
        await service.run_once()
    finally:
        await service.close()

    events = [r.event for r in receiver.accepted()]
    assert [e["type"] for e in events] == ["consent.given", "consent.withdrawn"]
    given, withdrawn = (e["data"] for e in events)
    assert (given["number"], given["purpose"], given["customer"], given["reference"], given["actor"]) == (  # type: ignore[index]
        "+36301234567", "marketing", "C1", "form-7", "crm-sync",
    )  # fmt: skip
    assert (withdrawn["customer"], withdrawn["actor"]) == ("C1", "ann")  # type: ignore[index]
    assert "consent_withdrawn" in withdrawn["source"]  # type: ignore[index]
