"""The `sentinel` settings section: addresses from YAML or env, checks, secrets, one Redis at a time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.errors import ConfigError
from switchboard.settings import load_settings

PASSWORD = "primaryPa55word"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SWITCHBOARD_"):
            monkeypatch.delenv(name)


def test_sentinels_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(
        "sentinel:\n  addresses: [10.0.0.5:26379, 'sentinel-b:26380']\n  master_name: sb\n", encoding="utf-8"
    )
    settings = load_settings(path)
    assert settings.sentinel.enabled
    assert settings.sentinel.nodes() == [("10.0.0.5", 26379), ("sentinel-b", 26380)]
    assert settings.sentinel.master_name == "sb"


def test_sentinels_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_SENTINEL_ADDRESSES", "10.0.0.5:26379, 10.0.0.6:26379")
    monkeypatch.setenv("SWITCHBOARD_SENTINEL_MASTER_NAME", "calls")
    monkeypatch.setenv("SWITCHBOARD_SENTINEL_PASSWORD", PASSWORD)
    monkeypatch.setenv("SWITCHBOARD_AMI_SECRET", "ami-secret")
    monkeypatch.setenv("SWITCHBOARD_RULES_ROUTING", "config/routing.yaml")
    settings = load_settings()
    assert settings.sentinel.nodes() == [("10.0.0.5", 26379), ("10.0.0.6", 26379)]
    assert settings.sentinel.master_name == "calls"
    assert PASSWORD in settings.secrets(), "the log filter masks it"
    assert PASSWORD not in repr(settings)
    settings.require_for_run()  # sentinels stand in for redis.url


@pytest.mark.parametrize("address", ["10.0.0.5", "host:port", ":26379", "host:70000"])
def test_a_bad_address_names_the_key(tmp_path: Path, address: str) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(f"sentinel:\n  addresses: ['{address}']\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert "sentinel.addresses" in str(exc.value.details)
    assert "host:port" in str(exc.value.details)


def test_redis_url_and_sentinels_together_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_REDIS_URL", "redis://localhost:6379/0")
    monkeypatch.setenv("SWITCHBOARD_SENTINEL_ADDRESSES", "10.0.0.5:26379")
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert "not both" in str(exc.value.details)
