"""The image, checked without a Docker daemon: what it copies exists, it fetches no remote
syntax frontend, its settings name rule files it carries, and it installs no example tokens."""

from __future__ import annotations

import re
from pathlib import Path

from core.config.yaml_file import load_yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY from the build context."""
    found = []
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            *sources, dest = line.split()[1:]
            found.append((sources, dest))
    return found


def test_no_remote_syntax_frontend() -> None:
    assert not re.search(r"^#\s*syntax\s*=", DOCKERFILE, re.MULTILINE | re.IGNORECASE)


def test_every_copied_path_exists() -> None:
    for sources, _ in copies():
        for source in sources:
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"


def test_the_image_settings_name_rule_files_the_image_carries() -> None:
    dest_of = {Path(src).name: dest for sources, dest in copies() for src in sources}
    assert dest_of["settings.example.yaml"] == "/etc/switchboard/settings.yaml"
    assert "SWITCHBOARD_SETTINGS_FILE=/etc/switchboard/settings.yaml" in DOCKERFILE
    rules = load_yaml(ROOT / "config/settings.example.yaml").data["rules"]
    assert rules["routing"], "`switchboard run` needs rules.routing"
    for kind, relative in rules.items():
        where = dest_of.get(Path(relative).name)
        assert where == "/etc/switchboard/", f"rules.{kind}: {relative} is not in the image"


def test_no_example_tokens_in_the_image_or_enabled_by_default() -> None:
    assert "api-tokens" not in DOCKERFILE
    http = load_yaml(ROOT / "config/settings.example.yaml").data["http"]
    assert "tokens_file" not in http, "the example settings must not enable a tokens file"


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_builds_install_the_pinned_versions() -> None:
    assert "--constraint constraints.txt" in DOCKERFILE
    assert '--constraint "$ROOT/constraints.txt"' in (ROOT / "scripts/_env.sh").read_text()


def test_every_dependency_is_pinned_within_its_bounded_range() -> None:
    import tomllib  # noqa: PLC0415

    from packaging.requirements import Requirement  # noqa: PLC0415

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins()
    for text in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        requirement = Requirement(text)
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in constraints.txt"
        pinned = pins[name]
        assert requirement.specifier.contains(pinned), f"{name}=={pinned} is outside {requirement.specifier}"
        if text in project["dependencies"] and name != "tzdata":  # tzdata: newer is always better
            assert any(spec.operator == "<" for spec in requirement.specifier), f"{text}: no upper bound"
