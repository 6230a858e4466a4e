"""`switchboard run` loads only what it needs before it can be ready (docs/reliability.md, Start-up
time): a restarted engine's time to ready is mostly its loading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from switchboard.private_redis import free_port

ROOT = Path(__file__).resolve().parents[2]
# Loaded on first use only: console logs and printing commands, the first mail, webhooks, and one
# country's holiday calendar (not all of them).
DEFERRED = ("rich", "aiosmtplib", "httpx", "holidays.countries", "holidays.financial")


def test_the_run_path_leaves_the_deferred_libraries_unloaded() -> None:
    code = (
        "import json, sys; import switchboard.cli, switchboard.entry;print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    ).stdout
    loaded = json.loads(out)
    early = [m for m in loaded if any(m == d or m.startswith(f"{d}.") for d in DEFERRED)]
    assert early == []


def test_run_loads_no_subcommand_module() -> None:
    """`switchboard run` (here up to its Redis connection, refused) imports the engine but none of the
    other commands' modules (switchboard/cli_*.py: CSV importers, the rule explainer, the IVR dialplan)."""
    program = (
        "import json, sys; from switchboard.cli import main; code = main(['run']);"
        "print(json.dumps([code, sorted(sys.modules)]))"
    )
    env = {
        **os.environ,
        "SWITCHBOARD_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens: exit 4
        "SWITCHBOARD_AMI_SECRET": "unused",
        "SWITCHBOARD_RULES_ROUTING": str(ROOT / "config" / "routing.yaml"),
    }
    env.pop("SWITCHBOARD_SETTINGS_FILE", None)
    command = [sys.executable, "-c", program]
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120)
    code, loaded = json.loads(out.stdout.splitlines()[-1])
    assert code == 4  # Redis unreachable: the run got as far as the engine
    assert "switchboard.runtime" in loaded
    assert [m for m in loaded if m.startswith("switchboard.cli_")] == []
