"""How check-config words the file on disk against the version the engine last applied."""

from __future__ import annotations

import pytest

from switchboard.applied_check import DiskVersion, compare
from switchboard.rules_store import AppliedRules

A, B = "a" * 64, "b" * 64
APPLIED = AppliedRules("routing", "text", A, "/etc/sb/routing.yaml", 1_780_000_000.0)
WHEN = "applied 2026-05-28 20:26:40 UTC from /etc/sb/routing.yaml"


@pytest.mark.parametrize(
    ("disk_hash", "applied", "line"),
    [
        (A, APPLIED, f"routing: r.yaml is the version the engine last applied ({A[:12]}, {WHEN})"),
        (
            B,
            APPLIED,
            f"routing: r.yaml ({B[:12]}) is not the version the engine last applied ({A[:12]}, {WHEN}); "
            "the engine applies it at its next reload (file watch or SIGHUP)",
        ),
        (
            None,
            APPLIED,
            f"routing: r.yaml is invalid; the engine runs the version it last applied ({A[:12]}, {WHEN}), "
            "and a restart starts on that version",
        ),
        (
            A,
            None,
            "routing: no applied routing rules in Redis (no engine has run them there yet); "
            "the engine starts on it",
        ),
        (
            None,
            None,
            "routing: no applied routing rules in Redis (no engine has run them there yet); "
            "the engine refuses to start on it",
        ),
    ],
)
def test_the_file_against_the_applied_version(
    disk_hash: str | None, applied: AppliedRules | None, line: str
) -> None:
    assert compare(DiskVersion("routing", "r.yaml", disk_hash), applied) == line
