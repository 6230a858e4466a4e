"""`redis.cluster`: a Redis Cluster from YAML or env, and the combinations that are refused by name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.errors import ConfigError
from switchboard.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SWITCHBOARD_"):
            monkeypatch.delenv(name)


def test_a_cluster_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(
        "redis:\n  url: redis://:pw@10.0.0.5:6379\n  cluster: true\n"
        "  cluster_nodes: [10.0.0.6:6379, 'r-c:7000']\n",
        encoding="utf-8",
    )
    settings = load_settings(path)
    assert settings.redis.cluster
    assert settings.redis.nodes() == [("10.0.0.6", 6379), ("r-c", 7000)]
    assert settings.redis_display == "cluster at redis://:***@10.0.0.5:6379,10.0.0.6:6379,r-c:7000"


def test_a_cluster_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_REDIS_URL", "redis://10.0.0.5:6379")
    monkeypatch.setenv("SWITCHBOARD_REDIS_CLUSTER", "true")
    monkeypatch.setenv("SWITCHBOARD_REDIS_CLUSTER_NODES", "10.0.0.6:6379, 10.0.0.7:6379")
    settings = load_settings()
    assert settings.redis.cluster and settings.redis.nodes() == [("10.0.0.6", 6379), ("10.0.0.7", 6379)]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SWITCHBOARD_REDIS_URL": "redis://h:6379", "SWITCHBOARD_REDIS_CLUSTER_NODES": "h2:6379"},
         "set cluster: true as well"),
        ({"SWITCHBOARD_REDIS_CLUSTER": "true"}, "redis.cluster needs redis.url"),
        ({"SWITCHBOARD_REDIS_CLUSTER": "true", "SWITCHBOARD_SENTINEL_ADDRESSES": "10.0.0.5:26379"},
         "set redis.cluster or sentinel.addresses, not both"),
        ({"SWITCHBOARD_REDIS_URL": "redis://h:6379", "SWITCHBOARD_REDIS_CLUSTER": "true",
          "SWITCHBOARD_REDIS_CLUSTER_NODES": "h2"}, "'h2' is not host:port"),
    ],
)  # fmt: skip
def test_what_a_cluster_cannot_be_combined_with_is_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert message in str(exc.value.details)
