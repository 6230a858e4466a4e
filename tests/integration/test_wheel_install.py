"""The installed package starts: a wheel built from what the Dockerfile copies, in a fresh venv,
away from the checkout (no config/ folder next to it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def builder_sources() -> list[str]:
    """What the Dockerfile's builder stage copies into /src (the wheel is built from that alone)."""
    text = (ROOT / "Dockerfile").read_text()
    builder = text.split("FROM ", 2)[1]
    sources: list[str] = []
    for line in builder.splitlines():
        match = re.match(r"COPY\s+(?!--from)(.+?)\s+\S+$", line.strip())
        if match:
            sources.extend(match.group(1).split())
    return sources


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the wheel installed; the dependencies come from the test venv (no index needed)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in builder_sources():
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", str(src), "--no-deps", "-w", str(tmp / "dist")], check=True, timeout=120)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    # Dependencies from the test venv's site-packages; its .pth files (the editable checkout) stay off.
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    wheel = next((tmp / "dist").glob("switchboard-*.whl"))
    target = ["--target", str(site), "--no-deps", "--no-compile"]
    subprocess.run([*pip, "install", *target, str(wheel)], check=True, timeout=120)
    return venv


def switchboard(venv: Path, cwd: Path, *args: str, timeout: float = 60) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env["SWITCHBOARD_LOG_FORMAT"] = "json"
    code = "import sys; from switchboard.cli import main; sys.exit(main())"
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def test_the_wheel_carries_the_example_rules_and_no_tokens(installed: Path, tmp_path: Path) -> None:
    code, out = switchboard(installed, tmp_path, "version")
    assert code == 0, out
    probe = "from switchboard.example_rules import example_rules as e; print(e('routing'))"
    python = str(installed / "bin" / "python")
    where = subprocess.run([python, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    where = where.stdout.strip()
    assert str(installed) in where and "site-packages" in where, "found in the installed package"
    examples = Path(where).parent
    assert sorted(p.name for p in examples.iterdir()) == [
        "campaigns.yaml", "dispositions.yaml", "routing.yaml", "tasks.yaml",
    ], "the rule examples, and neither the settings nor the token examples"  # fmt: skip
    for path in examples.iterdir():
        assert not path.is_symlink() and path.read_text() == (ROOT / "config" / path.name).read_text()


def test_the_installed_demo_runs_on_the_shipped_examples(installed: Path, tmp_path: Path) -> None:
    code, out = switchboard(installed, tmp_path, "demo", "--duration", "2", timeout=90)
    assert "cannot read" not in out and code in (0, 1), out  # 1: no call answered in 2 s
    assert "Simulated Asterisk on 127.0.0.1:" in out and "Demo finished" in out, out


def test_the_installed_run_names_the_missing_rules_setting(installed: Path, tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("redis:\n  url: redis://127.0.0.1:1/0\nami:\n  secret: x\n")
    code, out = switchboard(installed, tmp_path, "run", "--settings", str(settings))
    assert code == 2, out
    assert "rules.routing" in out and "SWITCHBOARD_RULES_ROUTING" in out and "site-packages" not in out, out
    settings.write_text(settings.read_text() + "rules:\n  routing: missing.yaml\n")
    code, out = switchboard(installed, tmp_path, "run", "--settings", str(settings))
    assert code == 2, out
    assert f"{tmp_path / 'missing.yaml'}: no such file (named by rules.routing" in out, out
