"""The dialer's Prometheus metrics, on the registry the process (or the test) owns.

Blocks by the blacklist gate are counted by the gate itself (`switchboard_dial_blocked_total
{source}`, dialer/lists/gate.py GateMetrics); nothing here counts them again. Everything the dialer
refuses *before* the gate (calling hours, caps, a store it could not read, AMI down) is in
`switchboard_dial_refused_total{campaign,reason}`. Label values are bounded: campaign ids come
from campaigns.yaml, results from dialer.compliance.caps.CallResult, reasons from
dialer.calls.dial_records.DialStatus.
"""

from __future__ import annotations

from functools import partial

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

WINDOWS = ("24h", "30d")


class DialerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        counter = partial(Counter, registry=registry)
        gauge = partial(Gauge, registry=registry)
        campaign = ["campaign"]
        self.originates = counter(
            "switchboard_dial_originates",
            "Originates sent to customers (after the gate), by campaign and kind",
            ["campaign", "kind"],
        )
        self.attempts = counter(
            "switchboard_dial_attempts",
            "Dial attempts by campaign and result (busy, no_answer, answered, abandoned, ...)",
            ["campaign", "result"],
        )
        self.refused = counter(
            "switchboard_dial_refused",
            "Dials not placed before reaching the gate, by campaign and reason",
            ["campaign", "reason"],
        )
        self.abandoned = counter(
            "switchboard_dial_abandoned",
            "Answered calls no agent took within the grace (redirected to the abandon message)",
            campaign,
        )
        self.abandon_rate = gauge(
            "switchboard_campaign_abandon_rate_ratio",
            "Abandons / live answers over the window (24h, 30d), per campaign",
            ["campaign", "window"],
        )
        self.in_flight = gauge(
            "switchboard_campaign_calls_in_flight",
            "Calls ringing (originated, not yet answered) per campaign",
            campaign,
        )
        self.dial_level = gauge(
            "switchboard_campaign_dial_level",
            "Lines in flight per agent expected free, as pacing last decided",
            campaign,
        )
        self.leads_remaining = gauge(
            "switchboard_campaign_leads_remaining",
            "Leads waiting per campaign, by state: ready now, or retry (queued for later)",
            ["campaign", "state"],
        )
        self.imports = counter(
            "switchboard_lead_imports",
            "Leads received by source (api, csv) and result (created, updated, unchanged, excluded, error)",
            ["source", "result"],
        )
        self.recovered = counter(
            "switchboard_dial_intents_recovered",
            "Placed calls found without an outcome after a crash or an AMI cut, by campaign and how "
            "they were resolved (adopted: still alive in Asterisk; settled: as an unknown attempt; "
            "resent: an abandon Redirect or Hangup Asterisk had not confirmed, sent again)",
            ["campaign", "how"],
        )
        self.leader = gauge("switchboard_dialer_leader", "1 while this engine instance paces the campaigns")
        self.errors = counter(
            "switchboard_dialer_errors",
            "Dialer steps that failed (store unreachable, AMI action refused), by step",
            ["step"],
        )
        self.round_seconds = Histogram(
            "switchboard_dialer_round_seconds",
            "Time of one pacing round over all running campaigns",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=registry,
        )

    def record_import(self, source: str, counts: dict[str, int]) -> None:
        """Count one import batch, e.g. record_import("api", {"created": 10, "error": 2})."""
        for result, amount in counts.items():
            if amount:
                self.imports.labels(source=source, result=result).inc(amount)
