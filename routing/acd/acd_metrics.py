"""Prometheus metrics of the ACD, on the registry the engine hands in (never the global one).

Names start with `switchboard_acd_`. Labels are bounded: queue and tier names come
from routing.yaml, `state` from the agent lifecycle, `agent` from the agent list.
- calls offered (entered a queue, overflow included), answered, abandoned, routed out
- wait seconds until answered or abandoned, per queue, tier and outcome (since arrival)
- service level per queue: share of calls answered within the queue's target time, among
  calls answered plus calls abandoned after that time (a caller who hangs up sooner does not
  count against it). The wait histogram has a bucket at every queue's target time, so
  Prometheus derives it exactly and across engines (docs/acd.md has the PromQL); the in-process
  gauge over a sliding window is a convenience, and the target is exported next to it
- agents per state (overall and per queue: agents with the queue's skill), occupancy per
  agent, calls waiting and the oldest wait per queue
- outage notices per outage: played, left (served by the notice), queued
- adoptions deferred (a held caller's shard unknown) and callers seen for other ACD shards
- decision latency: from the event (or timer, or API call) in to the AMI action out
- the hash and source of the routing rules in force (no timestamp: one series per rule set)
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from core.metric_children import Children

WAIT_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
SERVICE_LEVEL_WINDOW_S = 3600.0
SERVICE_LEVEL_BUCKET_S = 10.0

log = logging.getLogger(__name__)


def wait_buckets(service_level_seconds: Iterable[float] = ()) -> tuple[float, ...]:
    """WAIT_BUCKETS plus every queue's service-level time, so a bucket bound is the threshold."""
    return tuple(sorted({float(b) for b in WAIT_BUCKETS} | {float(s) for s in service_level_seconds}))


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
        if not answered and waited <= target_s:
            return  # hung up by the target: not a service failure (the histogram's le counts it too)
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
        self,
        registry: CollectorRegistry,
        *,
        service_level_window_s: float = SERVICE_LEVEL_WINDOW_S,
        service_level_seconds: Iterable[float] = (20.0,),
    ) -> None:
        """`service_level_seconds`: every queue's `within_seconds` at start (buckets are fixed then)."""
        self.buckets = wait_buckets(service_level_seconds)
        self.children = Children()  # the per-call updates' labelled children, found once
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
        self.transfers = Counter(
            "switchboard_acd_transfers",
            "Calls an agent transferred with their case, by the queue they were in and how (blind, warm, "
            "attended: made on the phone to somewhere outside the ACD)",
            [*qt, "mode"],
            registry=r,
        )
        self.wait = Histogram(
            "switchboard_acd_wait_seconds",
            "Seconds a caller waited, until answered or abandoned",
            [*qt, "outcome"],
            buckets=self.buckets,
            registry=r,
        )
        self.notices = Counter(
            "switchboard_acd_outage_notices",
            "Outage notices per declared outage: played (a caller heard it on arrival), left (the "
            "caller hung up after it: served by the notice, not abandoned), queued (held on for an agent)",
            ["outage", "outcome"],
            registry=r,
        )
        self.adoptions_deferred = Counter(
            "switchboard_acd_adoptions_deferred",
            "Held callers a resync did not adopt because Asterisk did not tell their ACD shard "
            "(SWITCHBOARD_SHARD neither in the listing nor answered by Getvar); the next resync asks again",
            registry=r,
        )
        self.foreign_callers = Counter(
            "switchboard_acd_foreign_callers",
            "Callers announced for another ACD shard, by the role whose engines take them (acd-<shard>; "
            "acd: the default shard; invalid: a SWITCHBOARD_SHARD no shard can have)",
            ["role"],
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
        self.oldest_wait = Gauge(
            "switchboard_acd_oldest_wait_seconds",
            "Seconds the longest-waiting caller of the queue has waited (0: nobody waits)",
            ["queue"],
            registry=r,
        )
        self.agents = Gauge("switchboard_acd_agents", "Agents per state", ["state"], registry=r)
        self.queue_agents = Gauge(
            "switchboard_acd_queue_agents",
            "Agents with the queue's skill, per state (an agent counts in every queue they serve)",
            ["queue", "state"],
            registry=r,
        )
        self.occupancy = Gauge(
            "switchboard_acd_agent_occupancy_ratio",
            "Share of an agent's available time spent on calls (fairness window)",
            ["agent"],
            registry=r,
        )
        self.rules = Info("switchboard_acd_rules", "The routing rules in force", registry=r)
        self.rules_applied_at = Gauge(
            "switchboard_acd_rules_applied_timestamp_seconds",
            "When the routing rules in force were applied (Unix time)",
            registry=r,
        )

    # -- calls --------------------------------------------------------------------
    def notice(self, outage: str, outcome: str) -> None:
        self.notices.labels(outage=outage, outcome=outcome).inc()

    def call_offered(self, queue: str, tier: str) -> None:
        self.children.of(self.offered, queue=queue, tier=tier).inc()

    def call_answered(self, queue: str, tier: str, *, waited: float, at: float, target_s: float) -> None:
        self.children.of(self.answered, queue=queue, tier=tier).inc()
        self.children.of(self.wait, queue=queue, tier=tier, outcome="answered").observe(max(0.0, waited))
        self.levels.record(queue, at, waited=waited, answered=True, target_s=target_s)

    def call_abandoned(self, queue: str, tier: str, *, waited: float, at: float, target_s: float) -> None:
        self.abandoned.labels(queue=queue, tier=tier).inc()
        self.wait.labels(queue=queue, tier=tier, outcome="abandoned").observe(max(0.0, waited))
        self.levels.record(queue, at, waited=waited, answered=False, target_s=target_s)

    def call_routed_out(self, queue: str, tier: str, outcome: str) -> None:
        self.routed_out.labels(queue=queue, tier=tier, outcome=outcome).inc()

    def call_transferred(self, queue: str, tier: str, mode: str) -> None:
        self.transfers.labels(queue=queue, tier=tier, mode=mode).inc()

    def adoption_deferred(self) -> None:
        self.adoptions_deferred.inc()

    def foreign_caller(self, role: str) -> None:
        self.foreign_callers.labels(role=role).inc()

    def decision(self, action: str, seconds: float) -> None:
        self.children.of(self.decision_seconds, action=action).observe(seconds)

    # -- gauges refreshed by the service -------------------------------------------------
    def set_agent_states(self, counts: Mapping[str, int], states: Iterable[str]) -> None:
        for state in states:
            self.children.of(self.agents, state=state).set(counts.get(state, 0))

    def set_occupancy(self, agent_id: str, value: float) -> None:
        self.children.of(self.occupancy, agent=agent_id).set(value)

    def agent_moved(self, old: str, new: str) -> None:
        """One agent left state `old` for `new`."""
        self.children.of(self.agents, state=old).dec()
        self.children.of(self.agents, state=new).inc()

    def set_waiting(
        self, counts: Mapping[str, int], queues: Iterable[str], oldest: Mapping[str, float] | None = None
    ) -> None:
        """`oldest`: queue -> seconds its longest-waiting caller has waited (absent: nobody)."""
        for queue in queues:
            self.waiting.labels(queue=queue).set(counts.get(queue, 0))
            self.oldest_wait.labels(queue=queue).set((oldest or {}).get(queue, 0.0))

    def set_queue_agents(self, counts: Mapping[str, Mapping[str, int]], states: Iterable[str]) -> None:
        """`counts`: queue -> state -> agents; every state is set (0 when none)."""
        listed = list(states)
        for queue, by_state in counts.items():
            for state in listed:
                self.queue_agents.labels(queue=queue, state=state).set(by_state.get(state, 0))

    def refresh_service_levels(self, targets: Mapping[str, float], now: float) -> None:
        """`targets`: queue -> target ratio (0..1)."""
        for queue, target in targets.items():
            self.service_level_target.labels(queue=queue).set(target)
            ratio = self.levels.ratio(queue, now)
            self.service_level.labels(queue=queue).set(1.0 if ratio is None else ratio)

    # -- rules ------------------------------------------------------------------------
    def rules_applied(
        self,
        content_hash: str,
        applied_at: float,
        source: str,
        service_level_seconds: Mapping[str, float] | None = None,
    ) -> None:
        """Reload counts by result are the reloader's (switchboard_rules_reloads_total{kind}). The
        time is a gauge of its own, not a label: a label would start a new series per reload."""
        self.rules.info({"hash": content_hash, "source": source})
        self.rules_applied_at.set(applied_at)
        for queue, seconds in sorted((service_level_seconds or {}).items()):
            if float(seconds) not in self.buckets:
                log.warning(
                    "queue %s: service level within %gs has no bucket in switchboard_acd_wait_seconds "
                    "(buckets are fixed at start); restart the engine for an exact service level in "
                    "Prometheus",
                    queue,
                    seconds,
                )
