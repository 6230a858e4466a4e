"""scripts/bench's aggregator: one table, and bench/results.json as a plain list of rows."""

from __future__ import annotations

import json
from pathlib import Path

from bench import run_all

REQUIRED = {"figure", "name", "value", "unit", "target", "peer", "ratio", "met"}


def test_run_all_writes_the_rows_of_the_figures_it_ran(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    assert run_all.main(["--quick", "--only", "5", "--json", str(out)]) == 0
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert isinstance(rows, list) and len(rows) == 13
    for row in rows:
        assert set(row) >= REQUIRED
        assert row["figure"] == 5
        assert row["peer"] is None or set(row["peer"]) == {"name", "value"}


def test_only_keeps_the_saved_rows_of_the_other_figures(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    other = {"figure": 6, "name": "inbound SL", "value": 1.0, "unit": "%", "target": None, "peer": None,
             "ratio": None, "met": None}  # fmt: skip
    stale = {**other, "figure": 5, "name": "outbound talk time per agent-hour"}
    out.write_text(json.dumps([stale, other]), encoding="utf-8")
    assert run_all.main(["--quick", "--only", "5", "--json", str(out)]) == 0
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert rows[-1] == other and stale not in rows
    assert [row["figure"] for row in rows] == [5] * 13 + [6]
