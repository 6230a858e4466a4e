"""Prometheus metrics of the ACD, on the registry the engine hands in (never the global one).

Names start with `switchboard_acd_`. Labels are bounded: queue and tier names come
from routing.yaml, `state` from the agent lifecycle, `agent` from the agent list.
- calls offered (entered a queue, overflow included), answered, abandoned, routed out
- wait seconds until answered or abandoned, per queue, tier and outcome (since arrival)
- service level per queue: share of calls answered within the queue's target time over a
  sliding window, among calls answered plus calls abandoned after that time (a caller who
  hangs up sooner does not count against it); and the target itself
- agents per state, occupancy per agent, calls waiting per queue
- decision latency: from the event (or timer, or API call) in to the AMI action out
- the hash of the routing rules in force (reload counts are the reloader's)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

WAIT_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
SERVICE_LEVEL_WINDOW_S = 3600.0
SERVICE_LEVEL_BUCKET_S = 10.0


class ServiceLevel:
    """Answered-within-target ratio per queue over a sliding window (pure; time passed in).

    Outcomes are counted in buckets of `bucket_s` seconds, so it holds window / bucket_s
    counts per queue whatever the call rate (one entry per call grew to 180,000 an hour at
    50 calls/s); the window's far edge is exact to one bucket."""

    def __init__(
        self, window_s: float = SERVICE_LEVEL_WINDOW_S, bucket_s: float = SERVICE_LEVEL_BUCKET_S
    ) -> None:
        self.window_s = window_s
        self.bucket_s = bucket_s
        self._buckets: dict[str, deque[list[float]]] = {}  # [start, within target, counted]

    def record(self, queue: str, at: float, *, waited: float, answered: bool, target_s: float) -> None:
        if not answered and waited < target_s:
            return  # hung up before the target: not a service failure
        buckets = self._buckets.setdefault(queue, deque())
        start = at - at % self.bucket_s
        if not buckets or start > buckets[-1][0]:
            buckets.append([start, 0, 0])
        bucket = buckets[-1]  # a late outcome (clock stepped back) counts in the newest bucket
        bucket[1] += answered and waited <= target_s
        bucket[2] += 1

    def ratio(self, queue: str, now: float) -> float | None:
        """None when no call counted in the window."""
        buckets = self._buckets.get(queue)
        if not buckets:
            return None
        while buckets and buckets[0][0] + self.bucket_s <= now - self.window_s:
            buckets.popleft()
        counted = sum(bucket[2] for bucket in buckets)
        return sum(bucket[1] for bucket in buckets) / counted if counted else None

    def queues(self) -> list[str]:
        return sorted(self._buckets)


class AcdMetrics:
    def __init__(
        self, registry: CollectorRegistry, *, service_level_window_s: float = SERVICE_LEVEL_WINDOW_S
    ) -> None:
        self._call_metrics(registry)
        self._state_metrics(registry)
        self.levels = ServiceLevel(service_level_window_s)

    def _call_metrics(self, r: CollectorRegistry) -> None:
        qt = ["queue", "tier"]
        self.offered = Counter("switchboard_acd_calls_offered", "Calls that entered a queue", qt, registry=r)
        self.answered = Counter(
            "switchboard_acd_calls_answered", "Calls connected to an agent", qt, registry=r
        )
        self.abandoned = Counter(
            "switchboard_acd_calls_abandoned", "Callers who hung up before an agent took them", qt, registry=r
        )
        self.routed_out = Counter(
            "switchboard_acd_calls_routed_out",
            "Calls that left a queue without an agent: overflow to another queue, or a dialplan exit",
            [*qt, "outcome"],
            registry=r,
        )
        self.wait = Histogram(
            "switchboard_acd_wait_seconds",
            "Seconds a caller waited, until answered or abandoned",
            [*qt, "outcome"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.decision_seconds = Histogram(
            "switchboard_acd_decision_seconds",
            "From the event, timer or request in to the AMI action out",
            ["action"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def _state_metrics(self, r: CollectorRegistry) -> None:
        self.service_level = Gauge(
            "switchboard_acd_service_level_ratio",
            "Share of calls answered within the queue's service-level time, over a sliding window",
            ["queue"],
            registry=r,
        )
        self.service_level_target = Gauge(
            "switchboard_acd_service_level_target_ratio",
            "The queue's service-level target (routing.yaml)",
            ["queue"],
            registry=r,
        )
        self.waiting = Gauge("switchboard_acd_calls_waiting", "Callers waiting now", ["queue"], registry=r)
        self.agents = Gauge("switchboard_acd_agents", "Agents per state", ["state"], registry=r)
        self.occupancy = Gauge(
            "switchboard_acd_agent_occupancy_ratio",
            "Share of an agent's available time spent on calls (fairness window)",
            ["agent"],
            registry=r,
        )
        self.rules = Info("switchboard_acd_rules", "The routing rules in force", registry=r)

    # -- calls --------------------------------------------------------------------
    def call_offered(self, queue: str, tier: str) -> None:
        self.offered.labels(queue=queue, tier=tier).inc()

    def call_answered(self, queue: str, tier: str, *, waited: float, at: float, target_s: float) -> None:
        self.answered.labels(queue=queue, tier=tier).inc()
        self.wait.labels(queue=queue, tier=tier, outcome="answered").observe(max(0.0, waited))
        self.levels.record(queue, at, waited=waited, answered=True, target_s=target_s)

    def call_abandoned(self, queue: str, tier: str, *, waited: float, at: float, target_s: float) -> None:
        self.abandoned.labels(queue=queue, tier=tier).inc()
        self.wait.labels(queue=queue, tier=tier, outcome="abandoned").observe(max(0.0, waited))
        self.levels.record(queue, at, waited=waited, answered=False, target_s=target_s)

    def call_routed_out(self, queue: str, tier: str, outcome: str) -> None:
        self.routed_out.labels(queue=queue, tier=tier, outcome=outcome).inc()

    def decision(self, action: str, seconds: float) -> None:
        self.decision_seconds.labels(action=action).observe(seconds)

    # -- gauges refreshed by the service -------------------------------------------------
    def set_agent_states(self, counts: Mapping[str, int], states: Iterable[str]) -> None:
        for state in states:
            self.agents.labels(state=state).set(counts.get(state, 0))

    def set_occupancy(self, agent_id: str, value: float) -> None:
        self.occupancy.labels(agent=agent_id).set(value)

    def set_waiting(self, counts: Mapping[str, int], queues: Iterable[str]) -> None:
        for queue in queues:
            self.waiting.labels(queue=queue).set(counts.get(queue, 0))

    def refresh_service_levels(self, targets: Mapping[str, float], now: float) -> None:
        """`targets`: queue -> target ratio (0..1)."""
        for queue, target in targets.items():
            self.service_level_target.labels(queue=queue).set(target)
            ratio = self.levels.ratio(queue, now)
            self.service_level.labels(queue=queue).set(1.0 if ratio is None else ratio)

    # -- rules ------------------------------------------------------------------------
    def rules_applied(self, content_hash: str, applied_at: float, source: str) -> None:
        """Reload counts by result are the reloader's (switchboard_rules_reloads_total{kind})."""
        self.rules.info({"hash": content_hash, "applied_at": f"{applied_at:.3f}", "source": source})
