"""The commands as processes: `python -m switchboard ...`, a schema module, SIGTERM, the demo's Redis.

Moved out of tests/unit (which starts no subprocess and no redis-server); the in-process parts of
the same commands are tests/unit/test_cli.py, test_config_check.py and test_campaign_rules.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dialer.campaigns.rules import schema_text
from switchboard.cli import EXIT_ERROR, EXIT_OK, EXIT_USAGE, main
from switchboard.private_redis import free_port
from tests.support.cli_harness import clean_env, restore_root_logger

__all__ = ["clean_env", "restore_root_logger"]  # autouse fixtures, from the harness
ROOT = Path(__file__).resolve().parents[2]
SECRET = "cli-secret-Pa55"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def subprocess_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SWITCHBOARD_")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(Path(__file__).resolve().parents[2])])
    env.update(extra)
    return env


def test_demo_starts_a_private_redis_and_removes_it(
    fake_engine: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    module = fake_engine("""
        import redis.asyncio as aioredis

        async def run_demo(settings, duration_s):
            url = settings.redis.url.get_secret_value()
            client = aioredis.Redis.from_url(url)
            try:
                await client.set("demo", "ok")
                print("demo", duration_s, url, (await client.get("demo")).decode())
            finally:
                await client.aclose()
            return 0
    """)
    assert main(["demo", "--duration", "2.5"], engine_module=module) == EXIT_OK
    word, duration, url, value = capsys.readouterr().out.split()
    assert (word, duration, value) == ("demo", "2.5", "ok")
    assert url.startswith("redis://127.0.0.1:")
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_python_dash_m_reports_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "switchboard", "run"],
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == EXIT_USAGE
    assert "settings incomplete" in result.stderr and "Traceback" not in result.stderr


async def test_sigterm_stops_the_engine_gracefully(tmp_path: Path, fake_engine: Callable[[str], str]) -> None:
    module = fake_engine("""
        import asyncio

        async def run_engine(settings):
            print("engine-started", flush=True)
            try:
                await asyncio.Event().wait()
            finally:
                print("engine-cleaned-up", flush=True)
    """)
    code = f"import sys; from switchboard.cli import main; sys.exit(main(['run'], engine_module={module!r}))"
    env = subprocess_env(
        tmp_path,
        SWITCHBOARD_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        SWITCHBOARD_AMI_SECRET=SECRET,
        SWITCHBOARD_LOG_FORMAT="json",
        SWITCHBOARD_RULES_ROUTING=str(Path(__file__).resolve().parents[2] / "config/routing.yaml"),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"engine-started\n"
    proc.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == EXIT_OK, err.decode()
    assert out == b"engine-cleaned-up\n"
    assert b"stopped by SIGTERM" in err


def test_check_config_as_a_command(tmp_path: Path) -> None:
    path = write(tmp_path, "settings.yaml", "ami:\n  port: [1\n")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SWITCHBOARD_")}
    result = subprocess.run(
        [sys.executable, "-m", "switchboard", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == EXIT_ERROR
    assert result.stdout.startswith(f"{path}:3:1: YAML syntax error")
    assert "Traceback" not in result.stderr


def test_a_command_piped_into_head_ends_quietly_with_141(tmp_path: Path) -> None:
    """Any command, not only `blacklist export`: the reader going away is no traceback."""
    path = write(tmp_path, "tokens.yaml", "tokens:\n  - {name: a, role: nope, token_sha256: x}\n")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SWITCHBOARD_")}
    files = [str(path)] * 3000  # far more output than a pipe holds
    proc = subprocess.Popen(
        [sys.executable, "-m", "switchboard", "check-config", *files],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(str(path).encode())
    proc.stdout.close()  # what `| head -1` does
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141
    assert b"Traceback" not in err and b"BrokenPipeError" not in err


def test_the_module_writes_the_schema(tmp_path: Path) -> None:
    target = tmp_path / "campaigns.schema.json"
    subprocess.run([sys.executable, "-m", "dialer.campaigns.rules", str(target)], check=True, cwd=ROOT)
    assert target.read_text(encoding="utf-8") == schema_text()
