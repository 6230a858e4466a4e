"""The children of labelled Prometheus metrics, each looked up once.

prometheus_client's `labels()` checks the label names and takes a lock on every call (about 6 us);
the engine updates a few labelled metrics per AMI event, always with label values from a bounded
set (queue and tier names, agent states and ids, action names), so each child is found once and
kept. Only for metrics whose children are never removed: a removed child would be kept here.
"""

from __future__ import annotations

from typing import Any, TypeVar

from prometheus_client.metrics import MetricWrapperBase

M = TypeVar("M", bound=MetricWrapperBase)


class Children:
    """`children.of(metric, state="ready")` is `metric.labels(state="ready")`, cached."""

    __slots__ = ("_found",)

    def __init__(self) -> None:
        self._found: dict[tuple[int, tuple[tuple[str, str], ...]], Any] = {}

    def of(self, metric: M, **labels: str) -> M:
        key = (id(metric), tuple(labels.items()))
        child: M | None = self._found.get(key)
        if child is None:
            child = self._found[key] = metric.labels(**labels)
        return child
