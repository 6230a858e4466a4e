"""The shape of the exported series: no `_created` twins, no timestamp in a label, names with
their unit, labels that mean one thing, and a wait histogram that gives the service level exactly."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from dialer.calls.dial_metrics import DialerMetrics
from routing.acd.acd_metrics import AcdMetrics
from switchboard.metrics import create_metrics


def _names(registry: CollectorRegistry) -> set[str]:
    return {s.name for family in registry.collect() for s in family.samples}


def test_the_engine_registry_has_no_created_series() -> None:
    metrics = create_metrics(process=False)
    acd = AcdMetrics(metrics.registry)
    acd.call_offered("support", "standard")
    acd.call_answered("support", "standard", waited=3.0, at=100.0, target_s=20.0)
    metrics.record_action("Originate", "success", 0.01)
    text = generate_latest(metrics.registry).decode()
    assert "_created" not in text
    assert "switchboard_acd_calls_offered_total" in text


def test_rules_info_keeps_one_series_across_reloads_and_the_time_is_a_gauge() -> None:
    registry = CollectorRegistry()
    acd = AcdMetrics(registry)
    acd.rules_applied("abc", 1000.0, "routing.yaml")
    acd.rules_applied("abc", 2000.0, "routing.yaml")
    info = [s for f in registry.collect() for s in f.samples if s.name == "switchboard_acd_rules_info"]
    assert [s.labels for s in info] == [{"hash": "abc", "source": "routing.yaml"}]
    assert registry.get_sample_value("switchboard_acd_rules_applied_timestamp_seconds") == 2000.0


def test_the_wait_histogram_has_a_bucket_at_each_service_level_time_and_gives_the_level() -> None:
    registry = CollectorRegistry()
    acd = AcdMetrics(registry, service_level_seconds=[20.0, 25.0])
    assert {20.0, 25.0} <= set(acd.buckets)
    for waited in (3.0, 20.0, 24.0, 30.0):
        acd.call_answered("sales", "vip", waited=waited, at=100.0, target_s=25.0)
    for waited in (5.0, 25.0, 40.0):  # hung up by 25 s: not counted; after it: a failure
        acd.call_abandoned("sales", "vip", waited=waited, at=100.0, target_s=25.0)
    acd.refresh_service_levels({"sales": 0.8}, now=100.0)

    def sample(name: str, outcome: str, **le: str) -> float:
        labels = {"queue": "sales", "tier": "vip", "outcome": outcome, **le}
        return registry.get_sample_value(f"switchboard_acd_wait_seconds_{name}", labels) or 0.0

    within = sample("bucket", "answered", le="25.0")
    failed_abandons = sample("count", "abandoned") - sample("bucket", "abandoned", le="25.0")
    from_histogram = within / (sample("count", "answered") + failed_abandons)
    assert from_histogram == 3 / 5
    assert registry.get_sample_value("switchboard_acd_service_level_ratio", {"queue": "sales"}) == 3 / 5


def test_oldest_wait_and_agents_per_queue_and_state() -> None:
    registry = CollectorRegistry()
    acd = AcdMetrics(registry)
    acd.set_waiting({"sales": 2}, ["sales", "support"], {"sales": 37.5})
    acd.set_queue_agents(
        {"sales": {"ready": 2, "busy": 1}, "support": {"ready": 1}}, ["ready", "busy", "paused"]
    )
    value = registry.get_sample_value
    assert value("switchboard_acd_oldest_wait_seconds", {"queue": "sales"}) == 37.5
    assert value("switchboard_acd_oldest_wait_seconds", {"queue": "support"}) == 0.0
    assert value("switchboard_acd_queue_agents", {"queue": "sales", "state": "busy"}) == 1
    assert value("switchboard_acd_queue_agents", {"queue": "support", "state": "paused"}) == 0


def test_dialer_rates_carry_their_unit_and_lead_states_their_own_label() -> None:
    registry = CollectorRegistry()
    metrics = DialerMetrics(registry)
    metrics.abandon_rate.labels(campaign="renewals", window="24h").set(0.01)
    metrics.leads_remaining.labels(campaign="renewals", state="ready").set(12)
    names = _names(registry)
    assert "switchboard_campaign_abandon_rate_ratio" in names
    assert "switchboard_campaign_abandon_rate" not in names
    labels = {"campaign": "renewals", "state": "ready"}
    assert registry.get_sample_value("switchboard_campaign_leads_remaining", labels) == 12


def test_cached_children_count_where_labels_would() -> None:
    """The per-call updates go through children found once (core.metric_children): same series."""
    registry = CollectorRegistry()
    acd = AcdMetrics(registry)
    acd.set_agent_states({"ready": 2}, ["ready", "busy"])
    acd.agent_moved("ready", "busy")
    acd.agent_moved("ready", "busy")
    acd.decision("originate", 0.002)
    acd.decision("originate", 0.004)
    value = registry.get_sample_value
    assert value("switchboard_acd_agents", {"state": "ready"}) == 0
    assert value("switchboard_acd_agents", {"state": "busy"}) == 2
    assert value("switchboard_acd_decision_seconds_count", {"action": "originate"}) == 2
    assert acd.children.of(acd.agents, state="busy") is acd.agents.labels(state="busy")
