"""Prometheus metrics of the CRM webhooks, on the registry the engine hands in.

Labels are bounded: `webhook` is a name from the settings, `result` one of sent, retry, failed.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

RESULTS = ("sent", "retry", "failed")


class WebhookMetrics:
    def __init__(self, registry: CollectorRegistry, names: Iterable[str] = ()) -> None:
        self.deliveries = Counter(
            "switchboard_webhook_deliveries",
            "Webhook delivery attempts by webhook and result (sent, retry, failed: given up)",
            ["webhook", "result"],
            registry=registry,
        )
        self.queued_total = Counter(
            "switchboard_webhook_events_queued",
            "Events queued in the webhook outbox, by webhook",
            ["webhook"],
            registry=registry,
        )
        self.depth = Gauge(
            "switchboard_webhook_outbox_depth",
            "Events waiting in the outbox (due, claimed or backing off), by webhook",
            ["webhook"],
            registry=registry,
        )
        self.delivery_seconds = Histogram(
            "switchboard_webhook_delivery_seconds",
            "Time of one successful webhook POST",
            ["webhook"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        for name in names:  # every series exists from the start, at 0
            self.depth.labels(webhook=name).set(0)
            self.queued_total.labels(webhook=name)
            for result in RESULTS:
                self.deliveries.labels(webhook=name, result=result)

    def result(self, webhook: str, result: str) -> None:
        self.deliveries.labels(webhook=webhook, result=result).inc()

    def queued(self, names: Iterable[str]) -> None:
        for name in names:
            self.queued_total.labels(webhook=name).inc()
