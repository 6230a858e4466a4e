"""Every test in this folder is an integration test: it gets the `integration` marker here, so a
file cannot forget it (`pytest -m "not integration"` runs the unit tests alone)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)


# The real Redis Cluster, for the tests that ask for it (tests/support/redis_cluster.py).
from tests.support.redis_cluster import cluster_client, redis_cluster  # noqa: E402

__all__ = ["cluster_client", "redis_cluster"]
