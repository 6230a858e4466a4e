"""No module of the product packages over MAX_LINES lines, so none can grow past it unnoticed.

The modules still over it are listed in OVER_LIMIT, each with why; the list only shrinks: a module
split below the limit must leave it (the second test names the entries to remove), and a new
module over the limit fails the first test with its path and line count.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "pbx", "routing", "dialer", "switchboard")
MAX_LINES = 400

OVER_LIMIT: dict[str, str] = {}
"""Modules allowed over MAX_LINES for now (path from the repository root: why)."""


def line_counts() -> dict[str, int]:
    """Every module of the product packages and its number of lines, as `wc -l` counts them."""
    counts = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            counts[path.relative_to(ROOT).as_posix()] = len(path.read_bytes().splitlines())
    return counts


def unlisted_over(counts: dict[str, int], allowed: dict[str, str]) -> list[str]:
    return [
        f"{path}: {lines} lines"
        for path, lines in sorted(counts.items())
        if lines > MAX_LINES and path not in allowed
    ]


def stale_entries(counts: dict[str, int], allowed: dict[str, str]) -> list[str]:
    return [
        f"{path}: {counts[path]} lines" if path in counts else f"{path}: no such module"
        for path in sorted(allowed)
        if counts.get(path, 0) <= MAX_LINES
    ]


def test_no_module_is_over_the_limit_unless_listed() -> None:
    unlisted = unlisted_over(line_counts(), OVER_LIMIT)
    assert not unlisted, (
        f"modules over {MAX_LINES} lines: split them along what they own (docs/architecture.md):\n"
        + "\n".join(unlisted)
    )


def test_the_allow_list_names_only_modules_still_over_the_limit() -> None:
    stale = stale_entries(line_counts(), OVER_LIMIT)
    assert not stale, "take these off OVER_LIMIT (tests/unit/test_structure.py):\n" + "\n".join(stale)


def test_the_checks_see_a_module_over_the_limit_and_a_stale_entry() -> None:
    counts = {"pbx/big.py": MAX_LINES + 1, "pbx/edge.py": MAX_LINES, "pbx/small.py": 10}
    assert unlisted_over(counts, {}) == [f"pbx/big.py: {MAX_LINES + 1} lines"]
    assert unlisted_over(counts, {"pbx/big.py": "why"}) == []
    allowed = {"pbx/big.py": "why", "pbx/edge.py": "why", "pbx/gone.py": "why"}
    assert stale_entries(counts, allowed) == [
        f"pbx/edge.py: {MAX_LINES} lines",
        "pbx/gone.py: no such module",
    ]
    assert "pbx/client.py" in line_counts(), "the walk sees the product packages"
