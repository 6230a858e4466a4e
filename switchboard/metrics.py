"""Engine-level Prometheus metrics, all in one CollectorRegistry the process owns.

Nothing registers on prometheus_client's global registry: each engine (and
each test) builds its own with `create_metrics()`, hands the metric objects to
whoever updates them, and serves `registry` at GET /metrics. Names start with
`switchboard_`. Feature packages (routing, dialer) build their own metric
objects with `registry=metrics.registry` in their constructors.

Label values are bounded on purpose: `action` is an AMI action name the engine
sends (a fixed set), `result` one of RESULTS.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

from core.metric_children import Children
from switchboard import __version__

RESULTS = ("success", "error", "timeout", "disconnected", "fenced")


@dataclass(frozen=True)
class EngineMetrics:
    """The metric objects of the engine core; `registry` is what /metrics serves."""

    registry: CollectorRegistry
    ami_connected: Gauge
    ami_reconnects: Counter
    ami_actions: Counter
    ami_action_seconds: Histogram
    ami_events: Counter
    ami_malformed: Counter
    ami_down_seconds: Gauge
    ami_contact_age: Gauge
    redis_up: Gauge
    build: Info
    children: Children = field(default_factory=Children, compare=False)  # record_action's, found once

    def record_action(self, action: str, result: str, seconds: float | None = None) -> None:
        """Count one AMI action by outcome (one of RESULTS) and observe its round trip."""
        self.children.of(self.ami_actions, action=action, result=result).inc()
        if seconds is not None:
            self.children.of(self.ami_action_seconds, action=action).observe(seconds)


def create_metrics(registry: CollectorRegistry | None = None, *, process: bool = True) -> EngineMetrics:
    """Build the engine metrics on `registry` (a new one when None).

    `process=True` adds the standard process_* / python_* collectors, as the
    global registry would have them.
    """
    # No `_created` series: they doubled every counter's and histogram's series and no query
    # here uses them. A process-wide switch in prometheus_client, set before any metric is made.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = registry if registry is not None else CollectorRegistry()
    if process:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    metrics = EngineMetrics(
        registry=registry,
        ami_connected=Gauge(
            "switchboard_ami_connected", "1 while logged in to Asterisk AMI, else 0", registry=registry
        ),
        ami_reconnects=Counter(
            "switchboard_ami_reconnects", "AMI reconnections after a lost connection", registry=registry
        ),
        ami_actions=Counter(
            "switchboard_ami_actions",
            "AMI actions sent, by action and result",
            ["action", "result"],
            registry=registry,
        ),
        ami_action_seconds=Histogram(
            "switchboard_ami_action_seconds",
            "AMI action round trip time",
            ["action"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        ),
        ami_events=Counter("switchboard_ami_events", "AMI events received", registry=registry),
        ami_malformed=Counter(
            "switchboard_ami_malformed", "AMI messages that could not be decoded (skipped)", registry=registry
        ),
        ami_down_seconds=Gauge(
            "switchboard_ami_down_seconds",
            "Seconds the engine has not been connected and resynchronised to AMI (0 while it is)",
            registry=registry,
        ),
        ami_contact_age=Gauge(
            "switchboard_ami_last_contact_age_seconds",
            "Seconds since the last bytes from Asterisk on the current AMI connection (-1: none)",
            registry=registry,
        ),
        redis_up=Gauge(
            "switchboard_redis_up", "1 when the last Redis PING succeeded, else 0", registry=registry
        ),
        build=Info("switchboard_build", "Version of the running engine", registry=registry),
    )
    metrics.build.info({"version": __version__, "python": platform.python_version()})
    return metrics
