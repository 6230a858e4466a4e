"""deploy/compose.yaml fits the files it mounts: every mounted path exists, Redis persists with an
append-only file, Prometheus loads the alert rules and scrapes the engine where it listens, Grafana
is provisioned with the dashboards and the datasource, and the engine's settings file is valid and
names rule files the mount provides. No Docker daemon is needed; `docker-compose config` (or
`docker compose config`) also validates the file when a client is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from switchboard.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text()))


def _mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path of the service's bind mounts (named volumes left out)."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            found[target] = (DEPLOY / source).resolve()
    return found


def _host_path(mounts: dict[str, Path], container_path: str) -> Path:
    path = PurePosixPath(container_path)
    for target, source in mounts.items():
        if path == PurePosixPath(target) or PurePosixPath(target) in path.parents:
            return source / path.relative_to(target)
    raise AssertionError(f"{container_path} is not inside any mount: {sorted(mounts)}")


def test_every_mounted_file_exists_and_the_engine_is_built_from_the_repository() -> None:
    services = _compose()["services"]
    assert set(services) >= {"engine", "redis", "prometheus", "grafana"}
    for name, service in services.items():
        for target, source in _mounts(service).items():
            assert source.exists(), f"{name}: {source} (mounted at {target}) does not exist"
    build = services["engine"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == ROOT / "Dockerfile"


def test_redis_persists_every_write_and_never_evicts() -> None:
    redis = _compose()["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert any(v.endswith(":/data") for v in redis["volumes"]), "the data directory is a volume"
    assert redis["healthcheck"]["test"][-1] == "ping"


def test_prometheus_loads_the_rules_and_scrapes_the_engine_where_it_listens() -> None:
    services = _compose()["services"]
    mounts = _mounts(services["prometheus"])
    config = yaml.safe_load(_host_path(mounts, "/etc/prometheus/prometheus.yml").read_text())
    for pattern in config["rule_files"]:
        folder = _host_path(mounts, str(PurePosixPath(pattern).parent))
        assert sorted(folder.glob(PurePosixPath(pattern).name)), f"{pattern} matches no rule file"
    settings = load_settings(DEPLOY / "switchboard.yaml", use_env=False)
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "switchboard"]
    assert job["static_configs"][0]["targets"] == [f"engine:{settings.http.port}"]
    assert f"{settings.http.port}:{settings.http.port}" in services["engine"]["ports"]
    assert settings.http.host == "0.0.0.0", "reachable from the other containers"


def test_grafana_is_provisioned_with_the_dashboards_and_the_datasource() -> None:
    mounts = _mounts(_compose()["services"]["grafana"])
    provisioning = _host_path(mounts, "/etc/grafana/provisioning")
    providers = yaml.safe_load((provisioning / "dashboards/switchboard.yml").read_text())["providers"]
    folder = _host_path(mounts, providers[0]["options"]["path"])
    assert len(list(folder.glob("*.json"))) >= 5
    (source,) = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())["datasources"]
    assert (source["type"], source["url"]) == ("prometheus", "http://prometheus:9090")


def test_the_engine_settings_are_valid_and_name_files_the_mount_provides() -> None:
    engine = _compose()["services"]["engine"]
    mounts = _mounts(engine)
    settings_path = engine["environment"]["SWITCHBOARD_SETTINGS_FILE"]
    assert _host_path(mounts, settings_path) == DEPLOY / "switchboard.yaml"
    settings = load_settings(DEPLOY / "switchboard.yaml", use_env=False)
    files = [settings.http.tokens_file, *settings.rules.model_dump().values()]
    for path in files:
        assert path is not None and _host_path(mounts, str(path)).is_file(), path


def test_docker_compose_accepts_the_file() -> None:
    if shutil.which("docker-compose"):
        command = ["docker-compose", "-f", "compose.yaml", "config", "--quiet"]
    else:
        pytest.skip("no docker-compose client installed (apt-get install docker-compose)")
    env = {**os.environ, "ASTERISK_HOST": "pbx", "SWITCHBOARD_AMI_SECRET": "s", "GRAFANA_ADMIN_PASSWORD": "g"}
    done = subprocess.run(
        command, cwd=DEPLOY, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def test_every_alert_has_a_runbook_entry_in_the_operator_guide() -> None:
    guide = (ROOT / "docs/deploy.md").read_text()
    anchors = {line[4:].strip().lower() for line in guide.splitlines() if line.startswith("### ")}
    for path in sorted((ROOT / "config/prometheus/rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                runbook = rule["annotations"]["runbook"]
                document, _, anchor = runbook.partition("#")
                assert document == "docs/deploy.md" and anchor in anchors, f"{rule['alert']}: {runbook}"
