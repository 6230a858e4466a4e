"""`switchboard run` loads only what it needs before it can be ready (docs/reliability.md, Start-up
time): a restarted engine's time to ready is mostly its loading."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
